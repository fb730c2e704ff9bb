// The chunk's fallbacks: batches through the campaign's channel as soon as outcomes call for them,
// at most once per recipient. When the channel itself is at fault (unreachable, 5xx, refused
// credentials, bad settings) the batch waits and tries again, honouring the other side's
// Retry-After, for up to the spec's fallback.retryFor; the campaign shows it parked meanwhile.
// What finally could not be sent ends 'fallback failed' (and `campaign retry --outcome
// fallback-failed` can send it again).
import { condition, log, patched } from '@temporalio/workflow';
import type { FallbackProgress } from '../../activities/fallback/index';
import { fallbackRetryForMs } from '../../src/campaign/spec';
import type { ChunkInput } from '../../src/contracts/chunk';
import { innermostMessage } from '../../src/temporal/failures';
import { backoff, configurationFaultOf, faultExtra } from '../activity-faults';
import { CHUNK_PATCHES } from './patches';
import { sendFallbacks, sendFallbacksLocally } from './proxies';
import { reportBlocked, reportUnblocked } from './report';
import type { ChunkState } from './state';

const FALLBACK_BATCH = 100;
/** A channel fault is tried again after 30 s, 1 min, 2 min … at most every 15 minutes (sooner on resume). */
const FALLBACK_FIRST_RETRY_MS = 30_000;
const FALLBACK_MAX_RETRY_MS = 15 * 60_000;

/**
 * Sends every fallback due, or stops between two batches when `stopBetweenBatches()` says so (the
 * rest stays queued); returns whether any batch went as a local activity (chunks started
 * without afterLocalActivities 'fixed'). `holdOnFaults()` (true but in histories
 * recorded before; asked only when a batch fails) waits out channel faults as described above;
 * before, the batch failed at once.
 */
export async function dispatchFallbacks(chunk: ChunkState, input: ChunkInput, show: () => void, holdOnFaults: () => boolean, stopBetweenBatches?: () => boolean): Promise<boolean> {
  const fallback = input.fallback;
  let sentLocally = false;
  const retryForMs = fallbackRetryForMs(fallback);
  let faultTries = 0;
  while (fallback && chunk.hasFallbacksDue()) {
    // The caller continues as new here: no batch is in flight, and the next run takes up the queue.
    if (stopBetweenBatches?.()) return sentLocally;
    // Taken off the queue before the activity is scheduled: a recipient is never dispatched twice.
    const batch = chunk.nextFallbackBatch(FALLBACK_BATCH);
    show();
    const vars = input.source.kind === 'inline' ? new Map(input.source.recipients.map((r) => [r.ppnum, r.vars])) : undefined;
    const items = batch.map((record) => ({ ppnum: record.ppnum, outcome: record.outcome, vars: vars?.get(record.ppnum) }));
    try {
      const local = input.afterLocalActivities !== 'fixed' && patched(CHUNK_PATCHES.localFallbacks);
      sentLocally ||= local;
      const results = await (local ? sendFallbacksLocally : sendFallbacks)({
        // A follow-up retrying fallbacks sends them as the original campaign's (same idempotency keys).
        campaignId: input.source.kind === 'followUp' && input.source.outcome === 'fallback-failed' ? input.source.campaignId : input.campaignId,
        chunkIndex: input.chunkIndex,
        channel: fallback.channel,
        template: fallback.text,
        items,
        // File, URL, PostgreSQL and follow-up sources: the activity reads the vars itself, so they never enter this history.
        source: input.source.kind === 'inline' ? undefined : input.source,
      });
      const byPpnum = new Map(results.map((result) => [result.ppnum, result]));
      for (const record of batch) {
        const result = byPpnum.get(record.ppnum);
        chunk.recordFallback(record.ppnum, result?.status === 'sent' ? 'sent' : 'failed', result?.error);
      }
      faultTries = 0;
      await reportUnblocked(input, chunk); // a no-op unless a fault held this chunk
    } catch (err) {
      const decoded = configurationFaultOf(err);
      const fault = decoded && holdOnFaults() ? decoded : undefined;
      if (!fault) {
        log.warn('fallback batch failed', { chunkIndex: input.chunkIndex, recipients: batch.length, error: innermostMessage(err) });
        for (const record of batch) chunk.recordFallback(record.ppnum, 'failed', 'fallback activity failed');
        show();
        continue;
      }
      for (const result of (faultExtra(err) as FallbackProgress | undefined)?.done ?? []) chunk.recordFallback(result.ppnum, result.status, result.error);
      const since = chunk.blocked?.reason === 'fallback' ? Date.parse(chunk.blocked.since) : Date.now();
      const left = since + retryForMs - Date.now();
      if (left <= 0) {
        // Tried for retryFor: these end 'fallback failed'; the block stays, so later batches give up at once too.
        for (const record of batch) chunk.recordFallback(record.ppnum, 'failed', `${fault.message} (still failing after ${Math.round(retryForMs / 60_000)} min)`);
        show();
        continue;
      }
      chunk.requeueFallbacks(batch);
      faultTries += 1;
      const waitMs = Math.max(1_000, Math.min(left, fault.retryAfterMs ?? backoff(faultTries, FALLBACK_FIRST_RETRY_MS, FALLBACK_MAX_RETRY_MS)));
      if (chunk.blockedBy(fault, new Date(Date.now() + waitMs).toISOString())) await reportBlocked(input, chunk);
      show();
      await condition(() => chunk.wakeRequested, waitMs);
    }
    show();
  }
  await reportUnblocked(input, chunk); // done, or given up: the campaign need not wait for this chunk
  return sentLocally;
}
