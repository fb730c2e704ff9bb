// End to end, every part real: Temporal dev server, Ppoppo sandbox (gRPC + inspection HTTP), the
// production worker (campaign + chunk workflows, all activities), the production listener, and a
// local HTTP server as the fallback webhook receiver. A campaign mixing every sandbox test number
// must land each recipient in the right final state, fall back exactly the denied and expired
// recipients once each, and never message anybody twice.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignSpec } from '../../src/campaign/spec';
import type { SandboxInspector } from '../../dev/sandbox/inspector';
import { campaignWorkflowId, CAMPAIGN_WORKFLOW_TYPE, CAMPAIGN_MEMO } from '../../src/contracts/campaign';
import { chunkWorkflowId, chunkRecipientsQuery } from '../../src/contracts/chunk';
import type { TaskQueueNames } from '../../src/worker';
import type { CampaignResult } from '../../src/contracts/campaign';
import type { RecipientRecord } from '../../src/contracts/chunk';
import { verifyWebhook } from '../../src/webhooks/signature';
import { startWebhookReceiver, type WebhookReceiver } from '../../dev/receivers';
import { allowWebhookReceiver, startCampaignStack, type CampaignStack } from '../support/campaign-stack';

const run = randomUUID().slice(0, 8);
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

let stack: CampaignStack;
let temporal: Client;
let inspector: SandboxInspector;
let queues: TaskQueueNames;
let receiver: WebhookReceiver;

const WEBHOOK_SECRET = 'e2e-webhook-signing-secret-0123456789';

