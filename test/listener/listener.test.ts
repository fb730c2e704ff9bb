// The listener on a real Temporal dev server: the real listener workflow and consumeEvents activity
// (via runListener), stand-in chunk workflows (fixtures/workflows.ts) and an in-memory event log
// in place of the Ppoppo stream, so the test decides exactly when each event appears.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PpoppoClient } from '../../src/api/client';
import { runListener } from '../../src/listener';
import type { RunningListener, RunListenerOptions } from '../../src/listener';
import { listenerCursorQuery } from '../../src/contracts/listener';
import { connectTestClient, connectTestWorkerConnection, pollUntil } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';
import { FakeEventLog } from './fake-event-stream';
import { fakeChunkWorkflow, finishSignal, receivedQuery } from './fixtures/workflows';

const run = randomUUID().slice(0, 8);
/** Generous upper bound for eventually-true conditions (visibility lag, grace period). */
const WAIT_MS = 30_000;
const fixtureQueue = `listener-test-chunks-${run}`;
const listenerOptions = (): RunListenerOptions => ({
  connection: workerConnection,
  temporalClient: client,
  ppoppoClient: log as unknown as PpoppoClient,
  taskQueue: `listener-test-${run}`,
  workflowId: `listener-test-${run}`,
  maxRunMs: 1_000,
  batchMaxDelayMs: 50,
  unknownGraceMs: 12_000,
});

const log = new FakeEventLog();
let workerConnection: NativeConnection;
let client: Client;
let fixtureWorker: Worker;
let fixtureRun: Promise<void>;
let listener: RunningListener;
const chunks: WorkflowHandle[] = [];

const sendRequestId = (name: string) => `sr-${run}-${name}`;

async function startChunk(name: string): Promise<WorkflowHandle<typeof fakeChunkWorkflow>> {
  const handle = await client.workflow.start(fakeChunkWorkflow, {
    workflowId: `listener-test-chunk-${run}-${name}`,
    taskQueue: fixtureQueue,
    args: [{ sendRequestId: sendRequestId(name) }],
  });
  chunks.push(handle);
  return handle;
}

const received = (handle: WorkflowHandle) => handle.query(receivedQuery);
const listenerCursor = () => client.workflow.getHandle(listenerOptions().workflowId!).query(listenerCursorQuery);

beforeAll(async () => {
  quietTemporalLogs();
  workerConnection = await connectTestWorkerConnection();
  client = await connectTestClient();
  fixtureWorker = await Worker.create({
    connection: workerConnection,
    taskQueue: fixtureQueue,
    workflowsPath: fileURLToPath(new URL('./fixtures/workflows.ts', import.meta.url)),
  });
  fixtureRun = fixtureWorker.run();
  listener = await runListener(listenerOptions());
});

afterAll(async () => {
  for (const handle of [...chunks, client?.workflow.getHandle(listenerOptions().workflowId!)]) {
    await handle?.terminate('test finished').catch(() => undefined);
  }
  await listener?.shutdown();
  if (fixtureWorker?.getState() === 'RUNNING') fixtureWorker.shutdown();
  await fixtureRun;
  await client?.connection.close();
  await workerConnection?.close();
});

