// Vitest global setup: ONE Temporal dev server for the whole test run, on random free ports with a
// fresh SQLite file. Tests get its address via inject('temporalAddress') (see test/support/temporal.ts)
// or process.env.TEMPORAL_ADDRESS (set here before the test forks start, so they inherit it).
// Set TEST_TEMPORAL_ADDRESS to use a server you already run instead (it needs our search attributes).
// Payload keys and recipient file roots: test/support/test-env.ts.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../dev/temporal/dev-server';
import { shareWorkflowBundles } from '../dev/temporal/workflow-bundles';
import { prepareTestEnvironment } from './support/test-env';
import { BUILD_DIR_ENV, buildCommands } from '../scripts/package-commands';
import { TEST_WORKER_LOG_ENV } from './support/quiet-logs';

/**
 * Dynamic config for the test server. suggestContinueAsNew is low so continue-as-new paths run in
 * small tests (production default is 4096 events). Updates need no flag: Temporal 1.29 enables
 * frontend.enableUpdateWorkflowExecution by default.
 */
export const TEST_DYNAMIC_CONFIG: Record<string, string | number | boolean> = {
  'limit.historyCount.suggestContinueAsNew': 200,
};


declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  prepareTestEnvironment();
  // Per project: `npm test` runs two projects at once, each with its own dev server, bundles and logs.
  const serverLog = `test-results/temporal-dev-server.${project.name}.log`;
  const workerLog = resolve(`test-results/worker.${project.name}.log`);
  process.env[TEST_WORKER_LOG_ENV] = workerLog;
  // Bundled once here, loaded by every worker the tests start from the sources (in process or not).
  const bundles = resolve(`test-results/workflow-bundles.${project.name}`);
  await shareWorkflowBundles(bundles);
  // The commands built once here too, with those bundles: the tests' CLI commands and their stacks'
  // workers and listeners run as installed, with plain node (compiling TypeScript at every process
  // start doubled its CPU).
  const build = resolve(`test-results/build.${project.name}`);
  rmSync(build, { recursive: true, force: true });
  await buildCommands(build);
  cpSync(bundles, join(build, 'workflows'), { recursive: true });
  process.env[BUILD_DIR_ENV] = build;
  const existing = process.env.TEST_TEMPORAL_ADDRESS;
  if (existing) {
    project.provide('temporalAddress', existing);
    process.env.TEMPORAL_ADDRESS = existing;
    return undefined;
  }

  mkdirSync('test-results', { recursive: true });
  rmSync(serverLog, { force: true });
  rmSync(workerLog, { force: true });
  const server = await startDevServer({ dynamicConfig: TEST_DYNAMIC_CONFIG, logFile: serverLog });
  project.provide('temporalAddress', server.address);
  process.env.TEMPORAL_ADDRESS = server.address;
  return async () => {
    await server.stop();
  };
}
