// Chunk workflow (id campaign/<id>/chunk/<n>): one CreateSendRequest of at most 1,000 recipients,
// and those recipients' state machine until each has a final outcome and, by policy, a fallback.
//
// Exactly once: the workflow decides every retry of the send itself (the activity runs once per
// attempt). Refused → wait the server's hint on a workflow timer and try again; rejected → the
// recipients are invalid/failed; ambiguous or timed out → reconcile (adopt the accepted request, or
// resend only when reconciliation is certain nothing was accepted).
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index';
import type { RecipientSnapshot } from '../activities/send';
import type { DeliveryEvent } from '../src/api/types';
import { emptyCounts, fallbackTriggers } from '../src/campaign/spec';
import type { FallbackTrigger, OutcomeCounts, RecipientOutcome } from '../src/campaign/spec';
import { SEND_REQUEST_ID_KEY, TASK_QUEUES } from '../src/temporal/names';
import {
  chunkControlSignal,
  chunkFailedSignal,
  chunkFinishedSignal,
  chunkParkedSignal,
  chunkProgressQuery,
  chunkRecipientsQuery,
  chunkSentSignal,
  deliveryEventsSignal,
} from './messages';
import type { ChunkInput, ChunkPhase, ChunkProgress, ChunkResult, RecipientRecord, RecipientState } from './messages';

type Activities = ReturnType<typeof createActivities>;

/** Short reads run as local activities: one history event each instead of a task round trip. */
const { readChunkPpnums, beginSend } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Reconciliation reads the event stream for a settle period: a regular activity. */
const { reconcileSend, snapshotOutcomes } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  // The activity heartbeats every few seconds: a dead worker costs seconds, not the full 5 minutes.
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * One attempt per schedule: the workflow, not Temporal, decides whether a send may be repeated.
 * The queue is the rate-limited send queue; a deployment (or a test) may name another one in the
 * workflow memo `sendTaskQueue`, which the campaign passes on to its chunks.
 */
function sendActivities() {
  const memoQueue = workflowInfo().memo?.[SEND_TASK_QUEUE_MEMO];
  return proxyActivities<Activities>({
    taskQueue: typeof memoQueue === 'string' ? memoQueue : TASK_QUEUES.send,
    startToCloseTimeout: '30 seconds',
    // A dead worker mid-send is found in seconds (the activity heartbeats every second), then reconciled.
    heartbeatTimeout: '5 seconds',
    retry: { maximumAttempts: 1 },
  });
}

/** Memo key naming the send task queue (default TASK_QUEUES.send). */
export const SEND_TASK_QUEUE_MEMO = 'sendTaskQueue';

/** Fallbacks are idempotent per recipient (key campaignId:ppnum), so Temporal may retry them. */
const { sendFallbacks } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
});

/** A refused send waiting longer than this parks the campaign (visible to the user). */
const PARK_AFTER_MS = 60_000;
const MAX_BACKOFF_MS = 60_000;
const FALLBACK_BATCH = 100;
/** Error code for a recipient sent but without any event by the end of the consent window. */
export const NO_EVENT = 'NO_EVENT';
/** Error code for a recipient still waiting for consent when our consent window ended. */
export const CONSENT_WINDOW_ENDED = 'CONSENT_WINDOW_ENDED';

/** Order of the non-final states; an event never moves a recipient backwards. */
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

export async function chunkWorkflow(input: ChunkInput): Promise<ChunkResult> {
  const chunk = new ChunkState(input);
  // Handlers before the first await, so no early signal or query is missed.
  setHandler(deliveryEventsSignal, ({ events }) => chunk.receive(events));
  setHandler(chunkControlSignal, ({ action }) => chunk.control(action));
  setHandler(chunkRecipientsQuery, () => chunk.records);
  setHandler(chunkProgressQuery, () => chunk.progress());
  try {
    return await runChunk(chunk, input);
  } catch (err) {
    // The campaign may have continued as new since it started this chunk; then no run of it
    // awaits our result, so the failure is reported by signal like every other outcome.
    if (patched(REPORT_CHUNK_FAILURE)) {
      const reason = innermostMessage(err);
      await CancellationScope.nonCancellable(() => signalParent(input, (parent) => parent.signal(chunkFailedSignal, { chunkIndex: input.chunkIndex, reason })));
    }
    throw err;
  }
}

