// Chunk workflow (id campaign/<id>/chunk/<n>): one CreateSendRequest of at most 1,000 recipients,
// and those recipients' outcomes until each has a final one and, by policy, a fallback. The
// recipients' state machine is ChunkState (state.ts); this file is the Temporal shell around it.
//
// Exactly once: the workflow decides every retry of the send itself (the activity runs once per
// attempt). Refused → wait the server's hint on a workflow timer and try again; rejected → the
// recipients are invalid/failed; ambiguous or timed out → reconcile (adopt the accepted request, or
// resend only when reconciliation is certain nothing was accepted).
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { fallbackTriggers } from '../../src/campaign/spec';
import { CONSENT_REPORTS_PER_WINDOW, chunkConsentSignal, chunkFailedSignal, chunkFinishedSignal, chunkParkedSignal, chunkReconcilingSignal, chunkSentSignal } from '../../src/contracts/campaign';
import type { ChunkFailedPayload, ChunkFinishedPayload, ChunkParkedPayload, ChunkReconcilingPayload, ChunkSentPayload } from '../../src/contracts/campaign';
import { chunkControlSignal, chunkProgressQuery, chunkRecipientsQuery, decodeBatch, decodeSendFailure, deliveryBatchSignal, deliveryEventsSignal, fromDeliveryEvents } from '../../src/contracts/chunk';
import type { ChunkInput, ChunkResult, SendFailure } from '../../src/contracts/chunk';
import { innermostMessage } from '../../src/temporal/failures';
import { SEND_REQUEST_ID_KEY } from '../../src/temporal/names';
import { OutcomeMetrics, recordReconcileResult, recordRefusal, recordSendResult } from '../metrics';
import { chunkDetails } from './details';
import { beginSend, readChunkPpnums, reconcileSend, sendActivities, sendFallbacks, sendFallbacksLocally, snapshotOutcomes } from './proxies';
import { ChunkState } from './state';
import type { ChunkCarry } from './state';

/** A refused send waiting longer than this parks the campaign (visible to the user). */
const PARK_AFTER_MS = 60_000;
const MAX_BACKOFF_MS = 60_000;
const FALLBACK_BATCH = 100;

/** Patch ids: histories recorded before each change replay without it. */
const PATCHES = {
  /** Chunks report their own failure by signal (the campaign may have continued as new). */
  reportChunkFailure: 'report-chunk-failure',
  /** GetSendRequestStatus for the unsettled before the consent window closes. */
  snapshotBeforeExpiry: 'snapshot-before-expiry',
  /** A reconciling chunk tells the campaign, which lets another chunk into the window meanwhile. */
  reconcileOutsideWindow: 'reconcile-outside-window',
  /** A long trickle of events: continue as new (ChunkCarry) when Temporal suggests it. */
  continueAsNew: 'chunk-continue-as-new',
  /** Fallback batches as local activities. */
  localFallbacks: 'local-fallbacks',
  /** Consent figures reported to the campaign while outcomes come in. */
  consentReports: 'consent-reports',
} as const;

/** `carry`: this chunk continued as new while following outcomes (the send is done). */
export async function chunkWorkflow(input: ChunkInput, carry?: ChunkCarry): Promise<ChunkResult> {
  const options = { chunkIndex: input.chunkIndex, fallbackOn: fallbackTriggers(input.fallback), paused: input.initialControl === 'paused' };
  const chunk = carry ? ChunkState.continued(options, carry) : new ChunkState(options);
  // A continued chunk's earlier runs recorded the outcomes it carries.
  const outcomes = new OutcomeMetrics(carry ? chunk.counts() : undefined);
  const show = () => {
    setCurrentDetails(chunkDetails(chunk.progress()));
    outcomes.record(chunk.counts());
  };
  // Handlers before the first await, so no early signal or query is missed.
  setHandler(deliveryBatchSignal, (batch) => {
    chunk.receive(decodeBatch(batch));
    show();
  });
  setHandler(deliveryEventsSignal, (payload) => {
    chunk.receive(fromDeliveryEvents(payload));
    show();
  });
  setHandler(chunkControlSignal, ({ action }) => {
    if (chunk.control(action)) show();
  });
  setHandler(chunkRecipientsQuery, () => chunk.recipients());
  setHandler(chunkProgressQuery, () => chunk.progress());
  try {
    return await runChunk(chunk, input, show, carry !== undefined);
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // not a failure: the chunk goes on in its next run
    if (patched(PATCHES.reportChunkFailure)) {
      const payload: ChunkFailedPayload = { chunkIndex: input.chunkIndex, reason: innermostMessage(err) };
      await CancellationScope.nonCancellable(() => signalCampaign(input, (campaign) => campaign.signal(chunkFailedSignal, payload)));
    }
    throw err;
  }
}

