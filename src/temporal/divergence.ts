// Where a workflow's recorded history and today's workflow code part ways (a nondeterminism error):
// replays ever longer prefixes of the history (binary search) to find the first workflow task whose
// recorded commands the code does not reproduce. Resetting to that task lets the workflow go on from
// there (src/client/repair.ts). Also: what a workflow's failing workflow task says, for `status`.
import { createHash, randomUUID } from 'node:crypto';
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import proto from '@temporalio/proto'; // CommonJS: a default import works under tsx, vitest and the bundler alike
import { installProcessLogger } from '../logging';
import { loadWorkflowBundle } from './workflow-code';

type History = proto.temporal.api.history.v1.IHistory;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const { EventType, ResetReapplyType, WorkflowTaskFailedCause } = proto.temporal.api.enums.v1;

/** A workflow task that keeps failing or timing out: the workflow makes no progress until it passes. */
export interface FailingWorkflowTask {
  /** The pending attempt (a new signal starts the count at 1 again). */
  attempt: number;
  /** 'nondeterminism', 'timed out', or the server's cause in lower case (e.g. 'workflow worker unhandled failure'). */
  cause: string;
  /** The worker's failure message (first line). */
  message?: string;
}

/** The first workflow task whose recorded commands today's code does not reproduce. */
export interface Divergence {
  /** That task's WorkflowTaskStarted and WorkflowTaskCompleted event ids (reset to the completed one). */
  startedEventId: number;
  completedEventId: number;
  /** Who recorded that task: the SDK version and a hash of the workflow bundle it ran. */
  recordedBuildId?: string;
  /** The sha256 of today's workflow bundle (a build id ends with its bundle's). */
  bundleHash: string;
  /**
   * Whether today's bundle recorded it: then the history itself is inconsistent (a runtime fault,
   * not a code change). The hash covers the bundle's bytes, so the same sources bundled in another
   * directory differ; `npm run build`'s bundle is the same file everywhere.
   */
  sameCode: boolean;
  /** The replay's error, first line. */
  message: string;
}

/**
 * The pending workflow task of a running workflow, when the task before it failed or timed out and
 * none has completed since (`description`: the handle's, if already read). The first failure of a
 * series is in the history; later attempts only count up, and a new signal starts the count at 1
 * again, so the attempt alone would miss a stuck workflow that keeps receiving signals.
 */
export async function failingWorkflowTask(handle: WorkflowHandle, description?: WorkflowExecutionDescription): Promise<FailingWorkflowTask | undefined> {
  description ??= await handle.describe();
  const pending = description.raw.pendingWorkflowTask;
  if (description.status.name !== 'RUNNING' || !pending) return undefined;
  const events = (await handle.fetchHistory()).events ?? [];
  const last = events.findLast(
    (event) =>
      event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED ||
      event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED ||
      event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
  );
  if (!last || last.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) return undefined;
  const attempt = pending.attempt ?? 1;
  if (last.workflowTaskTimedOutEventAttributes) return { attempt, cause: 'timed out' };
  const failed = last.workflowTaskFailedEventAttributes;
  const causeName = WorkflowTaskFailedCause[failed?.cause ?? 0] ?? 'UNSPECIFIED';
  const cause = failed?.cause === WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR ? 'nondeterminism' : causeName.replace('WORKFLOW_TASK_FAILED_CAUSE_', '').replaceAll('_', ' ').toLowerCase();
  return { attempt, cause, message: firstLine(failed?.failure?.message ?? undefined) };
}

/** Replays with one bundle of today's workflow code (loaded once) and the payload codec the workers use. */
export class HistoryReplayer {
  #bundle?: Promise<{ code: string }>;

  /** `bundle`: the workflow code to replay with (default: the workers' own, loadWorkflowBundle('worker')). */
  constructor(
    private readonly dataConverter: DataConverter | undefined,
    private readonly bundle: () => Promise<{ code: string }> = () => loadWorkflowBundle('worker'),
  ) {}

