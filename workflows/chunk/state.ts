// The recipients of one chunk and everything known about them: a pure state machine. The chunk
// workflow (workflow.ts) calls one method per transition; nothing here talks to Temporal, so every
// transition and event order is unit-tested without a server (test/workflows/chunk-state.test.ts).
import type { DeliveryEvent } from '../../src/api/types';
import { emptyCounts } from '../../src/campaign/outcomes';
import type { FallbackOutcome, FallbackTrigger, OutcomeCounts, RecipientOutcome } from '../../src/campaign/outcomes';
import { PARK_REASON_TEXT } from '../../src/contracts/campaign';
import { CHUNK_ERROR_CODES } from '../../src/contracts/chunk';
import type { ChunkBlock, ChunkPhase, ChunkProgress, ConfigurationFaultDetails, ControlAction, RecipientRecord, RecipientSnapshot, RecipientState } from '../../src/contracts/chunk';

export interface ChunkStateOptions {
  chunkIndex: number;
  /** Outcomes that call for a fallback (none without a fallback policy). */
  fallbackOn: readonly FallbackTrigger[];
  /** Start paused (the campaign was paused when it started this chunk). */
  paused?: boolean;
  /** Milliseconds since the epoch; the workflow's clock, which is deterministic. */
  now?: () => number;
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
};
const FINAL_RANK = 5;

/** Our consent window's own 'expired' (the API gave no final word yet): a late final event still replaces it. */
function expiredByOurWindow(record: RecipientRecord): boolean {
  return record.outcome === 'expired' && (record.errorCode === CHUNK_ERROR_CODES.consentWindowEnded || record.errorCode === CHUNK_ERROR_CODES.noEvent);
}

export class ChunkState {
  records: RecipientRecord[] = [];
  sendRequestId?: string;
  /** When the send was accepted (ms): the consent window runs from here. */
  sentAt?: number;
  sendAttempts = 0;
  /** When a refused send will be tried again (ISO). */
  retryAt?: string;
  paused: boolean;
  cancelled = false;
  phase: ChunkPhase = 'reading';
  /** A configuration fault holding the send or the fallbacks. */
  blocked?: ChunkBlock;
  /** A resume arrived while blocked: try again now instead of at `blocked.retryAt`. */
  wakeRequested = false;
  /** Between the end of our consent window and the chunk's close: late final events still apply. */
  private acceptingLate = false;
  private byPpnum = new Map<string, RecipientRecord>();
  /** Events that arrived before the records were loaded or the send request id was known. */
  private buffered: DeliveryEvent[] = [];
  /** Recipients whose outcome calls for a fallback, not yet dispatched. */
  private fallbackQueue: RecipientRecord[] = [];
  private readonly chunkIndex: number;
  private readonly fallbackOn: readonly FallbackTrigger[];
  private readonly now: () => number;

  constructor(options: ChunkStateOptions) {
    this.chunkIndex = options.chunkIndex;
    this.fallbackOn = options.fallbackOn;
    this.paused = options.paused ?? false;
    this.now = options.now ?? Date.now;
  }

  // ------------------------------------------------------------ before the send

  load(ppnums: string[]): void {
    const at = this.isoNow();
    this.records = ppnums.map((ppnum) => ({ ppnum, state: 'queued', history: [{ at, event: 'queued' }] }));
    this.byPpnum = new Map(this.records.map((record) => [record.ppnum, record]));
    this.applyBuffered();
  }

  /**
   * Pause and cancel only matter before the send; afterwards outcomes are followed to the end. A
   * resume also wakes a chunk held by a configuration fault (send or fallbacks). Returns whether it applied.
   */
  control(action: ControlAction): boolean {
    if (action === 'resume' && this.blocked) this.wakeRequested = true;
    if (this.sendRequestId !== undefined) return action === 'resume' && this.wakeRequested;
    if (action === 'pause') this.paused = true;
    else if (action === 'resume') this.paused = false;
    else this.cancelled = true;
    return true;
  }

  /** Waiting for a resume before the next attempt. */
  holdForPause(): void {
    this.phase = 'paused';
  }

  beginAttempt(attempt: number): void {
    this.sendAttempts = attempt;
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
    this.blocked = { reason: fault.reason, codeName: fault.codeName, message: fault.message, since: fresh ? this.isoNow() : this.blocked!.since, retryAt };
    this.wakeRequested = false;
    this.phase = 'blocked';
    // Before the send, its recipients go back to queued (quietly after the first time); nobody's outcome changes.
    if (this.sendRequestId === undefined) this.markAll('queued', `held: ${PARK_REASON_TEXT[fault.reason]} (${fault.codeName})`, !fresh);
    return fresh;
  }

