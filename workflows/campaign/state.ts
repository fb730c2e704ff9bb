// The campaign's accounting: status, the chunk plan and what each chunk reported, as a pure state
// machine. The campaign workflow (workflow.ts) calls one method per transition and publishes the
// status; nothing here talks to Temporal (unit tests: test/workflows/campaign-state.test.ts).
import type { ValidationIssue } from '../../src/api/validation';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import { addConsent, emptyConsent } from '../../src/campaign/consent';
import type { ConsentStats } from '../../src/campaign/consent';
import { RECIPIENT_OUTCOMES, addCounts, countRecipients, emptyCounts } from '../../src/campaign/outcomes';
import type { OutcomeCounts, RetryOutcome } from '../../src/campaign/outcomes';
import type { CampaignProgress, CampaignResult, CampaignStatus, ParkReason, PollSummary } from '../../src/contracts/campaign';
import type { ControlAction } from '../../src/contracts/chunk';
import { fromRanges, toRanges } from '../../src/campaign/ranges';
import type { Ranges } from '../../src/campaign/ranges';
import { THROTTLE_RULE, isThrottle } from '../../src/campaign/spec';
import { chunkTimeZone } from '../../src/campaign/chunk-source';
import { windowAt } from '../../src/campaign/send-window';
import type { SendWindow, WindowState } from '../../src/campaign/send-window';

/** Issues kept in state, progress and the result (the counts are always complete). */
export const MAX_ISSUES = 100;

/** Why, since when and until when the campaign (or one of its chunks) waits. */
export interface ParkInfo {
  reason: ParkReason;
  /** ISO: the next attempt (for a rate or quota wait, exactly the server's hint). */
  until: string;
  /** ISO: when the fault was first seen (configuration faults). */
  since?: string;
  message?: string;
}

/** The campaign a follow-up retries. */
export interface RetryOf {
  campaignId: string;
  outcome: RetryOutcome;
}

/**
 * State carried across continue-as-new. Sizes: `pending` holds the unstarted chunks' sources
 * (byte ranges for files; the remaining recipients for inline lists, which are capped at
 * MAX_INLINE_RECIPIENTS: bigger lists belong in a file); chunk index sets are ranges.
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
  /** Chunks [0, nextChunk) have been started; `pending[i]` is the source of chunk nextChunk + i (or of pendingIndexes[i]). */
  nextChunk: number;
  pending: ChunkSource[];
  /** The chunks of `pending`, when chunks of a zone whose window opened first started out of plan order. */
  pendingIndexes?: number[];
  unsent: number[];
  sent: Ranges;
  finished: Ranges;
  chunkCounts: OutcomeCounts;
  status: CampaignStatus;
  /** Carries of runs before chunks reported their own parks: one park, cleared by any send. */
  parked?: { until: string; reason: ParkReason };
  /** [chunkIndex, park] of the chunks holding now. */
  parks?: [number, ParkInfo][];
  /** Planned recipients per chunk, when they differ (follow-ups); else chunkSize each. */
  sizes?: number[];
  retryOf?: RetryOf;
  /** Send request ids of the chunks, kept only for poll templates (poll results at the end). */
  sendRequestIds: string[];
  /** [chunkIndex, recipients] of chunks sent but not finished. */
  awaiting: [number, number][];
  /** Unsent chunks reconciling an ambiguous send (absent in carries from before the field). */
  reconciling?: number[];
  /** Consent figures of finished chunks, and the latest report of each running one (absent in carries from before them). */
  consent?: ConsentStats;
  consentOfRunning?: [number, ConsentStats][];
  /** The settled counts in each running chunk's latest report (absent in carries from before them). */
  countsOfRunning?: [number, OutcomeCounts][];
  /** A throttle update's value (null: none), when one replaced the spec's throttle. */
  throttle?: number | null;
  /** [epoch ms, recipients] of the latest chunk started: the throttle paces the next one from it. */
  lastStart?: [number, number];
}

/** What planning found: the template, the recipients' counts and issues, the chunk sources. */
export interface CampaignPlan {
  templateId: string;
  /** Valid recipients per chunk: the plan fills every chunk but the last to exactly this. */
  chunkSize: number;
  isPoll: boolean;
  validTotal: number;
  invalidRows: number;
  issues: ValidationIssue[];
  chunks: ChunkSource[];
  /** Recipients per chunk when they differ (a follow-up takes a few from each original chunk). */
  sizes?: number[];
  retryOf?: RetryOf;
}

