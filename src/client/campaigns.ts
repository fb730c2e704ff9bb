// CampaignClient: the app-code API for campaigns (start, watch, control, read outcomes, retry), on
// top of a @temporalio/client Client. The CLI (src/cli) is a thin shell over this class. Every
// refusal and failure comes back as an error from ./errors with the reason in plain words.
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { asFingerprint, fingerprintDifferences, specFingerprint } from '../campaign/fingerprint';
import type { SpecFingerprint } from '../campaign/fingerprint';
import { RETRY_OUTCOMES } from '../campaign/outcomes';
import type { RetryOutcome } from '../campaign/outcomes';
import { MIN_CONSENT_WINDOW_MS, campaignSettings, parseCampaignSpec } from '../campaign/spec';
import { describeRecipientSource } from '../campaign/recipient-source';
import type { ReadSourceSpec } from '../campaign/recipient-source';
import type { CampaignSpec } from '../campaign/spec';
import {
  CAMPAIGN_FAILURE_TYPES,
  CAMPAIGN_MEMO,
  CAMPAIGN_WORKFLOW_TYPE,
  campaignIdOf,
  campaignSpecQuery,
  campaignWorkflowId,
  cancelUpdate,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
  throttleUpdate,
  retryCampaignId,
} from '../contracts/campaign';
import type { CampaignProgress, CampaignResult } from '../contracts/campaign';
import { CHUNK_WORKFLOW_TYPE, chunkIndexOf, chunkRecipientsQuery, chunkWorkflowId, runningChunksQuery } from '../contracts/chunk';
import type { ControlAction, RecipientRecord } from '../contracts/chunk';
import { failingWorkflowTask } from '../temporal/divergence';
import type { FailingWorkflowTask } from '../temporal/divergence';
import { failureReasons, innermostMessage } from '../temporal/failures';
import { livePollers } from '../temporal/task-queues';
import { CampaignAlerts } from './alerts';
import { repairCampaign } from './repair';
import type { RepairReport } from './repair';
import { CampaignSchedules } from './schedules';
import { inGroups } from './in-groups';
import { CAMPAIGN_ID_KEY, CAMPAIGN_STATUS_KEY, SEND_REQUEST_ID_KEY, TASK_QUEUES, WORKFLOW_TASK_TIMEOUT_MS } from '../temporal/names';
import type { campaignWorkflow } from '../../workflows/campaign/workflow';
import {
  CampaignFailedError,
  CampaignFinishedError,
  CampaignNotFoundError,
  CampaignStillRunningError,
  CampaignStuckError,
  ChunkUnreadableError,
  ControlRefusedError,
  InvalidSpecError,
  NoWorkerError,
  SpecMismatchError,
} from './errors';

export * from './errors';
export { AlertFailedError, CampaignAlerts } from './alerts';
export type { AlertFailureKind, AlertReceipt } from './alerts';
export type { RepairFinding, RepairReport } from './repair';
export type { Divergence, FailingWorkflowTask } from '../temporal/divergence';
export { CampaignSchedules, InvalidScheduleError, ScheduleExistsError, ScheduleNotFoundError } from './schedules';
export type { CampaignScheduleSummary, OverlapPolicy, ScheduleOptions } from './schedules';

export interface CampaignClientOptions {
  /** Task queue of the campaign workflows (default TASK_QUEUES.campaigns). */
  taskQueue?: string;
  /** Non-default send queue, passed to the workflow in its memo (tests, isolated workers). */
  sendTaskQueue?: string;
}

/**
 * What a start did. 'started': a new campaign; 'restarted': a campaign that was terminated or
 * failed runs again and takes over what its chunks did (nobody is sent anything twice);
 * 'alreadyRunning' / 'alreadyFinished': the same spec is running or has finished, nothing started.
 */
export type StartOutcome = 'started' | 'restarted' | 'alreadyRunning' | 'alreadyFinished';

export interface StartedCampaign {
  campaignId: string;
  workflowId: string;
  runId: string;
  outcome: StartOutcome;
  /** Set (true) when the campaign had already finished: nothing was started. */
  alreadyFinished?: boolean;
}

export interface StartOptions {
  /**
   * Start a different spec under the id of a finished campaign. Allowed only while that campaign
   * has started no chunk (e.g. it failed validation): chunk ids derive from the campaign id, so a
   * campaign that sent anything keeps its id.
   */
  forceNewRun?: boolean;
}