  /** The fault cleared (the call got through, whatever its answer). Returns whether one was holding the chunk. */
  unblock(): boolean {
    const was = this.blocked !== undefined;
    this.blocked = undefined;
    this.wakeRequested = false;
    if (was && this.phase === 'blocked') this.phase = this.sendRequestId === undefined && !this.allSettled() ? 'sending' : 'fallback';
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
    this.sendRequestId = sendRequestId;
    this.sentAt = this.now();
    this.markAll('sent', `${how}: ${sendRequestId}`);
    this.phase = 'sent';
    this.applyBuffered();
  }

  /** Never sent (cancelled, or rejected/empty and already settled): whoever is left is cancelled. */
  finishUnsent(): void {
    this.finishAll('cancelled', undefined, 'cancelled before sending');
  }

  // ------------------------------------------------------------ after the send

  receive(events: readonly DeliveryEvent[]): void {
    for (const event of events) {
      if (this.sendRequestId === undefined || this.records.length === 0) this.buffered.push(event);
      else this.apply(event);
    }
  }

  /** Final statuses from the API's snapshot, applied like the events that would have carried them. */
  applySnapshot(snapshot: readonly RecipientSnapshot[]): void {
    for (const { ppnum, status, errorCode } of snapshot) {
      const record = this.byPpnum.get(ppnum);
      if (!record || record.outcome !== undefined) continue;
      const outcome: RecipientOutcome =
        status === 'DELIVERED' ? 'delivered' : errorCode === 'CONSENT_DENIED' ? 'denied' : errorCode === 'CONSENT_EXPIRED' ? 'expired' : 'failed';
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
    const at = this.isoNow();
    for (const record of this.records) {
      if (record.outcome !== undefined) continue;
      const waitingForConsent = record.state === 'pending_consent';
      const outcome: RecipientOutcome = waitingForConsent || !options.noEventFails ? 'expired' : 'failed';
      record.state = outcome;
      record.errorCode = waitingForConsent ? CHUNK_ERROR_CODES.consentWindowEnded : CHUNK_ERROR_CODES.noEvent;
      record.history.push({ at, event: waitingForConsent ? 'consent window ended' : 'no final event by the end of the consent window' });
      if (options.noEventFails) this.settle(record, outcome);
      else record.outcome = outcome;
    }
    this.acceptingLate = !options.noEventFails && this.records.some(expiredByOurWindow);
    if (this.acceptingLate) this.phase = 'closing';
  }

  /** Expired by our window, and still open to a late final event. */
  hasLateOpen(): boolean {
    return this.acceptingLate && this.records.some(expiredByOurWindow);
  }

  /** The grace after the window is over: the window's expiries are final, and get their fallbacks by policy. */
  closeLateEvents(): void {
    if (!this.acceptingLate) return;
    this.acceptingLate = false;
    if (!this.fallbackOn.includes('expired')) return;
    for (const record of this.records) if (expiredByOurWindow(record)) this.queueFallback(record);
  }

  unsettledPpnums(): string[] {
    return this.records.filter((record) => record.outcome === undefined).map((record) => record.ppnum);
  }

  allSettled(): boolean {
    return this.records.every((record) => record.outcome !== undefined);
  }

  // ------------------------------------------------------------ fallbacks

  hasFallbacksDue(): boolean {
    return this.fallbackQueue.length > 0;
  }

  /** Takes the next batch off the queue: a recipient is never handed out twice. */
  nextFallbackBatch(max: number): RecipientRecord[] {
    if (this.fallbackQueue.length > 0) this.phase = 'fallback';
    return this.fallbackQueue.splice(0, max);
  }

  /** A batch the channel could not take (a configuration fault): back to the front of the queue. */
  requeueFallbacks(batch: RecipientRecord[]): void {
    this.fallbackQueue.unshift(...batch.filter((record) => record.fallback === undefined && !this.fallbackQueue.includes(record)));
  }

  /**
   * A follow-up that retries fallbacks only: the recipients arrive with their final outcome from the
   * original campaign (they are not messaged again), and each gets its fallback once more.
   */
  loadForFallback(items: readonly { ppnum: string; outcome: RecipientOutcome }[], note: string): void {
    const at = this.isoNow();
    this.records = items.map(({ ppnum, outcome }) => ({ ppnum, state: outcome, outcome, history: [{ at, event: note }] }));
    this.byPpnum = new Map(this.records.map((record) => [record.ppnum, record]));
    this.fallbackQueue = [...this.records];
    this.phase = 'fallback';
  }

  recordFallback(ppnum: string, status: FallbackOutcome, error?: string): void {
    const record = this.byPpnum.get(ppnum);
    if (!record || record.fallback !== undefined) return;
    record.fallback = status;
    record.history.push({ at: this.isoNow(), event: status === 'sent' ? 'fallback sent' : `fallback failed${error ? `: ${error}` : ''}` });
  }

  finish(): void {
    this.phase = 'finished';
  }

  // ------------------------------------------------------------ reading

  counts(): OutcomeCounts {
    const counts = emptyCounts();
    for (const record of this.records) {
      if (record.outcome) counts[record.outcome] += 1;
      if (record.fallback === 'sent') counts.fallbackSent += 1;
      if (record.fallback === 'failed') counts.fallbackFailed += 1;
    }
    return counts;
  }

  pollResponses(): number {
    return this.records.filter((record) => record.responded).length;
  }

  progress(): ChunkProgress {
    const states: Partial<Record<RecipientState, number>> = {};
    for (const record of this.records) states[record.state] = (states[record.state] ?? 0) + 1;
    return {
      chunkIndex: this.chunkIndex,
      phase: this.phase,
      sendRequestId: this.sendRequestId,
      recipients: this.records.length,
      states,
      counts: this.counts(),
      sendAttempts: this.sendAttempts,
      retryAt: this.retryAt,
      ...(this.blocked ? { blocked: this.blocked } : {}),
      paused: this.paused,
      cancelled: this.cancelled,
    };
  }

  // ------------------------------------------------------------ internals

  private applyBuffered(): void {
    if (this.sendRequestId === undefined || this.records.length === 0) return;
    const events = this.buffered;
    this.buffered = [];
    for (const event of events) this.apply(event);
  }

  /** Idempotent by state: events for another request, for a final state, or that would move backwards are ignored. */
  private apply(event: DeliveryEvent): void {
    if (event.sendRequestId !== this.sendRequestId || event.ppnum === undefined) return;
    const record = this.byPpnum.get(event.ppnum);
    if (!record) return;
    switch (event.type) {
      case 'RECIPIENT_DELIVERED':
        return this.move(record, 'delivered', event.type);
      case 'RECIPIENT_FAILED':
        return this.move(record, event.errorCode === 'CONSENT_EXPIRED' ? 'expired' : 'failed', event.type, event.errorCode);
      case 'RECIPIENT_PENDING_CONSENT':
        return this.move(record, 'pending_consent', event.type);
      case 'CONSENT_GRANTED':
        return this.move(record, 'granted', event.type);
      case 'CONSENT_DENIED':
        return this.move(record, 'denied', event.type);
      case 'POLL_RESPONSE_RECEIVED':
        if (!record.responded) {
          record.responded = true;
          record.history.push({ at: this.isoNow(), event: event.type });
        }
        return;
      default:
        return; // REQUEST_COMPLETED and unknown types carry no recipient state
    }
  }

  private move(record: RecipientRecord, state: RecipientState, event: string, errorCode?: string): void {
    const late = this.acceptingLate && RANK[state] === FINAL_RANK && expiredByOurWindow(record);
    if (!late && (record.outcome !== undefined || RANK[state] <= RANK[record.state])) return;
    record.state = state;
    record.history.push({ at: this.isoNow(), event: late ? `${event} (after the consent window)` : event });
    if (errorCode) record.errorCode = errorCode;
    else if (late) delete record.errorCode;
    if (RANK[state] === FINAL_RANK) this.settle(record, state as RecipientOutcome);
  }

  private settle(record: RecipientRecord, outcome: RecipientOutcome): void {
    record.outcome = outcome;
    if (this.fallbackOn.includes(outcome as FallbackTrigger)) this.queueFallback(record);
  }

  private queueFallback(record: RecipientRecord): void {
    if (record.fallback === undefined && !this.fallbackQueue.includes(record)) this.fallbackQueue.push(record);
  }

  /** Moves every recipient without an outcome to `state` (send bookkeeping); `quiet` leaves their history alone. */
  private markAll(state: RecipientState, event: string, quiet = false): void {
    const at = this.isoNow();
    for (const record of this.records) {
      if (record.outcome !== undefined || record.state === state) continue;
      record.state = state;
      if (!quiet) record.history.push({ at, event });
    }
  }

  private finishAll(outcome: RecipientOutcome, errorCode: string | undefined, event: string): void {
    const at = this.isoNow();
    for (const record of this.records) {
      if (record.outcome !== undefined) continue;
      record.state = outcome;
      if (errorCode) record.errorCode = errorCode;
      record.history.push({ at, event });
      this.settle(record, outcome);
    }
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }
}
