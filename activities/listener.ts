// The stream listener activity: reads the app-wide event stream from a durable cursor and signals
// each chunk workflow its events in compact batches (DeliveryBatch).
//
// Events wait in HeldEvents (held-events.ts: when a request's events are due) until they are
// handed to their chunk, or skipped (chunk already closed, or no campaign owns the request after a
// grace period). The committed cursor never passes an event still held. The chunk of a request is
// found through the routes the send path gave the listener workflow, and only for requests the
// routes do not know through a visibility query (ChunkDirectory). Re-delivery after a restart is
// harmless: chunks apply events by state.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { envNumber } from '../src/run-helpers';
import type { PpoppoClient } from '../src/api/client';
import { noopMetricMeter } from '@temporalio/common';
import { redactPpnum } from '../src/api/validation';
import { deliveryBatchSignal, deliveryBatchesSignal, encodeBatch } from '../src/contracts/chunk';
import { listenerRouteTargetsQuery } from '../src/contracts/listener';
import { listenerMetrics } from '../src/metrics/listener';
import type { ListenerMetrics } from '../src/metrics/listener';
import { ChunkDirectory } from './chunk-directory';
import type { LearnedRoutes } from './chunk-directory';
import { DEFAULT_HOLD_TIMING, HeldEvents } from './held-events';
import type { DueEvents, HoldTiming } from './held-events';
import { activityContext } from './heartbeat';

export interface ListenerDeps extends Partial<HoldTiming> {
  client: PpoppoClient;
  temporalClient: Client;
  /** How long events of a send request no chunk owns are held before they are skipped. */
  unknownGraceMs?: number;
  /** How long a send request may be unknown to the routes before visibility is asked (default env LISTENER_ROUTE_GRACE_MS, else ROUTE_GRACE_MS). */
  routeGraceMs?: number;
  /** Stop reading the stream while this many events are held (memory stays bounded). */
  maxQueuedEvents?: number;
  /**
   * Aborted when the process shuts down: the run in progress hands over what it read and returns its
   * cursor at once, so the next run starts on another listener without waiting for a timeout.
   */
  stopping?: AbortSignal;
  /** Where events handed over, waiting events and the lag are recorded (default: nowhere). */
  metrics?: ListenerMetrics;
  /** Routes the listener workflow in this process handed over: asked before the workflow is queried. */
  learnedRoutes?: LearnedRoutes;
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
  signals: number;
  held: number;
  skipped: number;
  reconnects: number;
  visibilityLookups: number;
  /** Routes queries to the listener workflow (none while it runs in this process and handed them over). */
  routeQueries: number;
}

/** What the activity heartbeats; a retried attempt resumes from `cursor`. */
export interface ListenerHeartbeat {
  cursor: string | null;
  counters: ListenerCounters;
}

const SIGNAL_CONCURRENCY = 16;
/** The flush loop's longest sleep: due batches go out this soon at most after they are due. */
const MAX_TICK_MS = 150;
/**
 * How long a routes query may take. A query on the listener workflow needs a worker on its queue:
 * while this process shuts down (or the workflow has closed) nobody answers, and the run's last
 * hand-over must not outlast the shutdown grace waiting for it (visibility finds the chunk instead).
 */
const ROUTES_QUERY_TIMEOUT_MS = 3_000;

