// Vitest global setup: ONE Temporal dev server for the whole test run, on random free ports with a
// fresh SQLite file. Tests get its address via inject('temporalAddress') (see test/support/temporal.ts)
// or process.env.TEMPORAL_ADDRESS (set here before the test forks start, so they inherit it).
// Set TEST_TEMPORAL_ADDRESS to use a server you already run instead (it needs our search attributes).
// Payload keys and recipient file roots: test/support/test-env.ts.
import { mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../dev/temporal/dev-server';
import { shareWorkflowBundles } from '../dev/temporal/workflow-bundles';
import { prepareTestEnvironment } from './support/test-env';
import { TEST_WORKER_LOG } from './support/quiet-logs';

/**
 * Dynamic config for the test server. suggestContinueAsNew is low so continue-as-new paths run in
 * small tests (production default is 4096 events). Updates need no flag: Temporal 1.29 enables
 * frontend.enableUpdateWorkflowExecution by default.
 */
export const TEST_DYNAMIC_CONFIG: Record<string, string | number | boolean> = {
  'limit.historyCount.suggestContinueAsNew': 200,
};

export const TEST_SERVER_LOG = 'test-results/temporal-dev-server.log';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

export const TEST_WORKFLOW_BUNDLES = 'test-results/workflow-bundles';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  prepareTestEnvironment();
  // Bundled once here, loaded by every worker the tests start from the sources (in process or not).
  await shareWorkflowBundles(resolve(TEST_WORKFLOW_BUNDLES));
  const existing = process.env.TEST_TEMPORAL_ADDRESS;
  if (existing) {
    project.provide('temporalAddress', existing);
    process.env.TEMPORAL_ADDRESS = existing;
    return undefined;
  }

  mkdirSync('test-results', { recursive: true });
  rmSync(TEST_SERVER_LOG, { force: true });
  rmSync(TEST_WORKER_LOG, { force: true });
  const server = await startDevServer({ dynamicConfig: TEST_DYNAMIC_CONFIG, logFile: TEST_SERVER_LOG });
  project.provide('temporalAddress', server.address);
  process.env.TEMPORAL_ADDRESS = server.address;
  return async () => {
    await server.stop();
  };
}
