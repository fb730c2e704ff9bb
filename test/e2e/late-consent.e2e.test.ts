// On the real stack (sandbox, production worker and listener, a real webhook receiver): a denial
// that arrives after our consent window (the 1-minute minimum) still counts and still gets its
// fallback; and a row too large for one request is refused by line and variable before anything
// is sent, instead of trapping its chunk in retries.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignSpec } from '../../src/campaign/spec';
import { CampaignClient } from '../../src/client/campaigns';
import { chunkRecipientsQuery, chunkWorkflowId } from '../../src/contracts/chunk';
import { startWebhookReceiver, type WebhookReceiver } from '../../dev/receivers';
import { allowWebhookReceiver, startCampaignStack, type CampaignStack } from '../support/campaign-stack';

const run = randomUUID().slice(0, 8);
let stack: CampaignStack;
let receiver: WebhookReceiver;
let campaigns: CampaignClient;

beforeAll(async () => {
  // The sandbox decides consent 65 s after acceptance: 5 s after our 1-minute window has ended.
  stack = await startCampaignStack('e2e-late', { sandbox: { consentDecisionDelayMs: 65_000, consentWindowMs: 140_000 }, listener: { maxRunMs: 2_000 } });
  receiver = await startWebhookReceiver();
  allowWebhookReceiver(receiver.url, 'late-consent-e2e-webhook-signing-secret');
  campaigns = new CampaignClient(stack.temporal, { taskQueue: stack.queues.campaigns, sendTaskQueue: stack.queues.send });
}, 120_000);

afterAll(async () => {
  await receiver?.close();
  await stack?.stop();
});

describe('our consent window and the API\'s answers', () => {
  it('applies a denial that comes after the 1-minute window, and sends its fallback', async () => {
    const campaignId = `e2e-late-${run}`;
    const spec: CampaignSpec = {
      campaignId,
      template: { name: `e2e-late-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { inline: [{ ppnum: '12300000001', vars: { name: 'Ada' } }, { ppnum: '12300000003', vars: { name: 'Dee' } }] },
      consentWindow: '1m',
      fallback: { on: ['denied'], channel: { type: 'webhook', url: receiver.url }, text: 'Hi {{name}}, elsewhere' },
      limits: { chunkSize: 2, sendsPerChunk: 1 },
    };
    await campaigns.startCampaign(spec);
    const result = await campaigns.result(campaignId);
    expect(result).toMatchObject({ status: 'completed', counts: { delivered: 1, denied: 1, expired: 0, failed: 0, fallbackSent: 1 } });
    const bodies = receiver.requests.map((request) => JSON.parse(request.body) as { ppnum: string; outcome: string; campaignId: string }).filter((body) => body.campaignId === campaignId);
    expect(bodies).toEqual([expect.objectContaining({ ppnum: '12300000003', outcome: 'denied' })]);
    const records = await stack.temporal.workflow.getHandle(chunkWorkflowId(campaignId, 0)).query(chunkRecipientsQuery);
    const events = records.find((r) => r.ppnum === '12300000003')!.history.map((h) => h.event);
    expect(events).toContain('consent window ended');
    expect(events).toContain('CONSENT_DENIED (after the consent window)');
  }, 240_000);
});

describe('size limits', () => {
  it('refuses a 10 MB row by line and variable before sending, and sends the rest', async () => {
    const campaignId = `e2e-big-${run}`;
    const file = join(mkdtempSync(join(tmpdir(), 'ppoppo-big-')), 'recipients.csv');
    writeFileSync(file, `ppnum,name,note\n12300000001,Ada,short\n12300000004,Bob,${'x'.repeat(10 * 1024 * 1024)}\n`);
    const spec: CampaignSpec = {
      campaignId,
      template: { name: `e2e-big-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { file, format: 'csv' },
      consentWindow: '1m',
      onInvalidRows: 'skip',
    };
    const sendsBefore = (await stack.inspector.stats()).createSendRequest.calls;
    await campaigns.startCampaign(spec);
    const result = await campaigns.result(campaignId);
    expect(result).toMatchObject({ status: 'completed', total: 2, counts: { delivered: 1, invalid: 1 } });
    expect(result.issues).toEqual([expect.objectContaining({ line: 3, field: 'vars.note', message: expect.stringContaining('at most 4,000 fit') })]);
    expect((await stack.inspector.stats()).createSendRequest.calls - sendsBefore).toBe(1); // one request, accepted at once
  }, 120_000);
});
