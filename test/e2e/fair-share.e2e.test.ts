// On the real stack (sandbox with an app rate limit, production worker and listener, the Temporal
// dev server with fairness and priority on): two campaigns sending at once see each other in
// `status` ("sharing the app limit with 1 campaign"), and `campaign alert`, run as a user runs it,
// goes through the send queue ahead of the sends both campaigns have queued. Checked by order in
// the sandbox's ledger, never by time: how fast is the bench's business (`npm run bench -- --only fairness`).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tsToMs } from '@temporalio/common/lib/time';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignSpec } from '../../src/campaign/spec';
import { CampaignClient } from '../../src/client/campaigns';
import type { CampaignStatusReport } from '../../src/client/campaigns';
import { startCampaignStack, type CampaignStack } from '../support/campaign-stack';
import { testTemporalAddress } from '../support/temporal';
import { builtCommand } from '../../scripts/package-commands';

const run = randomUUID().slice(0, 8);
/** The app's limit: the workers dispatch the send queue at 80 % of it (0.8 sends/s), slower than the campaigns queue them. */
const RATE = 1;
const ALERT_PPNUM = '12300000001';
const RECIPIENTS = 64;
const CHUNKS_IN_FLIGHT = 8;
let stack: CampaignStack;
let campaigns: CampaignClient;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [builtCommand('ppoppo-campaign'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: testTemporalAddress(),
        CAMPAIGN_TASK_QUEUE: stack.queues.campaigns,
        CAMPAIGN_SEND_TASK_QUEUE: stack.queues.send,
        PCS_API_URL: stack.sandbox.grpcUrl,
        PAS_TOKEN_URL: stack.sandbox.tokenUrl,
        PAS_PCS_CLIENT_ID: stack.sandbox.clientId,
        PAS_PCS_CLIENT_SECRET: stack.sandbox.clientSecret,
        ...env,
      },
    });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * 64 recipients (consent on file) in chunks of 2, 8 chunks in flight: the two send for 80 s at 0.8/s,
 * long enough for the steps before the alert on a busy machine (with 48, campaign A once finished first).
 */
