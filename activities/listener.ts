// The stream listener activity: reads the app-wide event stream from a durable cursor and signals
// each chunk workflow its events in batches.
//
// Events are kept in arrival order. An event is *done* once it was signalled to its chunk (or
// skipped: chunk already closed, or no campaign owns it after a grace period). The committed
// cursor is the last event of the done prefix, so it never passes an event still held for a chunk
// that is not visible yet. Re-delivery after a restart is harmless: chunks apply events by state.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import type { DeliveryEvent } from '../src/api/types';
import type { PpoppoClient } from '../src/api/client';
import { redactPpnum } from '../src/api/validation';
import { deliveryEventsSignal } from '../src/contracts/chunk';
import { noopMetricMeter } from '@temporalio/common';
import { listenerMetrics } from '../src/metrics/listener';
import type { ListenerMetrics } from '../src/metrics/listener';
import { ChunkDirectory } from './chunk-directory';
import { activityContext } from './heartbeat';
import { ulidTime } from './reconcile';

export interface ListenerDeps {
  client: PpoppoClient;
  temporalClient: Client;
  /** Events per signal and per wake-up of the flush loop. */
  batchMaxEvents?: number;
  /** Longest an event waits before it is flushed. */
  batchMaxDelayMs?: number;
  /** How long events of a send request no chunk owns are held before they are skipped. */
  unknownGraceMs?: number;
  /** Stop reading the stream while this many events wait (held events keep memory bounded). */
  maxQueuedEvents?: number;
  /**
   * Aborted when the process shuts down: the run in progress hands over what it read and returns its
   * cursor at once, so the next run starts on another listener without waiting for a timeout.
   */
  stopping?: AbortSignal;
  /** Where events handed over, waiting events and the lag are recorded (default: nowhere). */
  metrics?: ListenerMetrics;
}

export interface ConsumeEventsInput {
  cursor: string | null;
  maxRunMs: number;
}

export interface ConsumeEventsResult {
  cursor: string | null;
  signalled: number;
  skipped: number;
}

export interface ListenerCounters {
  seen: number;
  signalled: number;
  held: number;
  skipped: number;
  reconnects: number;
}

/** What the activity heartbeats; a retried attempt resumes from `cursor`. */
export interface ListenerHeartbeat {
  cursor: string | null;
  counters: ListenerCounters;
}

interface QueuedEvent {
  event: DeliveryEvent;
  workflowId?: string;
  done: boolean;
}

const SIGNAL_CONCURRENCY = 16;

