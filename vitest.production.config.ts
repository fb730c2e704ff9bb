// The production-topology lane (`npm run test:production`, run by .ci/run after `npm test`): the
// end-to-end campaign and restart files of `npm test`, unchanged, plus test/production/, all on a
// real Temporal server on PostgreSQL (test/production/global-setup.ts) instead of the dev server.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    include: ['test/e2e/campaign.e2e.test.ts', 'test/e2e/restart-campaign.e2e.test.ts', 'test/production/**/*.test.ts'],
    globalSetup: ['test/production/global-setup.ts'],
    setupFiles: ['test/support/file-cpu.ts'],
    reporters: ['default', './test/support/slowest-files.ts'],
  },
});