function spec(name: string, firstPpnum: number): CampaignSpec {
  return {
    campaignId: `${name}-${run}`,
    template: { name: `fair-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
    recipients: { inline: Array.from({ length: RECIPIENTS }, (_, i) => ({ ppnum: String(firstPpnum + i), vars: { name: `P${i}` } })) },
    consentWindow: '1m',
    // The heaviest weight: fairness alone would serve an alert (its own fairness key, weight 1) only
    // after the sends both campaigns have queued; only its priority puts it ahead of them.
    weight: 1000,
    limits: { chunkSize: 2, sendsPerChunk: 1, chunksInFlight: CHUNKS_IN_FLIGHT },
  };
}

/** Status until `done` says yes (visibility lags a little), 30 s at most. */
async function statusUntil(campaignId: string, done: (report: CampaignStatusReport) => boolean): Promise<CampaignStatusReport> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const report = await campaigns.status(campaignId);
    if (done(report)) return report;
    if (Date.now() > deadline) throw new Error(`status of ${campaignId} never got there; last: ${JSON.stringify({ ...report.progress, sharingWith: report.sharingWith })}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  stack = await startCampaignStack('e2e-fair', {
    sandbox: { rateLimit: { requestsPerSecond: RATE, burst: RATE }, monthlyQuota: null, outcomeMix: { delivered: 1 } },
  });
  campaigns = new CampaignClient(stack.temporal, { taskQueue: stack.queues.campaigns, sendTaskQueue: stack.queues.send });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('two campaigns on one app limit, and an alert', () => {
  it('status names the other campaign sending; the alert overtakes both campaigns\' queued sends', async () => {
    const [a, b] = [spec('fair-a', 45_800_000_000), spec('fair-b', 45_800_001_000)];
    await campaigns.startCampaign(a);
    // Alone, with sends still to go: nobody to share with.
    const alone = await statusUntil(a.campaignId, (r) => r.progress.status === 'running' && r.progress.inFlight > 0);
    expect(alone.sharingWith).toEqual([]);

    await campaigns.startCampaign(b);
    // Each sees the other, and has its chunks in flight queued (all of them, or all but the one the
    // campaign is replacing after a send): the alert then has at least 14 sends to overtake, where
    // first come, first served would put it behind them all. One wait for both, so that the steps
    // before the alert stay short on a busy machine (in CI, waiting for each in turn once took long
    // enough for campaign B to reach its last chunks).
    const ready = (other: string) => (r: CampaignStatusReport) => (r.sharingWith ?? []).includes(other) && r.progress.inFlight >= CHUNKS_IN_FLIGHT - 1;
    const [shared, sharedB] = await Promise.all([statusUntil(a.campaignId, ready(b.campaignId)), statusUntil(b.campaignId, ready(a.campaignId))]);
    expect(shared.sharingWith).toEqual([b.campaignId]);
    expect(sharedB.sharingWith).toEqual([a.campaignId]);
    // What a user runs, beside the alert: `status` names the campaign it shares the limit with.
    const [text, alert] = await Promise.all([cli(['status', a.campaignId]), cli(['alert', ALERT_PPNUM, '--text', 'maintenance at 22:00', '--json'])]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`sharing the app limit with 1 campaign (${b.campaignId})`);
    expect(alert.code, alert.stderr).toBe(0);
    const receipt = JSON.parse(alert.stdout) as { sendRequestId: string; totalRecipients: number; workflowId: string };
    expect(receipt).toMatchObject({ totalRecipients: 1, workflowId: expect.stringMatching(/^alert\//) });
    const alertStarted = (await stack.temporal.workflow.getHandle(receipt.workflowId).describe()).startTime.getTime();

    const [resultA, resultB] = await Promise.all([campaigns.result(a.campaignId), campaigns.result(b.campaignId)]);
    expect(resultA.counts.delivered).toBe(RECIPIENTS);
    expect(resultB.counts.delivered).toBe(RECIPIENTS);

    const requests = await stack.inspector.sendRequests();
    const alertRequest = requests.find((r) => r.id === receipt.sendRequestId)!;
    expect(alertRequest.ppnums).toEqual([ALERT_PPNUM]);
    const at = (r: { createdAt: string | null }) => Date.parse(r.createdAt!);
    const campaignSends = requests.filter((r) => r.id !== receipt.sendRequestId);
    expect(campaignSends).toHaveLength(RECIPIENTS); // two campaigns of RECIPIENTS / 2 requests
    // Accepted while the alert was on its way: what was dispatched before its activity was scheduled
    // and what the worker's pacer already held (first come, first served would have put it behind
    // every send both campaigns had queued: 16).
    const overtaking = campaignSends.filter((r) => at(r) >= alertStarted && at(r) < at(alertRequest));
    const overtaken = campaignSends.filter((r) => at(r) > at(alertRequest));
    // For a failure message: when the alert's workflow and activity events happened.
    const history = await stack.temporal.workflow.getHandle(receipt.workflowId).fetchHistory();
    const timeline = (history.events ?? []).map((e) => `event ${e.eventType} +${tsToMs(e.eventTime) - alertStarted} ms`).join(', ');
    const seen = `alert accepted +${at(alertRequest) - alertStarted} ms; campaign sends at ${overtaking.map((r) => `+${at(r) - alertStarted}`).join(', ')} ms; ${timeline}`;
    expect(overtaking.length, `campaign sends accepted between the alert's start and its acceptance (${seen})`).toBeLessThanOrEqual(3);
    expect(overtaken.length, 'campaign sends still queued behind the alert').toBeGreaterThanOrEqual(4);
  }, 180_000);

  it('alert: exit 4 when no worker polls the queues, exit 2 for a bad ppnum; nothing sent', async () => {
    const before = (await stack.inspector.sendRequests()).length;
    const noWorker = await cli(['alert', ALERT_PPNUM, '--text', 'hello'], { CAMPAIGN_TASK_QUEUE: `nobody-polls-${run}` });
    expect(noWorker.code, noWorker.stderr).toBe(4);
    expect(noWorker.stderr).toContain(`no worker polls task queue nobody-polls-${run}`);
    expect(noWorker.stderr).toContain('nothing was sent');
    const bad = await cli(['alert', ALERT_PPNUM, '123', '--text', 'hello']);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain('not a valid ppnum: ppnum 2');
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect((await stack.inspector.sendRequests()).length).toBe(before);
  }, 60_000);
});
