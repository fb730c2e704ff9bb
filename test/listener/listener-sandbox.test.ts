// The listener end to end on real parts: the sandbox's event stream through the real PpoppoClient,
// the real listener workflow and activity on Temporal, and a stand-in chunk workflow per request.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import { startSandbox } from '../../src/sandbox/server';
import { runListener } from '../../src/listener';
import type { RunningListener } from '../../src/listener';
import { connectTestClient, connectTestWorkerConnection, pollUntil } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';
import { dataConverterFromEnv } from '../../src/temporal/data-converter';
import { fakeChunkWorkflow, receivedQuery } from './fixtures/workflows';

const run = randomUUID().slice(0, 8);
/** Generous upper bound for eventually-true conditions (visibility lag, grace period). */
const WAIT_MS = 30_000;
const fixtureQueue = `listener-sandbox-chunks-${run}`;

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let ppoppo: PpoppoClient;
let workerConnection: NativeConnection;
let client: Client;
let fixtureWorker: Worker;
let fixtureRun: Promise<void>;
let listener: RunningListener;
let templateId: string;
const handles: WorkflowHandle[] = [];

/** Every recipient event the sandbox has for a send request ("TYPE:ppnum"), read with a stream of our own. */
async function eventsOf(sendRequestId: string, atLeast: number): Promise<string[]> {
  const seen: string[] = [];
  const stream = ppoppo.streamEvents({ sendRequestId });
  for await (const event of stream) {
    if (event.ppnum) seen.push(`${event.type}:${event.ppnum}`);
    if (seen.length >= atLeast) break;
  }
  stream.close();
  return seen;
}

beforeAll(async () => {
  sandbox = await startSandbox({});
  ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
  templateId = (await ppoppo.createTemplate({ name: `listener-${run}`, components: [{ type: 'text', content: 'Hi {{name}}' }] })).id;
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
  listener = await runListener({
    connection: workerConnection,
    temporalClient: client,
    ppoppoClient: ppoppo,
    taskQueue: `listener-sandbox-${run}`,
    workflowId: `listener-sandbox-${run}`,
    maxRunMs: 2_000,
    batchMaxDelayMs: 50,
    actionableMaxDelayMs: 50,
    routeGraceMs: 2_000, // these stand-in chunks tell no routes: visibility finds them
  });
});

afterAll(async () => {
  for (const handle of [...handles, client?.workflow.getHandle(`listener-sandbox-${run}`)]) await handle?.terminate('test finished').catch(() => undefined);
  await listener?.shutdown();
  if (fixtureWorker?.getState() === 'RUNNING') fixtureWorker.shutdown();
  await fixtureRun;
  await client?.connection.close();
  await workerConnection?.close();
  ppoppo?.close();
  await sandbox?.close();
});

describe('listener on the sandbox stream', () => {
  it('delivers a send request’s events to its chunk, also across a cut stream', async () => {
    const receipt = await ppoppo.createSendRequest({ templateId, recipients: [{ ppnum: '12300000001', vars: { name: 'Ada' } }] });
    // The chunk becomes visible only after its events exist (and no route names it): they are held, then delivered.
    const expected = await eventsOf(receipt.sendRequestId, 1); // RECIPIENT_DELIVERED (REQUEST_COMPLETED is not forwarded)
    await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).faults({ cutStreamsNow: true });
    const handle = await client.workflow.start(fakeChunkWorkflow, {
      workflowId: `listener-sandbox-chunk-${run}`,
      taskQueue: fixtureQueue,
      args: [{ sendRequestId: receipt.sendRequestId }],
    });
    handles.push(handle);
    const received = await pollUntil('the chunk to get its events', () => handle.query(receivedQuery), (ids) => expected.every((id) => ids.includes(id)), WAIT_MS);
    expect(new Set(received)).toEqual(new Set(expected));
  });
});
