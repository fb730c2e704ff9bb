// A 50,000-recipient campaign from a CSV file on the real stack: the shared test dev server (its
// dynamic config suggests continue-as-new after 200 events, test/global-setup.ts), the sandbox
// with a realistic outcome mix, the production worker and listener. It must complete with an exact
// account that the sandbox's ledger confirms, continue as new on the way, and keep every workflow
// history (campaign runs and chunks) far below Temporal's limits.
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECIPIENT_OUTCOMES, countRecipients } from '../../src/campaign/outcomes';
import type { CampaignSpec } from '../../src/campaign/spec';
import type { SandboxInspector } from '../../dev/sandbox/inspector';
import { campaignWorkflowId, CAMPAIGN_WORKFLOW_TYPE, CAMPAIGN_MEMO } from '../../src/contracts/campaign';
import { chunkWorkflowId, chunkRecipientsQuery } from '../../src/contracts/chunk';
import type { TaskQueueNames } from '../../src/worker';
import type { CampaignResult } from '../../src/contracts/campaign';
import { ledgerOutcome } from '../../dev/chaos/checks';
import { startCampaignStack, type CampaignStack } from '../support/campaign-stack';
import { pollUntil } from '../support/temporal';

const RECIPIENTS = 50_000;
/** Temporal's hard limits per workflow history. */
const MAX_HISTORY_EVENTS = 51_200;
const MAX_HISTORY_BYTES = 50 * 1024 * 1024;

const run = randomUUID().slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), 'ppoppo-large-'));

let stack: CampaignStack;
let temporal: Client;
let inspector: SandboxInspector;
let queues: TaskQueueNames;