/** Patch id: histories recorded before chunks reported their own failure replay without the signal. */
const REPORT_CHUNK_FAILURE = 'report-chunk-failure';

async function runChunk(chunk: ChunkState, input: ChunkInput): Promise<ChunkResult> {
  chunk.load(input.source.kind === 'inline' ? input.source.recipients.map((r) => r.ppnum) : await readChunkPpnums(input.source));
  if (chunk.records.length > 0) await send(chunk, input);
  if (chunk.sendRequestId === undefined) {
    chunk.finishUnsent(); // cancelled, or already settled by a rejection
    await dispatchFallbacks(chunk, input); // a rejected request's 'failed' recipients, if the policy says so
  } else {
    await followOutcomes(chunk, input);
  }

  chunk.setPhase('finished');
  const counts = chunk.counts();
  await signalParent(input, (parent) =>
    parent.signal(chunkFinishedSignal, { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId, counts, pollResponses: chunk.pollResponses() }),
  );
  await condition(allHandlersFinished);
  return { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId, counts };
}

/** Sends once, retrying only when it is certain nothing was accepted; ends with a send request id, or none (cancelled/rejected). */
async function send(chunk: ChunkState, input: ChunkInput): Promise<void> {
  const { createSendRequest } = sendActivities();
  const ppnums = chunk.records.map((r) => r.ppnum);
  for (let attempt = 1; ; attempt++) {
    if (chunk.paused) chunk.setPhase('paused');
    await condition(() => !chunk.paused || chunk.cancelled);
    if (chunk.cancelled) return;
    chunk.sendAttempts = attempt;
    chunk.setPhase('sending');
    // A fresh cursor per attempt is enough: earlier attempts are known to have been accepted nowhere.
    const { cursorBefore } = await beginSend();
    if (chunk.paused || chunk.cancelled) continue; // arrived while taking the cursor: act before sending
    chunk.markAll('sending', 'send attempt ' + attempt);
    try {
      const receipt = await createSendRequest({ templateId: input.templateId, source: input.source, pollConfig: input.pollConfig });
      return await adopt(chunk, input, receipt.sendRequestId, 'accepted');
    } catch (err) {
      const failure = sendFailureOf(err);
      if (failure.kind === 'refused') {
        chunk.markAll('queued', `refused (${failure.codeName})`);
        const waitMs = failure.retryAfterMs ?? backoff(attempt);
        const until = new Date(Date.now() + waitMs).toISOString();
        chunk.retryAt = until;
        chunk.setPhase('waiting_retry');
        if (failure.quota || waitMs > PARK_AFTER_MS) {
          const reason = failure.quota ? 'quota' : 'rate';
          await signalParent(input, (parent) => parent.signal(chunkParkedSignal, { chunkIndex: input.chunkIndex, until, reason }));
        }
        // Exactly the server's hint; a cancel ends the wait at once.
        await condition(() => chunk.cancelled, waitMs);
        chunk.retryAt = undefined;
        continue;
      }
      if (failure.kind === 'rejected') {
        const outcome: RecipientOutcome = failure.codeName === 'INVALID_ARGUMENT' ? 'invalid' : 'failed';
        chunk.finishAll(outcome, failure.codeName, `request rejected: ${failure.message}`);
        return;
      }
      if (failure.kind === 'empty') return;
      // Ambiguous (INTERNAL, deadline, lost connection) or the activity timed out (worker died):
      // the request may have been accepted. Look before sending again.
      chunk.setPhase('reconciling');
      const { sendRequestId } = await reconcileSend({ cursorBefore, ppnums, templateId: input.templateId });
      if (sendRequestId !== null) return await adopt(chunk, input, sendRequestId, 'adopted after reconciliation');
      chunk.markAll('queued', 'not accepted (reconciled); sending again');
      await sleep(backoff(attempt));
    }
  }
}

