// The chunk workflow's contract (one CreateSendRequest and its recipients' outcomes): its type and
// id, input and result, the messages it takes, and the failures the send activity reports to it.
// The campaign starts it, the listener signals it, the send activity fails with the types below,
// the client queries it. PURE: no I/O; workflow code imports this module.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DeliveryEvent, EventType, PollConfigSpec } from '../api/types';
import type { ConsentState, ConsentStats } from '../campaign/consent';
import type { ChunkSource } from '../campaign/chunk-source';
import type { FallbackOutcome, OutcomeCounts, RecipientOutcome } from '../campaign/outcomes';
import type { FallbackSpec } from '../campaign/spec';
import type { SendWindow } from '../campaign/send-window';
import { CAMPAIGN_ID_KEY } from '../temporal/names';
import { campaignWorkflowId } from './campaign';
import type { ConfigurationFaultReason } from './campaign';

export const CHUNK_WORKFLOW_TYPE = 'chunkWorkflow';

/** Chunk index zero-padded to 6 digits so the ids of one campaign sort in chunk order. */
export function chunkWorkflowId(campaignId: string, index: number): string {
  return `${campaignWorkflowId(campaignId)}/chunk/${String(index).padStart(6, '0')}`;
}

/** The chunk index in a chunkWorkflowId. */
export function chunkIndexOf(workflowId: string): number {
  return Number(workflowId.slice(workflowId.lastIndexOf('/') + 1));
}

/** The visibility query for the campaign's chunk workflows that are still running. */
export function runningChunksQuery(campaignId: string): string {
  return `WorkflowType = "${CHUNK_WORKFLOW_TYPE}" AND ${CAMPAIGN_ID_KEY.name} = "${campaignId}" AND ExecutionStatus = "Running"`;
}

export interface ChunkInput {
  campaignId: string;
  chunkIndex: number;
  templateId: string;
  source: ChunkSource;
  pollConfig?: PollConfigSpec;
  consentWindowMs: number;
  fallback?: FallbackSpec;
  /** Workflow id of the campaign, signalled by id so reporting survives its continue-as-new. */
  parentWorkflowId: string;
  /** Start paused (the campaign was paused when this chunk was started). */
  initialControl?: 'paused';
  /** The campaign's deadline (ISO): no send attempt after it; whoever is unsent then ends 'deadline'. */
  deadline?: string;
  /** The campaign's fairness weight on the send queue (default 1). */
  weight?: number;
  /** Local hours in which the send may go out (in the zone of the chunk's recipients): outside them the chunk holds until the window opens. */
  sendWindow?: SendWindow;
  /**
   * 'result': the campaign learns this chunk's end from its completion, and the chunk signals
   * chunkFinished only once told to (reportFinishBySignal). Absent in chunks started before: they always signal.
   */
  finishReport?: 'result';
  /**
   * 'fixed': nothing in the chunk follows a local activity's result but fixed commands. SDK core
   * (1.24) may record a local activity's marker in one workflow task but hand its result to the
   * workflow in the next, when a query is answered meanwhile, while replay hands it over a task
   * earlier (dev/late-local-result/probe.ts). So the recipients are read after the pre-send checks,
   * the send follows its cursor unconditionally, fallback batches are regular activities, and a
   * chunk that never sent signals its end. Absent in chunks started before (their histories replay
   * the old way). An input field, not a patch: a patch costs every chunk two history events.
   */
  afterLocalActivities?: 'fixed';
  /**
   * 'attempt-time': the pre-send stream cursor for reconciliation comes from the workflow's own
   * clock at each attempt (the reconcileSend activity subtracts its margin), not from the beginSend
   * local activity: one local activity and one history event less per send. Absent in chunks started
   * before (their histories replay with beginSend).
   */
  sendCursor?: 'attempt-time';
  /**
   * 'wake': figures that changed while the report interval (window / 12) held their report back are
   * reported when the interval ends, on a timer, not only at the next event. Absent in chunks
   * started before (their histories replay without those timers).
   */
  heldReports?: 'wake';
  /**
   * Recipients the plan counted for this chunk. A list to read is read only at the send, so until
   * then the chunk's progress shows this count. Absent in chunks started before it.
   */
  plannedRecipients?: number;
  /**
   * Recipients per send request, when the campaign's chunks hold several (limits.sendsPerChunk): the
   * chunk sends them one request after another. Absent: one request holds the whole chunk.
   */
  requestSize?: number;
  /**
   * 'with-last': a request that is not the chunk's last may leave its route to a later request's
   * send, which tells the listener workflow all waiting routes in one signal (SendChunkInput.routesWithLast);
   * the chunk tells them itself before it waits or stops. Absent in chunks started before: each
   * send tells its own route.
   */
  routes?: 'with-last';
  /**
   * With a throttle, the least time from one of this chunk's requests to the next (requestSize at
   * the throttle the chunk started with), so a chunk of several requests keeps the campaign's pace.
   */
  requestIntervalMs?: number;
  /**
   * A run following outcomes continues as new once its history has this many events, or when
   * Temporal suggests it, whichever comes first: events keep arriving while the chunk acts on the
   * suggestion (a fallback batch out), so without a margin a busy chunk's run passed 4,096. Absent
   * in chunks started before (their histories replay by the suggestion alone).
   */
  continueAtEvents?: number;
}

