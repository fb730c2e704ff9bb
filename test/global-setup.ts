// Vitest global setup: ONE Temporal dev server for the whole test run, on random free ports with a
// fresh SQLite file. Tests get its address via inject('temporalAddress') (see test/support/temporal.ts)
// or process.env.TEMPORAL_ADDRESS (set here before the test forks start, so they inherit it).
// Set TEST_TEMPORAL_ADDRESS to use a server you already run instead (it needs our search attributes).
// Payload encryption is on in every test, as in production: one fresh key per run in PAYLOAD_KEYS
// (inherited by the test forks and the processes they start), unless the environment sets one.
// Workers read recipient files only under RECIPIENT_FILE_ROOTS: tests write theirs to the system's
// temp dir, so that is the root (test/activities/file-roots.test.ts checks the confinement itself).
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { TestProject } from 'vitest/node';
import { newPayloadKeyLine } from '../src/temporal/codec';
import { startDevServer } from '../dev/temporal/dev-server';
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

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!process.env.PAYLOAD_KEYS && !process.env.PAYLOAD_KEY_FILE) process.env.PAYLOAD_KEYS = newPayloadKeyLine();
  process.env.RECIPIENT_FILE_ROOTS ??= tmpdir();
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