export function createListenerActivities(deps: ListenerDeps) {
  const timing: HoldTiming = {
    batchMaxEvents: deps.batchMaxEvents ?? DEFAULT_HOLD_TIMING.batchMaxEvents,
    actionableMaxDelayMs: deps.actionableMaxDelayMs ?? DEFAULT_HOLD_TIMING.actionableMaxDelayMs,
    batchMaxDelayMs: deps.batchMaxDelayMs ?? DEFAULT_HOLD_TIMING.batchMaxDelayMs,
    partsMaxDelayMs: deps.partsMaxDelayMs ?? DEFAULT_HOLD_TIMING.partsMaxDelayMs,
  };
  const tickMs = Math.max(1, Math.min(MAX_TICK_MS, timing.actionableMaxDelayMs, timing.batchMaxDelayMs));
  const unknownGraceMs = deps.unknownGraceMs ?? Number(process.env.LISTENER_UNKNOWN_GRACE_MS ?? 10 * 60_000);
  const routeGraceMs = deps.routeGraceMs ?? envNumber('LISTENER_ROUTE_GRACE_MS');
  const maxQueuedEvents = deps.maxQueuedEvents ?? 100_000;
  const metrics = deps.metrics ?? listenerMetrics(noopMetricMeter);
  // Shared by runs of this worker so a restarted attempt keeps the grace clock of held send requests.
  const firstSeenUnknown = new Map<string, number>();
  const directories = new Map<string, ChunkDirectory>();
  /** One directory per listener workflow (tests run several in one process): routes come from that workflow. */
  const directoryFor = (listenerWorkflowId: string | undefined) => {
    const key = listenerWorkflowId ?? '';
    let directory = directories.get(key);
    if (!directory) {
      const routes = listenerWorkflowId
        ? (ids: string[]) =>
            deps.temporalClient
              .withDeadline(Date.now() + ROUTES_QUERY_TIMEOUT_MS, () => deps.temporalClient.workflow.getHandle(listenerWorkflowId).query(listenerRouteTargetsQuery, ids))
              .catch(() => ({}))
        : undefined;
      const { learnedRoutes } = deps;
      const learned = listenerWorkflowId && learnedRoutes ? (ids: string[]) => learnedRoutes.known(listenerWorkflowId, ids) : undefined;
      const hosted = listenerWorkflowId && learnedRoutes ? () => learnedRoutes.hosts(listenerWorkflowId) : undefined;
      directories.set(key, (directory = new ChunkDirectory(deps.temporalClient, { routes, learned, hosted, routeGraceMs })));
    }
    return directory;
  };

  async function consumeEvents(input: ConsumeEventsInput): Promise<ConsumeEventsResult> {
    const ctx = activityContext();
    const log = ctx?.log ?? consoleLogger;
    const directory = directoryFor(ctx?.info.workflowExecution?.workflowId);
    const resumed = (ctx?.info.heartbeatDetails as ListenerHeartbeat | undefined)?.cursor ?? null;
    const start = laterCursor(input.cursor, resumed);
    const held = new HeldEvents(timing, start);
    const lookupsBefore = directory.visibilityLookups;
    const queriesBefore = directory.routeQueries;
    const counters: ListenerCounters = { seen: 0, signalled: 0, signals: 0, held: 0, skipped: 0, reconnects: 0, visibilityLookups: 0, routeQueries: 0 };
    const deadline = Date.now() + input.maxRunMs;
    let stopping = false;
    let streamError: unknown;
    let wake: (() => void) | undefined;
    const wakeUp = () => wake?.();

    const stream = deps.client.streamEvents({ afterEventId: start ?? undefined });
    // Cancelled, or the process is shutting down: stop reading, hand over what was read, return.
    const stopReading = () => {
      stopping = true;
      stream.close();
      wakeUp();
    };
    ctx?.cancellationSignal.addEventListener('abort', stopReading);
    deps.stopping?.addEventListener('abort', stopReading);
    if (deps.stopping?.aborted) stopReading();
    log.info('listener started', { cursor: start, resumedFromHeartbeat: resumed !== null });

    async function readStream(): Promise<void> {
      try {
        const batches = stream.batches();
        while (!stopping) {
          if (held.size >= maxQueuedEvents) {
            await sleep(tickMs); // back-pressure while held events wait for their chunks
            continue;
          }
          const next = await batches.next();
          if (next.done) break;
          counters.seen += next.value.length;
          const now = Date.now();
          let due = false;
          for (const event of next.value) due = held.add(event, now) || due;
          if (due) wakeUp();
        }
      } catch (err) {
        if (!stopping) streamError = err;
      } finally {
        stopping = true;
        wakeUp();
      }
    }

    /**
     * Looks up the chunks of the requests held without one, in the background: a slow lookup (the
     * listener workflow busy, visibility lagging) holds back only its own requests' events.
     */
    let resolving: Promise<void> | undefined;
    function resolveInBackground(): void {
      const unresolved = held.unresolved();
      if (resolving || unresolved.length === 0) return;
      resolving = directory
        .resolve(unresolved, Date.now())
        .then(
          (found) => {
            for (const [sendRequestId, target] of found) held.resolve(sendRequestId, target);
            skipUnknownAfterGrace(held.unresolved(), Date.now());
            if (found.size > 0) wakeUp();
          },
          (err: unknown) => log.warn('looking up chunk workflows failed; will retry', { error: String(err) }),
        )
        .finally(() => (resolving = undefined));
    }

    /** Hands over what is due (everything resolved, at the end of the run); heartbeats the cursor. */
    async function flush(all: boolean): Promise<void> {
      resolveInBackground();
      if (all) await resolving; // the run's last hand-over: what is being looked up goes along
      const now = Date.now();
      // Half way to the hard stop (a huge campaign's trickle), everything resolved goes now: memory stays bounded and reading goes on.
      await signalChunks(held.due(now, all || held.size >= maxQueuedEvents / 2));
      counters.held = held.size;
      metrics.waiting(held.size, held.handOverDeadline(), Date.now());
      counters.reconnects = streamReconnects(stream);
      counters.visibilityLookups = directory.visibilityLookups - lookupsBefore;
      counters.routeQueries = directory.routeQueries - queriesBefore;
      ctx?.heartbeat({ cursor: held.cursor(), counters } satisfies ListenerHeartbeat);
    }

    async function signalChunks(due: DueEvents[]): Promise<void> {
      const jobs = chunkJobs(due);
      const worker = async () => {
        for (let job = jobs.shift(); job; job = jobs.shift()) await signalOneChunk(job);
      };
      await Promise.all(Array.from({ length: Math.min(SIGNAL_CONCURRENCY, jobs.length) }, worker));
    }

    /** A chunk's due events: pieces of at most batchMaxEvents, several in one signal when the chunk takes them so. */
    async function signalOneChunk({ workflowId, requests, together }: ChunkJob): Promise<void> {
      const handle = deps.temporalClient.workflow.getHandle(workflowId);
      const pieces = requests.flatMap(({ sendRequestId, events }) => slices(events, timing.batchMaxEvents).map((slice) => ({ sendRequestId, events: slice })));
      for (const signal of together ? packed(pieces, Math.max(timing.batchMaxEvents, MAX_EVENTS_PER_SIGNAL)) : pieces.map((piece) => [piece])) {
        try {
          const now = Date.now();
          if (signal.length === 1) await handle.signal(deliveryBatchSignal, encodeBatch(signal[0]!.sendRequestId, signal[0]!.events, now));
          else await handle.signal(deliveryBatchesSignal, { batches: signal.map((piece) => encodeBatch(piece.sendRequestId, piece.events, now)) });
          counters.signals += 1;
          for (const piece of signal) {
            counters.signalled += piece.events.length;
            held.handedOver(piece.sendRequestId, piece.events.length);
            metrics.handedOver('signalled', piece.events.length);
          }
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) {
            log.warn('signalling a chunk failed; will retry', { workflowId, error: String(err) });
            return; // still held: retried at the next flush, and the cursor waits
          }
          for (const { sendRequestId } of requests) {
            const dropped = held.drop(sendRequestId);
            log.debug('chunk already closed; skipping its events', { workflowId, events: dropped.length });
            counters.skipped += dropped.length;
            metrics.handedOver('skipped', dropped.length);
            directory.forget(sendRequestId);
          }
          return;
        }
      }
    }

    function skipUnknownAfterGrace(sendRequestIds: string[], now: number): void {
      for (const id of sendRequestIds) {
        const firstSeen = firstSeenUnknown.get(id) ?? now;
        firstSeenUnknown.set(id, firstSeen);
        if (now - firstSeen < unknownGraceMs) continue;
        const dropped = held.drop(id);
        log.warn('no campaign owns this send request; skipping its events', {
          sendRequestId: id,
          events: dropped.length,
          ppnums: [...new Set(dropped.map((event) => redactPpnum(event.ppnum)))].slice(0, 10),
          firstEventId: dropped[0]?.eventId,
        });
        counters.skipped += dropped.length;
        metrics.handedOver('skipped', dropped.length);
        directory.forget(id);
      }
    }

    const reading = readStream();
    try {
      while (!stopping && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(tickMs, Math.max(0, deadline - Date.now())));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        await flush(false);
      }
      stopping = true;
      stream.close();
      await Promise.race([reading, sleep(2_000)]); // a stream stuck in a read must not block the hand-over
      await flush(true); // hand over everything resolved before returning
    } finally {
      stopping = true;
      stream.close();
      ctx?.cancellationSignal.removeEventListener('abort', stopReading);
      deps.stopping?.removeEventListener('abort', stopReading);
      metrics.stopped();
      const stillHeld = new Set(held.unresolved());
      for (const id of firstSeenUnknown.keys()) if (!stillHeld.has(id)) firstSeenUnknown.delete(id);
      log.info('listener stopped', { cursor: held.cursor(), ...counters });
    }
    if (ctx?.cancellationSignal.aborted) await ctx.cancelled; // rethrows the cancellation
    if (streamError) throw streamError;
    return { cursor: held.cursor(), signalled: counters.signalled, skipped: counters.skipped };
  }

  return { consumeEvents };
}

