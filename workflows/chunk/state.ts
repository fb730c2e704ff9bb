// The recipients of one chunk and everything known about them: a pure state machine. The chunk
// workflow (workflow.ts) calls one method per transition; nothing here talks to Temporal, so every
// transition and event order is unit-tested without a server (test/workflows/chunk-state.test.ts).
//
// History is kept compactly so a chunk can continue as new with all of it (ChunkCarry): the lines
// every recipient shares (queued, send attempts, accepted) are stored once for the chunk, and each
// recipient keeps only its own lines, as [epoch ms, text]. The `recipients` query puts them back
// together, so it and the report read the same as before.
import { countConsent, emptyConsent } from '../../src/campaign/consent';
import type { ConsentStats } from '../../src/campaign/consent';
import { emptyCounts } from '../../src/campaign/outcomes';
import type { FallbackOutcome, FallbackTrigger, OutcomeCounts, RecipientOutcome } from '../../src/campaign/outcomes';
import { PARK_REASON_TEXT } from '../../src/contracts/campaign';
import { CHUNK_ERROR_CODES } from '../../src/contracts/chunk';
import type { UntoldRoute } from '../../src/contracts/listener';
import type { ChunkBlock, ChunkEvent, ChunkPhase, ChunkProgress, ConfigurationFaultDetails, ControlAction, RecipientRecord, RecipientSnapshot, RecipientState } from '../../src/contracts/chunk';

export interface ChunkStateOptions {
  chunkIndex: number;
  /** Outcomes that call for a fallback (none without a fallback policy). */
  fallbackOn: readonly FallbackTrigger[];
  /** Start paused (the campaign was paused when it started this chunk). */
  paused?: boolean;
  /** Milliseconds since the epoch; the workflow's clock, which is deterministic. */
  now?: () => number;
  /** The plan's count of recipients, shown until they are read (ChunkInput.plannedRecipients). */
  plannedRecipients?: number;
  /** Recipients per send request (ChunkInput.requestSize): a larger chunk is sent as several, one after another. */
  requestSize?: number;
}

/**
 * One history line: when (epoch ms, the workflow's clock) and what. A shared line of a chunk sent
 * as several requests names the part it is about; the others are every recipient's.
 */
export type HistoryLine = [at: number, event: string, part?: number];

/** One of several send requests of a chunk: its recipients list[from, to). */
export interface SendPart {
  from: number;
  to: number;
  sendRequestId?: string;
  sentAt?: number;
  /** Accepted, and its route left to a later request's send (ChunkInput.routes): the listener workflow (this id) does not know it yet. */
  routeWaitsAt?: string;
}

/** One recipient, as the chunk keeps it (and carries it across continue-as-new): the record, compactly. */
export interface Recipient extends Omit<RecipientRecord, 'history'> {
  /** API time of RECIPIENT_PENDING_CONSENT (ms), until the decision is known. */
  askedAt?: number;
  /** This recipient's own lines (the chunk's shared lines come before them). */
  history: HistoryLine[];
}

/** What a chunk that is following outcomes carries into its next run. */
export interface ChunkCarry {
  /** This run's number (the first run is 1). */
  run: number;
  sendRequestId: string;
  sentAt: number;
  sendAttempts: number;
  /** History lines every recipient shares. */
  log: HistoryLine[];
  recipients: Recipient[];
  consentReport?: ConsentReport;
  /** A configuration fault holding the fallbacks (absent in carries from before faults held chunks). */
  blocked?: ChunkBlock;
  /** Our consent window has ended and late final events still apply (absent: no). */
  acceptingLate?: boolean;
  /** The campaign asked for chunkFinished by signal (absent: no). */
  reportFinishBySignal?: boolean;
  /** A chunk sent as several requests: each one's recipients and id (`sendRequestId` is the first's, `sentAt` the last's). */
  parts?: SendPart[];
}

/** The consent figures (and settled counts) last reported to the campaign, and when. */
interface ConsentReport {
  at: number;
  key: string;
  /** The counts reported with them (absent in carries from before reports were due on counts). */
  countsKey?: string;
}

/** A report the campaign should hear: the consent figures, and whether only the settled counts changed. */
export interface ReportDue {
  consent: ConsentStats;
  countsOnly: boolean;
}

/** Order of the states; an event never moves a recipient backwards, and rank 5 is final. */
const RANK: Record<RecipientState, number> = {
  queued: 0,
  sending: 1,
  sent: 2,
  pending_consent: 3,
  granted: 4,
  delivered: 5,
  failed: 5,
  denied: 5,
  expired: 5,
  invalid: 5,
  cancelled: 5,
  deadline: 5,
};
const FINAL_RANK = 5;

