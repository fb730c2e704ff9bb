// The listener on a real Temporal dev server: the real listener workflow and consumeEvents activity
// (via runListener), stand-in chunk workflows (fixtures/workflows.ts) and an in-memory event log
// in place of the Ppoppo stream, so the test decides exactly when each event appears. Chunks are
// found through routes (a signal to the listener workflow, as the send path gives them) or, for
// requests the routes do not know, through visibility.
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
import { LISTENER_WORKFLOW_TYPE, chunkRouteSignal, listenerCursorQuery, listenerRouteTargetsQuery } from '../../src/contracts/listener';
import type { ListenerWorkflowInput } from '../../src/contracts/listener';
import type { ListenerCounters, ListenerHeartbeat } from '../../activities/listener';
import type { PromptEventType } from '../../src/contracts/listener';
import type { DeliveryEvent } from '../../src/api/types';
import { connectTestClient, connectTestWorkerConnection, decodePayload, pollUntil } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';
import { dataConverterFromEnv } from '../../src/temporal/data-converter';
import { FakeEventLog } from './fake-event-stream';
import { fakeChunkWorkflow, finishSignal, receivedQuery, signalsQuery } from './fixtures/workflows';

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
  actionableMaxDelayMs: 50,
  unknownGraceMs: 12_000,
  routeGraceMs: 2_000, // these stand-in chunks tell no routes: visibility finds them
});

const log = new FakeEventLog();
let workerConnection: NativeConnection;
let client: Client;
let fixtureWorker: Worker;
let fixtureRun: Promise<void>;
let listener: RunningListener;
const chunks: WorkflowHandle[] = [];

const sendRequestId = (name: string) => `sr-${run}-${name}`;
/** What the fake chunk records of an event. */
const key = (event: DeliveryEvent) => `${event.type}:${event.ppnum}`;

/** A stand-in chunk, visible under its send request id (found through visibility). */
async function startChunk(name: string, listenerWorkflowId?: string, prompt?: PromptEventType[]): Promise<WorkflowHandle<typeof fakeChunkWorkflow>> {
  const handle = await client.workflow.start(fakeChunkWorkflow, {
    workflowId: `listener-test-chunk-${run}-${name}`,
    taskQueue: fixtureQueue,
    args: [{ sendRequestId: listenerWorkflowId ? undefined : sendRequestId(name) }],
  });
  chunks.push(handle);
  // Routed: the listener is told, as the send path does; the chunk never becomes visible.
  if (listenerWorkflowId) await client.workflow.getHandle(listenerWorkflowId).signal(chunkRouteSignal, { sendRequestId: sendRequestId(name), workflowId: handle.workflowId, ...(prompt ? { prompt } : {}) });
  return handle;
}

const received = (handle: WorkflowHandle) => handle.query(receivedQuery);
/** What the listener's running consumeEvents last heartbeated about itself. */
async function runCounters(listenerWorkflowId: string): Promise<ListenerCounters | undefined> {
  const details = (await client.workflow.getHandle(listenerWorkflowId).describe()).raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
  return details ? (await decodePayload<ListenerHeartbeat>(details)).counters : undefined;
}
const listenerCursor = () => client.workflow.getHandle(listenerOptions().workflowId!).query(listenerCursorQuery);

beforeAll(async () => {
  quietTemporalLogs();
  workerConnection = await connectTestWorkerConnection();
  client = await connectTestClient();
  fixtureWorker = await Worker.create({
    connection: workerConnection,
    dataConverter: dataConverterFromEnv(),
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
    log.append(sendRequestId('b'), 'REQUEST_COMPLETED'); // not forwarded: it carries no recipient

    const aIds = aEvents.map(key);
    const bIds = bEvents.map(key);
    expect(await pollUntil('chunk a events', () => received(a), (ids) => ids.length >= aIds.length, WAIT_MS)).toEqual(aIds);
    expect(await pollUntil('chunk b events', () => received(b), (ids) => ids.length >= bIds.length, WAIT_MS)).toEqual(bIds);
  });

  it('holds events of a chunk that is not visible yet, without moving the cursor past them', async () => {
    const before = log.append(sendRequestId('a'), 'POLL_RESPONSE_RECEIVED', '12300000002');
    const held = [log.append(sendRequestId('c'), 'RECIPIENT_DELIVERED', '12300000011'), log.append(sendRequestId('c'), 'REQUEST_COMPLETED')];
    const after = log.append(sendRequestId('a'), 'POLL_RESPONSE_RECEIVED', '12300000003');
    const a = chunks[0]!;

    // Events after the held ones still flow to their (visible) chunk...
    await pollUntil('chunk a to get the event after the held ones', () => received(a), (ids) => ids.includes(key(after)), WAIT_MS);
    // ...but the committed cursor stops right before the first held event.
    await pollUntil('cursor to reach the event before the held ones', listenerCursor, (cursor) => cursor !== null && cursor >= before.eventId, WAIT_MS);
    await sleep(2_500); // a few more activity runs (maxRunMs = 1 s)
    expect(await listenerCursor()).toBe(before.eventId);

    const c = await startChunk('c');
    const cIds = [key(held[0]!)];
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
    const after = log.append(sendRequestId('a'), 'POLL_RESPONSE_RECEIVED', '12300000004');
    await pollUntil('chunk a to get the event after the unknown one', () => received(chunks[0]!), (ids) => ids.includes(key(after)), WAIT_MS);
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

    const expected = [...first, ...whileDown].map(key);
    const ids = await pollUntil('chunk d all events', () => received(d), (got) => expected.every((id) => got.includes(id)), WAIT_MS);
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(log.streamsOpened).toBeGreaterThan(streamsBefore);
  });
});