export interface ChunkResult {
  chunkIndex: number;
  /** The first accepted request's id. */
  sendRequestId?: string;
  /** Every accepted request's id, when the chunk was sent as several. */
  sendRequestIds?: string[];
  counts: OutcomeCounts;
  consent?: ConsentStats;
}

export type RecipientState =
  | 'queued'
  | 'sending'
  | 'sent'
  | 'pending_consent'
  | 'granted'
  | 'delivered'
  | 'failed'
  | 'denied'
  | 'expired'
  | 'invalid'
  | 'cancelled'
  | 'deadline';

export interface RecipientRecord {
  ppnum: string;
  state: RecipientState;
  /** Set once the recipient reached its final outcome. */
  outcome?: RecipientOutcome;
  fallback?: FallbackOutcome;
  /** API error code (RECIPIENT_FAILED's error_code, a rejected request's code, or one of CHUNK_ERROR_CODES). */
  errorCode?: string;
  /** Whether a poll response was received from this recipient. */
  responded?: boolean;
  /** What the recipient made of the consent request (absent until the API says). */
  consent?: ConsentState;
  /** From RECIPIENT_PENDING_CONSENT to the grant or denial, by the API's event times. */
  consentDecisionMs?: number;
  /** When the chunk learned each step (the workflow's clock). */
  history: { at: string; event: string }[];
}

/** A recipient's final status as GetSendRequestStatus reports it (the snapshotOutcomes activity). */
export interface RecipientSnapshot {
  ppnum: string;
  status: 'DELIVERED' | 'FAILED';
  errorCode?: string;
}

/** Error codes the chunk itself gives a recipient (the API's own codes pass through as they are). */
export const CHUNK_ERROR_CODES = {
  /** Sent, but no final event and no final status by the end of the consent window. */
  noEvent: 'NO_EVENT',
  /** Still waiting for consent when our consent window ended. */
  consentWindowEnded: 'CONSENT_WINDOW_ENDED',
  /** Not sent: the campaign's deadline passed first. */
  deadline: 'DEADLINE',
} as const;

/**
 * 'window': waiting for the campaign's send window to open (retryAt says when).
 * 'blocked': a configuration fault (credentials, template, host, fallback channel) holds the chunk;
 * it tries again later and nobody's outcome changes meanwhile. 'closing': the consent window
 * ended; late events still apply for a short grace before the chunk closes.
 */
export type ChunkPhase = 'reading' | 'window' | 'paused' | 'sending' | 'waiting_retry' | 'reconciling' | 'blocked' | 'sent' | 'closing' | 'fallback' | 'finished';

/** A configuration fault holding the chunk (its send, or its fallbacks). */
export interface ChunkBlock {
  reason: ConfigurationFaultReason;
  codeName: string;
  message: string;
  /** ISO: when it was first seen, and when the chunk tries again. */
  since: string;
  retryAt: string;
}

export interface ChunkProgress {
  chunkIndex: number;
  phase: ChunkPhase;
  sendRequestId?: string;
  /** A chunk sent as several requests: how many of them are accepted so far. */
  sendRequests?: { sent: number; total: number };
  recipients: number;
  /** The recipients are not read yet (read at the send): `recipients` is the plan's count. */
  unread?: true;
  /** Recipients per current state. */
  states: Partial<Record<RecipientState, number>>;
  counts: OutcomeCounts;
  sendAttempts: number;
  /** When the next send attempt is due (a refused send waits for the server's retry hint). */
  retryAt?: string;
  /** Set while a configuration fault holds the chunk. */
  blocked?: ChunkBlock;
  paused: boolean;
  cancelled: boolean;
  consent: ConsentStats;
  /** Runs of this chunk so far (it continues as new with compact state when Temporal suggests it). */
  run: number;
}

/** The first form of the listener's signal (recorded histories carry it): full events. */
export interface DeliveryEventsPayload {
  events: DeliveryEvent[];
}

/**
 * A recipient event as the chunk applies it, from either signal form. `at` is the API's time of the
 * event (ms), when known: consent decision times come from it, not from when the chunk heard.
 */