/** Which statuses allow which control. Resuming a parked campaign tries again at once. */
const CONTROL_ALLOWED: Record<ControlAction, readonly CampaignStatus[]> = {
  pause: ['scheduled', 'validating', 'running', 'parked'],
  resume: ['paused', 'parked'],
  cancel: ['scheduled', 'validating', 'running', 'paused', 'parked'],
};

/** Statuses in which a throttle can still matter. */
const THROTTLE_ALLOWED: readonly CampaignStatus[] = ['scheduled', 'validating', 'running', 'paused', 'parked'];

/** Legacy carries' one park has no chunk: any chunk's send clears it, as it did then. */
const LEGACY_PARK = -1;

export class CampaignState {
  status: CampaignStatus = 'validating';
  templateId?: string;
  issues: ValidationIssue[] = [];
  chunksTotal = 0;
  /** Chunks started by this run of the workflow (a fresh run counts from zero). */
  startedThisRun = 0;
  /** Set by a resume while the campaign itself waits out a configuration fault: try again now. */
  wakeRequested = false;
  /** Why the campaign failed, in plain words. */
  failure?: string;
  /** The campaign's own wait (a configuration fault before any chunk started). */
  private ownPark?: ParkInfo;
  /** Chunks holding for a rate limit, a quota or a configuration fault. */
  private parks = new Map<number, ParkInfo>();
  private sizes?: number[];
  private retryOf?: RetryOf;
  private isPoll = false;
  private validTotal = 0;
  private invalidRows = 0;
  /** Unstarted chunks in plan order (grouped by time zone, when recipients have their own): sources and chunk indexes. */
  private pending: ChunkSource[] = [];
  private pendingIndexes: number[] = [];
  /** Send window states by zone, each good from `from` until it changes (windowAt is many Intl calls; conditions ask often). */
  private windowStates = new Map<string, WindowState & { from: number }>();
  private unsent = new Set<number>();
  /** Unsent chunks reconciling an ambiguous send: outside the window until they report sent. */
  private reconciling = new Set<number>();
  private sent = new Set<number>();
  private finished = new Set<number>();
  private chunkCounts = emptyCounts();
  private sendRequestIds = new Set<string>();
  /** Recipients of chunks sent but not finished: their outcomes are still coming. */
  private sentRecipients = new Map<number, number>();
  private chunkSize = 0;
  private finishedConsent = emptyConsent();
  /** The latest consent report of each chunk still running. */
  private runningConsent = new Map<number, ConsentStats>();
  /** The recipients settled so far in each chunk still running, as of its latest report. */
  private runningCounts = new Map<number, OutcomeCounts>();
  /** startAt (ISO) while the campaign waits for it. */
  private scheduledFor?: string;
  /** The spec's deadline (ISO), and whether it has passed (then no chunk starts, and the unstarted end 'deadline'). */
  private deadline?: string;
  private pastDeadline = false;
  /** The fallback policy names 'deadline': chunks still start after it, to settle their recipients and send those fallbacks. */
  private deadlineFallbacks = false;
  private specThrottle?: number;
  /** A throttle update's value (null: none), overriding the spec's. */
  private throttleOverride?: number | null;
  private lastStart?: [at: number, recipients: number];
  private sendWindow?: SendWindow;
  /** Changes with every throttle update: the workflow's wait for the next start wakes on it. */
  pacingRevision = 0;

  /** A new campaign, or (with `carry` and the spec's chunkSize) one that continued as new. */
  constructor(
    readonly campaignId: string,
    continued?: { carry: CampaignCarry; chunkSize: number },
  ) {
    if (continued) this.restore(continued.carry, continued.chunkSize);
  }

  // ------------------------------------------------------------ preparation

  planned(plan: CampaignPlan): void {
    this.templateId = plan.templateId;
    this.chunkSize = plan.chunkSize;
    this.isPoll = plan.isPoll;
    this.validTotal = plan.validTotal;
    this.invalidRows = plan.invalidRows;
    this.issues = plan.issues.slice(0, MAX_ISSUES);
    this.pending = plan.chunks;
    this.pendingIndexes = plan.chunks.map((_, index) => index);
    this.chunksTotal = plan.chunks.length;
    this.sizes = plan.sizes;
    this.retryOf = plan.retryOf;
    if (this.status === 'validating') this.status = 'running';
  }