describe('routes and coalescing', () => {
  /** A listener of its own: denials within 1 s, other events held up to 6 s, runs of 30 s. */
  const coalescing = (): RunListenerOptions => ({ ...listenerOptions(), taskQueue: `listener-coalescing-${run}`, workflowId: `listener-coalescing-${run}`, maxRunMs: 30_000, batchMaxDelayMs: 6_000, actionableMaxDelayMs: 1_000 });
  let second: RunningListener;

  beforeAll(async () => {
    // Started after the events so far, so its runs count only this block's requests.
    second = await runListener({ ...coalescing(), startWorkflow: false });
    const input: ListenerWorkflowInput = { cursor: log.events.at(-1)?.eventId ?? null, maxRunMs: coalescing().maxRunMs };
    await client.workflow.start(LISTENER_WORKFLOW_TYPE, { workflowId: coalescing().workflowId!, taskQueue: coalescing().taskQueue!, args: [input] });
  });
  afterAll(async () => {
    await client?.workflow.getHandle(coalescing().workflowId!).terminate('test finished').catch(() => undefined);
    await second?.shutdown();
  });

  it('finds a chunk from the route the send path gave it, without visibility, and without a query beside its workflow', async () => {
    const listenerId = coalescing().workflowId!;
    const routed = await startChunk('routed', listenerId);
    // Once the workflow answers with the route, it has handed it to its process too.
    await pollUntil('the listener workflow to take the route', () => client.workflow.getHandle(listenerId).query(listenerRouteTargetsQuery, [sendRequestId('routed')]), (known) => known[sendRequestId('routed')] !== undefined, WAIT_MS);
    const denial = log.append(sendRequestId('routed'), 'CONSENT_DENIED', '12300000031');
    expect(await pollUntil('the routed chunk to get its event', () => received(routed), (ids) => ids.length >= 1, WAIT_MS)).toEqual([key(denial)]);
    const counters = await pollUntil('the run to report its hand-over', () => runCounters(listenerId), (c) => (c?.signalled ?? 0) >= 1, WAIT_MS);
    expect(counters).toMatchObject({ routeQueries: 0, visibilityLookups: 0 });
  });

  it('holds grants and deliveries, and hands them over together with the next denial, in one signal', async () => {
    const chunk = await startChunk('coalesced', coalescing().workflowId);
    const quiet = [log.append(sendRequestId('coalesced'), 'CONSENT_GRANTED', '12300000041'), log.append(sendRequestId('coalesced'), 'RECIPIENT_DELIVERED', '12300000041')];
    await sleep(2_500);
    expect(await received(chunk)).toEqual([]); // no action needed: they wait
    const denial = log.append(sendRequestId('coalesced'), 'CONSENT_DENIED', '12300000042');
    const ids = await pollUntil('the denial and the held events', () => received(chunk), (got) => got.length >= 3, WAIT_MS);
    expect(ids).toEqual([...quiet, denial].map(key));
    expect(await chunk.query(signalsQuery)).toBe(1);
    // With no denial, held events go out after the slow flush (6 s here).
    const late = log.append(sendRequestId('coalesced'), 'POLL_RESPONSE_RECEIVED', '12300000041');
    await sleep(3_000);
    expect(await received(chunk)).toHaveLength(3);
    expect(await pollUntil('the slow flush', () => received(chunk), (got) => got.length >= 4, WAIT_MS)).toContain(key(late));
    expect(await chunk.query(signalsQuery)).toBe(2);
  });

  it('holds a failure like a delivery when the route says its chunk falls back on denials only', async () => {
    const chunk = await startChunk('denials-only', coalescing().workflowId, ['CONSENT_DENIED']);
    const failure = log.append(sendRequestId('denials-only'), 'RECIPIENT_FAILED', '12300000051');
    await sleep(2_500);
    expect(await received(chunk)).toEqual([]); // past the 1 s actionable hold: the failure calls for nothing
    const denial = log.append(sendRequestId('denials-only'), 'CONSENT_DENIED', '12300000052');
    const ids = await pollUntil('the denial and the held failure', () => received(chunk), (got) => got.length >= 2, WAIT_MS);
    expect(ids).toEqual([failure, denial].map(key));
    expect(await chunk.query(signalsQuery)).toBe(1);
  });
});