/** Our consent window's own 'expired' (the API gave no final word yet): a late final event still replaces it. */
function expiredByOurWindow(record: Recipient): boolean {
  return record.outcome === 'expired' && (record.errorCode === CHUNK_ERROR_CODES.consentWindowEnded || record.errorCode === CHUNK_ERROR_CODES.noEvent);
}

export class ChunkState {
  sendRequestId?: string;
  /** When the send was accepted (ms): the consent window runs from here. */
  sentAt?: number;
  sendAttempts = 0;
  /** When a refused send will be tried again (ISO). */
  retryAt?: string;
  paused: boolean;
  cancelled = false;
  phase: ChunkPhase = 'reading';
  run = 1;
  /** A configuration fault holding the send or the fallbacks. */
  blocked?: ChunkBlock;
  /** A resume arrived while blocked: try again now instead of at `blocked.retryAt`. */
  wakeRequested = false;
  /** The campaign asked for chunkFinished by signal: the run that started this chunk may have closed. */
  reportFinishBySignal = false;
  /** Between the end of our consent window and the chunk's close: late final events still apply. */
  private acceptingLate = false;
  private list: Recipient[] = [];
  private loaded = false;
  private log: HistoryLine[] = [];
  private byPpnum = new Map<string, Recipient>();
  /** Events that arrived before the records were loaded or the send request id was known. */
  private buffered: ChunkEvent[] = [];
  /** Recipients whose outcome calls for a fallback, not yet dispatched. */
  private fallbackQueue: Recipient[] = [];
  private consentReport?: ConsentReport;
  private readonly chunkIndex: number;
  private readonly fallbackOn: readonly FallbackTrigger[];
  private readonly now: () => number;
  private readonly plannedRecipients?: number;
  private readonly requestSize?: number;
  /** Set when the chunk is sent as several requests; `part` is the one being sent. */
  private parts?: SendPart[];
  private part = 0;
  /** Each recipient's part (with parts only). */
  private partOf = new Map<Recipient, number>();
  /** The figures over every recipient, counted once after each change (see tally()). */
  private tallied?: Tally;

  constructor(options: ChunkStateOptions) {
    this.chunkIndex = options.chunkIndex;
    this.plannedRecipients = options.plannedRecipients;
    this.requestSize = options.requestSize;
    this.fallbackOn = options.fallbackOn;
    this.paused = options.paused ?? false;
    this.now = options.now ?? Date.now;
  }

  /** A chunk that continued as new: sent, following outcomes, every recipient and line as it was. */
  static continued(options: ChunkStateOptions, carry: ChunkCarry): ChunkState {
    const chunk = new ChunkState({ ...options, paused: false });
    chunk.run = carry.run;
    chunk.sendRequestId = carry.sendRequestId;
    chunk.sentAt = carry.sentAt;
    chunk.sendAttempts = carry.sendAttempts;
    chunk.phase = 'sent';
    chunk.log = carry.log;
    chunk.consentReport = carry.consentReport;
    chunk.blocked = carry.blocked;
    chunk.acceptingLate = carry.acceptingLate ?? false;
    chunk.reportFinishBySignal = carry.reportFinishBySignal ?? false;
    if (chunk.acceptingLate) chunk.phase = 'closing';
    chunk.index(carry.recipients, carry.parts);
    // The previous run continued only with no fallback batch in flight: every recipient due one and
    // without it is still due (but for expiries our window gave while late events may still replace them).
    chunk.fallbackQueue = chunk.list.filter(
      (r) => r.outcome !== undefined && r.fallback === undefined && chunk.callsForFallback(r.outcome) && !(chunk.acceptingLate && expiredByOurWindow(r)),
    );
    return chunk;
  }

  /** Everything the next run needs; the chunk must be sent and have no fallback batch in flight. */
  carry(): ChunkCarry {
    if (this.sendRequestId === undefined || this.sentAt === undefined) throw new Error('only a sent chunk continues as new');
    return {
      run: this.run + 1,
      sendRequestId: this.sendRequestId,
      sentAt: this.sentAt,
      sendAttempts: this.sendAttempts,
      log: this.log,
      recipients: this.list,
      consentReport: this.consentReport,
      ...(this.blocked ? { blocked: this.blocked } : {}),
      ...(this.acceptingLate ? { acceptingLate: true } : {}),
      ...(this.reportFinishBySignal ? { reportFinishBySignal: true } : {}),
      ...(this.parts ? { parts: this.parts } : {}),
    };
  }