async function runChunk(chunk: ChunkState, input: ChunkInput, show: () => void, continued: boolean): Promise<ChunkResult> {
  if (!continued) {
    chunk.load(input.source.kind === 'inline' ? input.source.recipients.map((r) => r.ppnum) : await readChunkPpnums(input.source));
    show();
    if (chunk.size > 0) await send(chunk, input, show);
  }
  if (chunk.sendRequestId === undefined) {
    chunk.finishUnsent(); // cancelled, or already settled by a rejection
    await dispatchFallbacks(chunk, input, show); // a rejected request's 'failed' recipients, if the policy says so
  } else {
    await followOutcomes(chunk, input, show);
  }

  chunk.finish();
  show();
  const counts = chunk.counts();
  const finished: ChunkFinishedPayload = { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId, counts, pollResponses: chunk.pollResponses(), consent: chunk.consent() };
  await signalCampaign(input, (campaign) => campaign.signal(chunkFinishedSignal, finished));
  await condition(allHandlersFinished);
  return { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId, counts, consent: finished.consent };
}

/** Sends once, retrying only when it is certain nothing was accepted; ends with a send request id, or none (cancelled/rejected). */
async function send(chunk: ChunkState, input: ChunkInput, show: () => void): Promise<void> {
  const { createSendRequest } = sendActivities();
  const ppnums = chunk.ppnums();
  for (let attempt = 1; ; attempt++) {
    if (chunk.paused) {
      chunk.holdForPause();
      show();
    }
    await condition(() => !chunk.paused || chunk.cancelled);
    if (chunk.cancelled) return;
    chunk.beginAttempt(attempt);
    show();
    // A fresh cursor per attempt is enough: earlier attempts are known to have been accepted nowhere.
    const { cursorBefore } = await beginSend();
    if (chunk.paused || chunk.cancelled) continue; // arrived while taking the cursor: act before sending
    chunk.markSending();
    show();
    let failure: SendFailure;
    try {
      const receipt = await createSendRequest({ templateId: input.templateId, source: input.source, pollConfig: input.pollConfig });
      recordSendResult('accepted');
      return await accepted(chunk, input, receipt.sendRequestId, 'accepted', show);
    } catch (err) {
      failure = sendFailureOf(err);
      if (failure.kind !== 'empty') recordSendResult(failure.kind);
    }
    if (failure.kind === 'refused') {
      const waitMs = failure.retryAfterMs ?? backoff(attempt);
      const until = new Date(Date.now() + waitMs).toISOString();
      chunk.refused(failure.codeName, until);
      recordRefusal(failure.codeName, waitMs);
      show();
      if (failure.quota || waitMs > PARK_AFTER_MS) {
        const parked: ChunkParkedPayload = { chunkIndex: input.chunkIndex, until, reason: failure.quota ? 'quota' : 'rate' };
        await signalCampaign(input, (campaign) => campaign.signal(chunkParkedSignal, parked));
      }
      // Exactly the server's hint; a cancel ends the wait at once.
      await condition(() => chunk.cancelled, waitMs);
      chunk.retryDue();
      continue;
    }
    if (failure.kind === 'rejected') {
      chunk.rejected(failure.codeName === 'INVALID_ARGUMENT' ? 'invalid' : 'failed', failure.codeName, failure.message);
      show();
      return;
    }
    if (failure.kind === 'empty') return;
    // Ambiguous (INTERNAL, deadline, lost connection) or the activity timed out (worker died):
    // the request may have been accepted. Look before sending again.
    chunk.reconciling();
    show();
    const reconciling: ChunkReconcilingPayload = { chunkIndex: input.chunkIndex };
    const told = patched(PATCHES.reconcileOutsideWindow) ? signalCampaign(input, (campaign) => campaign.signal(chunkReconcilingSignal, reconciling)) : undefined;
    const { sendRequestId } = await reconcileSend({ cursorBefore, ppnums, templateId: input.templateId });
    await told;
    recordReconcileResult(sendRequestId !== null ? 'adopted' : 'not_accepted');
    if (sendRequestId !== null) return await accepted(chunk, input, sendRequestId, 'adopted after reconciliation', show);
    chunk.notAccepted();
    show();
    await sleep(backoff(attempt));
  }
}

async function accepted(chunk: ChunkState, input: ChunkInput, sendRequestId: string, how: string, show: () => void): Promise<void> {
  chunk.accepted(sendRequestId, how);
  upsertSearchAttributes([{ key: SEND_REQUEST_ID_KEY, value: sendRequestId }]);
  show();
  const sent: ChunkSentPayload = { chunkIndex: input.chunkIndex, sendRequestId, recipients: chunk.size };
  await signalCampaign(input, (campaign) => campaign.signal(chunkSentSignal, sent));
}

/**
 * Applies events until every recipient has an outcome or the consent window (from the send) ends,
 * dispatching fallbacks as soon as outcomes named by the policy appear.
 */
