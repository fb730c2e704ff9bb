import { configDefaults, defineConfig } from 'vitest/config';
import LongestFirst from './test/support/longest-first';

/**
 * Files that start whole stacks of processes (dev servers, workers, listeners, Chromium) or measure
 * rates and gaps: a second busy fork on 2 cores would distort them. `npm test` runs this project
 * first, one file at a time (--no-file-parallelism), then the `shared` project four files at a time.
 * Running the two side by side was tried: both cores saturate, every file slows, and tests with
 * second-scale deadlines fail.
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
      // The rest share one dev server.
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/production/**', ...SERIAL] } },
    ],
  },
});