async function adopt(chunk: ChunkState, input: ChunkInput, sendRequestId: string, how: string): Promise<void> {
  chunk.sendRequestId = sendRequestId;
  chunk.sentAt = Date.now();
  upsertSearchAttributes([{ key: SEND_REQUEST_ID_KEY, value: sendRequestId }]);
  chunk.markAll('sent', `${how}: ${sendRequestId}`);
  chunk.setPhase('sent');
  chunk.applyBuffered();
  await signalParent(input, (parent) =>
    parent.signal(chunkSentSignal, { chunkIndex: input.chunkIndex, sendRequestId, recipients: chunk.records.length }),
  );
}

/**
 * Applies events until every recipient has an outcome or the consent window (from the send) ends,
 * dispatching fallbacks as soon as outcomes named by the policy appear.
 */
async function followOutcomes(chunk: ChunkState, input: ChunkInput): Promise<void> {
  const deadline = (chunk.sentAt ?? Date.now()) + input.consentWindowMs;
  for (;;) {
    await dispatchFallbacks(chunk, input);
    if (chunk.allSettled()) break;
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await condition(() => chunk.allSettled() || chunk.fallbackQueue.length > 0, remaining);
  }
  // Before declaring anyone expired, ask the API itself: the stream may be late (listener down).
  if (!chunk.allSettled() && chunk.sendRequestId !== undefined && patched(SNAPSHOT_BEFORE_EXPIRY)) {
    const unsettled = chunk.records.filter((r) => r.outcome === undefined).map((r) => r.ppnum);
    chunk.applySnapshot(await snapshotOutcomes({ sendRequestId: chunk.sendRequestId, ppnums: unsettled }));
  }
  chunk.expireUnsettled();
  await dispatchFallbacks(chunk, input);
}

/** Patch id: histories recorded before the end-of-window status snapshot replay without it. */
const SNAPSHOT_BEFORE_EXPIRY = 'snapshot-before-expiry';

async function dispatchFallbacks(chunk: ChunkState, input: ChunkInput): Promise<void> {
  const fallback = input.fallback;
  while (fallback && chunk.fallbackQueue.length > 0) {
    chunk.setPhase('fallback');
    const batch = chunk.fallbackQueue.splice(0, FALLBACK_BATCH);
    // Recorded as dispatched before the activity is scheduled: a recipient is never queued twice.
    const vars = input.source.kind === 'inline' ? new Map(input.source.recipients.map((r) => [r.ppnum, r.vars])) : undefined;
    const items = batch.map((record) => ({ ppnum: record.ppnum, outcome: record.outcome!, vars: vars?.get(record.ppnum) }));
    try {
      const results: FallbackResult[] = await sendFallbacks({
        campaignId: input.campaignId,
        chunkIndex: input.chunkIndex,
        channel: fallback.channel,
        template: fallback.text,
        items,
        // File sources: the activity reads the vars itself, so they never enter this history.
        source: input.source.kind === 'file' ? input.source : undefined,
      });
      const byPpnum = new Map(results.map((result) => [result.ppnum, result]));
      for (const record of batch) {
        const result = byPpnum.get(record.ppnum);
        chunk.recordFallback(record, result?.status === 'sent' ? 'sent' : 'failed', result?.error);
      }
    } catch (err) {
      log.warn('fallback batch failed', { chunkIndex: input.chunkIndex, recipients: batch.length, error: String(err) });
      for (const record of batch) chunk.recordFallback(record, 'failed', 'fallback activity failed');
    }
  }
}

/** Per-recipient answer of the fallback activity. */
interface FallbackResult {
  ppnum: string;
  status: 'sent' | 'failed';
  error?: string;
}

type SendFailure =
  | { kind: 'refused'; retryAfterMs: number | null; quota: boolean; codeName: string }
  | { kind: 'rejected'; codeName: string; message: string }
  | { kind: 'empty' }
  | { kind: 'ambiguous' };