  // ------------------------------------------------------------ before the send

  load(ppnums: string[]): void {
    this.index(ppnums.map((ppnum) => ({ ppnum, state: 'queued', history: [] })), splitParts(ppnums.length, this.requestSize));
    this.log.push([this.now(), 'queued']);
    this.applyBuffered();
  }

  get size(): number {
    return this.list.length;
  }

  /** The recipients of the request being sent (the whole chunk, unless it is sent as several). */
  ppnums(): string[] {
    return this.scope().map((r) => r.ppnum);
  }

  /** Sent as several requests: how many, and the one being sent (its place among them, and its recipients). */
  sendPart(): { index: number; count: number; offset: number; size: number } | undefined {
    const part = this.parts?.[this.part];
    return part && { index: this.part, count: this.parts!.length, offset: part.from, size: part.to - part.from };
  }

  /**
   * Moves on to the next request to send, if any is left (a chunk sent as several): one not sent
   * yet, with recipients not settled already (by the deadline, a cancel).
   */
  nextPart(): boolean {
    if (!this.parts) return false;
    for (let next = this.part + 1; next < this.parts.length; next++) {
      if (this.toSend(this.parts[next]!)) {
        this.part = next;
        this.phase = 'sending';
        return true;
      }
    }
    return false;
  }

  /** Every accepted request's id, in the order they were sent (none: never sent). */
  sendRequestIds(): string[] {
    if (!this.parts) return this.sendRequestId === undefined ? [] : [this.sendRequestId];
    return this.parts.flatMap((part) => (part.sendRequestId === undefined ? [] : [part.sendRequestId]));
  }

  /** Recipients in accepted requests. */
  sentRecipients(): number {
    if (!this.parts) return this.sendRequestId === undefined ? 0 : this.list.length;
    return this.parts.reduce((sum, part) => sum + (part.sendRequestId === undefined ? 0 : part.to - part.from), 0);
  }

  /** Accepted requests whose routes wait for a later request's send (SendChunkInput.routesWithLast). */
  untoldRoutes(): UntoldRoute[] {
    return (this.parts ?? []).flatMap((part, index) => (part.routeWaitsAt !== undefined && part.sendRequestId !== undefined ? [{ sendRequestId: part.sendRequestId, index, acceptedAt: part.sentAt ?? this.now() }] : []));
  }

  /** The listener workflow the waiting routes are for (none waits: undefined). */
  untoldRoutesListener(): string | undefined {
    return this.parts?.find((part) => part.routeWaitsAt !== undefined)?.routeWaitsAt;
  }

  /** The request just accepted left its route to a later one's send. */
  routeWaits(listenerWorkflowId: string): void {
    const part = this.parts?.[this.part];
    if (part) part.routeWaitsAt = listenerWorkflowId;
  }

  /** Every waiting route was told (with a send, or by the chunk itself). */
  routesTold(): void {
    for (const part of this.parts ?? []) delete part.routeWaitsAt;
  }

  /** Whether the last request left to send is the one being sent: telling the campaign "sent" is due with its acceptance. */
  lastPartToSend(): boolean {
    return !this.parts || this.parts.slice(this.part + 1).every((part) => part.sendRequestId !== undefined);
  }

  /** Whether some request is still to be sent (every one, before the first acceptance). */
  private sendPending(): boolean {
    if (!this.parts) return this.sendRequestId === undefined;
    return this.parts.some((part) => this.toSend(part));
  }

  /** A request not sent yet whose recipients are not all settled already (by the deadline, a cancel). */
  private toSend(part: SendPart): boolean {
    return part.sendRequestId === undefined && this.recipientsOf(part).some((r) => r.outcome === undefined);
  }

  /**
   * Pause and cancel only matter before the send; afterwards outcomes are followed to the end. A
   * resume also wakes a chunk held by a configuration fault (send or fallbacks). Returns whether it applied.
   */
  control(action: ControlAction): boolean {
    if (action === 'resume' && this.blocked) this.wakeRequested = true;
    if (!this.sendPending()) return action === 'resume' && this.wakeRequested;
    if (action === 'pause') this.paused = true;
    else if (action === 'resume') this.paused = false;
    else this.cancelled = true;
    return true;
  }

  /** Outside the send window: nobody's state changes; the next attempt is at `opensAt` (ISO). */
  holdForWindow(opensAt: string): void {
    this.phase = 'window';
    this.retryAt = opensAt;
  }

