// Key rotation, end to end: a campaign started while the workers encrypt with key A completes after
// they restart with key B as the newest and A still loaded. Its histories then hold payloads of
// both keys; a process with only B cannot read what A wrote (so A must stay loaded until those
// workflows are done). The production worker and listener, the sandbox, the shared test server.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import { CampaignClient } from '../../src/client/campaigns';
import { campaignWorkflowId } from '../../src/contracts/campaign';
import { chunkWorkflowId } from '../../src/contracts/chunk';
import { runListener, type RunningListener } from '../../src/listener';
import { startSandbox } from '../../src/sandbox/server';
import { EncryptionCodec, KEY_ID_METADATA_KEY, newPayloadKeyLine, parsePayloadKeys } from '../../src/temporal/codec';
import { FAILURE_CONVERTER_PATH } from '../../src/temporal/data-converter';
import { runWorkers, type RunningWorkers } from '../../src/worker';
import { connectTestWorkerConnection, pollUntil, testTemporalAddress } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';

const run = randomUUID().slice(0, 8);
const [keyA] = parsePayloadKeys(newPayloadKeyLine(), 'key A');
const [keyB] = parsePayloadKeys(newPayloadKeyLine(), 'key B');
const converter = (...keys: (typeof keyA)[]): DataConverter => ({ payloadCodecs: [new EncryptionCodec(keys.map((k) => k!))], failureConverterPath: FAILURE_CONVERTER_PATH });
const queues = { campaigns: `rotation-campaigns-${run}`, send: `rotation-send-${run}` };
const listenerId = `rotation-listener-${run}`;

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let ppoppo: PpoppoClient;
let connection: NativeConnection;
const opened: Array<() => Promise<unknown>> = [];

/** Worker, listener and a CampaignClient, all with `dataConverter`. */
async function startProcesses(dataConverter: DataConverter): Promise<{ campaigns: CampaignClient; client: Client; stop(): Promise<void> }> {
  const client = new Client({ connection: await Connection.connect({ address: testTemporalAddress() }), dataConverter });
  const workers: RunningWorkers = await runWorkers({ connection, temporalClient: client, ppoppoClient: ppoppo, taskQueues: queues, listenerWorkflowId: listenerId, dataConverter });
  const listener: RunningListener = await runListener({ connection, temporalClient: client, ppoppoClient: ppoppo, taskQueue: listenerId, workflowId: listenerId, maxRunMs: 2_000, batchMaxDelayMs: 100, dataConverter });
  const stop = async () => {
    await listener.shutdown();
    await workers.shutdown();
    await client.connection.close();
  };
  opened.push(stop);
  return { campaigns: new CampaignClient(client, { taskQueue: queues.campaigns, sendTaskQueue: queues.send }), client, stop };
}

/** The key id of every encrypted payload in a raw history (the server's view). */
function keyIdsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (value instanceof Uint8Array || typeof value !== 'object' || value === null) return found;
  const metadata = (value as { metadata?: Record<string, Uint8Array> }).metadata;
  const keyId = metadata?.[KEY_ID_METADATA_KEY];
  if (keyId) found.add(Buffer.from(keyId).toString());
  for (const child of Object.values(value)) keyIdsIn(child, found);
  return found;
}

beforeAll(async () => {
  quietTemporalLogs();
  // …05 waits for a consent that never comes; the sandbox expires it after 8 s: time for the restart.
  sandbox = await startSandbox({ consentDecisionDelayMs: 200, consentWindowMs: 8_000 });
  ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
  connection = await connectTestWorkerConnection();
}, 120_000);

afterAll(async () => {
  for (const stop of opened) await stop().catch(() => undefined);
  await connection?.close();
  ppoppo?.close();
  await sandbox?.close();
});

describe('payload key rotation', () => {
  it('completes a campaign started under key A after the workers restart with B newest and A still loaded', async () => {
    const campaignId = `rotation-${run}`;
    const underA = await startProcesses(converter(keyA));
    await underA.campaigns.startCampaign({
      campaignId,
      template: { name: `rotation-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { inline: [{ ppnum: '12300000001', vars: { name: 'Ada' } }, { ppnum: '12300000005', vars: { name: 'Eve' } }] },
      consentWindow: '2m',
      limits: { chunkSize: 1, sendsPerChunk: 1 },
    });
    const midway = await pollUntil('both chunks sent, one outcome pending', () => underA.campaigns.getProgress(campaignId), (p) => p.chunksSent === 2 && p.awaitingOutcome === 1, 60_000);
    expect(midway.status).toBe('running');
    await underA.stop();

    const rotated = await startProcesses(converter(keyB, keyA));
    const result = await rotated.campaigns.result(campaignId);
    expect(result).toMatchObject({ status: 'completed', total: 2, counts: { delivered: 1, expired: 1 } });

    // The server holds payloads of both keys: A's from before the restart, B's after it.
    const ids = new Set<string>();
    for (const workflowId of [campaignWorkflowId(campaignId), chunkWorkflowId(campaignId, 0), chunkWorkflowId(campaignId, 1)]) {
      keyIdsIn(await rotated.client.workflow.getHandle(workflowId).fetchHistory(), ids);
    }
    expect([...ids].sort()).toEqual([keyA!.id, keyB!.id].sort());

    // Without A, the campaign's input (written under A) does not decode: rotate out a key only after its workflows are done.
    const start = (await rotated.client.workflow.getHandle(campaignWorkflowId(campaignId)).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    await expect(new EncryptionCodec([keyB!]).decode([start])).rejects.toThrow(`payload encrypted with key "${keyA!.id}", which is not loaded`);
    expect(await new EncryptionCodec([keyB!, keyA!]).decode([start])).toHaveLength(1);
  }, 180_000);
});
