// A campaign started again under the same id, on the real stack (Temporal dev server, sandbox,
// production worker and listener): its chunk ids are taken (they are never started twice), so the
// new run adopts what the earlier run's chunks did, whether its recipients come from a file, a URL or
// a PostgreSQL table. Nobody is messaged twice, and the account is
// complete: after a completed campaign, the same result again; after a terminated one, the rest.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeRecipientDatabase } from '../../activities/sources/postgres';
import { RECIPIENT_SOURCES, serveRecipients } from '../../dev/chaos/recipient-sources';
import { RECIPIENT_OUTCOMES, countRecipients } from '../../src/campaign/outcomes';
import type { CampaignSpec } from '../../src/campaign/spec';
import { CampaignClient } from '../../src/client/campaigns';
import type { SandboxInspector } from '../../dev/sandbox/inspector';
import { campaignWorkflowId, pauseUpdate, progressQuery, CAMPAIGN_WORKFLOW_TYPE, CAMPAIGN_MEMO } from '../../src/contracts/campaign';
import { chunkWorkflowId, chunkProgressQuery, chunkRecipientsQuery } from '../../src/contracts/chunk';
import type { TaskQueueNames } from '../../src/worker';
import type { CampaignResult } from '../../src/contracts/campaign';
import type { RecipientRecord } from '../../src/contracts/chunk';
import { ledgerOutcome } from '../../dev/chaos/checks';
import { startCampaignStack, type CampaignStack } from '../support/campaign-stack';
import { pollUntil } from '../support/temporal';

const run = randomUUID().slice(0, 8);
let stack: CampaignStack;
let temporal: Client;
let inspector: SandboxInspector;
let queues: TaskQueueNames;

beforeAll(async () => {
  stack = await startCampaignStack('e2e-restart', { sandbox: { consentDecisionDelayMs: 200, consentWindowMs: 3_000 }, listener: { maxRunMs: 2_000 } });
  ({ temporal, inspector, queues } = stack);
}, 120_000);

afterAll(() => stack?.stop());

/** Starts the campaign workflow the way the Web UI or `temporal workflow start` would (the id may be reused). */
function startCampaign(spec: CampaignSpec) {
  return temporal.workflow.start(CAMPAIGN_WORKFLOW_TYPE, {
    workflowId: campaignWorkflowId(spec.campaignId),
    taskQueue: queues.campaigns,
    args: [spec],
    memo: { [CAMPAIGN_MEMO.sendTaskQueue]: queues.send },
  });
}

async function recipientsOf(campaignId: string, chunks: number): Promise<RecipientRecord[]> {
  const all: RecipientRecord[] = [];
  for (let i = 0; i < chunks; i++) all.push(...(await temporal.workflow.getHandle(chunkWorkflowId(campaignId, i)).query(chunkRecipientsQuery)));
  return all;
}

/** Ledger entries (messages the sandbox accepted) for these ppnums, and the outcome counts they add up to. */
async function ledgerFor(ppnums: string[]) {
  const wanted = new Set(ppnums);
  const entries = (await inspector.messages()).filter((entry) => wanted.has(entry.ppnum));
  const outcomes = Object.fromEntries(RECIPIENT_OUTCOMES.map((outcome) => [outcome, entries.filter((entry) => ledgerOutcome(entry) === outcome).length]));
  return { entries, outcomes };
}

/** Every one of `ppnums` is in the ledger exactly once, and the sandbox saw no duplicate at all; returns their ledger. */
async function expectEachMessagedOnce(ppnums: string[]) {
  const ledger = await ledgerFor(ppnums);
  const times = new Map<string, number>();
  for (const entry of ledger.entries) times.set(entry.ppnum, (times.get(entry.ppnum) ?? 0) + 1);
  expect(ppnums.filter((ppnum) => times.get(ppnum) !== 1)).toEqual([]);
  expect(await inspector.duplicates()).toEqual([]);
  return ledger;
}

/**
 * Starts a terminated campaign again through the client library (what `npm run campaign -- start`
 * uses): a terminated campaign may be started again (a completed one may not). Returns its result.
 */
async function restartThroughClient(spec: CampaignSpec, firstRunId: string): Promise<CampaignResult> {
  const campaigns = new CampaignClient(temporal, { taskQueue: queues.campaigns, sendTaskQueue: queues.send });
  const restarted = await campaigns.startCampaign(spec);
  expect(restarted.alreadyFinished).toBeUndefined();
  expect(restarted.runId).not.toBe(firstRunId);
  return campaigns.result(spec.campaignId);
}