  /** Waiting for a resume before the next attempt. */
  holdForPause(): void {
    this.phase = 'paused';
  }

  beginAttempt(attempt: number): void {
    this.sendAttempts = attempt;
    if (this.phase === 'window') this.retryAt = undefined;
    this.phase = 'sending';
  }

  /** The CreateSendRequest call is going out now (quietly while a fault holds it: one history entry per fault, not per retry). */
  markSending(): void {
    this.markAll('sending', `send attempt ${this.sendAttempts}`, this.blocked !== undefined);
  }

  /** Nothing was accepted; the next attempt waits until `retryAt`. */
  refused(codeName: string, retryAt: string): void {
    this.unblock();
    this.markAll('queued', `refused (${codeName})`);
    this.retryAt = retryAt;
    this.phase = 'waiting_retry';
  }

  /**
   * A configuration fault (credentials, permission, template, host, fallback channel) holds the
   * chunk: nothing was accepted, nobody's outcome changes, and it tries again at `retryAt`.
   * Returns whether this is a new fault (the first, or another reason), which the campaign is told of.
   */
  blockedBy(fault: Pick<ConfigurationFaultDetails, 'reason' | 'codeName' | 'message'>, retryAt: string): boolean {
    const fresh = this.blocked?.reason !== fault.reason || this.blocked.codeName !== fault.codeName;
    this.blocked = { reason: fault.reason, codeName: fault.codeName, message: fault.message, since: fresh ? iso(this.now()) : this.blocked!.since, retryAt };
    this.wakeRequested = false;
    this.phase = 'blocked';
    // Before the send, its recipients go back to queued (quietly after the first time); nobody's outcome changes.
    if (this.sendPending()) this.markAll('queued', `held: ${PARK_REASON_TEXT[fault.reason]} (${fault.codeName})`, !fresh);
    return fresh;
  }

  /** The fault cleared (the call got through, whatever its answer). Returns whether one was holding the chunk. */
  unblock(): boolean {
    const was = this.blocked !== undefined;
    this.blocked = undefined;
    this.wakeRequested = false;
    if (was && this.phase === 'blocked') this.phase = this.sendPending() && !this.allSettled() ? 'sending' : 'fallback';
    return was;
  }

  retryDue(): void {
    this.retryAt = undefined;
  }

  /** The request will never be accepted as it is: every recipient ends with `outcome`. */
  rejected(outcome: RecipientOutcome, codeName: string, message: string): void {
    this.unblock();
    this.finishAll(outcome, codeName, `request rejected: ${message}`);
  }

  reconciling(): void {
    this.unblock();
    this.phase = 'reconciling';
  }

  /** Reconciliation is certain nothing was accepted: the send will be repeated. */
  notAccepted(): void {
    this.markAll('queued', 'not accepted (reconciled); sending again');
  }

  /** The send request exists (accepted, or adopted after reconciliation). */
  accepted(sendRequestId: string, how: string): void {
    this.unblock();
    const part = this.parts?.[this.part];
    if (part) {
      part.sendRequestId = sendRequestId;
      part.sentAt = this.now();
    }
    this.sendRequestId ??= sendRequestId;
    this.sentAt = this.now();
    this.markAll('sent', `${how}: ${sendRequestId}`);
    this.phase = 'sent';
    this.applyBuffered();
  }

  /** The campaign's deadline passed before the send: whoever has no outcome ends 'deadline', nothing is sent. */
  deadlinePassed(): void {
    this.unblock();
    this.retryAt = undefined;
    this.finishAll('deadline', CHUNK_ERROR_CODES.deadline, 'not sent: the campaign deadline passed');
  }

  /** Never sent (cancelled, or rejected/empty and already settled): whoever is left is cancelled. */
  finishUnsent(): void {
    if (!this.parts) return this.finishAll('cancelled', undefined, 'cancelled before sending');
    this.parts.forEach((part, index) => {
      if (part.sendRequestId !== undefined) return;
      this.part = index;
      this.finishAll('cancelled', undefined, 'cancelled before sending');
    });
  }

  // ------------------------------------------------------------ after the send

  receive(events: readonly ChunkEvent[]): void {
    for (const event of events) {
      if (this.sendRequestId === undefined || this.list.length === 0 || this.unknownYet(event.sendRequestId)) this.buffered.push(event);
      else this.apply(event);
    }
  }

  /** An event of a request this chunk has not heard accepted yet, while some of its requests are still to be sent. */
  private unknownYet(sendRequestId: string): boolean {
    return this.parts !== undefined && !this.parts.some((part) => part.sendRequestId === sendRequestId) && this.parts.some((part) => part.sendRequestId === undefined);
  }

