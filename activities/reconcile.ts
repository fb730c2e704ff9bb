// Reconciling an ambiguous CreateSendRequest: was it accepted after all, and under which id?
//
// The API has no idempotency key, so we look at the app-wide event stream from a cursor taken
// before the call: an accepted request produces events for its recipients. Every send request
// with events about our ppnums is a candidate; it is ours only if its recipient set equals ours
// (GetSendRequestStatus) and no other chunk workflow owns it. "Nothing found" is only answered once
// the stream has been read past the scan start plus a settle period, or stayed quiet that long
// while it was open: a stream that cannot connect (host down, credentials refused, a slow token)
// proves nothing, and answering "nothing" then would send the chunk a second time.
import { ApplicationFailure } from '@temporalio/common';
import { decodeTime, encodeTime } from 'ulid';
import type { PpoppoClient } from '../src/api/client';
import type { DeliveryEvent } from '../src/api/types';
import type { ChunkDirectory } from './chunk-directory';
import { activityContext, withKeepAlive } from './heartbeat';
import { apiFailure } from './api-failures';

export interface ReconcileInput {
  /** Scan the stream after this event id (null: from its start). */
  cursorBefore: string | null;
  ppnums: string[];
  templateId: string;
  settleMs?: number;
}

export interface ReconcileOptions {
  settleMs: number;
  /** Give up (retryably) when the stream neither goes quiet nor catches up within this time. */
  maxScanMs: number;
  /** Used to rule out send requests other chunk workflows already own; optional. */
  directory?: ChunkDirectory;
}

export async function reconcileSendRequest(client: PpoppoClient, input: ReconcileInput, options: ReconcileOptions): Promise<{ sendRequestId: string | null }> {
  const ctx = activityContext();
  const ourWorkflowId = ctx?.info.workflowExecution?.workflowId;
  const settleMs = input.settleMs ?? options.settleMs;
  const ours = new Set(input.ppnums);
  const checked = new Set<string>();
  const startedAt = Date.now();
  const stream = client.streamEvents({ afterEventId: input.cursorBefore ?? undefined });
  const iterator = stream[Symbol.asyncIterator]();
  let lastEventAt = startedAt;
  let scanned = 0;
  const onCancel = () => stream.close();
  ctx?.cancellationSignal.addEventListener('abort', onCancel);

  try {
    return await withKeepAlive(scan, () => ({ scanned }));
  } finally {
    stream.close();
    ctx?.cancellationSignal.removeEventListener('abort', onCancel);
  }

  /** Quiet since: the last event, or the stream's (re)opening, whichever came later; undefined while it is not open. */
  function quietSince(): number | undefined {
    const liveSince = stream.liveSince;
    return liveSince === undefined ? undefined : Math.max(lastEventAt, liveSince);
  }

  async function scan(): Promise<{ sendRequestId: string | null }> {
    // One next() at a time: a timed-out one stays pending and delivers its event on the next round.
    let pending: Promise<IteratorResult<DeliveryEvent>> | undefined;
    for (;;) {
      // Wait for the next event, but no longer than the remaining quiet period (a settle period while not open).
      const since = quietSince();
      const quietLeft = since === undefined ? settleMs : since + settleMs - Date.now();
      pending ??= iterator.next();
      const next = await within(pending, Math.max(0, quietLeft));
      if (next === 'timeout') {
        const quiet = quietSince();
        if (quiet !== undefined && Date.now() - quiet >= settleMs) return { sendRequestId: null }; // open and quiet for settleMs
        if (Date.now() - startedAt > options.maxScanMs) {
          throw ApplicationFailure.retryable(`event stream could not be read within ${options.maxScanMs} ms`, 'ReconcileInconclusive');
        }
        continue;
      }
      pending = undefined;
      if (next.done) {
        if (ctx?.cancellationSignal.aborted) await ctx.cancelled;
        throw ApplicationFailure.retryable('event stream ended during reconciliation', 'ReconcileInconclusive');
      }
      const event = next.value;
      lastEventAt = Date.now();
      scanned += 1;
      if (event.ppnum !== undefined && ours.has(event.ppnum) && !checked.has(event.sendRequestId)) {
        checked.add(event.sendRequestId);
        if (await isOurs(event.sendRequestId)) return { sendRequestId: event.sendRequestId };
      }
      // Caught up: the stream already shows events from settleMs after we started looking.
      if (ulidTime(event.eventId) >= startedAt + settleMs) return { sendRequestId: null };
      if (Date.now() - startedAt > options.maxScanMs) {
        throw ApplicationFailure.retryable(`event stream did not catch up within ${options.maxScanMs} ms`, 'ReconcileInconclusive');
      }
    }
  }

  async function isOurs(sendRequestId: string): Promise<boolean> {
    const owner = (await options.directory?.resolve([sendRequestId]))?.get(sendRequestId)?.workflowId;
    if (owner !== undefined && owner !== ourWorkflowId) return false;
    const status = await client.getSendRequestStatus(sendRequestId).catch((err: unknown) => {
      throw apiFailure(err, `checking send request ${sendRequestId}`);
    });
    // GetSendRequestStatus does not show the template; the exact recipient set is the fingerprint.
    const theirs = new Set(status.recipients.map((recipient) => recipient.ppnum));
    return theirs.size === ours.size && [...ours].every((ppnum) => theirs.has(ppnum));
  }
}

/** The promise's value, or 'timeout' after `ms` (the promise itself goes on). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A stream cursor for a moment: the greatest ULID of the millisecond before `ms`, so every event id
 * minted at `ms` or later sorts after it (`after_event_id` returns the events whose id sorts after the
 * cursor; the API's event ids are ULIDs, and the sandbox takes any well-formed one as a cursor).
 */
export function cursorAt(ms: number): string {
  return `${encodeTime(ms - 1, 10)}${'Z'.repeat(16)}`;
}

/** Milliseconds encoded in a ULID event id (NaN when it is not a ULID). */
export function ulidTime(ulid: string): number {
  try {
    return decodeTime(ulid);
  } catch {
    return Number.NaN;
  }
}