export type ListenerActivities = ReturnType<typeof createListenerActivities>;

/** One chunk's share of a hand-over: its requests' due events, together in few signals when its routes say it takes them so (RouteTarget.part). */
interface ChunkJob {
  workflowId: string;
  requests: DueEvents[];
  together: boolean;
}

/**
 * Several requests' batches in one signal stay about 250 KB of payload at most (compact events are
 * about 20 bytes), under Temporal's 512 KB warning.
 */
const MAX_EVENTS_PER_SIGNAL = 10_000;

function chunkJobs(due: DueEvents[]): ChunkJob[] {
  const jobs: ChunkJob[] = [];
  const together = new Map<string, ChunkJob>();
  for (const request of due) {
    if (!request.part) {
      jobs.push({ workflowId: request.workflowId, requests: [request], together: false });
      continue;
    }
    let job = together.get(request.workflowId);
    if (!job) {
      job = { workflowId: request.workflowId, requests: [], together: true };
      together.set(request.workflowId, job);
      jobs.push(job);
    }
    job.requests.push(request);
  }
  return jobs;
}

function slices<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Pieces in order, as few groups as fit `maxEvents` events each (a piece is never split). */
function packed<T extends { events: unknown[] }>(pieces: T[], maxEvents: number): T[][] {
  const groups: T[][] = [];
  let size = Infinity;
  for (const piece of pieces) {
    if (size + piece.events.length > maxEvents) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1)!.push(piece);
    size += piece.events.length;
  }
  return groups;
}

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