  /** Final statuses from the API's snapshot, applied like the events that would have carried them. */
  applySnapshot(snapshot: readonly RecipientSnapshot[]): void {
    this.changed();
    for (const { ppnum, status, errorCode } of snapshot) {
      const record = this.byPpnum.get(ppnum);
      if (!record || record.outcome !== undefined) continue;
      const outcome: RecipientOutcome =
        status === 'DELIVERED' ? 'delivered' : errorCode === 'CONSENT_DENIED' ? 'denied' : errorCode === 'CONSENT_EXPIRED' ? 'expired' : 'failed';
      if (record.consent === 'asked') record.consent = outcome === 'delivered' ? 'granted' : outcome === 'denied' ? 'denied' : outcome === 'expired' ? 'expired' : 'asked';
      this.move(record, outcome, `status snapshot: ${status}${errorCode ? ` ${errorCode}` : ''}`, errorCode);
    }
  }

  /**
   * At the end of our consent window, whoever has no final outcome is expired: still waiting for
   * consent (CONSENT_WINDOW_ENDED), or sent without a final event (NO_EVENT). Never 'failed': the
   * window ending says nothing bad about the recipient. Until `closeLateEvents`, a late final
   * event (a delivery, a denial) still replaces this expiry; their fallbacks wait until then.
   * `noEventFails`: the rule of histories recorded before (NO_EVENT failed, everything final at once).
   */
  expireUnsettled(options: { noEventFails?: boolean } = {}): void {
    this.changed();
    const at = this.now();
    for (const record of this.list) {
      if (record.outcome !== undefined) continue;
      const waitingForConsent = record.state === 'pending_consent';
      const outcome: RecipientOutcome = waitingForConsent || !options.noEventFails ? 'expired' : 'failed';
      record.state = outcome;
      record.errorCode = waitingForConsent ? CHUNK_ERROR_CODES.consentWindowEnded : CHUNK_ERROR_CODES.noEvent;
      if (waitingForConsent && record.consent === 'asked') record.consent = 'expired';
      record.history.push([at, waitingForConsent ? 'consent window ended' : 'no final event by the end of the consent window']);
      if (options.noEventFails) this.settle(record, outcome);
      else record.outcome = outcome;
    }
    this.acceptingLate = !options.noEventFails && this.list.some(expiredByOurWindow);
    if (this.acceptingLate) this.phase = 'closing';
  }

  /** Expired by our window, and still open to a late final event. */
  hasLateOpen(): boolean {
    return this.acceptingLate && this.tally().lateOpen > 0;
  }

  /** The grace after the window is over: the window's expiries are final, and get their fallbacks by policy. */
  closeLateEvents(): void {
    if (!this.acceptingLate) return;
    this.acceptingLate = false;
    if (!this.callsForFallback('expired')) return;
    for (const record of this.list) if (expiredByOurWindow(record)) this.queueFallback(record);
  }

  /** The unsettled recipients of each accepted request (a status snapshot is asked per request). */
  unsettledByRequest(): { sendRequestId: string; ppnums: string[] }[] {
    const parts = this.parts ?? (this.sendRequestId === undefined ? [] : [{ from: 0, to: this.list.length, sendRequestId: this.sendRequestId }]);
    return parts.flatMap(({ from, to, sendRequestId }) => {
      const ppnums = this.recipientsOf({ from, to }).filter((record) => record.outcome === undefined).map((record) => record.ppnum);
      return sendRequestId === undefined || ppnums.length === 0 ? [] : [{ sendRequestId, ppnums }];
    });
  }

  allSettled(): boolean {
    return this.tally().settled === this.list.length;
  }

  // ------------------------------------------------------------ fallbacks

  hasFallbacksDue(): boolean {
    return this.fallbackQueue.length > 0;
  }

  /** Takes the next batch off the queue: a recipient is never handed out twice. */
  nextFallbackBatch(max: number): { ppnum: string; outcome: RecipientOutcome }[] {
    if (this.fallbackQueue.length > 0) this.phase = 'fallback';
    return this.fallbackQueue.splice(0, max).map((record) => ({ ppnum: record.ppnum, outcome: record.outcome! }));
  }

  /** A batch the channel could not take (a configuration fault): back to the front of the queue. */
  requeueFallbacks(batch: readonly { ppnum: string }[]): void {
    const records = batch.map((item) => this.byPpnum.get(item.ppnum)).filter((record): record is Recipient => record !== undefined);
    this.fallbackQueue.unshift(...records.filter((record) => record.fallback === undefined && !this.fallbackQueue.includes(record)));
  }

