// The campaign workflow's contract: its type and id, the memo it reads, the messages it takes
// (chunk reports, controls, progress) with their payloads, its result and the failures it ends
// with. The chunks, the client, the CLI and the Temporal CLI/Web UI (by these names) are its
// producers and consumers. PURE: no I/O; workflow code imports this module.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ValidationIssue } from '../api/validation';
import type { ConsentStats } from '../campaign/consent';
import type { OutcomeCounts, RetryOutcome } from '../campaign/outcomes';
import type { CampaignSpec } from '../campaign/spec';
import type { SendWindow } from '../campaign/send-window';
import type { ControlPayload } from './chunk';

export const CAMPAIGN_WORKFLOW_TYPE = 'campaignWorkflow';

const CAMPAIGN_WORKFLOW_ID_PREFIX = 'campaign/';

export function campaignWorkflowId(campaignId: string): string {
  return `${CAMPAIGN_WORKFLOW_ID_PREFIX}${campaignId}`;
}

/** The campaign id back from a campaign workflow id. */
export function campaignIdOf(workflowId: string): string {
  return workflowId.startsWith(CAMPAIGN_WORKFLOW_ID_PREFIX) ? workflowId.slice(CAMPAIGN_WORKFLOW_ID_PREFIX.length) : workflowId;
}

/**
 * The follow-up campaign that retries one outcome of `campaignId`. Deterministic, so retrying the
 * same outcome twice finds the first follow-up instead of messaging its recipients again.
 */
export function retryCampaignId(campaignId: string, outcome: RetryOutcome): string {
  return `${campaignId}.retry-${outcome}`;
}

/**
 * A campaign run continues as new once its history passes this many events (besides Temporal's own
 * suggestion). A worker killed mid-task leaves the campaign to another worker, which replays the
 * run before it starts another chunk: 1,000 events replay in about half a second on a busy machine.
 */
export const CAMPAIGN_RUN_MAX_EVENTS = 1_000;

/**
 * Recurring campaigns: a Temporal Schedule (id: the spec's campaignId) starts this workflow at each
 * run time; it runs that time's campaign as its child, with its own campaign id, and waits for it,
 * so the Schedule's overlap policy covers whole campaign runs.
 */
export const CAMPAIGN_SCHEDULE_WORKFLOW_TYPE = 'campaignScheduleWorkflow';

export interface CampaignScheduleInput {
  /** The spec of every run; each run's campaignId is scheduledCampaignId(this campaignId, run time). */
  spec: CampaignSpec;
}

/** The workflow id a Schedule starts its runs under (the server appends "-<run time>"). */
export function campaignScheduleWorkflowId(scheduleId: string): string {
  return `campaign-schedule/${scheduleId}`;
}

/** One run's campaign id: the schedule id and the run's nominal time, "<scheduleId>.20261207T090000Z". */
export function scheduledCampaignId(scheduleId: string, runTime: Date): string {
  return `${scheduleId}.${runTime.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')}`;
}

/** Memo keys of a campaign workflow (passed on to its chunks). */
export const CAMPAIGN_MEMO = {
  /** A send task queue other than TASK_QUEUES.send (isolated test workers, a dedicated fleet). */
  sendTaskQueue: 'sendTaskQueue',
  /** SpecFingerprint of the spec the campaign was started with: a second start compares against it. */
  specFingerprint: 'specFingerprint',
} as const;

/** The send task queue named in a workflow's memo, if any. */
export function sendTaskQueueFromMemo(memo: Record<string, unknown> | undefined): string | undefined {
  const queue = memo?.[CAMPAIGN_MEMO.sendTaskQueue];
  return typeof queue === 'string' ? queue : undefined;
}

/** 'scheduled': waiting for the spec's startAt (nothing read or sent yet). */
export type CampaignStatus = 'scheduled' | 'validating' | 'running' | 'paused' | 'parked' | 'cancelling' | 'completed' | 'cancelled' | 'failed';

