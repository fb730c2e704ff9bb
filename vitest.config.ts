import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal Workers and native modules are happiest in child processes, one file at a time.
    pool: 'forks',
    poolOptions: { forks: { singleFork: false } },
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    include: ['test/**/*.test.ts'],
    // The production-topology lane runs on its own server: `npm run test:production` (vitest.production.config.ts).
    exclude: [...configDefaults.exclude, 'test/production/**'],
    globalSetup: ['test/global-setup.ts'],
  },
});