  /**
   * A follow-up that retries fallbacks only: the recipients arrive with their final outcome from the
   * original campaign (they are not messaged again), and each gets its fallback once more.
   */
  loadForFallback(items: readonly { ppnum: string; outcome: RecipientOutcome }[], note: string): void {
    this.index(items.map(({ ppnum, outcome }) => ({ ppnum, state: outcome, outcome, history: [] })));
    this.log.push([this.now(), note]);
    this.fallbackQueue = [...this.list];
    this.phase = 'fallback';
  }

  recordFallback(ppnum: string, status: FallbackOutcome, error?: string): void {
    const record = this.byPpnum.get(ppnum);
    if (!record || record.fallback !== undefined) return;
    this.changed();
    record.fallback = status;
    record.history.push([this.now(), status === 'sent' ? 'fallback sent' : `fallback failed${error ? `: ${error}` : ''}`]);
  }

  finish(): void {
    this.phase = 'finished';
  }

  // ------------------------------------------------------------ consent reports to the campaign

  /**
   * When the campaign should hear this chunk's figures: they changed since the last report (the
   * consent figures, or with `counts` also the settled counts alone, e.g. a delivery after a grant),
   * and that report is at least `everyMs` old (the first one waits `everyMs` from the send).
   */
  reportDue(everyMs: number, options: { counts?: boolean } = {}): ReportDue | undefined {
    const last = this.consentReport?.at ?? this.sentAt;
    if (last === undefined || this.now() - last < everyMs) return undefined;
    return this.unreported(options);
  }

  /** When figures that changed since the last report may be reported, if only that report's age holds them back. */
  reportHeldUntil(everyMs: number, options: { counts?: boolean } = {}): number | undefined {
    const last = this.consentReport?.at ?? this.sentAt;
    if (last === undefined || this.now() - last >= everyMs) return undefined;
    return this.unreported(options) ? last + everyMs : undefined;
  }

  private unreported(options: { counts?: boolean }): ReportDue | undefined {
    const consent = this.consent();
    if (JSON.stringify(consent) !== this.consentReport?.key) return { consent, countsOnly: false };
    return options.counts && JSON.stringify(this.counts()) !== this.consentReport.countsKey ? { consent, countsOnly: true } : undefined;
  }

  /** Whether a report (of this run, or carried from the one before) told the campaign counts. */
  reportedCounts(): boolean {
    return this.consentReport?.countsKey !== undefined;
  }

  /** The campaign is told these consent figures and the chunk's counts as they are now (returned, for the report). */
  reported(consent: ConsentStats): OutcomeCounts {
    const counts = this.counts();
    this.consentReport = { at: this.now(), key: JSON.stringify(consent), countsKey: JSON.stringify(counts) };
    return counts;
  }

  // ------------------------------------------------------------ reading

  /** Every recipient with its whole history, as the `recipients` query and the report show it. */
  recipients(): RecipientRecord[] {
    return this.list.map((r) => {
      const part = this.partOf.get(r);
      const shared = part === undefined ? this.log : this.log.filter((line) => line[2] === undefined || line[2] === part);
      const record: RecipientRecord = { ppnum: r.ppnum, state: r.state, history: merged(shared, r.history).map(([at, event]) => ({ at: iso(at), event })) };
      if (r.outcome !== undefined) record.outcome = r.outcome;
      if (r.fallback !== undefined) record.fallback = r.fallback;
      if (r.errorCode !== undefined) record.errorCode = r.errorCode;
      if (r.responded) record.responded = true;
      if (r.consent !== undefined) record.consent = r.consent;
      if (r.consentDecisionMs !== undefined) record.consentDecisionMs = r.consentDecisionMs;
      return record;
    });
  }

  counts(): OutcomeCounts {
    return { ...this.tally().counts };
  }

  consent(): ConsentStats {
    const { consent } = this.tally();
    return { ...consent, decisionHistogram: [...consent.decisionHistogram] };
  }

  pollResponses(): number {
    return this.tally().responded;
  }

