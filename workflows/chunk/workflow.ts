// Chunk workflow (id campaign/<id>/chunk/<n>): one CreateSendRequest of at most 1,000 recipients,
// and those recipients' outcomes until each has a final one and, by policy, a fallback. The
// recipients' state machine is ChunkState (state.ts); this file is the Temporal shell around it,
// with the send (send.ts), the fallbacks (fallbacks.ts) and the activity proxies (proxies.ts) beside it.
import {
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { fallbackTriggers } from '../../src/campaign/spec';
import { CONSENT_REPORTS_PER_WINDOW, chunkConsentSignal, chunkFailedSignal, chunkFinishedSignal } from '../../src/contracts/campaign';
import type { ChunkFailedPayload, ChunkFinishedPayload } from '../../src/contracts/campaign';
import {
  chunkControlSignal,
  chunkProgressQuery,
  chunkRecipientsQuery,
  chunkSourceQuery,
  decodeBatch,
  deliveryBatchSignal,
  deliveryBatchesSignal,
  deliveryEventsSignal,
  fromDeliveryEvents,
  reportFinishBySignal,
} from '../../src/contracts/chunk';
import type { ChunkInput, ChunkResult } from '../../src/contracts/chunk';
import { innermostMessage } from '../../src/temporal/failures';
import { OutcomeMetrics } from '../metrics';
import { chunkDetails } from './details';
import { dispatchFallbacks } from './fallbacks';
import { CHUNK_PATCHES } from './patches';
import { readChunkPpnums, readFollowUpOutcomes, snapshotOutcomes } from './proxies';
import { signalCampaign } from './report';
import { send } from './send';
import { ChunkState } from './state';
import type { ChunkCarry } from './state';

/** After our consent window, late final events still apply for this long (at most the window itself). */
const LATE_EVENTS_GRACE_MS = 5 * 60_000;

/** `carry`: this chunk continued as new while following outcomes (the send is done). */
export async function chunkWorkflow(input: ChunkInput, carry?: ChunkCarry): Promise<ChunkResult> {
  const options = { chunkIndex: input.chunkIndex, fallbackOn: fallbackTriggers(input.fallback), paused: input.initialControl === 'paused', plannedRecipients: input.plannedRecipients, requestSize: input.requestSize };
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
  setHandler(deliveryBatchesSignal, ({ batches }) => {
    for (const batch of batches) chunk.receive(decodeBatch(batch));
    show();
  });
  setHandler(deliveryEventsSignal, (payload) => {
    chunk.receive(fromDeliveryEvents(payload));
    show();
  });
  setHandler(chunkControlSignal, ({ action }) => {
    if (chunk.control(action)) show();
  });
  setHandler(reportFinishBySignal, () => {
    chunk.reportFinishBySignal = true;
  });
  setHandler(chunkRecipientsQuery, () => chunk.recipients());
  setHandler(chunkProgressQuery, () => chunk.progress());
  setHandler(chunkSourceQuery, () => input.source);
  try {
    return await runChunk(chunk, input, show, carry !== undefined);
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // not a failure: the chunk goes on in its next run
    if (patched(CHUNK_PATCHES.reportChunkFailure)) {
      const payload: ChunkFailedPayload = { chunkIndex: input.chunkIndex, reason: innermostMessage(err) };
      await CancellationScope.nonCancellable(() => signalCampaign(input, (campaign) => campaign.signal(chunkFailedSignal, payload)));
    }
    throw err;
  }
}

/** Asked only where the code differs, so a chunk that never gets there records no marker. */
const current = () => patched(CHUNK_PATCHES.operatorFaults);

async function runChunk(chunk: ChunkState, input: ChunkInput, show: () => void, continued: boolean): Promise<ChunkResult> {
  const { source } = input;
  /** The workflow task that last sent fallbacks as local activities (older histories; their results are recorded when it completes). */
  let fallbacksInTask = -1;
  const dispatch = async (stopBetweenBatches?: () => boolean) => {
    if (await dispatchFallbacks(chunk, input, show, current, stopBetweenBatches)) fallbacksInTask = workflowInfo().historyLength;
  };
  if (!continued && source.kind === 'followUp' && source.outcome === 'fallback-failed') {
    // A follow-up for fallbacks only: nobody is messaged on Ppoppo again.
    chunk.loadForFallback(await readFollowUpOutcomes(source), `fallback retried for campaign ${source.campaignId}`);
    show();
    await dispatch();
  } else {
    if (!continued) {
      const load = async () => {
        chunk.load(source.kind === 'inline' ? source.recipients.map((r) => r.ppnum) : await readChunkPpnums(source));
        show();
      };
      if (input.afterLocalActivities === 'fixed' && source.kind !== 'inline') {
        // A list to read is read after the pre-send checks, so they never follow the read's result (see ChunkInput).
        await send(chunk, input, show, load);
      } else {
        await load();
        if (chunk.size > 0) await send(chunk, input, show);
      }
    }
    if (chunk.sendRequestId === undefined) {
      chunk.finishUnsent(); // cancelled, or already settled by a rejection
      await dispatch(); // a rejected request's 'failed' recipients, if the policy says so
    } else {
      if (chunk.sendPart()) chunk.finishUnsent(); // sent as several, and cancelled before the last
      await followOutcomes(chunk, input, show, dispatch, () => fallbacksInTask === workflowInfo().historyLength);
    }
  }

  chunk.finish();
  show();
  const counts = chunk.counts();
  const ids = chunk.sendRequestIds();
  const several = ids.length > 1 ? { sendRequestIds: ids } : {};
  const finished: ChunkFinishedPayload = { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId, ...several, counts, pollResponses: chunk.pollResponses(), consent: chunk.consent() };
  // A campaign run that started this chunk with finishReport 'result' counts it from the completion
  // (no signal, no extra workflow task); told otherwise, or started before that, the chunk signals.
  // A chunk that never sent can end right after its read (a local activity), where nothing may look
  // at signals (see ChunkInput.afterLocalActivities): it signals its end always; the campaign counts it once.
  const unsentSignals = chunk.sendRequestId === undefined && input.afterLocalActivities === 'fixed';
  const bySignal = () => unsentSignals || input.finishReport !== 'result' || chunk.reportFinishBySignal;
  // The server refuses to complete a run whose new signals are unseen, and would drop this task's
  // local-activity results with it (fallbacks sent twice): record them in a task of their own first.
  if (!bySignal() && fallbacksInTask === workflowInfo().historyLength) await sleep(1);
  if (bySignal()) await signalCampaign(input, (campaign) => campaign.signal(chunkFinishedSignal, finished));
  await condition(allHandlersFinished);
  return { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId, ...several, counts, consent: finished.consent };
}

/**
 * Applies events until every recipient has an outcome or the consent window (from the send) ends,
 * dispatching fallbacks as soon as outcomes named by the policy appear, reporting consent figures
 * to the campaign, and continuing as new on a day-long trickle. After the window, a late final
 * event (a denial, a delivery) still replaces our expiry for a short grace.
 */
async function followOutcomes(chunk: ChunkState, input: ChunkInput, show: () => void, dispatch: (stopBetweenBatches?: () => boolean) => Promise<void>, fallbacksInThisTask: () => boolean): Promise<void> {
  const deadline = (chunk.sentAt ?? Date.now()) + input.consentWindowMs;
  const reportEveryMs = input.consentWindowMs / CONSENT_REPORTS_PER_WINDOW;
  // Each patch is asked once, the first time it matters; histories from before it never continue or report.
  let canContinue: boolean | undefined;
  let canReport: boolean | undefined;
  let canStopDispatch: boolean | undefined;
  // Reports due on the counts alone: asked (until yes) only as a consent report goes out, a command
  // anyway, so no history recorded before it ever wakes at a new point. A run that continued from
  // one that reported counts goes on doing so.
  let countsDue = chunk.reportedCounts();
  const continueDue = () => {
    if (canContinue === false) return false;
    const info = workflowInfo();
    return info.continueAsNewSuggested || (input.continueAtEvents !== undefined && info.historyLength >= input.continueAtEvents);
  };
  const reportDue = () => (canReport !== false ? chunk.reportDue(reportEveryMs, { counts: countsDue }) : undefined);
  // A change the report interval holds back wakes the chunk when the interval ends: a quiet hour
  // would otherwise leave the campaign's figures stale until the next event or the window's end.
  const heldUntil = () => (input.heldReports === 'wake' && canReport !== false ? chunk.reportHeldUntil(reportEveryMs, { counts: countsDue }) : undefined);
  /** When the current wait ends at the latest; a change held back until sooner ends it to wait less. */
  let wakeAt = Infinity;
  const heldSooner = () => (heldUntil() ?? Infinity) < wakeAt;
  /** A day-long trickle of events: go on in a fresh run with compact state (no fallback batch is in flight here). */
  const continueIfDue = async () => {
    if (!(continueDue() && (canContinue ??= patched(CHUNK_PATCHES.continueAsNew)))) return;
    // The server refuses to continue a run whose new signals are unseen, and would drop this task's
    // local-activity results with it (fallbacks sent twice): record them in a task of their own first.
    if (fallbacksInThisTask()) await sleep(1);
    await condition(allHandlersFinished);
    await continueAsNew<typeof chunkWorkflow>(input, chunk.carry());
  };
  // Hundreds of fallbacks go out in batches while events keep coming: the run may continue as new
  // between two of them (the queue is rebuilt from the carry). Asked only once a run is due to continue.
  const continueBetweenBatches = () => continueDue() && (canStopDispatch ??= patched(CHUNK_PATCHES.continueBetweenFallbacks));
  /** Dispatches what is due, continuing as new between batches when due (only a stopped dispatch leaves any due). */
  const dispatchOrContinue = async () => {
    await dispatch(continueBetweenBatches);
    if (chunk.hasFallbacksDue()) await continueIfDue();
  };
  for (;;) {
    await dispatchOrContinue();
    if (chunk.allSettled()) break;
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await continueIfDue();
    const report = reportDue();
    if (report && (canReport ??= patched(CHUNK_PATCHES.consentReports))) {
      if (!report.countsOnly) countsDue ||= patched(CHUNK_PATCHES.countsInReports);
      const counts = chunk.reported(report.consent);
      await signalCampaign(input, (campaign) => campaign.signal(chunkConsentSignal, { chunkIndex: input.chunkIndex, consent: report.consent, counts }));
    }
    const held = heldUntil();
    const waitMs = held === undefined ? remaining : Math.max(1, Math.min(remaining, held - Date.now()));
    wakeAt = Date.now() + waitMs;
    await condition(() => chunk.allSettled() || chunk.hasFallbacksDue() || continueDue() || reportDue() !== undefined || heldSooner(), waitMs);
  }
  const graceMs = Math.min(input.consentWindowMs, LATE_EVENTS_GRACE_MS);
  // A run that continued as new during the grace goes on with it, counted from the window's end.
  let closeAt = deadline + graceMs;
  if (!chunk.hasLateOpen()) {
    // Before declaring anyone expired, ask the API itself: the stream may be late (listener down).
    if (!chunk.allSettled() && chunk.sendRequestId !== undefined && patched(CHUNK_PATCHES.snapshotBeforeExpiry)) {
      // One request per chunk: one snapshot, as before; several: one per request.
      for (const unsettled of chunk.unsettledByRequest()) chunk.applySnapshot(await snapshotOutcomes(unsettled));
    }
    const lateEvents = !chunk.allSettled() && current();
    chunk.expireUnsettled({ noEventFails: !lateEvents });
    show();
    closeAt = Date.now() + graceMs;
  }
  while (chunk.hasLateOpen()) {
    await dispatchOrContinue(); // a late denial gets its fallback at once
    const remaining = closeAt - Date.now();
    if (remaining <= 0) break;
    await continueIfDue();
    await condition(() => !chunk.hasLateOpen() || chunk.hasFallbacksDue() || continueDue(), remaining);
  }
  chunk.closeLateEvents();
  show();
  await dispatch();
}
