// Campaign workflow (id campaign/<campaignId>): validates the spec, creates or resolves the
// template, checks the recipients, and runs chunk workflows in a sliding window of unsent chunks.
// Children report by signal to this workflow's id, so the counts survive continue-as-new, which
// carries only compact state (see CampaignCarry).
import {
  ApplicationFailure,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createActivities } from '../activities/index';
import type { ValidationIssue } from '../src/api/validation';
import { addCounts, campaignSettings, checkInlineRecipients, chunkInline, countRecipients, emptyCounts, parseCampaignSpec, requiredVarsFor } from '../src/campaign/spec';
import type { CampaignSpec, ChunkSource, OutcomeCounts, SpecIssue } from '../src/campaign/spec';
import { fromRanges, toRanges } from '../src/campaign/ranges';
import type { Ranges } from '../src/campaign/ranges';
import { CAMPAIGN_ID_KEY, CAMPAIGN_STATUS_KEY, campaignWorkflowId, chunkWorkflowId } from '../src/temporal/names';
import { SEND_TASK_QUEUE_MEMO, chunkWorkflow, innermostMessage } from './chunk';
import {
  campaignControlSignal,
  cancelUpdate,
  chunkControlSignal,
  chunkFailedSignal,
  chunkFinishedSignal,
  chunkParkedSignal,
  chunkSentSignal,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
} from './messages';
import type { CampaignProgress, CampaignResult, CampaignStatus, ChunkInput, PollSummary } from './messages';

type Activities = ReturnType<typeof createActivities>;

const { ensureTemplate, fetchPollResults } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Asks what became of a chunk an earlier run of this campaign started (a restart). */
const { describeChunk } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Patch id: histories recorded before restarts adopted closed chunks replay without describeChunk. */
const ADOPT_EXISTING_CHUNKS = 'adopt-existing-chunks';

/** Streams the whole recipient file once (heartbeating), so it gets a long timeout. */
const { planRecipients } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Issues kept in state, progress and the result (the counts are always complete). */
const MAX_ISSUES = 100;
/** Our own cap besides the server's continue-as-new suggestion. */
const MAX_HISTORY_EVENTS = 10_000;
/**
 * Children started by one run stay "pending" for it until they close (Temporal allows 2,000), and
 * chunks wait out the consent window: a fresh run starts counting from zero.
 */
const MAX_CHILDREN_PER_RUN = 1_000;

/**
 * State carried across continue-as-new. Sizes: `pending` holds the unstarted chunks' sources
 * (byte ranges for files; the remaining recipients for inline lists, which are capped at
 * MAX_INLINE_RECIPIENTS — bigger lists belong in a file); chunk index sets are ranges.
 */
export interface CampaignCarry {
  templateId: string;
  isPoll: boolean;
  /** Valid, distinct recipients. */
  validTotal: number;
  /** Invalid rows skipped by onInvalidRows 'skip' (each counts as one 'invalid' outcome). */
  invalidRows: number;
  issues: ValidationIssue[];
  chunksTotal: number;
  /** Chunks [0, nextChunk) have been started; `pending[i]` is the source of chunk nextChunk + i. */
  nextChunk: number;
  pending: ChunkSource[];
  unsent: number[];
  sent: Ranges;
  finished: Ranges;
  chunkCounts: OutcomeCounts;
  status: CampaignStatus;
  parked?: { until: string; reason: 'rate' | 'quota' };
  /** Send request ids of the chunks, kept only for poll templates (poll results at the end). */
  sendRequestIds: string[];
  /** [chunkIndex, recipients] of chunks sent but not finished. */
  awaiting: [number, number][];
}