  progress(): ChunkProgress {
    const states = { ...this.tally().states };
    return {
      chunkIndex: this.chunkIndex,
      phase: this.phase,
      sendRequestId: this.sendRequestId,
      ...(this.parts ? { sendRequests: { sent: this.sendRequestIds().length, total: this.parts.length } } : {}),
      ...(this.loaded || this.plannedRecipients === undefined ? { recipients: this.list.length } : { recipients: this.plannedRecipients, unread: true as const }),
      states,
      counts: this.counts(),
      sendAttempts: this.sendAttempts,
      retryAt: this.retryAt,
      ...(this.blocked ? { blocked: this.blocked } : {}),
      paused: this.paused,
      cancelled: this.cancelled,
      consent: this.consent(),
      run: this.run,
    };
  }

  // ------------------------------------------------------------ internals

  /**
   * The figures every event, condition and Web UI update reads, counted in one pass and kept until
   * the next change: a 5,000-recipient chunk read them several times per workflow task.
   */
  private tally(): Tally {
    return (this.tallied ??= tallyOf(this.list));
  }

  /**
   * A recipient (or the list) is about to change: the figures are counted again when next read.
   * Called first by every method through which recipients change (apply, applySnapshot,
   * expireUnsettled, recordFallback, markAll, finishAll, index); their helpers need not.
   */
  private changed(): void {
    this.tallied = undefined;
  }

  private index(recipients: Recipient[], parts?: SendPart[]): void {
    this.changed();
    this.loaded = true;
    this.list = recipients;
    this.byPpnum = new Map(recipients.map((record) => [record.ppnum, record]));
    this.parts = parts;
    this.partOf = new Map(parts?.flatMap((part, index) => this.recipientsOf(part).map((record): [Recipient, number] => [record, index])));
  }

  private recipientsOf(part: Pick<SendPart, 'from' | 'to'>): Recipient[] {
    return this.list.slice(part.from, part.to);
  }

  /** The recipients of the request being sent: the whole chunk, or its part when sent as several. */
  private scope(): Recipient[] {
    const part = this.parts?.[this.part];
    return part ? this.recipientsOf(part) : this.list;
  }

  /** A line shared by the recipients of the request being sent. */
  private shareLine(at: number, event: string): void {
    this.log.push(this.parts ? [at, event, this.part] : [at, event]);
  }

  private callsForFallback(outcome: RecipientOutcome): boolean {
    return this.fallbackOn.includes(outcome as FallbackTrigger);
  }

  private applyBuffered(): void {
    if (this.sendRequestId === undefined || this.list.length === 0) return;
    const events = this.buffered;
    this.buffered = [];
    if (this.parts) this.receive(events); // those of requests not sent yet wait again
    else for (const event of events) this.apply(event);
  }

  /** Idempotent by state: events for another request, for a final state, or that would move backwards are ignored. */
  private apply(event: ChunkEvent): void {
    if (event.ppnum === undefined) return;
    if (!this.parts && event.sendRequestId !== this.sendRequestId) return;
    const record = this.byPpnum.get(event.ppnum);
    if (!record) return;
    if (this.parts && this.parts[this.partOf.get(record)!]?.sendRequestId !== event.sendRequestId) return;
    this.changed();
    switch (event.type) {
      case 'RECIPIENT_DELIVERED':
        record.consent ??= 'already-consented';
        return this.move(record, 'delivered', event.type);
      case 'RECIPIENT_FAILED': {
        const expired = event.errorCode === 'CONSENT_EXPIRED';
        if (expired && record.consent === 'asked') record.consent = 'expired';
        record.consent ??= 'already-consented';
        return this.move(record, expired ? 'expired' : 'failed', event.type, event.errorCode);
      }
      case 'RECIPIENT_PENDING_CONSENT':
        if (record.consent === undefined) {
          record.consent = 'asked';
          record.askedAt = event.at;
        }
        return this.move(record, 'pending_consent', event.type);
      case 'CONSENT_GRANTED':
        this.decided(record, 'granted', event.at);
        return this.move(record, 'granted', event.type);
      case 'CONSENT_DENIED':
        this.decided(record, 'denied', event.at);
        return this.move(record, 'denied', event.type);
      case 'POLL_RESPONSE_RECEIVED':
        if (!record.responded) {
          record.responded = true;
          record.history.push([this.now(), event.type]);
        }
        return;
      default:
        return; // REQUEST_COMPLETED and unknown types carry no recipient state
    }
  }

  /** A grant or denial: after being asked it is a decision (with its time); without, a denial is one made before. */
  private decided(record: Recipient, decision: 'granted' | 'denied', at: number | undefined): void {
    // A decision after our window ended (a late event) replaces the window's 'expired'.
    if (record.consent === 'asked' || (record.consent === 'expired' && this.acceptingLate)) {
      record.consent = decision;
      if (at !== undefined && record.askedAt !== undefined) record.consentDecisionMs = Math.max(0, at - record.askedAt);
      record.askedAt = undefined;
    } else if (record.consent === undefined) {
      record.consent = decision === 'denied' ? 'already-denied' : 'granted';
    }
  }