  /** Nothing will be sent: the spec or the recipients are wrong, or preparing failed (`reason` in plain words). */
  failed(issues?: ValidationIssue[], reason?: string): void {
    if (issues) this.issues = issues.slice(0, MAX_ISSUES);
    if (reason !== undefined) this.failure = reason;
    this.status = 'failed';
  }

  /** The campaign itself waits out a configuration fault (while preparing): parked, nobody's state touched. */
  blocked(park: ParkInfo): void {
    this.ownPark = { ...park, since: this.ownPark?.reason === park.reason ? this.ownPark.since : park.since };
    this.wakeRequested = false;
    this.refreshPark();
  }

  /** Whether the campaign itself (not a chunk) waits out a configuration fault. */
  get blockedItself(): boolean {
    return this.ownPark !== undefined;
  }

  unblocked(): void {
    this.ownPark = undefined;
    this.wakeRequested = false;
    this.refreshPark();
  }

  // ------------------------------------------------------------ start time, deadline, throttle

  /** The spec's deadline and throttle (each run reads them from the spec; a throttle update carried over wins). */
  timing(options: { deadline?: string; throttle?: number; sendWindow?: SendWindow; deadlineFallbacks?: boolean }): void {
    this.deadline = options.deadline;
    this.deadlineFallbacks = options.deadlineFallbacks === true;
    this.specThrottle = options.throttle;
    this.sendWindow = options.sendWindow;
  }

  /** Waiting for startAt (ISO): nothing is read or sent until then; pause and cancel still apply. */
  scheduled(startAt: string): void {
    this.scheduledFor = startAt;
    if (this.status === 'validating') this.status = 'scheduled';
  }

  /** startAt has come: on to validating (a paused campaign stays paused, and validates once resumed). */
  startDue(): void {
    this.scheduledFor = undefined;
    if (this.status === 'scheduled') this.status = 'validating';
  }

  /**
   * The deadline has passed: started chunks settle their unsent recipients as 'deadline' themselves.
   * No chunk starts any more, unless the fallback policy names 'deadline': then the rest start at
   * once (unpaced: they send nothing to Ppoppo) to settle theirs and send those fallbacks.
   */
  deadlinePassed(): void {
    this.pastDeadline = true;
  }

  get deadlineHasPassed(): boolean {
    return this.pastDeadline;
  }

  get throttle(): number | undefined {
    return this.throttleOverride === undefined ? this.specThrottle : (this.throttleOverride ?? undefined);
  }

  /** Throws (with the reason a person reads) when the campaign is past changing its pace. */
  checkThrottle(perMinute: number | null): void {
    if (perMinute !== null && !isThrottle(perMinute)) throw new Error(`${THROTTLE_RULE} (got ${JSON.stringify(perMinute)}), or none`);
    if (!THROTTLE_ALLOWED.includes(this.status)) throw new Error(`cannot throttle campaign ${this.campaignId}: it is ${this.status}`);
  }

  /** A new pace from now on: the next chunk starts as the new throttle allows after the last one. */
  setThrottle(perMinute: number | null): void {
    this.throttleOverride = perMinute;
    this.pacingRevision += 1;
  }

  /**
   * Epoch ms before which the next chunk may not start, by the throttle and (from `now`) the send
   * window: the earliest moment it is open in the zone of some unstarted chunk (0: any time).
   */
  nextStartAt(now = 0): number {
    const throttle = this.throttle;
    let next = 0;
    if (throttle !== undefined && this.lastStart !== undefined) {
      const [at, recipients] = this.lastStart;
      next = at + Math.ceil((recipients * 60_000) / throttle);
    }
    if (!this.sendWindow) return next;
    const at = Math.max(now, next);
    const zones = this.pending.length > 0 ? this.pendingZones() : [this.sendWindow.timeZone];
    return Math.min(...zones.map((zone) => this.windowIn(zone, at)).map((window) => (window.open ? at : window.changesAt)));
  }

  /** The send window in a zone at `at` (the spec's hours, the zone of a chunk's recipients). */
  private windowIn(timeZone: string, at: number): WindowState {
    const known = this.windowStates.get(timeZone);
    if (known && known.from <= at && at < known.changesAt) return known;
    const state = windowAt({ ...this.sendWindow!, timeZone }, at);
    this.windowStates.set(timeZone, { ...state, from: at });
    return state;
  }