export interface ChunkEvent {
  sendRequestId: string;
  type: EventType;
  ppnum?: string;
  errorCode?: string;
  at?: number;
}

/** Event types by their code in a DeliveryBatch: the proto's SendRequestEventType numbers. */
export const EVENT_TYPE_CODES: Readonly<Record<Exclude<EventType, 'UNKNOWN'>, number>> = {
  RECIPIENT_DELIVERED: 1,
  RECIPIENT_FAILED: 2,
  RECIPIENT_PENDING_CONSENT: 3,
  CONSENT_GRANTED: 4,
  CONSENT_DENIED: 5,
  REQUEST_COMPLETED: 6,
  POLL_RESPONSE_RECEIVED: 7,
};
const TYPE_OF_CODE = new Map<number, EventType>(Object.entries(EVENT_TYPE_CODES).map(([type, code]) => [code, type as EventType]));

/** One event of a batch: type code, ppnum, ms after the batch's `t0`, and the error code if any. */
export type CompactEvent = [code: number, ppnum: string, afterMs: number, errorCode?: string];

/**
 * The listener's signal payload: one send request's events, about 20 bytes each (the full form
 * was about 225). Event ids are left out: the chunk applies events by state, not by id.
 */
export interface DeliveryBatch {
  sendRequestId: string;
  /** Epoch ms the events' times count from (the earliest event's time). */
  t0: number;
  events: CompactEvent[];
}

/**
 * Encodes one send request's recipient events (others are left out: the chunk has no use for them).
 * `fallbackTime` stands in for an event without an occurredAt (when it was read).
 */
export function encodeBatch(sendRequestId: string, events: readonly DeliveryEvent[], fallbackTime: number): DeliveryBatch {
  const times = events.map((event) => (event.occurredAt ? Date.parse(event.occurredAt) : fallbackTime));
  let t0 = events.length > 0 ? Infinity : fallbackTime;
  for (const time of times) t0 = Math.min(t0, time);
  const compact: CompactEvent[] = [];
  for (const [i, event] of events.entries()) {
    if (event.ppnum === undefined || event.type === 'UNKNOWN') continue;
    const entry: CompactEvent = [EVENT_TYPE_CODES[event.type], event.ppnum, times[i]! - t0];
    if (event.errorCode) entry.push(event.errorCode);
    compact.push(entry);
  }
  return { sendRequestId, t0, events: compact };
}

export function decodeBatch(batch: DeliveryBatch): ChunkEvent[] {
  return batch.events.map(([code, ppnum, afterMs, errorCode]) => {
    const event: ChunkEvent = { sendRequestId: batch.sendRequestId, type: TYPE_OF_CODE.get(code) ?? 'UNKNOWN', ppnum, at: batch.t0 + afterMs };
    if (errorCode) event.errorCode = errorCode; // not spread: the workflow bundle compiles a spread to a helper call, thousands per batch
    return event;
  });
}

/** The first signal form's events, as the chunk applies them. */
export function fromDeliveryEvents({ events }: DeliveryEventsPayload): ChunkEvent[] {
  return events.map((event) => ({
    sendRequestId: event.sendRequestId,
    type: event.type,
    ppnum: event.ppnum,
    errorCode: event.errorCode,
    at: event.occurredAt ? Date.parse(event.occurredAt) : undefined,
  }));
}

export type ControlAction = 'pause' | 'resume' | 'cancel';

export interface ControlPayload {
  action: ControlAction;
}

/** The listener's batches (DeliveryBatch); applied idempotently, by state. */
export const deliveryBatchSignal = defineSignal<[DeliveryBatch]>('deliveryBatch');
/**
 * Several send requests' batches in one signal, one workflow task: a chunk sent as several requests
 * hears its finished parts together (RouteTarget.part). Only chunks that tell their parts get it.
 */
export const deliveryBatchesSignal = defineSignal<[DeliveryBatches]>('deliveryBatches');

export interface DeliveryBatches {
  batches: DeliveryBatch[];
}
/** The first form of the listener's batches, still handled so recorded histories replay. */
export const deliveryEventsSignal = defineSignal<[DeliveryEventsPayload]>('deliveryEvents');
/** Forwarded by the campaign to chunks that have not sent yet. */
export const chunkControlSignal = defineSignal<[ControlPayload]>('chunkControl');
/**
 * From a campaign run about to continue as new (or a restarted campaign): this chunk's completion
 * would reach a closed run, so it signals chunkFinished to the campaign's workflow id instead.
 */