function sendFailureOf(err: unknown): SendFailure {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof TimeoutFailure) return { kind: 'ambiguous' };
  if (!(cause instanceof ApplicationFailure)) return { kind: 'ambiguous' };
  const details = (cause.details?.[0] ?? {}) as Record<string, unknown>;
  const codeName = typeof details.codeName === 'string' ? details.codeName : 'UNKNOWN';
  switch (cause.type) {
    case 'SendRefused':
      return {
        kind: 'refused',
        retryAfterMs: typeof details.retryAfterMs === 'number' ? details.retryAfterMs : null,
        quota: details.quota === true,
        codeName,
      };
    case 'SendRejected':
      return { kind: 'rejected', codeName, message: typeof details.message === 'string' ? details.message : cause.message };
    case 'EmptyChunk':
      return { kind: 'empty' };
    default:
      return { kind: 'ambiguous' };
  }
}

/** 1 s, 2 s, 4 s ... capped at a minute: used when the server gave no retry hint. */
function backoff(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** (attempt - 1));
}

/** Signals the campaign by workflow id (survives its continue-as-new); a missing parent is only logged. */
async function signalParent(input: ChunkInput, send: (parent: ReturnType<typeof getExternalWorkflowHandle>) => Promise<void>): Promise<void> {
  try {
    await send(getExternalWorkflowHandle(input.parentWorkflowId));
  } catch (err) {
    log.warn('could not signal the campaign workflow', { parent: input.parentWorkflowId, error: String(err) });
  }
}

/** The recipients of the chunk and everything the workflow knows about them. */
class ChunkState {
  records: RecipientRecord[] = [];
  sendRequestId?: string;
  sentAt?: number;
  sendAttempts = 0;
  retryAt?: string;
  paused: boolean;
  cancelled = false;
  /** Recipients whose outcome calls for a fallback, not yet dispatched. */
  fallbackQueue: RecipientRecord[] = [];
  private phase: ChunkPhase = 'reading';
  private byPpnum = new Map<string, RecipientRecord>();
  private buffered: DeliveryEvent[] = [];
  private readonly fallbackOn: FallbackTrigger[];

  constructor(private readonly input: ChunkInput) {
    this.paused = input.initialControl === 'paused';
    this.fallbackOn = fallbackTriggers(input.fallback);
  }

  load(ppnums: string[]): void {
    const at = now();
    this.records = ppnums.map((ppnum) => ({ ppnum, state: 'queued', history: [{ at, event: 'queued' }] }));
    this.byPpnum = new Map(this.records.map((r) => [r.ppnum, r]));
    this.applyBuffered();
  }

  /** Pause and cancel only matter before the send; afterwards the recipients' outcomes are followed to the end. */
  control(action: 'pause' | 'resume' | 'cancel'): void {
    if (this.sendRequestId !== undefined) return;
    if (action === 'pause') this.paused = true;
    else if (action === 'resume') this.paused = false;
    else this.cancelled = true;
    this.updateDetails();
  }

  receive(events: DeliveryEvent[]): void {
    for (const event of events) {
      if (this.sendRequestId === undefined || this.records.length === 0) this.buffered.push(event);
      else this.apply(event);
    }
    this.updateDetails();
  }

  applyBuffered(): void {
    if (this.sendRequestId === undefined || this.records.length === 0) return;
    const events = this.buffered;
    this.buffered = [];
    for (const event of events) this.apply(event);
  }

