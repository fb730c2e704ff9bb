// `campaign repair` on the real stack (Temporal dev server, sandbox, worker and listener): a campaign
// whose histories today's code cannot replay (here: run by workflow code that set timers today's code
// never sets, test/support/divergent-workflows.ts) is stuck on a nondeterminism error, and so are its
// chunks that were waiting for consent. status says so and names the command; repair finds, for the
// campaign and each chunk, the workflow task where the code and the history part, resets each there,
// and the campaign ends with every recipient messaged once and counted once.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECIPIENT_OUTCOMES, countRecipients } from '../../src/campaign/outcomes';
import type { CampaignSpec } from '../../src/campaign/spec';
import { CampaignClient, CampaignStuckError } from '../../src/client/campaigns';
import { ledgerOutcome } from '../../dev/chaos/checks';
import { campaignWorkflowId, progressQuery } from '../../src/contracts/campaign';
import { failingWorkflowTask } from '../../src/temporal/divergence';
import { runWorkers } from '../../src/worker';
import { startCampaignStack, type CampaignStack } from '../support/campaign-stack';
import { pollUntil, testTemporalAddress } from '../support/temporal';
import { runHere } from '../cli/cli-stack';

const run = randomUUID().slice(0, 8);
let stack: CampaignStack;
let campaigns: CampaignClient;

beforeAll(async () => {
  stack = await startCampaignStack('e2e-repair', {
    // Decisions take seconds, so the chunks are still waiting for them when today's code takes over.
    sandbox: { consentDecisionDelayMs: 6_000, consentWindowMs: 20_000 },
    listener: { maxRunMs: 2_000 },
    workflowsPath: fileURLToPath(new URL('../support/divergent-workflows.ts', import.meta.url)),
  });
  campaigns = new CampaignClient(stack.temporal, { taskQueue: stack.queues.campaigns, sendTaskQueue: stack.queues.send });
}, 120_000);

afterAll(() => stack?.stop());

describe('a campaign stuck on a nondeterminism error', () => {
  it('is reported by status, and repair resets it to where it diverged; it then ends exactly', async () => {
    const ppnums = Array.from({ length: 30 }, (_, i) => String(45640000000 + i));
    const spec: CampaignSpec = {
      campaignId: `e2e-repair-${run}`,
      template: { name: `e2e-repair-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { inline: ppnums.map((ppnum, i) => ({ ppnum, vars: { name: `R${i}` } })) },
      consentWindow: '1m',
      // One request per chunk: the divergent chunk code diverges after its first send, which a chunk of
      // several would follow with more sends, and repair rightly leaves such a chunk alone.
      limits: { chunkSize: 5, sendsPerChunk: 1, chunksInFlight: 3 },
    };
    const { campaignId } = spec;
    const handle = stack.temporal.workflow.getHandle(campaignWorkflowId(campaignId));
    await campaigns.startCampaign(spec);
    // The divergent code's timer is in the history: from here on, today's code cannot replay it.
    await pollUntil('the divergent timer recorded', async () => (await handle.fetchHistory()).events ?? [], (events) => events.some((event) => event.timerStartedEventAttributes), 60_000);
    expect((await handle.query(progressQuery)).chunksFinished).toBeLessThan(6);

    // Today's code takes over: the campaign's next workflow task fails on replay.
    await stack.workers.shutdown();
    stack.workers = await runWorkers({ connection: stack.connection, temporalClient: stack.temporal, ppoppoClient: stack.ppoppo, taskQueues: stack.queues, listenerWorkflowId: stack.listenerWorkflowId });
    const stuck = await pollUntil('the campaign stuck on nondeterminism', () => failingWorkflowTask(handle), (task) => task?.cause === 'nondeterminism', 60_000);
    expect(stuck!.message).toMatch(/TMPRL1100/);
    const stuckRunId = (await handle.describe()).runId;

    // status says so and names the command (its progress query fails with the task, or answers beside it).
    const status = await campaigns.status(campaignId).then(
      (report) => report.workflowTask,
      (err: unknown) => (err instanceof CampaignStuckError ? err.task : Promise.reject(err)),
    );
    expect(status).toMatchObject({ cause: 'nondeterminism' });
    const cliEnv = { TEMPORAL_ADDRESS: testTemporalAddress(), CAMPAIGN_TASK_QUEUE: stack.queues.campaigns, CAMPAIGN_SEND_TASK_QUEUE: stack.queues.send };
    const statusText = await runHere(['status', campaignId], cliEnv);
    expect(`${statusText.stdout}${statusText.stderr}`).toMatch(/nondeterminism.*campaign repair/);

    // A dry run (the CLI's) says what it would do and changes nothing.
    const dryText = await runHere(['repair', campaignId, '--dry-run'], cliEnv);
    expect(dryText.code, dryText.stderr).toBe(0);
    expect(dryText.stdout).toMatch(/campaign \(campaign\/e2e-repair-.*\): nondeterminism, attempt \d+/);
    expect(dryText.stdout).toMatch(/would-reset: would reset to workflow task \d+: recorded by @temporalio\/worker@/);
    // The running chunks get stuck too, each with its next workflow task (its consent events): wait for all of them.
    const runningChunks = async () => {
      const ids: string[] = [];
      for await (const info of stack.temporal.workflow.list({ query: `WorkflowType = "chunkWorkflow" AND PpoppoCampaignId = "${campaignId}" AND ExecutionStatus = "Running"` })) ids.push(info.workflowId);
      return ids;
    };
    const { report: dry, running } = await pollUntil(
      'the campaign and every running chunk stuck',
      async () => ({ report: await campaigns.repair(campaignId, { dryRun: true }), running: await runningChunks() }),
      ({ report, running }) => running.length > 0 && report.findings.length === 1 + running.length,
      60_000,
    );
    expect(dry.findings.map((finding) => finding.workflowId).sort()).toEqual([campaignWorkflowId(campaignId), ...running].sort());
    expect(dry.findings.every((finding) => finding.action === 'would-reset' && finding.failing.cause === 'nondeterminism' && finding.divergence?.sameCode === false)).toBe(true);
    expect(dry.findings.find((finding) => finding.where === 'campaign')).toMatchObject({ runId: stuckRunId });
    expect((await handle.describe()).runId).toBe(stuckRunId);

    const repaired = await campaigns.repair(campaignId);
    expect(repaired.findings.map((finding) => [finding.workflowId, finding.action]).sort()).toEqual(dry.findings.map((finding) => [finding.workflowId, 'reset']).sort());
    for (const finding of repaired.findings) {
      const before = dry.findings.find((other) => other.workflowId === finding.workflowId)!;
      expect(finding.divergence!.completedEventId, finding.where).toBe(before.divergence!.completedEventId);
      expect(finding.newRunId, finding.where).toBeTruthy();
    }

    const result = await campaigns.result(campaignId);
    expect(result).toMatchObject({ status: 'completed', total: 30, chunks: 6 });
    expect(countRecipients(result.counts)).toBe(30);
    // Nobody messaged twice, and the account is the API's own.
    const entries = (await stack.inspector.messages()).filter((entry) => ppnums.includes(entry.ppnum));
    expect(entries.map((entry) => entry.ppnum).sort()).toEqual(ppnums);
    expect(await stack.inspector.duplicates()).toEqual([]);
    for (const outcome of RECIPIENT_OUTCOMES) expect(result.counts[outcome], outcome).toBe(entries.filter((entry) => ledgerOutcome(entry) === outcome).length);
    // Nothing left to repair.
    const after = await runHere(['repair', campaignId, '--json'], cliEnv);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ campaignId, findings: [] });
  }, 300_000);
});