describe('a campaign started again under the same id', () => {
  it('after it completed: ends with the same account, and nobody is messaged again', async () => {
    const ppnums = Array.from({ length: 12 }, (_, i) => String(45610000000 + i));
    const spec: CampaignSpec = {
      campaignId: `e2e-restart-done-${run}`,
      template: { name: `e2e-restart-done-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { inline: ppnums.map((ppnum, i) => ({ ppnum, vars: { name: `R${i}` } })) },
      consentWindow: '1m',
      limits: { chunkSize: 5, sendsPerChunk: 1, chunksInFlight: 2 },
    };
    const first = (await (await startCampaign(spec)).result()) as CampaignResult;
    expect(first).toMatchObject({ status: 'completed', total: 12, chunks: 3 });
    const callsBefore = (await inspector.stats()).createSendRequest.calls;
    const ledgerBefore = await ledgerFor(ppnums);

    const second = (await (await startCampaign(spec)).result()) as CampaignResult;

    expect(second).toEqual(first);
    expect((await inspector.stats()).createSendRequest.calls).toBe(callsBefore);
    const ledgerAfter = await expectEachMessagedOnce(ppnums);
    expect(ledgerAfter.entries).toEqual(ledgerBefore.entries);
    // The account is the API's own: each outcome count agrees with the ledger.
    for (const outcome of RECIPIENT_OUTCOMES) expect(second.counts[outcome], outcome).toBe(ledgerAfter.outcomes[outcome]);
  }, 240_000);

  // Every source a worker reads is planned again by the new run into the same chunks: file, URL (nginx), PostgreSQL table.
  it.each(RECIPIENT_SOURCES.map((source, i) => ({ source, firstPpnum: 45620000000 + i * 1000 })))(
    'after it was terminated mid-campaign: adopts the finished and the running chunks, sends the rest once ($source source)',
    async ({ source, firstPpnum }) => {
      const campaignId = `e2e-restart-terminated-${source}-${run}`;
      const dir = mkdtempSync(join(tmpdir(), 'ppoppo-restart-'));
      const file = join(dir, 'recipients.csv');
      const ppnums = Array.from({ length: 30 }, (_, i) => String(firstPpnum + i));
      writeFileSync(file, ['ppnum,name', ...ppnums.map((ppnum, i) => `${ppnum},R${i}`)].join('\n') + '\n');
      const served = await serveRecipients(source, file, dir);
      Object.assign(process.env, served.env); // the worker runs in this process
      try {
        const spec: CampaignSpec = {
          campaignId,
          template: { name: `e2e-restart-terminated-${run}`, components: [{ type: 'text', content: 'Hi {{name}}' }] },
          recipients: served.recipients,
          consentWindow: '1m',
          limits: { chunkSize: 5, sendsPerChunk: 1, chunksInFlight: 1 },
        };
        const acceptedBefore = (await inspector.stats()).createSendRequest.accepted;
        const firstRun = await startCampaign(spec);
        await pollUntil('two chunks finished', () => firstRun.query(progressQuery), (p) => p.chunksFinished >= 2, 120_000);
        await firstRun.terminate('operator restarts the campaign');

        const result = await restartThroughClient(spec, firstRun.firstExecutionRunId);

        expect(result).toMatchObject({ status: 'completed', total: 30, chunks: 6 });
        expect(countRecipients(result.counts)).toBe(30);
        const records = await recipientsOf(campaignId, result.chunks);
        expect(records.map((r) => r.ppnum).sort()).toEqual(ppnums);
        expect(records.filter((r) => r.outcome === undefined)).toEqual([]);
        const ledger = await expectEachMessagedOnce(ppnums);
        for (const outcome of RECIPIENT_OUTCOMES) expect(result.counts[outcome], outcome).toBe(ledger.outcomes[outcome]);
        // One send request per chunk across both runs.
        expect((await inspector.stats()).createSendRequest.accepted - acceptedBefore).toBe(6);
      } finally {
        await closeRecipientDatabase();
        await served.stop();
      }
    },
    300_000,
  );

  it('after it was paused and terminated: resumes the chunk the old run paused before its send, which sends once', async () => {
    const campaignId = `e2e-restart-paused-${run}`;
    const ppnums = Array.from({ length: 10 }, (_, i) => String(45630000000 + i));
    const spec: CampaignSpec = {
      campaignId,
      template: { name: `e2e-restart-paused-${run}`, components: [{ type: 'text', content: 'Hello' }] },
      recipients: { inline: ppnums.map((ppnum) => ({ ppnum, vars: {} })) },
      consentWindow: '1m',
      limits: { chunkSize: 5, sendsPerChunk: 1, chunksInFlight: 1 },
    };
    const acceptedBefore = (await inspector.stats()).createSendRequest.accepted;
    // Chunk 0's first send is refused: it waits 3 s, unsent, while the old run pauses it and is terminated.
    await inspector.faults({ resourceExhaustedNext: 1, retryAfterMs: 3_000 });
    const firstRun = await startCampaign(spec);
    const chunk0 = temporal.workflow.getHandle(chunkWorkflowId(campaignId, 0));
    await pollUntil('chunk 0 waiting to retry', () => chunk0.query(chunkProgressQuery), (p) => p.phase === 'waiting_retry', 60_000);
    await firstRun.executeUpdate(pauseUpdate);
    await pollUntil('chunk 0 paused', () => chunk0.query(chunkProgressQuery), (p) => p.paused, 60_000);
    await firstRun.terminate('operator restarts the campaign');

    const result = await restartThroughClient(spec, firstRun.firstExecutionRunId);

    expect(result).toMatchObject({ status: 'completed', total: 10, chunks: 2 });
    expect(countRecipients(result.counts)).toBe(10);
    const records = await recipientsOf(campaignId, result.chunks);
    const chunk0Events = records.find((r) => r.ppnum === ppnums[0])!.history.map((h) => h.event);
    expect(chunk0Events.filter((e) => e === 'refused (RESOURCE_EXHAUSTED)')).toHaveLength(1);
    await expectEachMessagedOnce(ppnums);
    expect((await inspector.stats()).createSendRequest.accepted - acceptedBefore).toBe(2);
  }, 300_000);
});
