// Test processes send their Temporal SDK log to a file instead of the terminal: tests provoke
// failures on purpose, and the vitest output should show test results. (No vitest import here:
// test/workflows/record-histories.ts runs outside vitest.)
import { fileURLToPath } from 'node:url';
import type { Logger } from '@temporalio/worker';
import { installProcessLogger, processLogger } from '../../src/logging';

/** The Temporal SDK log of every test process (test/global-setup.ts starts it empty). */
export const TEST_WORKER_LOG = fileURLToPath(new URL('../../test-results/worker.log', import.meta.url));

/** Call before the first Worker or NativeConnection of a test process (more calls are harmless). */
export function quietTemporalLogs(): void {
  installProcessLogger({ file: TEST_WORKER_LOG, terminalLevel: 'OFF' });
}

let logger: Logger | undefined;

/** A Logger into TEST_WORKER_LOG, for SDK pieces that take their own (e.g. MockActivityEnvironment). */
export function testLogger(): Logger {
  logger ??= processLogger({ file: TEST_WORKER_LOG, terminalLevel: 'OFF' });
  return logger;
}
