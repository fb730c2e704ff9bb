// The recipients of one chunk and everything known about them: a pure state machine. The chunk
// workflow (workflow.ts) calls one method per transition; nothing here talks to Temporal, so every
// transition and event order is unit-tested without a server (test/workflows/chunk-state.test.ts).
import type { DeliveryEvent } from '../../src/api/types';
import { emptyCounts } from '../../src/campaign/outcomes';
import type { FallbackOutcome, FallbackTrigger, OutcomeCounts, RecipientOutcome } from '../../src/campaign/outcomes';
import { CHUNK_ERROR_CODES } from '../../src/contracts/chunk';
import type { ChunkPhase, ChunkProgress, ControlAction, RecipientRecord, RecipientSnapshot, RecipientState } from '../../src/contracts/chunk';

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

  /** Pause and cancel only matter before the send; afterwards outcomes are followed to the end. Returns whether it applied. */
  control(action: ControlAction): boolean {
    if (this.sendRequestId !== undefined) return false;
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

  /** The CreateSendRequest call is going out now. */
  markSending(): void {
    this.markAll('sending', `send attempt ${this.sendAttempts}`);
  }

  /** Nothing was accepted; the next attempt waits until `retryAt`. */
  refused(codeName: string, retryAt: string): void {
    this.markAll('queued', `refused (${codeName})`);
    this.retryAt = retryAt;
    this.phase = 'waiting_retry';
  }

  retryDue(): void {
    this.retryAt = undefined;
  }

  /** The request will never be accepted as it is: every recipient ends with `outcome`. */
  rejected(outcome: RecipientOutcome, codeName: string, message: string): void {
    this.finishAll(outcome, codeName, `request rejected: ${message}`);
  }

  reconciling(): void {
    this.phase = 'reconciling';
  }

  /** Reconciliation is certain nothing was accepted: the send will be repeated. */
  notAccepted(): void {
    this.markAll('queued', 'not accepted (reconciled); sending again');
  }

  /** The send request exists (accepted, or adopted after reconciliation). */
  accepted(sendRequestId: string, how: string): void {
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
   * At the end of the consent window: still waiting for consent → expired; sent (or granted) but
   * no final event ever came → failed with NO_EVENT (we cannot claim a delivery we never saw).
   */
  expireUnsettled(): void {
    const at = this.isoNow();
    for (const record of this.records) {
      if (record.outcome !== undefined) continue;
      const expired = record.state === 'pending_consent';
      record.state = expired ? 'expired' : 'failed';
      record.errorCode = expired ? CHUNK_ERROR_CODES.consentWindowEnded : CHUNK_ERROR_CODES.noEvent;
      record.history.push({ at, event: expired ? 'consent window ended' : 'no final event by the end of the consent window' });
      this.settle(record, expired ? 'expired' : 'failed');
    }
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
    if (record.outcome !== undefined || RANK[state] <= RANK[record.state]) return;
    record.state = state;
    record.history.push({ at: this.isoNow(), event });
    if (errorCode) record.errorCode = errorCode;
    if (RANK[state] === FINAL_RANK) this.settle(record, state as RecipientOutcome);
  }

  private settle(record: RecipientRecord, outcome: RecipientOutcome): void {
    record.outcome = outcome;
    if (this.fallbackOn.includes(outcome as FallbackTrigger) && record.fallback === undefined) this.fallbackQueue.push(record);
  }

  /** Moves every recipient without an outcome to `state` (send bookkeeping). */
  private markAll(state: RecipientState, event: string): void {
    const at = this.isoNow();
    for (const record of this.records) {
      if (record.outcome !== undefined || record.state === state) continue;
      record.state = state;
      record.history.push({ at, event });
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