beforeAll(async () => {
  // Consent decisions within 200 ms; an undecided consent (…05) expires after 3 s, inside the campaign's window.
  stack = await startCampaignStack('e2e', { sandbox: { consentDecisionDelayMs: 200, consentWindowMs: 3_000 }, listener: { maxRunMs: 2_000 } });
  ({ temporal, inspector, queues } = stack);
  receiver = await startWebhookReceiver();
  allowWebhookReceiver(receiver.url, WEBHOOK_SECRET);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

async function runCampaign(spec: CampaignSpec): Promise<CampaignResult> {
  const handle = await temporal.workflow.start(CAMPAIGN_WORKFLOW_TYPE, {
    workflowId: campaignWorkflowId(spec.campaignId),
    taskQueue: queues.campaigns,
    args: [spec],
    memo: { [CAMPAIGN_MEMO.sendTaskQueue]: queues.send },
  });
  return handle.result();
}

async function recipientsOf(campaignId: string, chunks: number): Promise<RecipientRecord[]> {
  const all: RecipientRecord[] = [];
  for (let i = 0; i < chunks; i++) all.push(...(await temporal.workflow.getHandle(chunkWorkflowId(campaignId, i)).query(chunkRecipientsQuery)));
  return all;
}

/** The sandbox's delivery ledger: one entry per message it accepted. */
async function ledgerPpnums(): Promise<string[]> {
  return (await inspector.messages()).map((entry) => entry.ppnum);
}

/** Bodies the fallback receiver got for this recipient: { idempotencyKey, campaignId, ppnum, outcome, text, vars }. */
function fallbacksFor(campaignId: string, ppnum: string) {
  const bodies = receiver.requests.map((request) => JSON.parse(request.body) as { ppnum: string; outcome: string; text: string; campaignId: string });
  return bodies.filter((body) => body.campaignId === campaignId && body.ppnum === ppnum);
}

describe('campaigns on the real stack (sandbox, worker, listener, fallback webhook)', () => {
  it('lands each recipient in its final state, falls back once, and messages nobody twice', async () => {
    const campaignId = `e2e-${run}`;
    const ppnums = Object.keys(EXPECTED);
    const result = await runCampaign({
      campaignId,
      template: { name: `e2e-welcome-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { inline: ppnums.map((ppnum, i) => ({ ppnum, vars: { name: `Tester ${i}` } })) },
      consentWindow: '1m',
      fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: receiver.url }, text: 'Hello {{name}}, see you elsewhere' },
      limits: { chunkSize: 1, sendsPerChunk: 1, chunksInFlight: ppnums.length },
    });

    expect(result.status).toBe('completed');
    expect(result.total).toBe(ppnums.length);
    const records = await recipientsOf(campaignId, result.chunks);
    expect(Object.fromEntries(records.map((r) => [r.ppnum, r.state]))).toEqual(EXPECTED);
    expect(result.counts).toEqual({ delivered: 4, denied: 1, failed: 1, expired: 1, invalid: 0, cancelled: 0, deadline: 0, fallbackSent: 2, fallbackFailed: 0 });
    const byPpnum = new Map(records.map((r) => [r.ppnum, r]));
    const events = (ppnum: string) => byPpnum.get(ppnum)!.history.map((h) => h.event);
    expect(events('12300000006')).toContainEqual(expect.stringMatching(/^adopted after reconciliation/));
    expect(events('12300000007').filter((e) => e === 'refused (UNAVAILABLE)')).toHaveLength(2);
    expect(byPpnum.get('12300000005')).toMatchObject({ errorCode: 'CONSENT_EXPIRED', fallback: 'sent' });

    expect(fallbacksFor(campaignId, '12300000003')).toEqual([expect.objectContaining({ outcome: 'denied', text: 'Hello Tester 2, see you elsewhere' })]);
    for (const request of receiver.requests) expect(verifyWebhook({ headers: request.headers, body: request.body, secret: WEBHOOK_SECRET }).ok).toBe(true);
    expect(fallbacksFor(campaignId, '12300000005')).toEqual([expect.objectContaining({ outcome: 'expired' })]);
    for (const ppnum of ['12300000001', '12300000002', '12300000004', '12300000006', '12300000007']) expect(fallbacksFor(campaignId, ppnum)).toEqual([]);

    // Each recipient was accepted by the API exactly once: …06's lost answer was adopted, not resent.
    const ledger = await ledgerPpnums();
    for (const ppnum of ppnums) expect(ledger.filter((p) => p === ppnum).length, ppnum).toBe(1);
    expect(await inspector.duplicates()).toEqual([]);

    // A worker killed mid-activity is noticed at a heartbeat timeout of seconds: no activity of the
    // campaign or its chunks waits out a start-to-close timeout of minutes before it is tried again.
    const scheduled: { type: string; heartbeatMs: number }[] = [];
    for (const workflowId of [campaignWorkflowId(campaignId), ...Array.from({ length: result.chunks }, (_, i) => chunkWorkflowId(campaignId, i))]) {
      for (const event of (await temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? []) {
        const activity = event.activityTaskScheduledEventAttributes;
        if (activity) scheduled.push({ type: activity.activityType?.name ?? '?', heartbeatMs: activity.heartbeatTimeout ? tsToMs(activity.heartbeatTimeout) : 0 });
      }
    }
    expect(scheduled.map((a) => a.type)).toEqual(expect.arrayContaining(['ensureTemplate', 'checkFallbackChannel', 'createSendRequest']));
    expect(scheduled.filter((a) => !(a.heartbeatMs > 0 && a.heartbeatMs <= 20_000))).toEqual([]);
  }, 180_000);

  it('waits exactly the retry hint after RESOURCE_EXHAUSTED, adopts an ambiguous send, and survives a stream cut', async () => {
    const campaignId = `e2e-faults-${run}`;
    const ppnums = Array.from({ length: 3 }, (_, i) => String(88800000000 + i));
    const faults = { resourceExhaustedNext: 2, retryAfterMs: 1_500, ambiguousNext: 1, cutStreamsNow: true };
    await inspector.faults(faults);
    const result = await runCampaign({
      campaignId,
      template: { name: `e2e-faults-${run}`, components: [{ type: 'text', content: 'Hello' }] },
      recipients: { inline: ppnums.map((ppnum) => ({ ppnum, vars: {} })) },
      consentWindow: '1m',
      limits: { chunkSize: 1, sendsPerChunk: 1, chunksInFlight: 3 },
    });
    expect(result).toMatchObject({ status: 'completed', total: 3 });
    const records = await recipientsOf(campaignId, result.chunks);
    expect(records.every((r) => r.outcome !== undefined)).toBe(true);
    const allEvents = records.flatMap((r) => r.history.map((h) => h.event));
    expect(allEvents.filter((e) => e === 'refused (RESOURCE_EXHAUSTED)')).toHaveLength(2);
    expect(allEvents.filter((e) => e.startsWith('adopted after reconciliation'))).toHaveLength(1);

    // Each refusal waited on a workflow timer of exactly the server's 1,500 ms.
    const timersMs: number[] = [];
    for (let i = 0; i < result.chunks; i++) {
      for (const event of (await temporal.workflow.getHandle(chunkWorkflowId(campaignId, i)).fetchHistory()).events ?? []) {
        const timeout = event.timerStartedEventAttributes?.startToFireTimeout;
        if (timeout) timersMs.push(tsToMs(timeout));
      }
    }
    expect(timersMs.filter((ms) => ms === 1_500)).toHaveLength(2);

    const ledger = await ledgerPpnums();
    for (const ppnum of ppnums) expect(ledger.filter((p) => p === ppnum).length, ppnum).toBe(1);
    expect(await inspector.duplicates()).toEqual([]);
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
      consentWindow: '1m',
      onInvalidRows: 'skip',
      limits: { chunkSize: 10, sendsPerChunk: 1, chunksInFlight: 2 },
    });
    expect(result.status).toBe('completed');
    expect(result.total).toBe(26);
    expect(result.counts.invalid).toBe(1);
    expect(result.issues).toEqual([expect.objectContaining({ line: 12, field: 'ppnum' })]);
    const records = await recipientsOf(campaignId, result.chunks);
    expect(records.map((r) => r.ppnum).sort()).toEqual(valid);
    expect(records.every((r) => r.outcome !== undefined)).toBe(true);
    const ledger = await ledgerPpnums();
    for (const ppnum of valid) expect(ledger.filter((p) => p === ppnum).length, ppnum).toBe(1);
    expect(await inspector.duplicates()).toEqual([]);
  }, 180_000);
});