export function createListenerActivities(deps: ListenerDeps) {
  // One signal per chunk for a directly delivered chunk of 1,000 (about 225 KB): fewer history events.
  const batchMaxEvents = deps.batchMaxEvents ?? 1_000;
  const batchMaxDelayMs = deps.batchMaxDelayMs ?? 150;
  const unknownGraceMs = deps.unknownGraceMs ?? Number(process.env.LISTENER_UNKNOWN_GRACE_MS ?? 10 * 60_000);
  const maxQueuedEvents = deps.maxQueuedEvents ?? 100_000;
  const directory = new ChunkDirectory(deps.temporalClient);
  const metrics = deps.metrics ?? listenerMetrics(noopMetricMeter);
  // Shared by runs of this worker so a restarted attempt keeps the grace clock of held send requests.
  const firstSeenUnknown = new Map<string, number>();

  async function consumeEvents(input: ConsumeEventsInput): Promise<ConsumeEventsResult> {
    const ctx = activityContext();
    const log = ctx?.log ?? consoleLogger;
    const resumed = (ctx?.info.heartbeatDetails as ListenerHeartbeat | undefined)?.cursor ?? null;
    let cursor = laterCursor(input.cursor, resumed);
    const counters: ListenerCounters = { seen: 0, signalled: 0, held: 0, skipped: 0, reconnects: 0 };
    const queue: QueuedEvent[] = [];
    const deadline = Date.now() + input.maxRunMs;
    let stopping = false;
    let streamError: unknown;
    let wake: (() => void) | undefined;
    const wakeUp = () => wake?.();

    const stream = deps.client.streamEvents({ afterEventId: cursor ?? undefined });
    // Cancelled, or the process is shutting down: stop reading, hand over what was read, return.
    const stopReading = () => {
      stopping = true;
      stream.close();
      wakeUp();
    };
    ctx?.cancellationSignal.addEventListener('abort', stopReading);
    deps.stopping?.addEventListener('abort', stopReading);
    if (deps.stopping?.aborted) stopReading();
    log.info('listener started', { cursor, resumedFromHeartbeat: resumed !== null });

    async function readStream(): Promise<void> {
      const iterator = stream[Symbol.asyncIterator]();
      try {
        while (!stopping) {
          if (queue.length >= maxQueuedEvents) {
            await sleep(batchMaxDelayMs); // back-pressure while held events wait for their chunks
            continue;
          }
          const next = await iterator.next();
          if (next.done) break;
          queue.push({ event: next.value, done: false });
          counters.seen += 1;
          if (queue.length % batchMaxEvents === 0) wakeUp();
        }
      } catch (err) {
        if (!stopping) streamError = err;
      } finally {
        stopping = true;
        wakeUp();
      }
    }

    async function flush(): Promise<void> {
      const now = Date.now();
      const open = queue.filter((entry) => !entry.done);
      const unresolved = open.filter((entry) => entry.workflowId === undefined).map((entry) => entry.event.sendRequestId);
      if (unresolved.length > 0) {
        const found = await directory.resolve(unresolved, now).catch((err: unknown) => {
          log.warn('looking up chunk workflows failed; will retry', { error: String(err) });
          return new Map<string, string>();
        });
        for (const entry of open) entry.workflowId ??= found.get(entry.event.sendRequestId);
      }
      await signalChunks(open.filter((entry) => entry.workflowId !== undefined));
      skipUnknownAfterGrace(open.filter((entry) => entry.workflowId === undefined), now);
      let doneCount = 0;
      while (doneCount < queue.length && queue[doneCount]!.done) doneCount += 1;
      if (doneCount > 0) cursor = queue[doneCount - 1]!.event.eventId;
      queue.splice(0, doneCount);
      counters.held = queue.filter((entry) => entry.workflowId === undefined).length;
      metrics.waiting(queue.length, queue[0] && ulidTime(queue[0].event.eventId), Date.now());
      counters.reconnects = streamReconnects(stream);
      ctx?.heartbeat({ cursor, counters } satisfies ListenerHeartbeat);
    }

    async function signalChunks(entries: QueuedEvent[]): Promise<void> {
      const byWorkflow = new Map<string, QueuedEvent[]>();
      for (const entry of entries) {
        const list = byWorkflow.get(entry.workflowId!) ?? [];
        list.push(entry);
        byWorkflow.set(entry.workflowId!, list);
      }
      const jobs = [...byWorkflow.entries()];
      const worker = async () => {
        for (let job = jobs.shift(); job; job = jobs.shift()) await signalOneChunk(job[0], job[1]);
      };
      await Promise.all(Array.from({ length: Math.min(SIGNAL_CONCURRENCY, jobs.length) }, worker));
    }

    async function signalOneChunk(workflowId: string, entries: QueuedEvent[]): Promise<void> {
      const handle = deps.temporalClient.workflow.getHandle(workflowId);
      for (let i = 0; i < entries.length; i += batchMaxEvents) {
        const batch = entries.slice(i, i + batchMaxEvents);
        try {
          await handle.signal(deliveryEventsSignal, { events: batch.map((entry) => entry.event) });
          counters.signalled += batch.length;
          metrics.handedOver('signalled', batch.length);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) {
            log.warn('signalling a chunk failed; will retry', { workflowId, error: String(err) });
            return; // not done: retried at the next flush, and the cursor waits
          }
          log.debug('chunk already closed; skipping its events', { workflowId, events: batch.length });
          counters.skipped += batch.length;
          metrics.handedOver('skipped', batch.length);
        }
        for (const entry of batch) entry.done = true;
      }
    }

    function skipUnknownAfterGrace(entries: QueuedEvent[], now: number): void {
      const expired = new Map<string, QueuedEvent[]>();
      for (const entry of entries) {
        const id = entry.event.sendRequestId;
        const firstSeen = firstSeenUnknown.get(id) ?? now;
        firstSeenUnknown.set(id, firstSeen);
        if (id !== '' && now - firstSeen < unknownGraceMs) continue;
        expired.set(id, [...(expired.get(id) ?? []), entry]);
      }
      for (const [id, list] of expired) {
        log.warn('no campaign owns this send request; skipping its events', {
          sendRequestId: id,
          events: list.length,
          ppnums: [...new Set(list.map((entry) => redactPpnum(entry.event.ppnum)))].slice(0, 10),
          firstEventId: list[0]!.event.eventId,
        });
        for (const entry of list) entry.done = true;
        counters.skipped += list.length;
        metrics.handedOver('skipped', list.length);
        directory.forget(id);
      }
    }

    const reading = readStream();
    try {
      while (!stopping && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(batchMaxDelayMs, Math.max(0, deadline - Date.now())));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        await flush();
      }
      stopping = true;
      stream.close();
      await Promise.race([reading, sleep(2_000)]); // a stream stuck in a read must not block the hand-over
      await flush(); // hand over what was read before returning
    } finally {
      stopping = true;
      stream.close();
      ctx?.cancellationSignal.removeEventListener('abort', stopReading);
      deps.stopping?.removeEventListener('abort', stopReading);
      metrics.stopped();
      const stillHeld = new Set(queue.map((entry) => entry.event.sendRequestId));
      for (const id of firstSeenUnknown.keys()) if (!stillHeld.has(id)) firstSeenUnknown.delete(id);
      log.info('listener stopped', { cursor, ...counters });
    }
    if (ctx?.cancellationSignal.aborted) await ctx.cancelled; // rethrows the cancellation
    if (streamError) throw streamError;
    return { cursor, signalled: counters.signalled, skipped: counters.skipped };
  }

  return { consumeEvents };
}

export type ListenerActivities = ReturnType<typeof createListenerActivities>;

/** ULIDs sort by time: the later of two cursors. */
function laterCursor(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

function streamReconnects(stream: object): number {
  const value = (stream as { reconnects?: unknown }).reconnects;
  return typeof value === 'number' ? value : 0;
}

const consoleLogger = {
  debug: (message: string, meta?: object) => console.debug(message, meta ?? ''),
  info: (message: string, meta?: object) => console.info(message, meta ?? ''),
  warn: (message: string, meta?: object) => console.warn(message, meta ?? ''),
};