beforeAll(async () => {
  // A repeat audience: 85 % have consented before (80 % delivered directly, 5 % fail), the rest are
  // new (8 % grant, 5 % deny, 2 % never decide); decisions within 200 ms, an undecided consent
  // expires after 3 s, well inside the campaign's window. (A first campaign: first-campaign.e2e.test.ts.)
  stack = await startCampaignStack('e2e-large', {
    sandbox: { consentDecisionDelayMs: 200, consentWindowMs: 3_000, outcomeMix: { delivered: 80, consentGranted: 8, consentDenied: 5, failed: 5, consentExpired: 2 } },
  });
  ({ temporal, inspector, queues } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** ppnum,name rows, streamed to disk. */
async function writeRecipientsCsv(path: string, ppnums: string[]): Promise<void> {
  const out = createWriteStream(path);
  out.write('ppnum,name\n');
  for (const [i, ppnum] of ppnums.entries()) {
    if (!out.write(`${ppnum},Recipient ${i}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

interface HistoryFigures {
  workflowId: string;
  runId: string;
  events: number;
  bytes: number;
}

async function historyFigures(workflowId: string, runId?: string): Promise<HistoryFigures> {
  const info = await temporal.workflow.getHandle(workflowId, runId).describe();
  return { workflowId, runId: info.runId, events: info.historyLength, bytes: info.historySize ?? NaN };
}

describe('a 50,000-recipient campaign from a CSV file', () => {
  it('completes with an exact account the ledger confirms, continues as new, and keeps every history small', async () => {
    const campaignId = `e2e-large-${run}`;
    const ppnums = Array.from({ length: RECIPIENTS }, (_, i) => String(45600000000 + i));
    const file = join(dir, 'recipients.csv');
    await writeRecipientsCsv(file, ppnums);
    const spec: CampaignSpec = {
      campaignId,
      template: { name: `e2e-large-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { file, format: 'csv' },
      consentWindow: '5m',
      // Chunks of two requests of 500: every chunk sends as several, and 50 chunks make the campaign continue as new.
      limits: { chunkSize: 500, sendsPerChunk: 2, chunksInFlight: 4 },
    };

    const startedAt = Date.now();
    const handle = await temporal.workflow.start(CAMPAIGN_WORKFLOW_TYPE, {
      workflowId: campaignWorkflowId(campaignId),
      taskQueue: queues.campaigns,
      args: [spec],
      memo: { [CAMPAIGN_MEMO.sendTaskQueue]: queues.send },
    });
    const result = (await handle.result()) as CampaignResult;
    console.info(`large campaign: ${RECIPIENTS} recipients in ${Math.round((Date.now() - startedAt) / 1000)} s, counts ${JSON.stringify(result.counts)}`);

    // The account: complete, and the API's own ledger agrees with every count.
    expect(result).toMatchObject({ status: 'completed', total: RECIPIENTS, chunks: RECIPIENTS / 1000, issues: [] });
    expect(countRecipients(result.counts)).toBe(RECIPIENTS);
    const ledger = await inspector.messages();
    expect(ledger).toHaveLength(RECIPIENTS);
    expect(new Set(ledger.map((entry) => entry.ppnum)).size).toBe(RECIPIENTS);
    expect(await inspector.duplicates()).toEqual([]);
    const truth = new Map(ledger.map((entry) => [entry.ppnum, ledgerOutcome(entry)]));
    for (const outcome of RECIPIENT_OUTCOMES) {
      expect(result.counts[outcome], outcome).toBe([...truth.values()].filter((o) => o === outcome).length);
    }
    // A realistic mix, not all one outcome.
    expect(result.counts.delivered).toBeGreaterThan(RECIPIENTS / 2);
    expect(result.counts.denied).toBeGreaterThan(0);

    // Each recipient's own report agrees with the ledger.
    const disagree: string[] = [];
    let reported = 0;
    for (let i = 0; i < result.chunks; i++) {
      for (const record of await temporal.workflow.getHandle(chunkWorkflowId(campaignId, i)).query(chunkRecipientsQuery)) {
        reported += 1;
        if (record.outcome !== truth.get(record.ppnum)) disagree.push(`${record.ppnum}: ${record.outcome} vs ledger ${truth.get(record.ppnum)}`);
      }
    }
    expect(reported).toBe(RECIPIENTS);
    expect(disagree.slice(0, 10)).toEqual([]);

    // Continue-as-new happened: the campaign's workflow id has several runs, all but the last continued as new.
    const runs = await pollUntil(
      'every campaign run visible and closed',
      async () => {
        const found: { runId: string; status: string }[] = [];
        for await (const info of temporal.workflow.list({ query: `WorkflowId = "${campaignWorkflowId(campaignId)}"` })) found.push({ runId: info.runId, status: info.status.name });
        return found;
      },
      (found) => found.length > 1 && found.every((r) => r.status !== 'RUNNING') && found.filter((r) => r.status === 'COMPLETED').length === 1,
      60_000,
    );
    expect(runs.filter((r) => r.status === 'CONTINUED_AS_NEW').length).toBe(runs.length - 1);

    // Every history far below Temporal's limits (< 10 %).
    const campaignRuns = await Promise.all(runs.map((r) => historyFigures(campaignWorkflowId(campaignId), r.runId)));
    const chunks: HistoryFigures[] = [];
    for (let i = 0; i < result.chunks; i++) chunks.push(await historyFigures(chunkWorkflowId(campaignId, i)));
    const largest = (list: HistoryFigures[], key: 'events' | 'bytes') => list.reduce((a, b) => (b[key] > a[key] ? b : a));
    const figures = {
      campaignRuns: campaignRuns.length,
      largestCampaignRun: { events: largest(campaignRuns, 'events').events, bytes: largest(campaignRuns, 'bytes').bytes },
      largestChunk: { events: largest(chunks, 'events').events, bytes: largest(chunks, 'bytes').bytes },
      limits: { events: MAX_HISTORY_EVENTS, bytes: MAX_HISTORY_BYTES },
    };
    console.info(`large campaign histories: ${JSON.stringify(figures)}`);
    for (const history of [...campaignRuns, ...chunks]) {
      expect(history.events, history.workflowId).toBeLessThan(MAX_HISTORY_EVENTS / 10);
      expect(history.bytes, history.workflowId).toBeLessThan(MAX_HISTORY_BYTES / 10);
    }
  }, 45 * 60_000);
});