export async function campaignWorkflow(spec: CampaignSpec, carry?: CampaignCarry): Promise<CampaignResult> {
  const campaign = new Campaign(spec, carry);
  setHandler(chunkSentSignal, (payload) => campaign.onChunkSent(payload.chunkIndex, payload.sendRequestId, payload.recipients));
  setHandler(chunkFinishedSignal, (payload) => campaign.onChunkFinished(payload.chunkIndex, payload.counts, payload.sendRequestId));
  setHandler(chunkParkedSignal, (payload) => campaign.onChunkParked(payload.until, payload.reason));
  setHandler(chunkFailedSignal, (payload) => campaign.onChunkFailed(payload.chunkIndex, payload.reason));
  setHandler(progressQuery, () => campaign.progress());
  setHandler(pauseUpdate, () => campaign.control('pause'), { validator: () => campaign.check('pause') });
  setHandler(resumeUpdate, () => campaign.control('resume'), { validator: () => campaign.check('resume') });
  setHandler(cancelUpdate, () => campaign.control('cancel'), { validator: () => campaign.check('cancel') });
  setHandler(campaignControlSignal, async ({ action }) => {
    try {
      campaign.check(action);
    } catch (err) {
      log.warn('control signal ignored', { action, reason: (err as Error).message });
      return;
    }
    await campaign.control(action);
  });

  if (!carry) {
    await campaign.prepare().catch((err: unknown) => {
      campaign.markFailed(); // e.g. the template conflicts with an existing one: visible in the search attribute
      throw err;
    });
  }
  const result = await campaign.run();
  await condition(allHandlersFinished);
  return result;
}

class Campaign {
  private readonly campaignId: string;
  private status: CampaignStatus = 'validating';
  private parked?: { until: string; reason: 'rate' | 'quota' };
  private templateId?: string;
  private isPoll = false;
  private validTotal = 0;
  private invalidRows = 0;
  private issues: ValidationIssue[] = [];
  private chunksTotal = 0;
  private nextChunk = 0;
  private pending: ChunkSource[] = [];
  private unsent = new Set<number>();
  private sent = new Set<number>();
  private finished = new Set<number>();
  private chunkCounts = emptyCounts();
  private sendRequestIds = new Set<string>();
  /** Recipients of chunks sent but not finished: their outcomes are still coming. */
  private sentRecipients = new Map<number, number>();
  private childrenStartedThisRun = 0;

  constructor(
    private spec: CampaignSpec,
    carry?: CampaignCarry,
  ) {
    this.campaignId = typeof spec?.campaignId === 'string' ? spec.campaignId : workflowInfo().workflowId;
    if (carry) this.restore(carry);
    upsertSearchAttributes([
      { key: CAMPAIGN_ID_KEY, value: this.campaignId },
      { key: CAMPAIGN_STATUS_KEY, value: this.status },
    ]);
    this.updateDetails();
  }

  // ------------------------------------------------------------ preparation