/**
 * Why a campaign waits without failing anyone: the API's rate limit or monthly quota, or a
 * configuration fault an operator fixes (credentials, permission, the template, an unreachable
 * API host, the fallback channel). Recipients keep their state meanwhile.
 */
export type ConfigurationFaultReason = 'credentials' | 'permission' | 'template' | 'unreachable' | 'fallback';
export type ParkReason = 'rate' | 'quota' | ConfigurationFaultReason;

/** Park reasons as people read them. */
export const PARK_REASON_TEXT: Record<ParkReason, string> = {
  rate: 'rate limit',
  quota: 'monthly quota',
  credentials: 'API credentials refused',
  permission: 'API permission denied',
  template: 'template missing or inactive',
  unreachable: 'API unreachable',
  fallback: 'fallback channel unavailable',
};

export interface CampaignProgress {
  campaignId: string;
  status: CampaignStatus;
  parkedUntil?: string;
  parkedReason?: ParkReason;
  /** When a configuration fault was first seen (it is retried until it clears). */
  parkedSince?: string;
  /** What the fault said (e.g. the token endpoint's refusal), for configuration faults. */
  parkedMessage?: string;
  /** Chunks holding for a park reason (0 when the campaign itself waits, before planning). */
  parkedChunks?: number;
  /** Why a failed campaign failed, in plain words. */
  failure?: string;
  /** The spec's startAt (ISO), while the campaign waits for it. */
  scheduledFor?: string;
  /** The spec's deadline (ISO); `deadlinePassed` once it has. */
  deadline?: string;
  deadlinePassed?: boolean;
  /** Recipients per minute this campaign is held to (the spec's throttle, or the latest throttle update). */
  throttle?: number;
  /** The spec's send window. */
  sendWindow?: SendWindow;
  /** Recipients with their own time zones (recipients.timeZoneColumn): the zones of the chunks not started yet. */
  pendingTimeZones?: string[];
  /** Set on a follow-up campaign: the campaign and outcome it retries. */
  retryOf?: { campaignId: string; outcome: RetryOutcome };
  /** Valid recipients plus invalid rows (each ends with exactly one outcome). */
  total: number;
  chunksTotal: number;
  chunksStarted: number;
  chunksSent: number;
  chunksFinished: number;
  /** Settled recipients: finished chunks exactly, running ones as of their last consent report. */
  counts: OutcomeCounts;
  /** Started chunks that have not sent yet (the sliding window limited by limits.chunksInFlight). */
  inFlight: number;
  /** Recipients of sent chunks whose outcomes are still coming (e.g. waiting for consent). */
  awaitingOutcome: number;
  templateId?: string;
  /** The first issues found in the recipients (line or index, and field). */
  issues: ValidationIssue[];
  /** Consent figures: finished chunks exactly, running ones as of their last report (CONSENT_REPORTS_PER_WINDOW). */
  consent: ConsentStats;
}

export interface PollSummary {
  options: Record<string, number>;
  totalResponses: number;
}

export interface CampaignResult {
  campaignId: string;
  /** 'failed': it ran to the end but reached nobody (no delivery, no fallback sent). */
  status: 'completed' | 'cancelled' | 'failed';
  total: number;
  counts: OutcomeCounts;
  poll?: PollSummary;
  issues: ValidationIssue[];
  chunks: number;
  consent?: ConsentStats;
  /** Why it failed (status 'failed'). */
  failure?: string;
}

/** ApplicationFailure types the campaign fails with before anything is sent. */
export const CAMPAIGN_FAILURE_TYPES = {
  /** The spec itself is wrong (details: { issues }). */
  invalidSpec: 'InvalidCampaignSpec',
  /** Recipient rows are invalid and onInvalidRows is "abort" (details: { issues }). */
  invalidRecipients: 'InvalidRecipients',
  /** Ran to the end but reached nobody (details: the CampaignResult, status 'failed'). */
  nothingDelivered: 'NothingDelivered',
} as const;