  private zoneOf(source: ChunkSource): string | undefined {
    return chunkTimeZone(source) ?? this.sendWindow?.timeZone;
  }

  /** The zones of the unstarted chunks, in plan order (names once each). */
  private pendingZones(): string[] {
    return [...new Set(this.pending.map((source) => this.zoneOf(source)!))];
  }

  /** Position in `pending` of the next chunk to start at `now`: the first whose zone's window is open (else the first). */
  private nextPosition(now: number | undefined): number {
    if (!this.sendWindow || now === undefined) return 0;
    const position = this.pending.findIndex((source) => this.windowIn(this.zoneOf(source)!, now).open);
    return Math.max(position, 0);
  }

  /** Chunks started so far (by any run). */
  private get chunksStarted(): number {
    return this.chunksTotal - this.pending.length;
  }

  // ------------------------------------------------------------ the sliding window

  /**
   * Another chunk may start: running (or parked), chunks left, this run's budget, and fewer than
   * `inFlight` unsent chunks in the window. A chunk reconciling an ambiguous send does not count.
   */
  canStartChunk(inFlight: number, maxPerRun: number, now?: number): boolean {
    const starting = (this.status === 'running' || this.status === 'parked') && this.startedThisRun < maxPerRun && (!this.pastDeadline || this.deadlineFallbacks);
    const paced = now === undefined || this.pastDeadline || now >= this.nextStartAt(now);
    return starting && paced && this.pending.length > 0 && this.unsent.size - this.reconciling.size < inFlight;
  }

  /** Whether chunks wait for nothing but the throttle (the workflow then sets a timer for nextStartAt). */
  waitsForPace(inFlight: number, maxPerRun: number, now: number): boolean {
    return !this.canStartChunk(inFlight, maxPerRun, now) && this.canStartChunk(inFlight, maxPerRun);
  }

  /**
   * The chunk is reconciling an ambiguous send (its worker died mid-call, or the answer was lost).
   * That waits on the event stream for seconds, not on the send queue, so the chunk leaves the
   * window and another may start: after a worker dies, its chunks' reconciliation must not stop
   * everyone's sends. It stays out until it reports sent, even if it has to send again: the window
   * may then hold one more chunk per such send, which the rate-limited send queue absorbs.
   */
  chunkReconciling(chunkIndex: number): void {
    if (this.unsent.has(chunkIndex)) this.reconciling.add(chunkIndex);
  }

  /**
   * The next chunk in plan order whose zone's send window is open at `now` (chunks of a closed zone
   * wait while other zones go on). `now` (epoch ms): when it starts, from which the throttle paces the next.
   */
  takeNextChunk(now?: number): { chunkIndex: number; source: ChunkSource; plannedRecipients: number } {
    if (this.pending.length === 0) throw new Error(`no chunk left to start (all ${this.chunksTotal} started)`);
    const position = this.nextPosition(now);
    const [source] = this.pending.splice(position, 1) as [ChunkSource];
    const [chunkIndex] = this.pendingIndexes.splice(position, 1) as [number];
    if (now !== undefined) this.lastStart = [now, this.plannedRecipients(chunkIndex)];
    this.startedThisRun += 1;
    this.unsent.add(chunkIndex);
    return { chunkIndex, source, plannedRecipients: this.plannedRecipients(chunkIndex) };
  }

  /** Cancelled: every started chunk finished. Otherwise: every chunk finished. */
  allDone(): boolean {
    if (this.status === 'cancelling' || (this.pastDeadline && !this.deadlineFallbacks)) return this.finished.size >= this.chunksStarted;
    return this.finished.size >= this.chunksTotal;
  }

  // ------------------------------------------------------------ chunk reports (idempotent)

  /** `sendRequestId`: the chunk's request, or each of them when it sent several. */
  chunkSent(chunkIndex: number, sendRequestId: string | string[], recipients: number): void {
    this.unsent.delete(chunkIndex);
    this.reconciling.delete(chunkIndex);
    if (this.sent.has(chunkIndex)) return;
    this.sent.add(chunkIndex);
    if (!this.finished.has(chunkIndex)) this.sentRecipients.set(chunkIndex, recipients);
    if (this.isPoll) for (const id of [sendRequestId].flat()) this.sendRequestIds.add(id);
    this.unpark(chunkIndex);
    this.parks.delete(LEGACY_PARK);
    this.refreshPark();
  }

