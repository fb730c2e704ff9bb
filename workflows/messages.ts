// Signals, queries and updates of the campaign and chunk workflows, with their payload types.
// Shared by the workflows, the listener activity and clients; pure (no I/O), safe in workflow code.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeliveryEvent, PollConfigSpec } from '../src/api/types';
import type { ValidationIssue } from '../src/api/validation';
import type { ChunkSource, FallbackOutcome, FallbackSpec, OutcomeCounts, RecipientOutcome } from '../src/campaign/spec';

// ---------------------------------------------------------------- chunk workflow

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
  | 'cancelled';

export interface RecipientRecord {
  ppnum: string;
  state: RecipientState;
  /** Set once the recipient reached its final outcome. */
  outcome?: RecipientOutcome;
  fallback?: FallbackOutcome;
  /** API error code (RECIPIENT_FAILED's error_code, a rejected request's code, or NO_EVENT). */
  errorCode?: string;
  /** Whether a poll response was received from this recipient. */
  responded?: boolean;
  history: { at: string; event: string }[];
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
}

export interface ChunkResult {
  chunkIndex: number;
  sendRequestId?: string;
  counts: OutcomeCounts;
}

export type ChunkPhase = 'reading' | 'paused' | 'sending' | 'waiting_retry' | 'reconciling' | 'sent' | 'fallback' | 'finished';

export interface ChunkProgress {
  chunkIndex: number;
  phase: ChunkPhase;
  sendRequestId?: string;
  recipients: number;
  /** Recipients per current state. */
  states: Partial<Record<RecipientState, number>>;
  counts: OutcomeCounts;
  sendAttempts: number;
  /** When the next send attempt is due (a refused send waits for the server's retry hint). */
  retryAt?: string;
  paused: boolean;
  cancelled: boolean;
}

export interface DeliveryEventsPayload {
  events: DeliveryEvent[];
}

export interface ChunkControlPayload {
  action: 'pause' | 'resume' | 'cancel';
}

/** Sent by the listener in batches; applied idempotently (by event id and by state). */
export const deliveryEventsSignal = defineSignal<[DeliveryEventsPayload]>('deliveryEvents');
/** Forwarded by the campaign to chunks that have not sent yet. */
export const chunkControlSignal = defineSignal<[ChunkControlPayload]>('chunkControl');
export const chunkRecipientsQuery = defineQuery<RecipientRecord[]>('recipients');
export const chunkProgressQuery = defineQuery<ChunkProgress>('progress');

// ---------------------------------------------------------------- campaign workflow

export type CampaignStatus = 'validating' | 'running' | 'paused' | 'parked' | 'cancelling' | 'completed' | 'cancelled' | 'failed';

export interface CampaignProgress {
  campaignId: string;
  status: CampaignStatus;
  parkedUntil?: string;
  parkedReason?: 'rate' | 'quota';
  /** Valid recipients plus invalid rows (each ends with exactly one outcome). */
  total: number;
  chunksTotal: number;
  chunksStarted: number;
  chunksSent: number;
  chunksFinished: number;
  counts: OutcomeCounts;
  /** Started chunks that have not sent yet (the sliding window). */
  inFlight: number;
  /** Recipients of sent chunks whose outcomes are still coming (e.g. waiting for consent). */
  awaitingOutcome: number;
  templateId?: string;
  /** The first issues found in the recipients (line or index, and field). */
  issues: ValidationIssue[];
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
}

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
}

/** A chunk workflow failing (e.g. its file rows cannot be read) says so before it ends. */
export interface ChunkFailedPayload {
  chunkIndex: number;
  reason: string;
}

export interface ChunkParkedPayload {
  chunkIndex: number;
  /** ISO time the chunk will try again. */
  until: string;
  reason: 'rate' | 'quota';
}

export const chunkSentSignal = defineSignal<[ChunkSentPayload]>('chunkSent');
export const chunkFinishedSignal = defineSignal<[ChunkFinishedPayload]>('chunkFinished');
export const chunkParkedSignal = defineSignal<[ChunkParkedPayload]>('chunkParked');
export const chunkFailedSignal = defineSignal<[ChunkFailedPayload]>('chunkFailed');

/**
 * The same controls as a signal, for tools that can only signal (the Web UI's "Send a Signal",
 * `temporal workflow signal`). Unlike the updates it cannot answer: an action the campaign's
 * state does not allow is logged and ignored.
 */
export const campaignControlSignal = defineSignal<[ChunkControlPayload]>('control');
export const pauseUpdate = defineUpdate<CampaignProgress>('pause');
export const resumeUpdate = defineUpdate<CampaignProgress>('resume');
export const cancelUpdate = defineUpdate<CampaignProgress>('cancel');
export const progressQuery = defineQuery<CampaignProgress>('progress');
