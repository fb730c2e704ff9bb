// End to end, every part real: Temporal dev server, Ppoppo sandbox (gRPC + inspection HTTP), the
// production worker (campaign + chunk workflows, all activities), the production listener, and a
// local HTTP server as the fallback webhook receiver. A campaign mixing every sandbox test number
// must land each recipient in the right final state, fall back exactly the denied and expired
// recipients once each, and never message anybody twice.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import type { CampaignSpec } from '../../src/campaign/spec';
import { runListener } from '../../src/listener';
import type { RunningListener } from '../../src/listener';
import { startSandbox } from '../../src/sandbox/server';
import { campaignWorkflowId, chunkWorkflowId } from '../../src/temporal/names';
import { runWorkers } from '../../src/worker';
import type { RunningWorkers } from '../../src/worker';
import type { CampaignResult, RecipientRecord } from '../../workflows/messages';
import { chunkRecipientsQuery } from '../../workflows/messages';
import { testTemporalAddress } from '../support/temporal';

const run = randomUUID().slice(0, 8);
const queues = { campaigns: `e2e-campaigns-${run}`, send: `e2e-send-${run}` };

/** Sandbox test numbers and where each must end. */
const EXPECTED: Record<string, RecipientRecord['state']> = {
  '12300000001': 'delivered', // delivered
  '12300000002': 'delivered', // consent pending → granted → delivered
  '12300000003': 'denied', // consent pending → denied
  '12300000004': 'failed', // delivery failure
  '12300000005': 'expired', // consent pending, no decision
  '12300000006': 'delivered', // accepted, answer lost (INTERNAL): reconciled and adopted
  '12300000007': 'delivered', // refused twice (UNAVAILABLE), then accepted
};

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let ppoppo: PpoppoClient;
let temporal: Client;
let workers: RunningWorkers;
let listener: RunningListener;
let receiver: Server;
let receiverUrl: string;
const fallbackRequests: string[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({});
  // The reconciliation settle period (6 is "answer lost") stays short in tests.
  process.env.RECONCILE_SETTLE_MS ??= '2000';
  ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
  const address = testTemporalAddress();
  temporal = new Client({ connection: await Connection.connect({ address }) });
  const connection = await NativeConnection.connect({ address });
  workers = await runWorkers({ connection, temporalClient: temporal, ppoppoClient: ppoppo, taskQueues: queues });
  listener = await runListener({
    connection,
    temporalClient: temporal,
    ppoppoClient: ppoppo,
    taskQueue: `e2e-listener-${run}`,
    workflowId: `e2e-listener-${run}`,
    maxRunMs: 2_000,
    batchMaxDelayMs: 100,
  });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      fallbackRequests.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/fallback`;
}, 120_000);

afterAll(async () => {
  for await (const info of temporal.workflow.list({ query: `TaskQueue = "${queues.campaigns}" AND ExecutionStatus = "Running"` })) {
    await temporal.workflow.getHandle(info.workflowId).terminate('test finished').catch(() => undefined);
  }
  await temporal?.workflow.getHandle(`e2e-listener-${run}`).terminate('test finished').catch(() => undefined);
  await listener?.shutdown();
  await workers?.shutdown();
  receiver?.close();
  await sandbox?.close();
});

async function runCampaign(spec: CampaignSpec): Promise<CampaignResult> {
  const handle = await temporal.workflow.start('campaignWorkflow', {
    workflowId: campaignWorkflowId(spec.campaignId),
    taskQueue: queues.campaigns,
    args: [spec],
    memo: { sendTaskQueue: queues.send },
  });
  return handle.result();
}

async function recipientsOf(campaignId: string, chunks: number): Promise<RecipientRecord[]> {
  const all: RecipientRecord[] = [];
  for (let i = 0; i < chunks; i++) all.push(...(await temporal.workflow.getHandle(chunkWorkflowId(campaignId, i)).query(chunkRecipientsQuery)));
  return all;
}

/** Ledger entries (GET /inspect/messages): one per message the sandbox delivered or queued. */
async function ledgerPpnums(): Promise<string[]> {
  const body = (await (await fetch(`${sandbox.httpUrl}/inspect/messages`)).json()) as unknown;
  const entries = (Array.isArray(body) ? body : ((body as { messages?: unknown[] }).messages ?? [])) as { ppnum?: string; recipient?: string }[];
  return entries.map((entry) => entry.ppnum ?? entry.recipient ?? '');
}

function fallbackCount(ppnum: string): number {
  return fallbackRequests.filter((body) => body.includes(ppnum)).length;
}

describe('a campaign over every sandbox test number', () => {
  it('lands each recipient in its final state, falls back once, and messages nobody twice', async () => {
    const campaignId = `e2e-${run}`;
    const ppnums = Object.keys(EXPECTED);
    const result = await runCampaign({
      campaignId,
      template: { name: `e2e-welcome-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { inline: ppnums.map((ppnum, i) => ({ ppnum, vars: { name: `Tester ${i}` } })) },
      consentWindow: '20s',
      fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: receiverUrl }, text: 'Hello {{name}}, see you elsewhere' },
      limits: { chunkSize: 1, chunksInFlight: ppnums.length },
    });

    expect(result.status).toBe('completed');
    expect(result.total).toBe(ppnums.length);
    const records = await recipientsOf(campaignId, result.chunks);
    expect(Object.fromEntries(records.map((r) => [r.ppnum, r.state]))).toEqual(EXPECTED);
    expect(result.counts).toEqual({ delivered: 4, denied: 1, failed: 1, expired: 1, invalid: 0, cancelled: 0, fallbackSent: 2, fallbackFailed: 0 });

    expect(fallbackCount('12300000003')).toBe(1);
    expect(fallbackCount('12300000005')).toBe(1);
    for (const ppnum of ['12300000001', '12300000002', '12300000004', '12300000006', '12300000007']) expect(fallbackCount(ppnum)).toBe(0);

    const ledger = await ledgerPpnums();
    for (const ppnum of ppnums) expect(ledger.filter((p) => p === ppnum).length, ppnum).toBeLessThanOrEqual(1);
    expect(ledger).toContain('12300000006'); // accepted once, adopted, never resent
  }, 180_000);

  it('runs a CSV campaign: skips the invalid row by line, sends the rest once', async () => {
    const campaignId = `e2e-file-${run}`;
    const dir = mkdtempSync(join(tmpdir(), 'ppoppo-e2e-'));
    const file = join(dir, 'recipients.csv');
    const valid = Array.from({ length: 25 }, (_, i) => String(77700000000 + i));
    writeFileSync(file, ['ppnum,name', ...valid.slice(0, 10).map((p) => `${p},Ann`), '123-bad,Bob', ...valid.slice(10).map((p) => `${p},"Smith, Jo"`)].join('\n') + '\n');
    const result = await runCampaign({
      campaignId,
      template: { name: `e2e-file-${run}`, components: [{ type: 'text', content: 'Hi {{name}}' }] },
      recipients: { file, format: 'csv' },
      consentWindow: '20s',
      onInvalidRows: 'skip',
      limits: { chunkSize: 10, chunksInFlight: 2 },
    });
    expect(result.status).toBe('completed');
    expect(result.total).toBe(26);
    expect(result.counts.invalid).toBe(1);
    expect(result.issues).toEqual([expect.objectContaining({ line: 12, field: 'ppnum' })]);
    const records = await recipientsOf(campaignId, result.chunks);
    expect(records.map((r) => r.ppnum).sort()).toEqual(valid);
    expect(records.every((r) => r.outcome !== undefined)).toBe(true);
    const ledger = await ledgerPpnums();
    for (const ppnum of valid) expect(ledger.filter((p) => p === ppnum).length, ppnum).toBeLessThanOrEqual(1);
  }, 180_000);
});
