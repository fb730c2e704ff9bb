// Test processes send their Temporal SDK log to a file instead of the terminal: tests provoke
// failures on purpose, and the vitest output should show test results. (No vitest import here:
// test/workflows/record-histories.ts runs outside vitest.)
import { fileURLToPath } from 'node:url';
import type { Logger } from '@temporalio/worker';
import { installProcessLogger, processLogger } from '../../src/logging';

/** Names the SDK log file of a vitest project's processes; test/global-setup.ts sets it and starts the file empty. */
export const TEST_WORKER_LOG_ENV = 'TEST_WORKER_LOG';

/** The Temporal SDK log of every test process: its project's, or test-results/worker.log outside vitest. */
const TEST_WORKER_LOG = process.env[TEST_WORKER_LOG_ENV] ?? fileURLToPath(new URL('../../test-results/worker.log', import.meta.url));

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
