// Helpers for tests that use the shared Temporal dev server started by test/global-setup.ts.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { dataConverterFromEnv, decodePayloads } from '../../src/temporal/data-converter';
import { HistoryReplayer, eventList, explainHistory } from '../../src/temporal/divergence';

/** Frontend address of the shared test server. */
export function testTemporalAddress(): string {
  const address = inject('temporalAddress') ?? process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('no Temporal test server: run through vitest (test/global-setup.ts) or set TEMPORAL_ADDRESS');
  return address;
}

/**
 * Client on the shared server, namespace "default", with the payload encryption every connection
 * of ours uses (test/global-setup.ts sets PAYLOAD_KEYS). Close with `client.connection.close()`.
 */
export async function connectTestClient(address = testTemporalAddress()): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace: 'default', dataConverter: dataConverterFromEnv() });
}

/** Worker connection on the shared server (Workers on it take `dataConverter: dataConverterFromEnv()`). Close with `connection.close()`. */
export function connectTestWorkerConnection(address = testTemporalAddress()): Promise<NativeConnection> {
  return NativeConnection.connect({ address });
}

/** A payload from a raw history (as the server stores it: encrypted), decrypted and converted back to its value. */
export async function decodePayload<T>(payload: Payload): Promise<T> {
  const [decoded] = await decodePayloads(dataConverterFromEnv().payloadCodecs ?? [], [payload]);
  return defaultPayloadConverter.fromPayload<T>(decoded!);
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

/**
 * A query whose failure on a nondeterminism error carries what CI otherwise loses: where today's
 * code parts from the recorded history (explainHistory) and every event of it, by id and type.
 */
export async function queryOrExplain<T>(handle: WorkflowHandle, query: QueryDefinition<T>): Promise<T> {
  try {
    return await handle.query(query);
  } catch (err) {
    if (!/TMPRL1100|Nondeterminism/.test(String(err))) throw err;
    const history = await handle.fetchHistory();
    const events = eventList(history.events ?? []);
    const explained = await explainHistory(new HistoryReplayer(dataConverterFromEnv()), history, handle.workflowId).catch((e: unknown) => `(not explained: ${String(e)})`);
    throw new Error(`${String(err)}\nreplayed offline: ${explained}\nevents: ${events}`);
  }
}