export interface CampaignSummary {
  campaignId: string;
  workflowId: string;
  runId: string;
  /** The campaign's own status (search attribute), or the workflow's if not yet set. */
  status: string;
  workflowStatus: string;
  startTime: string;
  closeTime?: string;
  /** Outcome counts and total, when the campaign answered its progress query. */
  progress?: Pick<CampaignProgress, 'total' | 'counts' | 'awaitingOutcome'>;
}

/** An activity Temporal keeps retrying: what, how often so far, and why it failed last. */
export interface StuckActivity {
  /** 'campaign' or 'chunk <n>'. */
  where: string;
  activity: string;
  attempt: number;
  lastFailure?: string;
  nextAttemptAt?: string;
}

/** Everything `status` shows: the progress, plus what the workflow itself cannot know. */
export interface CampaignStatusReport {
  progress: CampaignProgress;
  /** RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  workflowStatus: string;
  /** Why a failed, terminated or timed-out campaign ended, outermost reason first. */
  failure?: string[];
  /** Activities being retried right now (the API down, a file unreadable, ...). */
  retries: StuckActivity[];
  /** The campaign's own workflow task, when it has failed or timed out and is being tried again. */
  workflowTask?: FailingWorkflowTask;
  /** The same for running chunks (`status` looks at up to 20). */
  chunkWorkflowTasks?: ChunkWorkflowTask[];
  /** Follow-up campaigns retrying this one's outcomes. */
  followUps: FollowUp[];
  /** While it sends: the other campaigns sending through the same workers now (sharingWith()). */
  sharingWith?: string[];
}

export interface ChunkWorkflowTask extends FailingWorkflowTask {
  chunkIndex: number;
}

export interface FollowUp {
  outcome: RetryOutcome;
  campaignId: string;
  status: string;
}

/** Chunks whose activities `status` looks into (the running ones, oldest first). */
const MAX_CHUNKS_DESCRIBED = 20;
/** sharingWith() reads at most this many unsent chunks (each campaign has at most its chunksInFlight). */
const MAX_SHARING_CHUNKS = 1_000;
/** `list` asks this many campaigns for their counts at once, each for at most this long. */
const LIST_COUNTS_AT_ONCE = 10;
const LIST_QUERY_DEADLINE_MS = 3_000;

export class CampaignClient {
  readonly #client: Client;
  readonly #options: CampaignClientOptions;

  constructor(client: Client, options: CampaignClientOptions = {}) {
    this.#client = client;
    this.#options = options;
  }

