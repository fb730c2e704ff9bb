import { configDefaults, defineConfig } from 'vitest/config';
import LongestFirst from './test/support/longest-first';

/**
 * Files that start whole stacks of processes many times over (the fault campaign's thirteen runs,
 * the benchmark's side-by-side modes) or push one hard (a 50,000-recipient campaign): `npm test`
 * (scripts/run-tests.sh) runs this project one file at a time (--no-file-parallelism), beside the
 * `waits` then the `shared` project.
 */
const SERIAL = ['test/e2e/chaos.test.ts', 'test/e2e/bench.test.ts', 'test/e2e/large-campaign.e2e.test.ts'];

/**
 * Files that spend most of their time waiting on timers (consent windows, scheduled starts, retry
 * backoffs): each used 4 to 15 CPU-seconds over 40 to 135 s. Four at a time they take about half a
 * core while the stacks pass keeps the rest busy.
 */
const WAITS = [
  'test/workflows/campaign.test.ts',
  'test/e2e/demo.test.ts',
  'test/e2e/late-consent.e2e.test.ts',
  'test/e2e/fair-share.e2e.test.ts',
  'test/e2e/first-campaign.e2e.test.ts',
  'test/workflows/scheduling.test.ts',
  'test/e2e/time-zones.e2e.test.ts',
  'test/listener/listener.test.ts',
  'test/workflows/chunk.test.ts',
  'test/e2e/repair.e2e.test.ts',
];

export default defineConfig({
  test: {
    // Temporal Workers and native modules are happiest in child processes. Four at a time: the
    // shared files mostly wait on timers, and four keep both cores busy (about 1.6 on average).
    pool: 'forks',
    // minForks as many as maxForks: each file's fork is ended after it (isolation), and tinypool only
    // starts a fork in its place while fewer forks are left than files are queued, so with minForks 1
    // a pass of four at a time ran three, then two, then one at a time towards its end.
    poolOptions: { forks: { maxForks: 4, minForks: 4 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The production-topology lane runs on its own server: `npm run test:production` (vitest.production.config.ts).
    exclude: [...configDefaults.exclude, 'test/production/**'],
    setupFiles: ['test/support/file-cpu.ts'],
    reporters: ['default', './test/support/slowest-files.ts'],
    // The longest files start first, so neither pass ends with one long file running alone.
    sequence: { sequencer: LongestFirst },
    // Each project names the global setup itself: set here at the root, it ran once more per pass,
    // for the root, with a dev server and bundles of its own.
    projects: [
      // One file at a time; within a file, at most three concurrent tests (chaos's runs: each about
      // 0.4 of a core; four at once saturated both cores and slowed the waits pass beside them).
      { extends: true, test: { name: 'stacks', include: SERIAL, maxConcurrency: 3, globalSetup: ['test/global-setup.ts'] } },
      // Four at a time (the forks pool above), beside the stacks pass.
      { extends: true, test: { name: 'waits', include: WAITS, globalSetup: ['test/global-setup.ts'] } },
      // The rest share one dev server, four at a time, beside the end of the stacks pass (after waits).
      { extends: true, test: { name: 'shared', globalSetup: ['test/global-setup.ts'], include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/production/**', ...SERIAL, ...WAITS] } },
    ],
  },
});
