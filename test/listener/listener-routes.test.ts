// The listener workflow's routes across continue-as-new, on a real Temporal dev server: the real
// workflow, with a stand-in consumeEvents that returns at once, so the runs to its continue-as-new
// (200, or fewer when Temporal suggests it) take seconds. Routes told before must be known to the next run, carried packed.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chunkWorkflowId } from '../../src/contracts/chunk';
import { LISTENER_WORKFLOW_TYPE, chunkRouteSignal, listenerRouteTargetsQuery } from '../../src/contracts/listener';
import type { ListenerWorkflowInput } from '../../src/contracts/listener';
import { dataConverterFromEnv } from '../../src/temporal/data-converter';
import { LearnedRoutes } from '../../activities/chunk-directory';
import { listenerSinks } from '../../src/listener';
import { quietTemporalLogs } from '../support/quiet-logs';
import { connectTestClient, connectTestWorkerConnection, decodePayload, pollUntil } from '../support/temporal';

const run = randomUUID().slice(0, 8);
const taskQueue = `listener-routes-${run}`;
let connection: NativeConnection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
let runs = 0;
const learned = new LearnedRoutes();

beforeAll(async () => {
  quietTemporalLogs();
  connection = await connectTestWorkerConnection();
  client = await connectTestClient();
  worker = await Worker.create({
    connection,
    dataConverter: dataConverterFromEnv(),
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
    sinks: listenerSinks(learned),
    activities: {
      async consumeEvents(input: { cursor: string | null }) {
        runs += 1;
        return { cursor: input.cursor ?? 'ev_0' };
      },
    },
  });
  running = worker.run();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await client?.connection.close();
  await connection?.close();
});

it('carries the routes it was told, and the ones it started with, into its next run', async () => {
  const sendRequestId = (i: number) => `sr_${run}_${i}`;
  const owner = (i: number) => chunkWorkflowId(`routes-${run}`, i);
  // Started as a run before packing would have continued: the routes field.
  const input: ListenerWorkflowInput = { cursor: null, maxRunMs: 1_000, routes: [{ sendRequestId: sendRequestId(0), workflowId: owner(0) }] };
  const handle = await client.workflow.start(LISTENER_WORKFLOW_TYPE, { workflowId: `listener-routes-${run}`, taskQueue, args: [input] });
  try {
    await handle.signal(chunkRouteSignal, { sendRequestId: sendRequestId(1), workflowId: owner(1), prompt: ['CONSENT_DENIED'] });
    await handle.signal(chunkRouteSignal, { sendRequestId: sendRequestId(2), workflowId: owner(2), prompt: [] });
    // The worker's process learns each route as the workflow does (the activity beside it then asks nobody).
    await pollUntil('the routes to reach the process', async () => learned.known(handle.workflowId, [sendRequestId(1), sendRequestId(2)]), (known) => Object.keys(known).length === 2, 10_000);
    expect(learned.known(handle.workflowId, [sendRequestId(0), sendRequestId(1), sendRequestId(2)])).toEqual({
      [sendRequestId(1)]: { workflowId: owner(1), prompt: ['CONSENT_DENIED'] },
      [sendRequestId(2)]: { workflowId: owner(2), prompt: [] },
    });
    const firstRunId = (await handle.describe()).runId;
    await pollUntil('the listener to continue as new', () => handle.describe(), (d) => d.runId !== firstRunId, 60_000);
    expect(runs).toBeGreaterThan(1);

    const next = await handle.query(listenerRouteTargetsQuery, [sendRequestId(0), sendRequestId(1), sendRequestId(2), sendRequestId(3)]);
    expect(next).toEqual({
      [sendRequestId(0)]: { workflowId: owner(0) },
      [sendRequestId(1)]: { workflowId: owner(1), prompt: ['CONSENT_DENIED'] },
      [sendRequestId(2)]: { workflowId: owner(2), prompt: [] },
    });
    const events = (await client.workflow.getHandle(handle.workflowId, firstRunId).fetchHistory()).events ?? [];
    const continued = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    const carried = await decodePayload<ListenerWorkflowInput>(continued!.input!.payloads![0]!);
    expect(carried.routes).toBeUndefined();
    expect(carried.packedRoutes?.rows).toHaveLength(3);
  } finally {
    await handle.terminate('test finished').catch(() => undefined);
  }
});
