// Helpers for tests that use the shared Temporal dev server started by test/global-setup.ts.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

/** Frontend address of the shared test server. */
export function testTemporalAddress(): string {
  const address = inject('temporalAddress') ?? process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('no Temporal test server: run through vitest (test/global-setup.ts) or set TEMPORAL_ADDRESS');
  return address;
}

/** Client on the shared server, namespace "default". Close with `client.connection.close()`. */
export async function connectTestClient(address = testTemporalAddress()): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace: 'default' });
}

/** Worker connection on the shared server. Close with `connection.close()`. */
export function connectTestWorkerConnection(address = testTemporalAddress()): Promise<NativeConnection> {
  return NativeConnection.connect({ address });
}

/** A task queue no other test (or earlier run on the same server) uses. */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/**
 * Polls `probe` until `done(value)` holds, e.g. for visibility, which is eventually consistent.
 * Throws with the last value seen when the deadline passes.
 */
export async function pollUntil<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    let error: unknown;
    try {
      value = await probe();
      if (done(value)) return value;
    } catch (err) {
      error = err;
    }
    if (Date.now() > deadline) {
      const last = error instanceof Error ? `error: ${error.message}` : `value: ${JSON.stringify(value)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last ${last}`);
    }
    await sleep(100);
  }
}