  /** Undefined when the whole history replays; else the first diverging workflow task. */
  async findDivergence(history: History, workflowId: string): Promise<Divergence | undefined> {
    const events = history.events ?? [];
    const full = await this.#replay(events, workflowId);
    if (full === undefined) return undefined;
    const completed = events.flatMap((event, index) => (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED ? [index] : []));
    // Smallest k whose prefix (through task k's commands) fails; replaying a prefix that fails
    // implies every longer one fails, so the search is monotone.
    let lo = 0;
    let hi = completed.length;
    let message = full;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const failure = await this.#replay(prefixThroughTask(events, completed[mid]!), workflowId);
      if (failure === undefined) lo = mid + 1;
      else {
        hi = mid;
        message = failure;
      }
    }
    // Every recorded task reproduces: the code cannot take the history any further (a change without patched()).
    if (lo === completed.length) throw new Error(`today's workflow code cannot continue ${workflowId} after its last recorded workflow task (${full}); a reset would not help: run the code that started it`);
    const completedEvent = events[completed[lo]!]!;
    const recordedBuildId = completedEvent.workflowTaskCompletedEventAttributes?.workerVersion?.buildId ?? undefined;
    const bundleHash = createHash('sha256').update((await this.#loadBundle()).code).digest('hex');
    return {
      startedEventId: Number(completedEvent.workflowTaskCompletedEventAttributes?.startedEventId ?? 0),
      completedEventId: Number(completedEvent.eventId),
      recordedBuildId,
      bundleHash,
      sameCode: recordedBuildId?.endsWith(`+${bundleHash}`) ?? false,
      message,
    };
  }

  /** The replay's error message, or undefined when the events replay. */
  async #replay(events: HistoryEvent[], workflowId: string): Promise<string | undefined> {
    // The replay worker logs its start and stop; the caller reports the outcome itself.
    installProcessLogger({ terminalLevel: 'OFF' });
    const { Worker } = await import('@temporalio/worker');
    try {
      await Worker.runReplayHistory({ workflowBundle: await this.#loadBundle(), dataConverter: this.dataConverter }, { events }, workflowId);
      return undefined;
    } catch (err) {
      return firstLine(err instanceof Error ? err.message : String(err)) ?? 'replay failed';
    }
  }

  #loadBundle(): Promise<{ code: string }> {
    this.#bundle ??= this.bundle();
    return this.#bundle;
  }
}

/** An event's type as the Web UI names it (WORKFLOW_TASK_STARTED). */
function eventTypeName(type: number | null | undefined): string {
  return (EventType[type ?? 0] ?? String(type)).replace('EVENT_TYPE_', '');
}

/** Events by id and type, for a report: "1 WORKFLOW_EXECUTION_STARTED, 2 WORKFLOW_TASK_SCHEDULED, …". */
export function eventList(events: readonly HistoryEvent[]): string {
  return events.map((event) => `${event.eventId} ${eventTypeName(event.eventType)}`).join(', ');
}

/**
 * One sentence on where today's code first parts from a recorded history, with the events around
 * that task: for a report that keeps only its log (the chaos run in CI).
 */
export async function explainHistory(replayer: HistoryReplayer, history: History, workflowId: string): Promise<string> {
  const events = history.events ?? [];
  const divergence = await replayer.findDivergence(history, workflowId);
  if (!divergence) return `its ${events.length} events replay cleanly with today's code`;
  const near = events.filter((event) => Number(event.eventId) >= divergence.startedEventId - 5 && Number(event.eventId) <= divergence.completedEventId + 8);
  const recorder = `${divergence.recordedBuildId ?? 'an unknown build'}${divergence.sameCode ? ', the same code as today' : ''}`;
  return `today's code first parts from it at the workflow task ${divergence.startedEventId}-${divergence.completedEventId} (recorded by ${recorder}): ${divergence.message}; events around it: ${eventList(near)}`;
}

/**
 * Resets the run to the workflow task that completed at `completedEventId`: Temporal keeps the
 * history before it, runs it again with the workers' code, and applies every signal after it again.
 * Returns the new run's id.
 */
export async function resetToWorkflowTask(client: Client, execution: { workflowId: string; runId: string }, completedEventId: number, reason: string): Promise<string | undefined> {
  // fromObject takes the event id as a number (the field is an int64).
  const request = proto.temporal.api.workflowservice.v1.ResetWorkflowExecutionRequest.fromObject({
    namespace: client.options.namespace,
    workflowExecution: execution,
    reason,
    workflowTaskFinishEventId: completedEventId,
    requestId: randomUUID(),
    resetReapplyType: ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
  });
  const { runId } = await (client.workflowService.resetWorkflowExecution(request) as Promise<proto.temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse>);
  return runId ?? undefined;
}

/** Events through workflow task `completedIndex`'s commands: up to the next task's start, which replays as the live task. */
function prefixThroughTask(events: HistoryEvent[], completedIndex: number): HistoryEvent[] {
  const nextStarted = events.findIndex((event, index) => index > completedIndex && event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
  return nextStarted === -1 ? events : events.slice(0, nextStarted + 1);
}

function firstLine(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  // The SDK wraps core's message: keep the part that names the event.
  const core = /\[TMPRL1100\][^"\n]*/.exec(text)?.[0];
  return (core ?? text.split('\n')[0]!).trim();
}