  chunkFinished(chunkIndex: number, counts: OutcomeCounts, sendRequestId?: string | string[], consent?: ConsentStats): void {
    this.unsent.delete(chunkIndex);
    this.reconciling.delete(chunkIndex);
    if (this.finished.has(chunkIndex)) return; // counted once per chunk
    this.finished.add(chunkIndex);
    this.unpark(chunkIndex);
    this.sentRecipients.delete(chunkIndex);
    this.runningConsent.delete(chunkIndex);
    this.runningCounts.delete(chunkIndex);
    addConsent(this.finishedConsent, consent);
    addCounts(this.chunkCounts, counts);
    if (this.isPoll && sendRequestId) for (const id of [sendRequestId].flat()) this.sendRequestIds.add(id);
  }

  /** A running chunk's consent figures and settled recipients so far; the latest report replaces its earlier ones. */
  chunkConsent(chunkIndex: number, consent: ConsentStats, counts?: OutcomeCounts): void {
    if (this.finished.has(chunkIndex)) return;
    this.runningConsent.set(chunkIndex, consent);
    if (counts) this.runningCounts.set(chunkIndex, addCounts(emptyCounts(), counts));
  }

  /** A chunk waits (rate limit, quota, configuration fault): the campaign is parked while any chunk does. */
  chunkParked(chunkIndex: number, park: ParkInfo): void {
    if (this.finished.has(chunkIndex)) return; // a late signal
    this.parks.set(chunkIndex, park);
    this.refreshPark();
  }

  /** The chunk got going again without a send (its fallback channel answers again). */
  chunkUnparked(chunkIndex: number): void {
    this.unpark(chunkIndex);
  }

  private unpark(chunkIndex: number): void {
    if (this.parks.delete(chunkIndex)) this.refreshPark();
  }

  /** Running ⇄ parked (validating ⇄ parked before the plan), by whether anything waits; other statuses stay. */
  private refreshPark(): void {
    if (this.status !== 'running' && this.status !== 'parked' && this.status !== 'validating') return;
    const parked = this.ownPark !== undefined || this.parks.size > 0;
    this.status = parked ? 'parked' : this.templateId === undefined ? 'validating' : 'running';
  }

  /** The park to show: the campaign's own, else a configuration fault (an operator must act), else a rate or quota wait. */
  private shownPark(): ParkInfo | undefined {
    if (this.ownPark) return this.ownPark;
    const parks = [...this.parks.values()];
    return parks.find((park) => park.reason !== 'rate' && park.reason !== 'quota') ?? parks[0];
  }

  /**
   * A chunk workflow that failed (unreadable rows, a bug, an operator's terminate) still needs an
   * account: each of its planned recipients counts as failed. Returns false if it was already counted.
   */
  chunkFailed(chunkIndex: number, reason: string): boolean {
    if (this.finished.has(chunkIndex)) return false;
    if (this.issues.length < MAX_ISSUES) this.issues.push({ field: `chunks[${chunkIndex}]`, message: `chunk workflow failed: ${reason}` });
    this.chunkFinished(chunkIndex, { ...emptyCounts(), failed: this.plannedRecipients(chunkIndex) });
    return true;
  }

  /** Recipients of a chunk, known without reading it. */
  private plannedRecipients(chunkIndex: number): number {
    if (this.sizes) return this.sizes[chunkIndex] ?? 0;
    const last = this.chunksTotal - 1;
    return chunkIndex < last ? this.chunkSize : this.validTotal - this.chunkSize * last;
  }

  // ------------------------------------------------------------ pause / resume / cancel

  /** Throws (with the reason a person reads) when the action makes no sense in the current status. */
  check(action: ControlAction): void {
    if (!CONTROL_ALLOWED[action].includes(this.status)) throw new Error(`cannot ${action} campaign ${this.campaignId}: it is ${this.status}`);
  }

