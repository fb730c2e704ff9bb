import { configDefaults, defineConfig } from 'vitest/config';
import LongestFirst from './test/support/longest-first';

/**
 * Files that start whole stacks of processes (dev servers, workers, listeners, Chromium) or measure
 * rates and gaps: a second busy fork on 2 cores would distort them. `npm test` (scripts/run-tests.sh)
 * runs this project one file at a time (--no-file-parallelism) with the `waits` project beside it,
 * then the `shared` project four files at a time.
 */
const SERIAL = [
  'test/e2e/chaos.test.ts',
  'test/e2e/bench.test.ts',
  'test/e2e/large-campaign.e2e.test.ts',
  'test/e2e/metrics.e2e.test.ts',
  'test/e2e/package.test.ts',
  'test/e2e/web-ui.test.ts',
  'test/e2e/privacy.e2e.test.ts',
  'test/e2e/key-rotation.e2e.test.ts',
  'test/e2e/docker-compose.test.ts',
];

/**
 * Files that spend most of their time waiting on timers (consent windows, scheduled starts, retry
 * backoffs): each used 5 to 30 CPU-seconds over 40 to 120 s alone. Two at a time they take about
 * half a core, which the stacks pass leaves idle while its own campaigns wait. (The whole shared
 * project beside the stacks pass saturated both cores and failed tests with second-scale deadlines.)
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
];

export default defineConfig({
  test: {
    // Temporal Workers and native modules are happiest in child processes. Four at a time: the
    // shared files mostly wait on timers, and four keep both cores busy (about 1.6 on average).
    pool: 'forks',
    poolOptions: { forks: { maxForks: 4, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The production-topology lane runs on its own server: `npm run test:production` (vitest.production.config.ts).
    exclude: [...configDefaults.exclude, 'test/production/**'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/support/slowest-files.ts'],
    // The longest files start first, so neither pass ends with one long file running alone.
    sequence: { sequencer: LongestFirst },
    projects: [
      // One file at a time; within a file, at most three concurrent tests (chaos's runs).
      { extends: true, test: { name: 'stacks', include: SERIAL, maxConcurrency: 3 } },
      // Two at a time (run-tests.sh gives --maxWorkers 2), beside the stacks pass.
      { extends: true, test: { name: 'waits', include: WAITS } },
      // The rest share one dev server, four at a time.
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/production/**', ...SERIAL, ...WAITS] } },
    ],
  },
});