  /** One-off alerts, sent through the send queue ahead of the campaigns' sends. */
  get alerts(): CampaignAlerts {
    return new CampaignAlerts(this.#client, this.#options);
  }

  /** Recurring campaigns (Temporal Schedules) on the same connection and queues. */
  get schedules(): CampaignSchedules {
    return new CampaignSchedules(this.#client, this.#options);
  }

  /**
   * Starts the campaign, honestly: the campaign keeps a fingerprint of its spec, and a second start
   * under the same campaign id compares with it. The same spec attaches to the running campaign
   * ('alreadyRunning') or reports the finished one ('alreadyFinished'; a finished campaign never
   * reruns); one that was terminated or failed starts again and takes over what its chunks did. A
   * different spec is refused with SpecMismatchError, naming what differs.
   */
  async startCampaign(input: unknown, options: StartOptions = {}): Promise<StartedCampaign> {
    const { spec, issues } = parseCampaignSpec(input);
    if (!spec) throw new InvalidSpecError(issues);
    const fingerprint = specFingerprint(spec);
    const workflowId = campaignWorkflowId(spec.campaignId);
    const handle = this.#client.workflow.getHandle(workflowId);
    const existing = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    const found = (outcome: StartOutcome, runId: string): StartedCampaign => ({ campaignId: spec.campaignId, workflowId, runId, outcome, ...(outcome === 'alreadyFinished' ? { alreadyFinished: true } : {}) });
    if (!existing) return this.#start(spec, fingerprint, 'started', 'ALLOW_DUPLICATE_FAILED_ONLY');

    const status = existing.status.name;
    const theirs = asFingerprint(existing.memo?.[CAMPAIGN_MEMO.specFingerprint]);
    // Started before fingerprints were kept: it cannot be compared, so it is taken as the same.
    const differences = theirs && theirs.spec !== fingerprint.spec ? fingerprintDifferences(theirs, fingerprint) : [];
    const same = !theirs || theirs.spec === fingerprint.spec;
    if (status === 'RUNNING') {
      if (same) return found('alreadyRunning', existing.runId);
      throw new SpecMismatchError(spec.campaignId, differences, { status: 'running', summary: await existing.staticSummary() }, 'nothing was started: use another campaignId for a different campaign, or cancel this one first');
    }
    if (same) {
      if (status === 'COMPLETED' || (await this.#reachedNobody(handle))) return found('alreadyFinished', existing.runId);
      return this.#start(spec, fingerprint, 'restarted', 'ALLOW_DUPLICATE_FAILED_ONLY');
    }
    const chunks = await this.#chunksStarted(spec.campaignId);
    const summary = await existing.staticSummary();
    const closed = status.toLowerCase();
    if (chunks > 0) {
      const hint = `nothing was started: it already sent ${chunks} chunk(s) under this id, so a different spec needs another campaignId (or \`campaign retry ${spec.campaignId} --outcome …\` for its failed recipients)`;
      throw new SpecMismatchError(spec.campaignId, differences, { status: closed, summary }, hint);
    }
    if (!options.forceNewRun) throw new SpecMismatchError(spec.campaignId, differences, { status: closed, summary }, 'nothing was started: it sent nothing, so --force-new-run may start your spec under this id');
    return this.#start(spec, fingerprint, 'started', 'ALLOW_DUPLICATE');
  }

  async #start(spec: CampaignSpec, fingerprint: SpecFingerprint, outcome: StartOutcome, reusePolicy: 'ALLOW_DUPLICATE' | 'ALLOW_DUPLICATE_FAILED_ONLY'): Promise<StartedCampaign> {
    const workflowId = campaignWorkflowId(spec.campaignId);
    const memo: Record<string, unknown> = { [CAMPAIGN_MEMO.specFingerprint]: fingerprint };
    if (this.#options.sendTaskQueue) memo[CAMPAIGN_MEMO.sendTaskQueue] = this.#options.sendTaskQueue;
    const handle = await this.#client.workflow.start<typeof campaignWorkflow>(CAMPAIGN_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: this.#options.taskQueue ?? TASK_QUEUES.campaigns,
      args: [spec],
      // Someone may have started it since we looked: attach, then compare what runs with ours.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: reusePolicy,
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT_MS,
      memo,
      ...campaignSummary(spec),
    });
    const running = await handle.describe();
    const theirs = asFingerprint(running.memo?.[CAMPAIGN_MEMO.specFingerprint]);
    if (theirs && theirs.spec !== fingerprint.spec) {
      throw new SpecMismatchError(spec.campaignId, fingerprintDifferences(theirs, fingerprint), { status: 'running' }, 'nothing was started: another start with a different spec came first');
    }
    return { campaignId: spec.campaignId, workflowId, runId: running.runId, outcome };
  }

  /** Whether the campaign ran to its end but reached nobody (it failed saying so): rerunning would reach nobody again. */
  async #reachedNobody(handle: WorkflowHandle): Promise<boolean> {
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : undefined),
    );
    return failure instanceof ApplicationFailure && failure.type === CAMPAIGN_FAILURE_TYPES.nothingDelivered;
  }

  /** Chunk workflows ever started under the campaign id (visibility; closed campaigns' chunks are long visible). */
  async #chunksStarted(campaignId: string): Promise<number> {
    const { count } = await this.#client.workflow.count(`WorkflowType = "${CHUNK_WORKFLOW_TYPE}" AND ${CAMPAIGN_ID_KEY.name} = "${campaignId}"`);
    return count;
  }

  getProgress(campaignId: string): Promise<CampaignProgress> {
    return this.#call(campaignId, (handle) =>
      handle.query(progressQuery).catch(async (err: unknown) => {
        // Asked only after a failure: a progress bar polls this every second.
        const { taskQueue } = await handle.describe();
        await this.#needWorker(campaignId, taskQueue);
        throw err;
      }),
    );
  }

  /** Throws NoWorkerError when no worker has polled `taskQueue` lately: a query there would go unanswered. */
  async #needWorker(campaignId: string, taskQueue: string): Promise<void> {
    if ((await livePollers(this.#client, taskQueue, 'workflow')) === 0) throw new NoWorkerError(campaignId, taskQueue);
  }

  pause(campaignId: string): Promise<CampaignProgress> {
    return this.#control(campaignId, 'pause');
  }

  /** Resumes a paused campaign, or makes a parked one try again now. */
  resume(campaignId: string): Promise<CampaignProgress> {
    return this.#control(campaignId, 'resume');
  }

  cancel(campaignId: string): Promise<CampaignProgress> {
    return this.#control(campaignId, 'cancel');
  }

  /** Holds a running campaign to `perMinute` recipients per minute from now on (null: no throttle of its own). */
  throttle(campaignId: string, perMinute: number | null): Promise<CampaignProgress> {
    return this.#control(campaignId, 'throttle', (handle) => handle.executeUpdate(throttleUpdate, { args: [{ perMinute }] }));
  }

  /** Runs the control update; a refusal comes back as ControlRefusedError with the campaign's reason. */
  async #control(campaignId: string, action: ControlAction | 'throttle', run?: (handle: WorkflowHandle) => Promise<CampaignProgress>): Promise<CampaignProgress> {
    const handle = this.#client.workflow.getHandle(campaignWorkflowId(campaignId));
    try {
      if (run) return await run(handle);
      return await handle.executeUpdate({ pause: pauseUpdate, resume: resumeUpdate, cancel: cancelUpdate }[action as ControlAction]);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ControlRefusedError(campaignId, failureReasons(err.cause ?? err).at(-1) ?? err.message);
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // An update cannot reach a closed workflow: say it has finished, if it exists at all.
      const description = await handle.describe().catch(() => undefined);
      if (!description) throw new CampaignNotFoundError(campaignId);
      throw new CampaignFinishedError(campaignId, action, await this.#finishedStatus(handle, description.status.name));
    }
  }

  /** The campaign's own final status (completed, cancelled, failed), else the workflow's. */
  async #finishedStatus(handle: WorkflowHandle, workflowStatus: string): Promise<string> {
    const progress = await handle.query(progressQuery).catch(() => undefined);
    return progress?.status ?? workflowStatus.toLowerCase();
  }

  /**
   * Waits for the campaign to end (follows continue-as-new). A campaign that ran to the end but
   * reached nobody resolves with status 'failed' and its account; any other failure throws
   * CampaignFailedError with the reasons.
   */
  result(campaignId: string): Promise<CampaignResult> {
    return this.#call(campaignId, async (handle) => {
      try {
        return (await handle.result()) as CampaignResult;
      } catch (err) {
        if (!(err instanceof WorkflowFailedError)) throw err;
        const cause = err.cause;
        if (cause instanceof ApplicationFailure && cause.type === CAMPAIGN_FAILURE_TYPES.nothingDelivered && cause.details?.[0]) {
          return { ...(cause.details[0] as CampaignResult), failure: cause.message };
        }
        throw new CampaignFailedError(campaignId, failureReasons(err));
      }
    });
  }

  /** Whether the campaign workflow has closed (completed, cancelled, failed, terminated...). */
  async isClosed(campaignId: string): Promise<boolean> {
    const info = await this.#call(campaignId, (handle) => handle.describe());
    return info.status.name !== 'RUNNING';
  }

  /**
   * Progress plus what only Temporal knows: why a failed campaign failed (the cause chain), the
   * activities being retried right now with their attempt and last failure (the campaign's, and
   * with `chunks` those of up to 20 running chunks), and its follow-up campaigns.
   */
  async status(campaignId: string, options: { chunks?: boolean } = {}): Promise<CampaignStatusReport> {
    const handle = this.#client.workflow.getHandle(campaignWorkflowId(campaignId));
    const description = await this.#call(campaignId, (h) => h.describe());
    const workflowTask = await failingWorkflowTask(handle, description);
    // A workflow that cannot replay cannot answer a query either (it would only time out).
    if (workflowTask?.cause === 'nondeterminism') throw new CampaignStuckError(campaignId, workflowTask);
    await this.#needWorker(campaignId, description.taskQueue);
    const progress = await handle.query(progressQuery).catch((err: unknown) => {
      // A workflow task that keeps failing fails the query too: say that, not the query's error.
      throw workflowTask ? new CampaignStuckError(campaignId, workflowTask) : err;
    });
    const workflowStatus = description.status.name;
    const report: CampaignStatusReport = { progress, workflowStatus, retries: await stuckActivities(this.#client.options.loadedDataConverter, 'campaign', description.raw.pendingActivities), followUps: await this.followUps(campaignId) };
    if (workflowTask) report.workflowTask = workflowTask;
    if (workflowStatus === 'RUNNING') {
      if (options.chunks) {
        const chunks = await this.#chunkTrouble(campaignId);
        report.retries.push(...chunks.retries);
        if (chunks.workflowTasks.length > 0) report.chunkWorkflowTasks = chunks.workflowTasks;
      }
      if (progress.status === 'running' && progress.chunksSent < progress.chunksTotal) report.sharingWith = await this.sharingWith(campaignId, description.taskQueue);
    } else if (workflowStatus !== 'COMPLETED') {
      report.failure = await handle.result().then(
        () => undefined,
        (err: unknown) => (err instanceof WorkflowFailedError ? failureReasons(err) : [workflowStatus.toLowerCase()]),
      );
    }
    return report;
  }

  /**
   * The other campaigns that share the app's send limit with this one right now: running, with
   * chunks on `taskQueue` (the same workers) whose send has not been accepted yet (a chunk sets
   * PpoppoSendRequestId once it has). Read from visibility by the client: the workflow cannot read
   * it deterministically. Visibility lags a little; a campaign just started may be missing for a second.
   */
  async sharingWith(campaignId: string, taskQueue: string): Promise<string[]> {
    const unsentChunks = [
      `WorkflowType = "${CHUNK_WORKFLOW_TYPE}"`,
      'ExecutionStatus = "Running"',
      `TaskQueue = "${taskQueue}"`,
      `${SEND_REQUEST_ID_KEY.name} IS NULL`,
      `${CAMPAIGN_ID_KEY.name} != "${campaignId}"`,
    ].join(' AND ');
    const withUnsent = new Set<string>();
    let seen = 0;
    for await (const info of this.#client.workflow.list({ query: unsentChunks, pageSize: MAX_SHARING_CHUNKS })) {
      const id = info.typedSearchAttributes.get(CAMPAIGN_ID_KEY);
      if (id) withUnsent.add(id);
      if (++seen >= MAX_SHARING_CHUNKS) break;
    }
    if (withUnsent.size === 0) return [];
    const running = [
      `WorkflowType = "${CAMPAIGN_WORKFLOW_TYPE}"`,
      'ExecutionStatus = "Running"',
      `${CAMPAIGN_STATUS_KEY.name} = "running"`,
      `${CAMPAIGN_ID_KEY.name} IN (${[...withUnsent].map((id) => `"${id}"`).join(', ')})`,
    ].join(' AND ');
    const sharing: string[] = [];
    for await (const info of this.#client.workflow.list({ query: running })) {
      const id = info.typedSearchAttributes.get(CAMPAIGN_ID_KEY);
      if (id && !sharing.includes(id)) sharing.push(id);
    }
    return sharing.sort();
  }

  /** Up to 20 running chunks: their activities being retried, and their workflow tasks that keep failing. */
  async #chunkTrouble(campaignId: string): Promise<{ retries: StuckActivity[]; workflowTasks: ChunkWorkflowTask[] }> {
    const retries: StuckActivity[] = [];
    const workflowTasks: ChunkWorkflowTask[] = [];
    let described = 0;
    for await (const info of this.#client.workflow.list({ query: runningChunksQuery(campaignId) })) {
      if (described++ >= MAX_CHUNKS_DESCRIBED) break;
      const handle = this.#client.workflow.getHandle(info.workflowId);
      const chunk = await handle.describe().catch(() => undefined);
      const index = chunkIndexOf(info.workflowId);
      if (!chunk) continue;
      retries.push(...(await stuckActivities(this.#client.options.loadedDataConverter, `chunk ${index}`, chunk.raw.pendingActivities)));
      const task = await failingWorkflowTask(handle, chunk).catch(() => undefined);
      if (task) workflowTasks.push({ chunkIndex: index, ...task });
    }
    return { retries, workflowTasks };
  }

  /**
   * For a campaign stuck on a nondeterminism error (its own workflow task or a chunk's keeps
   * failing): finds where each diverged and resets it there (src/client/repair.ts). `dryRun` only
   * says what it would do. Nothing failing: an empty list of findings.
   */
  async repair(campaignId: string, options: { dryRun?: boolean } = {}): Promise<RepairReport> {
    await this.#call(campaignId, (handle) => handle.describe());
    return repairCampaign(this.#client, campaignId, options);
  }

  /** The follow-up campaigns (`campaign retry`) of this campaign that exist, by outcome. */
  async followUps(campaignId: string): Promise<FollowUp[]> {
    const found: FollowUp[] = [];
    for (const outcome of RETRY_OUTCOMES) {
      const id = retryCampaignId(campaignId, outcome);
      const description = await this.#client.workflow.getHandle(campaignWorkflowId(id)).describe().catch(() => undefined);
      if (!description) continue;
      found.push({ outcome, campaignId: id, status: description.typedSearchAttributes.get(CAMPAIGN_STATUS_KEY) ?? description.status.name.toLowerCase() });
    }
    return found;
  }

  /**
   * Starts the follow-up campaign for the recipients of a finished campaign whose outcome was
   * `outcome` ('fallback-failed': their fallback only is sent again): same template, fallback and
   * settings; its id is retryCampaignId(campaignId, outcome), so retrying twice finds the first
   * follow-up instead of messaging anyone again. Nobody delivered is ever among them.
   */
  async retry(campaignId: string, outcome: RetryOutcome, options: StartOptions = {}): Promise<StartedCampaign> {
    const handle = this.#client.workflow.getHandle(campaignWorkflowId(campaignId));
    const description = await this.#call(campaignId, (h) => h.describe());
    if (description.status.name === 'RUNNING') throw new CampaignStillRunningError(campaignId);
    const original = await handle.query(campaignSpecQuery);
    if (outcome === 'fallback-failed' && !original.fallback) throw new InvalidSpecError([{ path: 'fallback', message: `campaign ${campaignId} has no fallback to retry` }]);
    const consentWindow = campaignSettings(original).consentWindowMs < MIN_CONSENT_WINDOW_MS ? '1m' : original.consentWindow;
    const followUp: CampaignSpec = { ...original, campaignId: retryCampaignId(campaignId, outcome), recipients: { retryOf: campaignId, outcome }, consentWindow };
    return this.startCampaign(followUp, options);
  }

  /** Every recipient of the campaign, chunk by chunk (chunks not started yet have none). */
  async *recipients(campaignId: string): AsyncGenerator<RecipientRecord> {
    const progress = await this.getProgress(campaignId);
    for (let index = 0; index < progress.chunksTotal; index++) {
      const handle = this.#client.workflow.getHandle(chunkWorkflowId(campaignId, index));
      let records: RecipientRecord[];
      try {
        records = await handle.query(chunkRecipientsQuery);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) continue; // not started yet
        throw new ChunkUnreadableError(campaignId, index, handle.workflowId, innermostMessage(err));
      }
      yield* records;
    }
  }

  async recipient(campaignId: string, ppnum: string): Promise<RecipientRecord | undefined> {
    for await (const record of this.recipients(campaignId)) if (record.ppnum === ppnum) return record;
    return undefined;
  }

  /**
   * Campaigns on the server, newest first (visibility is eventually consistent: a new one may lag),
   * optionally only those with a status, and with their counts (one progress query each).
   */
  async list(options: { status?: string; query?: string; counts?: boolean } = {}): Promise<CampaignSummary[]> {
    const campaigns: CampaignSummary[] = [];
    // One row per campaign: the runs it continued from are not campaigns of their own.
    const filters = [`WorkflowType = "${CAMPAIGN_WORKFLOW_TYPE}"`, 'ExecutionStatus != "ContinuedAsNew"'];
    if (options.status) filters.push(`${CAMPAIGN_STATUS_KEY.name} = "${options.status}"`);
    if (options.query) filters.push(`(${options.query})`);
    for await (const info of this.#client.workflow.list({ query: filters.join(' AND ') })) {
      const attributes = info.typedSearchAttributes;
      const summary: CampaignSummary = {
        campaignId: attributes.get(CAMPAIGN_ID_KEY) ?? campaignIdOf(info.workflowId),
        workflowId: info.workflowId,
        runId: info.runId,
        status: attributes.get(CAMPAIGN_STATUS_KEY) ?? info.status.name.toLowerCase(),
        workflowStatus: info.status.name,
        startTime: info.startTime.toISOString(),
        closeTime: info.closeTime?.toISOString(),
      };
      campaigns.push(summary);
    }
    if (options.counts) {
      await inGroups(campaigns, LIST_COUNTS_AT_ONCE, async (summary) => {
        const progress = await this.#countsOf(summary);
        if (progress) summary.progress = progress;
      });
    }
    return campaigns;
  }

  /**
   * A finished campaign's counts from its result (read from its history: no worker needed); a
   * running one's from its progress query, if it answers within a few seconds.
   */
  async #countsOf(summary: CampaignSummary): Promise<CampaignSummary['progress']> {
    const handle = this.#client.workflow.getHandle(summary.workflowId, summary.runId);
    const counted = (p: Pick<CampaignProgress, 'total' | 'counts'> & { awaitingOutcome?: number }) => ({ total: p.total, counts: p.counts, awaitingOutcome: p.awaitingOutcome ?? 0 });
    try {
      if (summary.workflowStatus === 'COMPLETED' || summary.workflowStatus === 'FAILED') return counted(await this.result(campaignIdOf(summary.workflowId)));
      return counted(await this.#client.withDeadline(Date.now() + LIST_QUERY_DEADLINE_MS, () => handle.query(progressQuery)));
    } catch {
      return undefined; // failed before it counted anything, or no worker answers: shown as '-'
    }
  }

  async #call<T>(campaignId: string, action: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
    try {
      return await action(this.#client.workflow.getHandle(campaignWorkflowId(campaignId)));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new CampaignNotFoundError(campaignId);
      throw err;
    }
  }
}

type PendingActivities = NonNullable<Awaited<ReturnType<WorkflowHandle['describe']>>['raw']['pendingActivities']>;

/**
 * Pending activities that have failed at least once: the attempt, the last failure and the next
 * try. The failure is decoded with the client's data converter: its message is in the encrypted
 * payload, not in the cleartext field ("Encoded failure").
 */
async function stuckActivities(converter: LoadedDataConverter, where: string, pending: PendingActivities | null | undefined): Promise<StuckActivity[]> {
  const stuck = (pending ?? []).filter((activity) => (activity.attempt ?? 1) > 1 || activity.lastFailure);
  return Promise.all(
    stuck.map(async (activity) => {
      const next = activity.nextAttemptScheduleTime?.seconds;
      const failure = activity.lastFailure ? await decodeOptionalFailureToOptionalError(converter, activity.lastFailure).catch(() => undefined) : undefined;
      const lastFailure = failure ? innermostMessage(failure) : '';
      return {
        where,
        activity: activity.activityType?.name ?? 'activity',
        attempt: activity.attempt ?? 1,
        ...(lastFailure ? { lastFailure } : {}),
        ...(next ? { nextAttemptAt: new Date(Number(next) * 1000).toISOString() } : {}),
      };
    }),
  );
}

/**
 * The Web UI's Summary panel for a campaign: id, template, where the recipients come from, and
 * the settings that shape the run. Counts and names only, never a recipient's data.
 */
export function campaignSummary(spec: CampaignSpec): { staticSummary: string; staticDetails: string } {
  const template = 'templateId' in spec.template ? `template ${spec.template.templateId}` : `template "${spec.template.name}"`;
  const source = spec.recipients;
  const recipients =
    'inline' in source ? `${source.inline.length} inline recipients` : 'retryOf' in source ? describeRecipientSource(source) : `recipients from ${sourceKind(source)}`;
  const settings = campaignSettings(spec);
  const fallback = spec.fallback ? `fallback by ${spec.fallback.channel.type} on ${spec.fallback.on.join(', ')}` : 'no fallback';
  return {
    staticSummary: `campaign ${spec.campaignId} · ${template} · ${recipients}`,
    staticDetails: [`consent window ${spec.consentWindow ?? '24h'}`, `chunks of ${settings.chunkSize}, ${settings.chunksInFlight} in flight`, fallback].join(' · '),
  };
}

/** What kind of source, never where: a path, URL or table name is the operator's business. */
function sourceKind(source: ReadSourceSpec): string {
  if ('postgres' in source) return 'PostgreSQL';
  return `a ${source.format ?? 'csv'} ${'url' in source ? 'URL' : 'file'}`;
}