  /**
   * Applies a checked action; returns the chunks to forward it to: the started chunks that have not
   * sent, and (on resume) the parked ones, which then try again at once.
   */
  control(action: ControlAction): number[] {
    const unsent = [...this.unsent];
    if (action === 'pause') this.status = 'paused';
    else if (action === 'cancel') this.status = 'cancelling';
    else {
      if (this.status === 'parked') this.wakeRequested = true;
      this.status = this.scheduledFor !== undefined ? 'scheduled' : this.templateId === undefined ? 'validating' : 'running';
      this.refreshPark();
      return [...new Set([...unsent, ...[...this.parks.keys()].filter((index) => index !== LEGACY_PARK)])];
    }
    return unsent;
  }

  /**
   * The end: completed, or cancelled when a cancel was accepted. With `failWhenNobodyReached`, a
   * campaign that reached nobody (no delivery, no fallback sent) ends failed, saying so: it is not
   * a success an operator should read as green.
   */
  close(options: { failWhenNobodyReached?: boolean } = {}): void {
    if (this.status === 'cancelling') {
      this.status = 'cancelled';
      return;
    }
    this.status = 'completed';
    const counts = this.counts();
    if (options.failWhenNobodyReached && this.total() > 0 && counts.delivered + counts.fallbackSent === 0) {
      const outcomes = RECIPIENT_OUTCOMES.filter((outcome) => counts[outcome] > 0).map((outcome) => `${outcome} ${counts[outcome]}`);
      this.failed(undefined, `no recipient was delivered or reached by a fallback (${outcomes.join(', ')})`);
    }
  }

  // ------------------------------------------------------------ reading

  /** Send request ids for the poll results, when the template is a poll. */
  pollSendRequestIds(): string[] {
    return this.isPoll ? [...this.sendRequestIds] : [];
  }

  /** Finished chunks' consent figures plus running chunks' latest reports. */
  consent(): ConsentStats {
    const total = addConsent(emptyConsent(), this.finishedConsent);
    for (const stats of this.runningConsent.values()) addConsent(total, stats);
    return total;
  }

  /** Recipients of running sent chunks not settled as of their latest report. */
  awaitingOutcome(): number {
    let sum = 0;
    for (const [chunkIndex, recipients] of this.sentRecipients) {
      const settled = this.runningCounts.get(chunkIndex);
      sum += Math.max(0, recipients - (settled ? countRecipients(settled) : 0));
    }
    return sum;
  }

  total(): number {
    return this.validTotal + this.invalidRows;
  }

  /**
   * Finished chunks' counts and running chunks' latest reports, plus skipped invalid rows, plus
   * (once cancelled) the recipients never started.
   */
  counts(): OutcomeCounts {
    const counts = addCounts(emptyCounts(), this.chunkCounts);
    for (const running of this.runningCounts.values()) addCounts(counts, running);
    counts.invalid += this.invalidRows;
    counts.cancelled += this.cancelledBeforeStart();
    counts.deadline += this.deadlineBeforeStart();
    return counts;
  }

  /** Once the deadline passed, the recipients whose chunk never started: settled by the campaign, not a chunk. */
  deadlineBeforeStart(): number {
    if (!this.pastDeadline || this.deadlineFallbacks) return 0;
    return this.pendingIndexes.reduce((sum, chunkIndex) => sum + this.plannedRecipients(chunkIndex), 0);
  }

  /** Skipped invalid rows: settled at planning, outside any chunk. */
  invalidRowsSkipped(): number {
    return this.invalidRows;
  }

  /** Once cancelled, the recipients whose chunk never started: settled by the campaign, not a chunk. */
  cancelledBeforeStart(): number {
    return this.status === 'cancelled' ? this.validTotal - countRecipients(this.chunkCounts) - this.deadlineBeforeStart() : 0;
  }

  progress(): CampaignProgress {
    const park = this.status === 'parked' ? this.shownPark() : undefined;
    return {
      campaignId: this.campaignId,
      status: this.status,
      parkedUntil: park?.until,
      parkedReason: park?.reason,
      ...(park?.since ? { parkedSince: park.since } : {}),
      ...(park?.message ? { parkedMessage: park.message } : {}),
      ...(park ? { parkedChunks: [...this.parks.keys()].filter((index) => index !== LEGACY_PARK).length } : {}),
      ...(this.failure ? { failure: this.failure } : {}),
      ...(this.scheduledFor !== undefined ? { scheduledFor: this.scheduledFor } : {}),
      ...(this.deadline !== undefined ? { deadline: this.deadline, deadlinePassed: this.pastDeadline } : {}),
      ...(this.throttle !== undefined ? { throttle: this.throttle } : {}),
      ...(this.sendWindow ? { sendWindow: this.sendWindow } : {}),
      ...(this.sendWindow && this.pending.some((source) => chunkTimeZone(source) !== undefined) ? { pendingTimeZones: this.pendingZones() } : {}),
      ...(this.retryOf ? { retryOf: this.retryOf } : {}),
      total: this.total(),
      chunksTotal: this.chunksTotal,
      chunksStarted: this.chunksStarted,
      chunksSent: this.sent.size,
      chunksFinished: this.finished.size,
      counts: this.counts(),
      inFlight: this.unsent.size,
      awaitingOutcome: this.awaitingOutcome(),
      templateId: this.templateId,
      issues: this.issues,
      consent: this.consent(),
    };
  }