export interface CampaignFailureDetails {
  issues: ValidationIssue[];
}

// ------------------------------------------------------------ chunk → campaign reports

export interface ChunkSentPayload {
  chunkIndex: number;
  sendRequestId: string;
  recipients: number;
  /** A chunk sent as several requests: every accepted one's id (`sendRequestId` is one of them). */
  sendRequestIds?: string[];
}

export interface ChunkFinishedPayload {
  chunkIndex: number;
  sendRequestId?: string;
  /** Every accepted request's id, when the chunk was sent as several. */
  sendRequestIds?: string[];
  counts: OutcomeCounts;
  pollResponses?: number;
  consent?: ConsentStats;
}

/** A running chunk's consent figures so far (the latest replaces the earlier ones). */
export interface ChunkConsentPayload {
  chunkIndex: number;
  consent: ConsentStats;
  /**
   * Its recipients settled so far (absent from chunks before the field): a first campaign's denials,
   * deliveries after grants and their fallbacks count in the campaign's progress during the day, not
   * only when the chunk ends with its window.
   */
  counts?: OutcomeCounts;
}

/** A running chunk reports its consent figures at most this many times per consent window (on change only). */
export const CONSENT_REPORTS_PER_WINDOW = 12;

/** A chunk workflow failing (e.g. its file rows cannot be read) says so before it ends. */
export interface ChunkFailedPayload {
  chunkIndex: number;
  reason: string;
}

/** A chunk reconciling an ambiguous send: it waits on the event stream, not the send queue. */
export interface ChunkReconcilingPayload {
  chunkIndex: number;
}

export interface ChunkParkedPayload {
  chunkIndex: number;
  /** ISO time the chunk will try again. */
  until: string;
  reason: ParkReason;
  /** The fault's own words, and when it was first seen (configuration faults). */
  message?: string;
  since?: string;
}

/** A parked chunk got going again without a send (e.g. its fallback channel answers again). */
export interface ChunkUnparkedPayload {
  chunkIndex: number;
}

export const chunkSentSignal = defineSignal<[ChunkSentPayload]>('chunkSent');
export const chunkFinishedSignal = defineSignal<[ChunkFinishedPayload]>('chunkFinished');
export const chunkParkedSignal = defineSignal<[ChunkParkedPayload]>('chunkParked');
export const chunkUnparkedSignal = defineSignal<[ChunkUnparkedPayload]>('chunkUnparked');
export const chunkFailedSignal = defineSignal<[ChunkFailedPayload]>('chunkFailed');
export const chunkReconcilingSignal = defineSignal<[ChunkReconcilingPayload]>('chunkReconciling');
export const chunkConsentSignal = defineSignal<[ChunkConsentPayload]>('chunkConsent');

// ------------------------------------------------------------ people and tools → campaign

/**
 * The controls as a signal, for tools that can only signal (the Web UI's "Send a Signal",
 * `temporal workflow signal`). Unlike the updates it cannot answer: an action the campaign's
 * state does not allow is logged and ignored.
 */
export const campaignControlSignal = defineSignal<[ControlPayload]>('control');
/** Updates answer with the new progress, or are refused (by the validator) with the reason. */
export const pauseUpdate = defineUpdate<CampaignProgress>('pause');
export const resumeUpdate = defineUpdate<CampaignProgress>('resume');
export const cancelUpdate = defineUpdate<CampaignProgress>('cancel');
export const progressQuery = defineQuery<CampaignProgress>('progress');
/** A new throttle (recipients per minute) for a running campaign, or null for none; answers with the progress. */
export interface ThrottlePayload {
  perMinute: number | null;
}
export const throttleUpdate = defineUpdate<CampaignProgress, [ThrottlePayload]>('setThrottle');
/** The spec the campaign runs (an inline list is emptied once planned): `campaign retry` builds a follow-up from it. */
export const campaignSpecQuery = defineQuery<CampaignSpec>('spec');