  private move(record: Recipient, state: RecipientState, event: string, errorCode?: string): void {
    const late = this.acceptingLate && RANK[state] === FINAL_RANK && expiredByOurWindow(record);
    if (!late && (record.outcome !== undefined || RANK[state] <= RANK[record.state])) return;
    record.state = state;
    record.history.push([this.now(), late ? `${event} (after the consent window)` : event]);
    if (errorCode) record.errorCode = errorCode;
    else if (late) delete record.errorCode;
    if (RANK[state] === FINAL_RANK) this.settle(record, state as RecipientOutcome);
  }

  private settle(record: Recipient, outcome: RecipientOutcome): void {
    record.outcome = outcome;
    if (this.callsForFallback(outcome)) this.queueFallback(record);
  }

  private queueFallback(record: Recipient): void {
    if (record.fallback === undefined && !this.fallbackQueue.includes(record)) this.fallbackQueue.push(record);
  }

  /** Moves every recipient without an outcome to `state` (send bookkeeping); `quiet` leaves their history alone. */
  private markAll(state: RecipientState, event: string, quiet = false): void {
    this.changed();
    const at = this.now();
    const scope = this.scope();
    const moving = scope.filter((record) => record.outcome === undefined && record.state !== state);
    if (moving.length === 0) return;
    if (quiet) {
      for (const record of moving) record.state = state;
      return;
    }
    const shared = moving.length === scope.length;
    if (shared) this.shareLine(at, event);
    for (const record of moving) {
      record.state = state;
      if (!shared) record.history.push([at, event]);
    }
  }

  private finishAll(outcome: RecipientOutcome, errorCode: string | undefined, event: string): void {
    this.changed();
    const at = this.now();
    const scope = this.scope();
    // The line applies to every recipient of the request alike while none has an outcome yet.
    const shared = scope.length > 0 && scope.every((record) => record.outcome === undefined);
    if (shared) this.shareLine(at, event);
    for (const record of scope) {
      if (record.outcome !== undefined) continue;
      record.state = outcome;
      if (errorCode) record.errorCode = errorCode;
      if (!shared) record.history.push([at, event]);
      this.settle(record, outcome);
    }
  }
}

/** Figures over a chunk's recipients (ChunkState.tally). */
interface Tally {
  states: Partial<Record<RecipientState, number>>;
  counts: OutcomeCounts;
  consent: ConsentStats;
  /** Recipients with an outcome. */
  settled: number;
  responded: number;
  /** Expired by our window, still open to a late final event. */
  lateOpen: number;
}

function tallyOf(list: readonly Recipient[]): Tally {
  const tally: Tally = { states: {}, counts: emptyCounts(), consent: emptyConsent(), settled: 0, responded: 0, lateOpen: 0 };
  for (const record of list) {
    tally.states[record.state] = (tally.states[record.state] ?? 0) + 1;
    if (record.outcome) {
      tally.counts[record.outcome] += 1;
      tally.settled += 1;
      if (expiredByOurWindow(record)) tally.lateOpen += 1;
    }
    if (record.fallback === 'sent') tally.counts.fallbackSent += 1;
    if (record.fallback === 'failed') tally.counts.fallbackFailed += 1;
    if (record.responded) tally.responded += 1;
    countConsent(tally.consent, record.consent, record.consentDecisionMs);
  }
  return tally;
}

/** Two time-ordered line lists as one (the chunk's shared lines first on equal times). */
function merged(shared: readonly HistoryLine[], own: readonly HistoryLine[]): HistoryLine[] {
  const out: HistoryLine[] = [];
  let i = 0;
  let j = 0;
  while (i < shared.length || j < own.length) {
    if (j >= own.length || (i < shared.length && shared[i]![0] <= own[j]![0])) out.push(shared[i++]!);
    else out.push(own[j++]!);
  }
  return out;
}

/** A chunk larger than one request goes as several of `requestSize`, in list order; none when one request holds it. */
function splitParts(size: number, requestSize: number | undefined): SendPart[] | undefined {
  if (requestSize === undefined || size <= requestSize) return undefined;
  const parts: SendPart[] = [];
  for (let from = 0; from < size; from += requestSize) parts.push({ from, to: Math.min(size, from + requestSize) });
  return parts;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
