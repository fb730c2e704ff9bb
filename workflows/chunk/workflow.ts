// Chunk workflow (id campaign/<id>/chunk/<n>): one CreateSendRequest of at most 1,000 recipients,
// and those recipients' outcomes until each has a final one and, by policy, a fallback. The
// recipients' state machine is ChunkState (state.ts); this file is the Temporal shell around it,
// with the send (send.ts) and the fallbacks (fallbacks.ts) beside it.
import {
  CancellationScope,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index';
import { fallbackTriggers } from '../../src/campaign/spec';
import { chunkFailedSignal, chunkFinishedSignal } from '../../src/contracts/campaign';
import type { ChunkFailedPayload, ChunkFinishedPayload } from '../../src/contracts/campaign';
import { chunkControlSignal, chunkProgressQuery, chunkRecipientsQuery, chunkSourceQuery, deliveryEventsSignal } from '../../src/contracts/chunk';
import type { ChunkInput, ChunkResult } from '../../src/contracts/chunk';
import { innermostMessage } from '../../src/temporal/failures';
import { chunkDetails } from './details';
import { dispatchFallbacks } from './fallbacks';
import { signalCampaign } from './report';
import { send } from './send';
import { ChunkState } from './state';

/** Short reads run as local activities: one history event each instead of a task round trip. */
const { readChunkPpnums, readFollowUpOutcomes } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

const { snapshotOutcomes } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** After our consent window, late final events still apply for this long (at most the window itself). */
const LATE_EVENTS_GRACE_MS = 5 * 60_000;

/** Patch ids: histories recorded before each change replay without it. */
const PATCHES = {
  /** Chunks report their own failure by signal (the campaign may have continued as new). */
  reportChunkFailure: 'report-chunk-failure',
  /** GetSendRequestStatus for the unsettled before the consent window closes. */
  snapshotBeforeExpiry: 'snapshot-before-expiry',
  /** Fallback batches wait out channel faults; late events apply after the window; expiry is never 'failed'. */
  operatorFaults: 'operator-faults',
} as const;

export async function chunkWorkflow(input: ChunkInput): Promise<ChunkResult> {
  const chunk = new ChunkState({ chunkIndex: input.chunkIndex, fallbackOn: fallbackTriggers(input.fallback), paused: input.initialControl === 'paused' });
  const show = () => setCurrentDetails(chunkDetails(chunk.progress()));
  // Handlers before the first await, so no early signal or query is missed.
  setHandler(deliveryEventsSignal, ({ events }) => {
    chunk.receive(events);
    show();
  });
  setHandler(chunkControlSignal, ({ action }) => {
    if (chunk.control(action)) show();
  });
  setHandler(chunkRecipientsQuery, () => chunk.records);
  setHandler(chunkProgressQuery, () => chunk.progress());
  setHandler(chunkSourceQuery, () => input.source);
  try {
    return await runChunk(chunk, input, show);
  } catch (err) {
    if (patched(PATCHES.reportChunkFailure)) {
      const payload: ChunkFailedPayload = { chunkIndex: input.chunkIndex, reason: innermostMessage(err) };
      await CancellationScope.nonCancellable(() => signalCampaign(input, (campaign) => campaign.signal(chunkFailedSignal, payload)));
    }
    throw err;
  }
}

/** Asked only where the code differs, so a chunk that never gets there records no marker. */
const current = () => patched(PATCHES.operatorFaults);

async function runChunk(chunk: ChunkState, input: ChunkInput, show: () => void): Promise<ChunkResult> {
  const { source } = input;
  if (source.kind === 'followUp' && source.outcome === 'fallback-failed') {
    // A follow-up for fallbacks only: nobody is messaged on Ppoppo again.
    chunk.loadForFallback(await readFollowUpOutcomes(source), `fallback retried for campaign ${source.campaignId}`);
    show();
    await dispatchFallbacks(chunk, input, show, current);
  } else {
    chunk.load(source.kind === 'inline' ? source.recipients.map((r) => r.ppnum) : await readChunkPpnums(source));
    show();
    if (chunk.records.length > 0) await send(chunk, input, show);
    if (chunk.sendRequestId === undefined) {
      chunk.finishUnsent(); // cancelled, or already settled by a rejection
      await dispatchFallbacks(chunk, input, show, current); // a rejected request's 'failed' recipients, if the policy says so
    } else {
      await followOutcomes(chunk, input, show);
    }
  }

  chunk.finish();
  show();
  const counts = chunk.counts();
  const finished: ChunkFinishedPayload = { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId, counts, pollResponses: chunk.pollResponses() };
  await signalCampaign(input, (campaign) => campaign.signal(chunkFinishedSignal, finished));
  await condition(allHandlersFinished);
  return { chunkIndex: input.chunkIndex, sendRequestId: chunk.sendRequestId, counts };
}

/**
 * Applies events until every recipient has an outcome or the consent window (from the send) ends,
 * dispatching fallbacks as soon as outcomes named by the policy appear. After the window, a late
 * final event (a denial, a delivery) still replaces our expiry for a short grace.
 */
async function followOutcomes(chunk: ChunkState, input: ChunkInput, show: () => void): Promise<void> {
  const deadline = (chunk.sentAt ?? Date.now()) + input.consentWindowMs;
  const dispatch = () => dispatchFallbacks(chunk, input, show, current);
  for (;;) {
    await dispatch();
    if (chunk.allSettled()) break;
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await condition(() => chunk.allSettled() || chunk.hasFallbacksDue(), remaining);
  }
  // Before declaring anyone expired, ask the API itself: the stream may be late (listener down).
  if (!chunk.allSettled() && chunk.sendRequestId !== undefined && patched(PATCHES.snapshotBeforeExpiry)) {
    chunk.applySnapshot(await snapshotOutcomes({ sendRequestId: chunk.sendRequestId, ppnums: chunk.unsettledPpnums() }));
  }
  const lateEvents = !chunk.allSettled() && current();
  chunk.expireUnsettled({ noEventFails: !lateEvents });
  show();
  const closeAt = Date.now() + Math.min(input.consentWindowMs, LATE_EVENTS_GRACE_MS);
  while (lateEvents && chunk.hasLateOpen()) {
    await dispatch(); // a late denial gets its fallback at once
    const remaining = closeAt - Date.now();
    if (remaining <= 0) break;
    await condition(() => !chunk.hasLateOpen() || chunk.hasFallbacksDue(), remaining);
  }
  chunk.closeLateEvents();
  show();
  await dispatch();
}