  /** Everything that can be wrong is found here, before a single message is sent. */
  async prepare(): Promise<void> {
    const { spec, issues } = parseCampaignSpec(this.spec);
    const expectedId = spec ? campaignWorkflowId(spec.campaignId) : undefined;
    if (expectedId && workflowInfo().workflowId !== expectedId) {
      // Chunk ids derive from the campaign id: one campaign id must mean one campaign workflow.
      issues.push({ path: 'campaignId', message: `start this campaign with workflow id "${expectedId}" (it is "${workflowInfo().workflowId}")` });
    }
    if (!spec || issues.length > 0) this.fail('InvalidCampaignSpec', 'the campaign spec is invalid', issues.map(specIssueAsValidation));
    this.spec = spec;
    const settings = campaignSettings(spec);

    const template = await ensureTemplate(spec.template);
    this.templateId = template.templateId;
    this.isPoll = template.isPoll;
    const requiredVars = requiredVarsFor(template.placeholders, spec.fallback);

    if ('inline' in spec.recipients) {
      const checked = checkInlineRecipients(spec.recipients.inline, requiredVars);
      if (checked.invalidCount > 0 && settings.onInvalidRows === 'abort') {
        this.fail('InvalidRecipients', `${checked.invalidCount} recipient(s) are invalid (onInvalidRows is "abort")`, checked.issues);
      }
      this.validTotal = checked.recipients.length;
      this.invalidRows = checked.invalidCount;
      this.issues = checked.issues.slice(0, MAX_ISSUES);
      this.pending = chunkInline(checked.recipients, settings.chunkSize);
      // The inline list is now in `pending`; do not carry it twice through continue-as-new.
      this.spec = { ...spec, recipients: { inline: [] } };
    } else {
      const plan = await planRecipients({
        campaignId: this.campaignId,
        file: spec.recipients.file,
        format: spec.recipients.format ?? 'csv',
        requiredVars,
        chunkSize: settings.chunkSize,
        maxIssues: MAX_ISSUES,
      });
      if (plan.invalidCount > 0 && settings.onInvalidRows === 'abort') {
        this.fail('InvalidRecipients', `${plan.invalidCount} row(s) of ${spec.recipients.file} are invalid (onInvalidRows is "abort")`, plan.issues);
      }
      this.validTotal = plan.valid;
      this.invalidRows = plan.invalidCount;
      this.issues = plan.issues.slice(0, MAX_ISSUES);
      this.pending = plan.chunks;
    }
    this.chunksTotal = this.pending.length;
    if (this.status === 'validating') this.setStatus('running');
    this.updateDetails();
  }

  markFailed(): void {
    this.setStatus('failed');
    this.updateDetails();
  }

  private fail(type: string, summary: string, issues: ValidationIssue[]): never {
    this.issues = issues.slice(0, MAX_ISSUES);
    this.setStatus('failed');
    const listed = issues.slice(0, 10).map(describeIssue).join('; ');
    const more = issues.length > 10 ? `; and ${issues.length - 10} more` : '';
    throw ApplicationFailure.create({ type, message: `${summary}: ${listed}${more}`, nonRetryable: true, details: [{ issues: this.issues }] });
  }

  // ------------------------------------------------------------ main loop

  async run(): Promise<CampaignResult> {
    for (;;) {
      // Start every chunk the window allows at once (one workflow task, not one per chunk).
      const starts: Promise<void>[] = [];
      while (this.windowOpen() && !this.shouldContinueAsNew()) starts.push(this.startNextChunk());
      await Promise.all(starts);
      if (this.allDone()) break;
      if (this.shouldContinueAsNew()) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof campaignWorkflow>(this.spec, this.carry());
      }
      await condition(() => this.windowOpen() || this.allDone() || this.shouldContinueAsNew());
    }

