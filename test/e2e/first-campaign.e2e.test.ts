// The real first campaign, scaled: 1,000 recipients the app has never messaged, on the sandbox's
// defaults (every one asked for consent, rate limit and quota on), its consent window scaled from
// 24 h to a minute, and every listener interval scaled with it, so the chunk gets a real day's
// events and signals: decisions arriving one at a time over the window. It must end with exact
// outcomes (the sandbox's ledger agrees), one fallback for each denial and expiry, consent figures
// that add up, and the chunk's history (every run of it: it continues as new on the way, as the
// shared test server suggests from 200 events) under 2,000 events.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledListenerTiming } from '../../activities/held-events';
import { RECIPIENT_OUTCOMES, countRecipients } from '../../src/campaign/outcomes';
import { campaignWorkflowId, CAMPAIGN_WORKFLOW_TYPE, CAMPAIGN_MEMO, progressQuery } from '../../src/contracts/campaign';
import type { CampaignResult } from '../../src/contracts/campaign';
import { chunkWorkflowId, chunkRecipientsQuery } from '../../src/contracts/chunk';
import { listenerRouteTargetsQuery } from '../../src/contracts/listener';
import { ledgerOutcome } from '../../dev/chaos/checks';
import { startWebhookReceiver, type WebhookReceiver } from '../../dev/receivers';
import { allowWebhookReceiver, startCampaignStack, type CampaignStack } from '../support/campaign-stack';
import { pollUntil } from '../support/temporal';

const RECIPIENTS = 1_000;
/** The sandbox's consent window: 24 h scaled to a minute. The campaign waits a little longer. */
const WINDOW_MS = 60_000;
const run = randomUUID().slice(0, 8);

let stack: CampaignStack;
let temporal: Client;
let receiver: WebhookReceiver;