async function followOutcomes(chunk: ChunkState, input: ChunkInput, show: () => void): Promise<void> {
  const deadline = (chunk.sentAt ?? Date.now()) + input.consentWindowMs;
  const reportEveryMs = input.consentWindowMs / CONSENT_REPORTS_PER_WINDOW;
  // Each patch is asked once, the first time it matters; histories from before it never continue or report.
  let canContinue: boolean | undefined;
  let canReport: boolean | undefined;
  const continueDue = () => canContinue !== false && workflowInfo().continueAsNewSuggested;
  const reportDue = () => (canReport !== false ? chunk.consentReportDue(reportEveryMs) : undefined);
  /** The workflow task that last sent fallbacks as local activities (their results are recorded when it completes). */
  let fallbacksInTask = -1;
  for (;;) {
    if (await dispatchFallbacks(chunk, input, show)) fallbacksInTask = workflowInfo().historyLength;
    if (chunk.allSettled()) break;
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    // A day-long trickle of events: go on in a fresh run with compact state (no fallback batch is in flight here).
    if (continueDue() && (canContinue ??= patched(PATCHES.continueAsNew))) {
      // The server refuses to continue a run whose new signals are unseen, and would drop this task's
      // local-activity results with it (fallbacks sent twice): record them in a task of their own first.
      if (fallbacksInTask === workflowInfo().historyLength) await sleep(1);
      await condition(allHandlersFinished);
      await continueAsNew<typeof chunkWorkflow>(input, chunk.carry());
    }
    const report = reportDue();
    if (report && (canReport ??= patched(PATCHES.consentReports))) {
      chunk.consentReported(report);
      await signalCampaign(input, (campaign) => campaign.signal(chunkConsentSignal, { chunkIndex: input.chunkIndex, consent: report }));
    }
    await condition(() => chunk.allSettled() || chunk.hasFallbacksDue() || continueDue() || reportDue() !== undefined, remaining);
  }
  // Before declaring anyone expired, ask the API itself: the stream may be late (listener down).
  if (!chunk.allSettled() && chunk.sendRequestId !== undefined && patched(PATCHES.snapshotBeforeExpiry)) {
    chunk.applySnapshot(await snapshotOutcomes({ sendRequestId: chunk.sendRequestId, ppnums: chunk.unsettledPpnums() }));
  }
  chunk.expireUnsettled();
  show();
  await dispatchFallbacks(chunk, input, show);
}

/** Sends the fallbacks that are due, in batches; returns whether there were any. */
async function dispatchFallbacks(chunk: ChunkState, input: ChunkInput, show: () => void): Promise<boolean> {
  const fallback = input.fallback;
  const any = fallback !== undefined && chunk.hasFallbacksDue();
  while (fallback && chunk.hasFallbacksDue()) {
    // Taken off the queue before the activity is scheduled: a recipient is never dispatched twice.
    const batch = chunk.nextFallbackBatch(FALLBACK_BATCH);
    show();
    const vars = input.source.kind === 'inline' ? new Map(input.source.recipients.map((r) => [r.ppnum, r.vars])) : undefined;
    const items = batch.map((record) => ({ ppnum: record.ppnum, outcome: record.outcome, vars: vars?.get(record.ppnum) }));
    try {
      const results = await (patched(PATCHES.localFallbacks) ? sendFallbacksLocally : sendFallbacks)({
        campaignId: input.campaignId,
        chunkIndex: input.chunkIndex,
        channel: fallback.channel,
        template: fallback.text,
        items,
        // File, URL and PostgreSQL sources: the activity reads the vars itself, so they never enter this history.
        source: input.source.kind === 'inline' ? undefined : input.source,
      });
      const byPpnum = new Map(results.map((result) => [result.ppnum, result]));
      for (const record of batch) {
        const result = byPpnum.get(record.ppnum);
        chunk.recordFallback(record.ppnum, result?.status === 'sent' ? 'sent' : 'failed', result?.error);
      }
    } catch (err) {
      log.warn('fallback batch failed', { chunkIndex: input.chunkIndex, recipients: batch.length, error: innermostMessage(err) });
      for (const record of batch) chunk.recordFallback(record.ppnum, 'failed', 'fallback activity failed');
    }
    show();
  }
  return any;
}

/** What a failed createSendRequest means for the chunk; a timeout (worker died mid-call) is ambiguous. */
function sendFailureOf(err: unknown): SendFailure {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof TimeoutFailure || !(cause instanceof ApplicationFailure)) return { kind: 'ambiguous' };
  return decodeSendFailure(cause.type, cause.details?.[0], cause.message);
}

/** 1 s, 2 s, 4 s ... capped at a minute: used when the server gave no retry hint. */
function backoff(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** (attempt - 1));
}

/** Signals the campaign by workflow id (survives its continue-as-new); a missing campaign is only logged. */
async function signalCampaign(input: ChunkInput, send: (campaign: ReturnType<typeof getExternalWorkflowHandle>) => Promise<void>): Promise<void> {
  try {
    await send(getExternalWorkflowHandle(input.parentWorkflowId));
  } catch (err) {
    log.warn('could not signal the campaign workflow', { campaign: input.parentWorkflowId, error: innermostMessage(err) });
  }
}