    let poll: PollSummary | undefined;
    if (this.isPoll && this.sendRequestIds.size > 0) poll = await fetchPollResults({ sendRequestIds: [...this.sendRequestIds] });
    const cancelled = this.status === 'cancelling';
    this.setStatus(cancelled ? 'cancelled' : 'completed');
    this.updateDetails();
    return {
      campaignId: this.campaignId,
      status: cancelled ? 'cancelled' : 'completed',
      total: this.total(),
      counts: this.counts(),
      poll,
      issues: this.issues,
      chunks: this.chunksTotal,
    };
  }

  private windowOpen(): boolean {
    const starting = (this.status === 'running' || this.status === 'parked') && this.childrenStartedThisRun < MAX_CHILDREN_PER_RUN;
    const limit = campaignSettings(this.spec).chunksInFlight;
    return starting && this.nextChunk < this.chunksTotal && this.unsent.size < limit;
  }

  /** Cancelled: every started chunk finished. Otherwise: every chunk finished. */
  private allDone(): boolean {
    if (this.status === 'cancelling') return this.finished.size >= this.nextChunk;
    return this.finished.size >= this.chunksTotal;
  }

  private shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS || this.childrenStartedThisRun >= MAX_CHILDREN_PER_RUN;
  }

  private async startNextChunk(): Promise<void> {
    const chunkIndex = this.nextChunk;
    const source = this.pending.shift()!;
    this.nextChunk += 1;
    this.childrenStartedThisRun += 1;
    this.unsent.add(chunkIndex);
    const settings = campaignSettings(this.spec);
    const input: ChunkInput = {
      campaignId: this.campaignId,
      chunkIndex,
      templateId: this.templateId!,
      source,
      pollConfig: this.spec.poll,
      consentWindowMs: settings.consentWindowMs,
      fallback: this.spec.fallback,
      parentWorkflowId: workflowInfo().workflowId,
    };
    try {
      const child = await startChild(chunkWorkflow, {
        workflowId: chunkWorkflowId(this.campaignId, chunkIndex),
        // No taskQueue: chunks run on the campaign's own queue (TASK_QUEUES.campaigns in production).
        args: [input],
        memo: sendQueueMemo(),
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // A chunk id is used once: a chunk can never be started (and so sent) twice.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [{ key: CAMPAIGN_ID_KEY, value: this.campaignId }],
      });
      child.result().catch((err: unknown) => this.onChunkFailed(chunkIndex, innermostMessage(err)));
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      log.info('chunk workflow already started', { chunkIndex });
      if (patched(ADOPT_EXISTING_CHUNKS)) await this.adoptExisting(chunkIndex);
    }
    // A pause or cancel accepted while the chunk was being started still reaches it.
    if (this.status === 'paused' || this.status === 'cancelling') await this.forward(this.status === 'paused' ? 'pause' : 'cancel', [chunkIndex]);
    this.updateDetails();
  }

  /**
   * An earlier run of this campaign started the chunk (restart after a terminate, or the same
   * campaign id started again): adopt what it did, and never send it again.
   */
  private async adoptExisting(chunkIndex: number): Promise<void> {
    const status = await describeChunk({ workflowId: chunkWorkflowId(this.campaignId, chunkIndex) });
    if (status.state === 'completed') this.onChunkFinished(chunkIndex, status.result.counts, status.result.sendRequestId);
    else if (status.state === 'closed') this.onChunkFailed(chunkIndex, `chunk workflow ${status.status.toLowerCase()} before this run`);
    else if (status.sendRequestId !== undefined) this.onChunkSent(chunkIndex, status.sendRequestId, status.recipients);
    // Running and not sent yet: its chunkSent and chunkFinished signals come to this run as usual.
    // The old run may have paused it; this run's own pause or cancel follows in startNextChunk.
    else if (this.status === 'running' || this.status === 'parked') await this.forward('resume', [chunkIndex]);
  }

  // ------------------------------------------------------------ messages from chunks

  onChunkSent(chunkIndex: number, sendRequestId: string, recipients: number): void {
    this.unsent.delete(chunkIndex);
    if (this.sent.has(chunkIndex)) return;
    this.sent.add(chunkIndex);
    if (!this.finished.has(chunkIndex)) this.sentRecipients.set(chunkIndex, recipients);
    if (this.isPoll) this.sendRequestIds.add(sendRequestId);
    if (this.status === 'parked') {
      this.parked = undefined;
      this.setStatus('running');
    }
    this.updateDetails();
  }

  onChunkFinished(chunkIndex: number, counts: OutcomeCounts, sendRequestId?: string): void {
    this.unsent.delete(chunkIndex);
    if (this.finished.has(chunkIndex)) return; // counted once per chunk
    this.finished.add(chunkIndex);
    this.sentRecipients.delete(chunkIndex);
    addCounts(this.chunkCounts, counts);
    if (this.isPoll && sendRequestId) this.sendRequestIds.add(sendRequestId);
    this.updateDetails();
  }

  onChunkParked(until: string, reason: 'rate' | 'quota'): void {
    this.parked = { until, reason };
    if (this.status === 'running') this.setStatus('parked');
    this.updateDetails();
  }

  /**
   * A chunk workflow that failed (e.g. its file rows could not be read, a bug, an operator's
   * terminate) still needs an account: each of its planned recipients counts as failed. Reported
   * by the chunk's own signal (any run), and by its result (the run that started it).
   */
  onChunkFailed(chunkIndex: number, reason: string): void {
    if (this.finished.has(chunkIndex)) return;
    log.error('chunk workflow failed', { chunkIndex, error: reason });
    if (this.issues.length < MAX_ISSUES) this.issues.push({ field: `chunks[${chunkIndex}]`, message: `chunk workflow failed: ${reason}` });
    this.onChunkFinished(chunkIndex, { ...emptyCounts(), failed: this.plannedRecipients(chunkIndex) });
  }

  /**
   * Recipients of a chunk, known without reading it: the plan fills every chunk but the last to
   * exactly chunkSize valid recipients (inline lists and file plans alike).
   */
  private plannedRecipients(chunkIndex: number): number {
    const { chunkSize } = campaignSettings(this.spec);
    const last = this.chunksTotal - 1;
    return chunkIndex < last ? chunkSize : this.validTotal - chunkSize * last;
  }

  // ------------------------------------------------------------ pause / resume / cancel

  /** Update validator (synchronous): rejects a request that makes no sense in the current status. */
  check(action: 'pause' | 'resume' | 'cancel'): void {
    const allowed: Record<typeof action, CampaignStatus[]> = {
      pause: ['validating', 'running', 'parked'],
      resume: ['paused'],
      cancel: ['validating', 'running', 'paused', 'parked'],
    };
    if (!allowed[action].includes(this.status)) {
      throw new Error(`cannot ${action} campaign ${this.campaignId}: it is ${this.status}`);
    }
  }

  /** Stops new chunk starts at once and forwards the action to started chunks that have not sent. */
  async control(action: 'pause' | 'resume' | 'cancel'): Promise<CampaignProgress> {
    if (action === 'pause') this.setStatus('paused');
    else if (action === 'cancel') this.setStatus('cancelling');
    else this.setStatus(this.status === 'paused' && this.templateId === undefined ? 'validating' : 'running');
    this.updateDetails();
    await this.forward(action, [...this.unsent]);
    return this.progress();
  }

  private async forward(action: 'pause' | 'resume' | 'cancel', chunkIndexes: number[]): Promise<void> {
    await Promise.all(
      chunkIndexes.map(async (chunkIndex) => {
        try {
          await getExternalWorkflowHandle(chunkWorkflowId(this.campaignId, chunkIndex)).signal(chunkControlSignal, { action });
        } catch (err) {
          log.warn('could not forward control to chunk', { chunkIndex, action, error: String(err) });
        }
      }),
    );
  }

  // ------------------------------------------------------------ reporting

  private awaitingOutcome(): number {
    let sum = 0;
    for (const recipients of this.sentRecipients.values()) sum += recipients;
    return sum;
  }

  private total(): number {
    return this.validTotal + this.invalidRows;
  }

  /** Chunk counts, plus skipped invalid rows, plus (once cancelled) the recipients never started. */
  private counts(): OutcomeCounts {
    const counts = addCounts(emptyCounts(), this.chunkCounts);
    counts.invalid += this.invalidRows;
    if (this.status === 'cancelled') counts.cancelled += this.validTotal - countRecipients(this.chunkCounts);
    return counts;
  }

  progress(): CampaignProgress {
    return {
      campaignId: this.campaignId,
      status: this.status,
      parkedUntil: this.status === 'parked' ? this.parked?.until : undefined,
      parkedReason: this.status === 'parked' ? this.parked?.reason : undefined,
      total: this.total(),
      chunksTotal: this.chunksTotal,
      chunksStarted: this.nextChunk,
      chunksSent: this.sent.size,
      chunksFinished: this.finished.size,
      counts: this.counts(),
      inFlight: this.unsent.size,
      awaitingOutcome: this.awaitingOutcome(),
      templateId: this.templateId,
      issues: this.issues,
    };
  }

  private setStatus(status: CampaignStatus): void {
    if (status === this.status) return;
    this.status = status;
    upsertSearchAttributes([{ key: CAMPAIGN_STATUS_KEY, value: status }]);
  }

  /** "running: 3,000/10,000 done · delivered 2,700 · denied 30 · … · chunks 4/10 sent" for the Web UI. */
  private updateDetails(): void {
    const counts = this.counts();
    const done = countRecipients(counts);
    const parts = (['delivered', 'denied', 'expired', 'failed', 'invalid', 'cancelled'] as const)
      .filter((outcome) => counts[outcome] > 0)
      .map((outcome) => `${outcome} ${thousands(counts[outcome])}`);
    if (counts.fallbackSent + counts.fallbackFailed > 0) parts.push(`fallback sent ${thousands(counts.fallbackSent)}, failed ${thousands(counts.fallbackFailed)}`);
    const awaiting = this.awaitingOutcome();
    if (awaiting > 0) parts.unshift(`awaiting outcome ${thousands(awaiting)}`);
    parts.push(`chunks ${this.sent.size}/${this.chunksTotal} sent, ${this.finished.size} finished`);
    const parked = this.status === 'parked' && this.parked ? ` until ${this.parked.until} (${this.parked.reason})` : '';
    setCurrentDetails(`${this.status}${parked}: ${thousands(done)}/${thousands(this.total())} done · ${parts.join(' · ')}`);
  }

  // ------------------------------------------------------------ continue-as-new

  private carry(): CampaignCarry {
    return {
      templateId: this.templateId!,
      isPoll: this.isPoll,
      validTotal: this.validTotal,
      invalidRows: this.invalidRows,
      issues: this.issues,
      chunksTotal: this.chunksTotal,
      nextChunk: this.nextChunk,
      pending: this.pending,
      unsent: [...this.unsent],
      sent: toRanges(this.sent),
      finished: toRanges(this.finished),
      chunkCounts: this.chunkCounts,
      status: this.status,
      parked: this.parked,
      sendRequestIds: [...this.sendRequestIds],
      awaiting: [...this.sentRecipients],
    };
  }

  private restore(carry: CampaignCarry): void {
    this.templateId = carry.templateId;
    this.isPoll = carry.isPoll;
    this.validTotal = carry.validTotal;
    this.invalidRows = carry.invalidRows;
    this.issues = carry.issues;
    this.chunksTotal = carry.chunksTotal;
    this.nextChunk = carry.nextChunk;
    this.pending = carry.pending;
    this.unsent = new Set(carry.unsent);
    this.sent = fromRanges(carry.sent);
    this.finished = fromRanges(carry.finished);
    this.chunkCounts = carry.chunkCounts;
    this.status = carry.status;
    this.parked = carry.parked;
    this.sendRequestIds = new Set(carry.sendRequestIds);
    this.sentRecipients = new Map(carry.awaiting);
  }
}

/** Passes a non-default send queue (workflow memo) on to the chunks. */
function sendQueueMemo(): Record<string, unknown> | undefined {
  const queue = workflowInfo().memo?.[SEND_TASK_QUEUE_MEMO];
  return typeof queue === 'string' ? { [SEND_TASK_QUEUE_MEMO]: queue } : undefined;
}

function specIssueAsValidation(issue: SpecIssue): ValidationIssue {
  return { field: issue.path || 'spec', message: issue.message };
}

function describeIssue(issue: ValidationIssue): string {
  const where = issue.line !== undefined ? `line ${issue.line}, ` : issue.index !== undefined && !issue.field.includes('[') ? `entry ${issue.index}, ` : '';
  return `${where}${issue.field}: ${issue.message}`;
}

function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