export const reportFinishBySignal = defineSignal('reportFinishBySignal');
export const chunkRecipientsQuery = defineQuery<RecipientRecord[]>('recipients');
export const chunkProgressQuery = defineQuery<ChunkProgress>('progress');
/** Where the chunk's recipients come from (a follow-up campaign reads its recipients' vars from it). */
export const chunkSourceQuery = defineQuery<ChunkSource>('source');

// ------------------------------------------------------------ send failures (activity → chunk)

/**
 * ApplicationFailure types of the send activity. The activity never retries: the chunk decides
 * from the type whether the send may be repeated.
 */
export const SEND_FAILURE_TYPES = {
  /** Nothing was accepted; try again after the server's hint (details: SendRefusedDetails). */
  refused: 'SendRefused',
  /** Nothing was accepted, and sending the same again will not help (details: SendErrorDetails). */
  rejected: 'SendRejected',
  /** The request may have been accepted: reconcile before sending again (details: SendErrorDetails). */
  ambiguous: 'SendAmbiguous',
  /** The chunk's source yielded no recipients. */
  empty: 'EmptyChunk',
  /** The campaign's deadline passed before the call (e.g. while the activity waited in the rate-limited queue): nothing was sent. */
  deadline: 'SendAfterDeadline',
} as const;

export interface SendRefusedDetails {
  retryAfterMs: number | null;
  /** The monthly quota, not the rate limit: the wait is long and the campaign parks. */
  quota: boolean;
  codeName: string;
}

export interface SendErrorDetails {
  codeName: string;
  message: string;
}

/**
 * ApplicationFailure type of any activity (send, template, fallbacks) that met a fault which is
 * about the configuration, not about a recipient: wrong credentials (after the client's one token
 * refresh), missing permission, a missing or inactive template, an unreachable API host, an
 * unusable fallback channel. Nothing was accepted; the workflow holds (the campaign parks) and
 * tries again later. Details: ConfigurationFaultDetails.
 */
export const CONFIGURATION_FAULT = 'ConfigurationFault';

export interface ConfigurationFaultDetails {
  reason: ConfigurationFaultReason;
  codeName: string;
  message: string;
  /** The other side's hint (Retry-After), if it gave one. */
  retryAfterMs?: number | null;
}

const FAULT_REASONS: readonly ConfigurationFaultReason[] = ['credentials', 'permission', 'template', 'unreachable', 'fallback'];

/** The details of a CONFIGURATION_FAULT failure, or undefined for any other failure type. */
export function decodeConfigurationFault(type: string | undefined | null, details: unknown, message: string): ConfigurationFaultDetails | undefined {
  if (type !== CONFIGURATION_FAULT) return undefined;
  const fields = (typeof details === 'object' && details !== null ? details : {}) as Partial<ConfigurationFaultDetails>;
  return {
    reason: FAULT_REASONS.includes(fields.reason as ConfigurationFaultReason) ? (fields.reason as ConfigurationFaultReason) : 'unreachable',
    codeName: typeof fields.codeName === 'string' ? fields.codeName : 'UNKNOWN',
    message: typeof fields.message === 'string' ? fields.message : message,
    retryAfterMs: typeof fields.retryAfterMs === 'number' ? fields.retryAfterMs : null,
  };
}

/** What the chunk makes of a failed send attempt. */
export type SendFailure =
  | ({ kind: 'refused' } & SendRefusedDetails)
  | ({ kind: 'rejected' } & SendErrorDetails)
  | ({ kind: 'blocked' } & ConfigurationFaultDetails)
  | { kind: 'empty' }
  | { kind: 'deadline' }
  | { kind: 'ambiguous' };

/** Decodes the send activity's failure (type and first details entry); anything unknown is ambiguous. */
export function decodeSendFailure(type: string | undefined | null, details: unknown, message: string): SendFailure {
  const fault = decodeConfigurationFault(type, details, message);
  if (fault) return { kind: 'blocked', ...fault };
  const fields = (typeof details === 'object' && details !== null ? details : {}) as Partial<SendRefusedDetails & SendErrorDetails>;
  const codeName = typeof fields.codeName === 'string' ? fields.codeName : 'UNKNOWN';
  switch (type) {
    case SEND_FAILURE_TYPES.refused:
      return { kind: 'refused', retryAfterMs: typeof fields.retryAfterMs === 'number' ? fields.retryAfterMs : null, quota: fields.quota === true, codeName };
    case SEND_FAILURE_TYPES.rejected:
      return { kind: 'rejected', codeName, message: typeof fields.message === 'string' ? fields.message : message };
    case SEND_FAILURE_TYPES.empty:
      return { kind: 'empty' };
    case SEND_FAILURE_TYPES.deadline:
      return { kind: 'deadline' };
    default:
      return { kind: 'ambiguous' };
  }
}