  result(poll: PollSummary | undefined): CampaignResult {
    return {
      campaignId: this.campaignId,
      status: this.status === 'cancelled' || this.status === 'failed' ? this.status : 'completed',
      total: this.total(),
      counts: this.counts(),
      poll,
      issues: this.issues,
      chunks: this.chunksTotal,
      consent: this.consent(),
      ...(this.status === 'failed' && this.failure ? { failure: this.failure } : {}),
    };
  }

  // ------------------------------------------------------------ continue-as-new

  carry(): CampaignCarry {
    return {
      templateId: this.templateId!,
      isPoll: this.isPoll,
      validTotal: this.validTotal,
      invalidRows: this.invalidRows,
      issues: this.issues,
      chunksTotal: this.chunksTotal,
      nextChunk: this.pendingIndexes[0] ?? this.chunksTotal,
      pending: this.pending,
      // Only when chunks started out of plan order: otherwise the carry is what it always was.
      ...(this.pendingIndexes.some((chunkIndex, i) => chunkIndex !== this.pendingIndexes[0]! + i) ? { pendingIndexes: this.pendingIndexes } : {}),
      unsent: [...this.unsent],
      sent: toRanges(this.sent),
      finished: toRanges(this.finished),
      chunkCounts: this.chunkCounts,
      status: this.status,
      parks: [...this.parks],
      ...(this.sizes ? { sizes: this.sizes } : {}),
      ...(this.retryOf ? { retryOf: this.retryOf } : {}),
      sendRequestIds: [...this.sendRequestIds],
      awaiting: [...this.sentRecipients],
      reconciling: [...this.reconciling],
      consent: this.finishedConsent,
      consentOfRunning: [...this.runningConsent],
      ...(this.runningCounts.size > 0 ? { countsOfRunning: [...this.runningCounts] } : {}),
      ...(this.throttleOverride !== undefined ? { throttle: this.throttleOverride } : {}),
      ...(this.lastStart ? { lastStart: this.lastStart } : {}),
    };
  }

  private restore(carry: CampaignCarry, chunkSize: number): void {
    this.chunkSize = chunkSize;
    this.templateId = carry.templateId;
    this.isPoll = carry.isPoll;
    this.validTotal = carry.validTotal;
    this.invalidRows = carry.invalidRows;
    this.issues = carry.issues;
    this.chunksTotal = carry.chunksTotal;
    this.pending = carry.pending;
    this.pendingIndexes = carry.pendingIndexes ?? carry.pending.map((_, i) => carry.nextChunk + i);
    this.unsent = new Set(carry.unsent);
    this.sent = fromRanges(carry.sent);
    this.finished = fromRanges(carry.finished);
    this.chunkCounts = addCounts(emptyCounts(), carry.chunkCounts); // outcomes added since have no key in older carries
    this.status = carry.status;
    this.parks = new Map(carry.parks ?? (carry.parked ? [[LEGACY_PARK, carry.parked]] : []));
    this.sizes = carry.sizes;
    this.retryOf = carry.retryOf;
    this.sendRequestIds = new Set(carry.sendRequestIds);
    this.sentRecipients = new Map(carry.awaiting);
    this.reconciling = new Set(carry.reconciling ?? []);
    this.finishedConsent = addConsent(emptyConsent(), carry.consent);
    this.runningConsent = new Map(carry.consentOfRunning ?? []);
    this.runningCounts = new Map((carry.countsOfRunning ?? []).map(([chunkIndex, counts]) => [chunkIndex, addCounts(emptyCounts(), counts)]));
    this.throttleOverride = carry.throttle;
    this.lastStart = carry.lastStart;
  }
}