  /** Idempotent by state: events for a final state, or that would move backwards, are ignored. */
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
          record.history.push({ at: now(), event: event.type });
        }
        return;
      default:
        return; // REQUEST_COMPLETED and unknown types carry no recipient state
    }
  }

  private move(record: RecipientRecord, state: RecipientState, event: string, errorCode?: string): void {
    if (record.outcome !== undefined || RANK[state] <= RANK[record.state]) return;
    record.state = state;
    record.history.push({ at: now(), event });
    if (errorCode) record.errorCode = errorCode;
    if (RANK[state] === 5) this.settle(record, state as RecipientOutcome);
  }

  private settle(record: RecipientRecord, outcome: RecipientOutcome): void {
    record.outcome = outcome;
    if (this.fallbackOn.includes(outcome as FallbackTrigger) && record.fallback === undefined) this.fallbackQueue.push(record);
  }

  /** Moves every recipient without an outcome to `state` (send bookkeeping). */
  markAll(state: RecipientState, event: string): void {
    const at = now();
    for (const record of this.records) {
      if (record.outcome !== undefined || record.state === state) continue;
      record.state = state;
      record.history.push({ at, event });
    }
    this.updateDetails();
  }

  finishAll(outcome: RecipientOutcome, errorCode: string | undefined, event: string): void {
    const at = now();
    for (const record of this.records) {
      if (record.outcome !== undefined) continue;
      record.state = outcome;
      if (errorCode) record.errorCode = errorCode;
      record.history.push({ at, event });
      this.settle(record, outcome);
    }
  }

  /** Never sent (cancelled, or rejected/empty already settled): what is left is cancelled. */
  finishUnsent(): void {
    this.finishAll('cancelled', undefined, 'cancelled before sending');
  }

  /** Final statuses from the API's snapshot, applied like the events that would have carried them. */
  applySnapshot(snapshot: RecipientSnapshot[]): void {
    for (const { ppnum, status, errorCode } of snapshot) {
      const record = this.byPpnum.get(ppnum);
      if (!record || record.outcome !== undefined) continue;
      const outcome: RecipientOutcome =
        status === 'DELIVERED' ? 'delivered' : errorCode === 'CONSENT_DENIED' ? 'denied' : errorCode === 'CONSENT_EXPIRED' ? 'expired' : 'failed';
      this.move(record, outcome, `status snapshot: ${status}${errorCode ? ` ${errorCode}` : ''}`, errorCode);
    }
    this.updateDetails();
  }

  /**
   * At the end of the consent window: still waiting for consent → expired; sent (or granted) but
   * no final event ever came → failed with NO_EVENT (we cannot claim a delivery we never saw).
   */
  expireUnsettled(): void {
    const at = now();
    for (const record of this.records) {
      if (record.outcome !== undefined) continue;
      const expired = record.state === 'pending_consent';
      record.state = expired ? 'expired' : 'failed';
      record.errorCode = expired ? CONSENT_WINDOW_ENDED : NO_EVENT;
      record.history.push({ at, event: expired ? 'consent window ended' : 'no final event by the end of the consent window' });
      this.settle(record, expired ? 'expired' : 'failed');
    }
  }

  recordFallback(record: RecipientRecord, status: 'sent' | 'failed', error?: string): void {
    if (record.fallback !== undefined) return;
    record.fallback = status;
    record.history.push({ at: now(), event: status === 'sent' ? 'fallback sent' : `fallback failed${error ? `: ${error}` : ''}` });
  }

  allSettled(): boolean {
    return this.records.every((r) => r.outcome !== undefined);
  }

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
    return this.records.filter((r) => r.responded).length;
  }

  setPhase(phase: ChunkPhase): void {
    this.phase = phase;
    this.updateDetails();
  }

  progress(): ChunkProgress {
    const states: Partial<Record<RecipientState, number>> = {};
    for (const record of this.records) states[record.state] = (states[record.state] ?? 0) + 1;
    return {
      chunkIndex: this.input.chunkIndex,
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

  /** The line shown in the Web UI's "current details". */
  private updateDetails(): void {
    const p = this.progress();
    const states = Object.entries(p.states).map(([state, n]) => `${state} ${n}`).join(' · ');
    const flags = [p.paused && !p.sendRequestId ? 'paused' : '', p.cancelled ? 'cancelled' : '', p.retryAt ? `retry at ${p.retryAt}` : ''].filter(Boolean);
    setCurrentDetails(`chunk ${p.chunkIndex} ${p.phase}${p.sendRequestId ? ` (${p.sendRequestId})` : ''}: ${states}${flags.length ? ` · ${flags.join(' · ')}` : ''}`);
  }
}

/** "recipient file … changed since …" rather than "Activity task failed". */
export function innermostMessage(err: unknown): string {
  let inner = err;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}

function now(): string {
  return new Date().toISOString();
}