beforeAll(async () => {
  // Sandbox defaults but the window: decisions spread over it by the default distribution.
  const { maxRunMs, batchMaxDelayMs, actionableMaxDelayMs, partsMaxDelayMs } = scaledListenerTiming(WINDOW_MS);
  stack = await startCampaignStack('e2e-first', { sandbox: { consentWindowMs: WINDOW_MS }, listener: { maxRunMs, batchMaxDelayMs, actionableMaxDelayMs, partsMaxDelayMs } });
  temporal = stack.temporal;
  receiver = await startWebhookReceiver();
  allowWebhookReceiver(receiver.url, 'first-campaign-e2e-webhook-signing-secret');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

describe('a first campaign: every recipient new, decisions trickling in over the window', () => {
  it('ends exact, falls back once per denial and expiry, and keeps the chunk under 2,000 history events', async () => {
    const campaignId = `first-${run}`;
    const ppnums = Array.from({ length: RECIPIENTS }, (_, i) => String(46_100_000_000 + i));
    const handle = await temporal.workflow.start(CAMPAIGN_WORKFLOW_TYPE, {
      workflowId: campaignWorkflowId(campaignId),
      taskQueue: stack.queues.campaigns,
      args: [
        {
          campaignId,
          template: { name: `first-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
          recipients: { inline: ppnums.map((ppnum, i) => ({ ppnum, vars: { name: `Person ${i}` } })) },
          consentWindow: '75s',
          fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: receiver.url }, text: 'Hello {{name}}, by another way' },
          limits: { chunkSize: RECIPIENTS, chunksInFlight: 1 },
        },
      ],
      memo: { [CAMPAIGN_MEMO.sendTaskQueue]: stack.queues.send },
    });
    // During the window the campaign's progress counts whom the chunk settled so far (from its
    // consent reports), not only what finished chunks report: final and awaiting add up to everyone.
    const midway = await pollUntil('the campaign to count denials while its chunk still runs', () => handle.query(progressQuery), (p) => p.chunksFinished === 0 && p.counts.denied > 0, 60_000);
    expect(midway.status).toBe('running');
    expect(countRecipients(midway.counts) + midway.awaitingOutcome).toBe(RECIPIENTS);
    expect(midway.consent.denied).toBe(midway.counts.denied); // one report: its figures agree

    const result: CampaignResult = await handle.result();
    expect(result.status).toBe('completed');
    expect(countRecipients(result.counts)).toBe(RECIPIENTS);

    // Exact: every recipient's outcome is the one the API's ledger shows.
    const records = await temporal.workflow.getHandle(chunkWorkflowId(campaignId, 0)).query(chunkRecipientsQuery);
    expect(records.map((r) => r.ppnum).sort()).toEqual(ppnums);
    const ledger = new Map((await stack.inspector.messages()).map((entry) => [entry.ppnum, entry]));
    const disagree = records.filter((r) => r.outcome !== ledgerOutcome(ledger.get(r.ppnum)!)).map((r) => `${r.ppnum}: ${r.outcome} vs ${ledger.get(r.ppnum)?.status}`);
    expect(disagree).toEqual([]);
    expect(await stack.inspector.duplicates()).toEqual([]);
    for (const outcome of RECIPIENT_OUTCOMES) expect(records.filter((r) => r.outcome === outcome).length, outcome).toBe(result.counts[outcome]);
    expect(result.counts.denied).toBeGreaterThan(100);
    expect(result.counts.expired).toBeGreaterThan(50);

    // Every recipient was asked first; the figures add up and the decisions were spread over the window.
    expect(records.every((r) => r.history.some((h) => h.event === 'RECIPIENT_PENDING_CONSENT'))).toBe(true);
    expect(result.consent).toMatchObject({ asked: RECIPIENTS, denied: result.counts.denied, expired: result.counts.expired, alreadyConsented: 0 });
    expect(result.consent!.granted).toBe(RECIPIENTS - result.counts.denied - result.counts.expired);
    const decisionTimes = records.flatMap((r) => (r.consentDecisionMs === undefined ? [] : [r.consentDecisionMs]));
    expect(decisionTimes.length).toBe(RECIPIENTS - result.counts.expired);
    // One at a time, not in bursts (the sandbox decides whatever is due when its timer fires: a few share a millisecond).
    expect(new Set(decisionTimes).size).toBeGreaterThan(decisionTimes.length / 2);
    expect(Math.max(...decisionTimes)).toBeGreaterThan(WINDOW_MS / 2);

    // One fallback for each denial and expiry, and nobody else.
    const bodies = receiver.requests.map((request) => JSON.parse(request.body) as { campaignId: string; ppnum: string; outcome: string });
    const ours = bodies.filter((body) => body.campaignId === campaignId);
    const expected = records.filter((r) => r.outcome === 'denied' || r.outcome === 'expired').map((r) => r.ppnum).sort();
    const got = ours.map((body) => body.ppnum).sort();
    expect(got).toEqual(expected);
    expect(records.filter((r) => r.fallback === 'sent').length).toBe(expected.length);

    // The send path told the listener where the request's events go, and that this chunk acts at once
    // on denials only (fallback on denied and expired): its failures waited for the next batch.
    const [request] = await stack.inspector.sendRequests();
    const routes = await temporal.workflow.getHandle(stack.listenerWorkflowId).query(listenerRouteTargetsQuery, [request!.id]);
    expect(routes).toEqual({ [request!.id]: { workflowId: chunkWorkflowId(campaignId, 0), prompt: ['CONSENT_DENIED'] } });

    // The chunk, every run of it: a day's trickle in well under 2,000 events, no run near 4,096.
    const runs = await pollUntil(
      'every run of the chunk to be closed in visibility',
      async () => {
        const found = [];
        for await (const info of temporal.workflow.list({ query: `WorkflowId = "${chunkWorkflowId(campaignId, 0)}"` })) found.push(info);
        return found;
      },
      (found) => found.length > 0 && found.every((info) => info.status.name !== 'RUNNING'),
      60_000,
    );
    const events = runs.reduce((sum, info) => sum + info.historyLength, 0);
    expect(runs.length).toBeGreaterThan(1); // it continued as new with its compact state
    expect(events).toBeLessThan(2_000);
    expect(Math.max(...runs.map((info) => info.historyLength))).toBeLessThan(4_096);
  }, 300_000);
});
