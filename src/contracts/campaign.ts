// The campaign workflow's contract: its type and id, the memo it reads, the messages it takes
// (chunk reports, controls, progress) with their payloads, its result and the failures it ends
// with. The chunks, the client, the CLI and the Temporal CLI/Web UI (by these names) are its
// producers and consumers. PURE: no I/O; workflow code imports this module.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ValidationIssue } from '../api/validation';
import type { ConsentStats } from '../campaign/consent';
import type { OutcomeCounts } from '../campaign/outcomes';
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

/** Memo keys of a campaign workflow (passed on to its chunks). */
export const CAMPAIGN_MEMO = {
  /** A send task queue other than TASK_QUEUES.send (isolated test workers, a dedicated fleet). */
  sendTaskQueue: 'sendTaskQueue',
} as const;

/** The send task queue named in a workflow's memo, if any. */
export function sendTaskQueueFromMemo(memo: Record<string, unknown> | undefined): string | undefined {
  const queue = memo?.[CAMPAIGN_MEMO.sendTaskQueue];
  return typeof queue === 'string' ? queue : undefined;
}

export type CampaignStatus = 'validating' | 'running' | 'paused' | 'parked' | 'cancelling' | 'completed' | 'cancelled' | 'failed';

export type ParkReason = 'rate' | 'quota';

export interface CampaignProgress {
  campaignId: string;
  status: CampaignStatus;
  parkedUntil?: string;
  parkedReason?: ParkReason;
  /** Valid recipients plus invalid rows (each ends with exactly one outcome). */
  total: number;
  chunksTotal: number;
  chunksStarted: number;
  chunksSent: number;
  chunksFinished: number;
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
  status: 'completed' | 'cancelled';
  total: number;
  counts: OutcomeCounts;
  poll?: PollSummary;
  issues: ValidationIssue[];
  chunks: number;
  consent?: ConsentStats;
}

/** ApplicationFailure types the campaign fails with before anything is sent. */
export const CAMPAIGN_FAILURE_TYPES = {
  /** The spec itself is wrong (details: { issues }). */
  invalidSpec: 'InvalidCampaignSpec',
  /** Recipient rows are invalid and onInvalidRows is "abort" (details: { issues }). */
  invalidRecipients: 'InvalidRecipients',
} as const;

export interface CampaignFailureDetails {
  issues: ValidationIssue[];
}

// ------------------------------------------------------------ chunk → campaign reports

export interface ChunkSentPayload {
  chunkIndex: number;
  sendRequestId: string;
  recipients: number;
}

export interface ChunkFinishedPayload {
  chunkIndex: number;
  sendRequestId?: string;
  counts: OutcomeCounts;
  pollResponses?: number;
  consent?: ConsentStats;
}

/** A running chunk's consent figures so far (the latest replaces the earlier ones). */
export interface ChunkConsentPayload {
  chunkIndex: number;
  consent: ConsentStats;
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
}

export const chunkSentSignal = defineSignal<[ChunkSentPayload]>('chunkSent');
export const chunkFinishedSignal = defineSignal<[ChunkFinishedPayload]>('chunkFinished');
export const chunkParkedSignal = defineSignal<[ChunkParkedPayload]>('chunkParked');
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
