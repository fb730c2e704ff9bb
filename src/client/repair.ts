// `campaign repair`: a campaign (or one of its chunks) whose workflow task fails on a nondeterminism
// error makes no progress until someone acts. It finds the first workflow task whose recorded
// commands today's code does not reproduce (src/temporal/divergence.ts) and resets the workflow to
// it: Temporal keeps the history before that task, runs the task again with today's code and
// replays every signal that came after. That is safe by design here:
// - the campaign starts chunks by fixed ids that are used once, so a chunk the old run started is
//   adopted (describeChunk), never started or sent twice; chunks report by signal to the workflow
//   id, so they reach the new run, and after a campaign reset every running chunk is asked to signal
//   its end too (Temporal forwards a child's completion to the reset run; the signal does not depend on it);
// - a chunk is reset only when no send request of its was in flight or made after that task
//   (a reset would otherwise let it send again).
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto'; // CommonJS: a default import works under tsx, vitest and the bundler alike
import { CAMPAIGN_WORKFLOW_TYPE, campaignWorkflowId } from '../contracts/campaign';
import { CHUNK_WORKFLOW_TYPE, chunkIndexOf, reportFinishBySignal, runningChunksQuery } from '../contracts/chunk';
import { HistoryReplayer, failingWorkflowTask, resetToWorkflowTask } from '../temporal/divergence';
import { inGroups } from './in-groups';
import type { Divergence, FailingWorkflowTask } from '../temporal/divergence';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const { EventType } = proto.temporal.api.enums.v1;

/** The chunk's activity that sends its messages (workflows/chunk/send.ts). */
const SEND_ACTIVITY = 'createSendRequest';
/** Running chunks asked (about their workflow task, or to signal their end) at once. */
const DESCRIBE_AT_ONCE = 10;

/** One workflow whose workflow task keeps failing, and what repair did (or would do) about it. */
export interface RepairFinding {
  /** 'campaign' or 'chunk <n>'. */
  where: string;
  workflowId: string;
  runId: string;
  failing: FailingWorkflowTask;
  divergence?: Divergence;
  /** reset: done; would-reset: a dry run; left: not this tool's to fix (the reason says why). */
  action: 'reset' | 'would-reset' | 'left';
  reason: string;
  /** The run the reset started. */
  newRunId?: string;
}

export interface RepairReport {
  campaignId: string;
  /** Workflows of the campaign that were looked at: the campaign's current run and its running chunks. */
  checked: number;
  findings: RepairFinding[];
}

/** Every workflow of the campaign whose workflow task keeps failing; resets the ones a reset fixes (unless `dryRun`). */
export async function repairCampaign(client: Client, campaignId: string, options: { dryRun?: boolean } = {}): Promise<RepairReport> {
  const workflows = [{ where: 'campaign', workflowId: campaignWorkflowId(campaignId), type: CAMPAIGN_WORKFLOW_TYPE }];
  for await (const info of client.workflow.list({ query: runningChunksQuery(campaignId) })) {
    workflows.push({ where: `chunk ${chunkIndexOf(info.workflowId)}`, workflowId: info.workflowId, type: CHUNK_WORKFLOW_TYPE });
  }
  const failing: { where: string; workflowId: string; type: string; runId: string; task: FailingWorkflowTask }[] = [];
  await inGroups(workflows, DESCRIBE_AT_ONCE, async (workflow) => {
    const handle = client.workflow.getHandle(workflow.workflowId);
    const description = await handle.describe();
    const task = await failingWorkflowTask(handle, description);
    if (task) failing.push({ ...workflow, runId: description.runId, task });
  });
  const replayer = new HistoryReplayer(client.options.dataConverter);
  const findings: RepairFinding[] = [];
  for (const workflow of failing) {
    const base = { where: workflow.where, workflowId: workflow.workflowId, runId: workflow.runId, failing: workflow.task };
    if (workflow.task.cause !== 'nondeterminism') {
      findings.push({ ...base, action: 'left', reason: `not a nondeterminism error (${workflow.task.cause}${workflow.task.message ? `: ${workflow.task.message}` : ''}); the worker log says more, and the task passes once its cause is fixed` });
      continue;
    }
    const events = (await client.workflow.getHandle(workflow.workflowId, workflow.runId).fetchHistory()).events ?? [];
    let divergence: Divergence | undefined;
    try {
      divergence = await replayer.findDivergence({ events }, workflow.workflowId);
    } catch (err) {
      findings.push({ ...base, action: 'left', reason: (err as Error).message });
      continue;
    }
    if (!divergence) {
      findings.push({ ...base, action: 'left', reason: "today's workflow code replays the whole history: the workers that fail run other code (deploy the same build to every worker)" });
      continue;
    }
    const unsafe = workflow.type === CHUNK_WORKFLOW_TYPE ? sendAfter(events, divergence.startedEventId) : undefined;
    if (unsafe) {
      findings.push({ ...base, divergence, action: 'left', reason: `not reset: ${unsafe}, and a reset could send its messages again; terminate the chunk and retry its recipients instead` });
      continue;
    }
    const recorded = divergence.recordedBuildId ?? 'an unknown build';
    const why = divergence.sameCode
      ? `recorded by this very build (${recorded}): the history itself is inconsistent, a runtime fault rather than a code change`
      : `recorded by ${recorded}; today's bundle is ${divergence.bundleHash.slice(0, 12)}… (a code change, or the same sources bundled elsewhere)`;
    if (options.dryRun) {
      findings.push({ ...base, divergence, action: 'would-reset', reason: `would reset to workflow task ${divergence.completedEventId}: ${why}` });
      continue;
    }
    const newRunId = await resetToWorkflowTask(client, { workflowId: workflow.workflowId, runId: workflow.runId }, divergence.completedEventId, `ppoppo-campaign repair: nondeterminism at event ${divergence.completedEventId} (${divergence.message})`);
    findings.push({ ...base, divergence, action: 'reset', reason: `reset to workflow task ${divergence.completedEventId}: ${why}`, newRunId });
    if (workflow.type === CAMPAIGN_WORKFLOW_TYPE) {
      // Running chunks signal chunkFinished to the campaign's workflow id; one that closed meanwhile is skipped.
      const chunks = workflows.filter((w) => w.type === CHUNK_WORKFLOW_TYPE);
      await inGroups(chunks, DESCRIBE_AT_ONCE, (chunk) => client.workflow.getHandle(chunk.workflowId).signal(reportFinishBySignal).catch(() => undefined));
    }
  }
  return { campaignId, checked: workflows.length, findings };
}

/** Why resetting a chunk to `startedEventId` could send again (a send in flight then, or made after), else undefined. */
export function sendAfter(events: HistoryEvent[], startedEventId: number): string | undefined {
  const closedAt = new Map<number, number>();
  for (const event of events) {
    const attributes = event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes ?? event.activityTaskCanceledEventAttributes;
    if (attributes?.scheduledEventId) closedAt.set(Number(attributes.scheduledEventId), Number(event.eventId));
  }
  for (const event of events) {
    if (event.eventType !== EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED || event.activityTaskScheduledEventAttributes?.activityType?.name !== SEND_ACTIVITY) continue;
    const scheduled = Number(event.eventId);
    if (scheduled > startedEventId) return `it made a send request after that workflow task (event ${scheduled})`;
    const closed = closedAt.get(scheduled);
    if (closed === undefined || closed > startedEventId) return `its send request (event ${scheduled}) was in flight at that workflow task`;
  }
  return undefined;
}