describe('listener', () => {
  it('delivers each event to the chunk workflow that owns its send request', async () => {
    const a = await startChunk('a');
    const b = await startChunk('b');
    const aEvents = [log.append(sendRequestId('a'), 'RECIPIENT_PENDING_CONSENT', '12300000002')];
    const bEvents = [log.append(sendRequestId('b'), 'RECIPIENT_DELIVERED', '12300000001')];
    aEvents.push(log.append(sendRequestId('a'), 'CONSENT_GRANTED', '12300000002'));
    aEvents.push(log.append(sendRequestId('a'), 'RECIPIENT_DELIVERED', '12300000002'));
    bEvents.push(log.append(sendRequestId('b'), 'REQUEST_COMPLETED'));

    const aIds = aEvents.map((event) => event.eventId);
    const bIds = bEvents.map((event) => event.eventId);
    expect(await pollUntil('chunk a events', () => received(a), (ids) => ids.length >= aIds.length, WAIT_MS)).toEqual(aIds);
    expect(await pollUntil('chunk b events', () => received(b), (ids) => ids.length >= bIds.length, WAIT_MS)).toEqual(bIds);
  });

  it('holds events of a chunk that is not visible yet, without moving the cursor past them', async () => {
    const before = log.append(sendRequestId('a'), 'POLL_RESPONSE_RECEIVED', '12300000002');
    const held = [log.append(sendRequestId('c'), 'RECIPIENT_DELIVERED', '12300000011'), log.append(sendRequestId('c'), 'REQUEST_COMPLETED')];
    const after = log.append(sendRequestId('a'), 'POLL_RESPONSE_RECEIVED', '12300000002');
    const a = chunks[0]!;

    // Events after the held ones still flow to their (visible) chunk...
    await pollUntil('chunk a to get the event after the held ones', () => received(a), (ids) => ids.includes(after.eventId), WAIT_MS);
    // ...but the committed cursor stops right before the first held event.
    await pollUntil('cursor to reach the event before the held ones', listenerCursor, (cursor) => cursor !== null && cursor >= before.eventId, WAIT_MS);
    await sleep(2_500); // a few more activity runs (maxRunMs = 1 s)
    expect(await listenerCursor()).toBe(before.eventId);

    const c = await startChunk('c');
    const cIds = held.map((event) => event.eventId);
    expect(await pollUntil('chunk c events', () => received(c), (ids) => ids.length >= cIds.length, WAIT_MS)).toEqual(cIds);
    await pollUntil('cursor to pass the held events', listenerCursor, (cursor) => cursor !== null && cursor >= after.eventId, WAIT_MS);
  });

  it('skips events of a chunk that already finished', async () => {
    const b = chunks[1]!;
    await b.signal(finishSignal);
    await b.result();
    const late = log.append(sendRequestId('b'), 'RECIPIENT_DELIVERED', '12300000001');
    await pollUntil('cursor to pass the closed chunk event', listenerCursor, (cursor) => cursor !== null && cursor >= late.eventId, WAIT_MS);
  });

  it('skips events no campaign owns once the grace period is over', async () => {
    log.append(sendRequestId('nobody'), 'RECIPIENT_DELIVERED', '12300000099');
    const after = log.append(sendRequestId('a'), 'POLL_RESPONSE_RECEIVED', '12300000002');
    await pollUntil('chunk a to get the event after the unknown one', () => received(chunks[0]!), (ids) => ids.includes(after.eventId), WAIT_MS);
    await pollUntil('cursor to pass the unknown events', listenerCursor, (cursor) => cursor !== null && cursor >= after.eventId, WAIT_MS);
  });

  it('resumes after a restart without losing events; re-delivery only repeats events the chunk had', async () => {
    const d = await startChunk('d');
    const first = [log.append(sendRequestId('d'), 'RECIPIENT_PENDING_CONSENT', '12300000021')];
    await pollUntil('chunk d first event', () => received(d), (ids) => ids.length >= 1, WAIT_MS);

    await listener.shutdown(); // the running activity is cancelled mid-run
    const whileDown = [log.append(sendRequestId('d'), 'CONSENT_GRANTED', '12300000021'), log.append(sendRequestId('d'), 'RECIPIENT_DELIVERED', '12300000021')];
    const streamsBefore = log.streamsOpened;
    listener = await runListener(listenerOptions()); // same workflow id: USE_EXISTING

    const expected = [...first, ...whileDown].map((event) => event.eventId);
    const ids = await pollUntil('chunk d all events', () => received(d), (got) => expected.every((id) => got.includes(id)), WAIT_MS);
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(log.streamsOpened).toBeGreaterThan(streamsBefore);
  });
});
