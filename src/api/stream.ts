// EventStream: StreamSendRequestEvents as an endless AsyncIterable that survives disconnects.
//
// After any end of a server stream (clean close, transport error, server restart) it reconnects
// with `after_event_id` = the last event it yielded, waiting a jittered exponential backoff that
// resets once an event arrives. Replayed events (id <= cursor; ids are ULIDs, so ordered) are
// skipped: one consumer never sees an event twice. UNAUTHENTICATED drops the token and reconnects
// once with a fresh one; errors that will not go away (bad request, no permission, unknown send
// request) end the iteration by throwing the PpoppoApiError.
//
// Cost: the listener reads every event of the app through here, mostly one event per gRPC message
// and per network read, inside the activity's AsyncLocalStorage context where every promise pays
// for async hooks. So the call's 'data' events are taken synchronously (converted and deduplicated
// there) into a queue, a waiting consumer is woken with one promise per batch, and the reconnect
// loop awaits once per server stream, not per message.
import type { ClientReadableStream } from '@grpc/grpc-js';
import { finished } from 'node:stream';
import { eventFromProto } from './convert';
import { UnauthenticatedError, toPpoppoError } from './errors';
import type { PpoppoApiError } from './errors';
import type { SendRequestEvent, StreamSendRequestEventsReq } from './gen/ppoppo/external/v1/external';
import type { DeliveryEvent } from './types';

export interface ReconnectInfo {
  /** Reconnects so far, this one included. */
  reconnects: number;
  /** Wait before this reconnect. */
  delayMs: number;
  cursor: string | undefined;
  /** Why the previous stream ended; undefined when the server closed it cleanly. */
  error?: PpoppoApiError;
}

export interface StreamEventsOptions {
  /** Only events of this send request; omit for every event of the app. */
  sendRequestId?: string;
  /** Start after this event id (a cursor saved earlier); omit to start from the beginning. */
  afterEventId?: string;
  /** Aborting closes the stream (same as close()). */
  signal?: AbortSignal;
  onReconnect?: (info: ReconnectInfo) => void;
  /** First reconnect backoff after a failure (default 250 ms); doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  /** Longest reconnect backoff (default 15 000 ms). */
  maxBackoffMs?: number;
}

/** What an EventStream needs from the client: open one server stream with a token. */
export interface EventStreamTransport {
  open(request: StreamSendRequestEventsReq, token: string): ClientReadableStream<SendRequestEvent>;
  getToken(): Promise<string>;
  invalidateToken(token: string): void;
}

const METHOD = 'StreamSendRequestEvents';
/** Events received and not yet taken at which the call is paused (the server then waits: memory stays bounded). */
const MAX_PENDING = 1_000;

type BatchResult = IteratorResult<DeliveryEvent[], void>;
/** What a waiting next() gets: a batch or the end, or a failure. */
type Outcome = { result: BatchResult } | { error: unknown };
interface Waiter {
  resolve: (result: BatchResult | PromiseLike<BatchResult>) => void;
  reject: (err: unknown) => void;
  /** Resolved already, with a thenable that takes the events when it is read. */
  answering?: boolean;
}
/** How one server stream ended: whether it brought a new event, and its error (none: a clean end). */
interface SessionEnd {
  sawEvent: boolean;
  error?: unknown;
}

export class EventStream implements AsyncIterable<DeliveryEvent> {
  readonly sendRequestId: string | undefined;
  /** Times the stream was reopened after it ended (observability). */
  reconnects = 0;
  /** The last event received (a reconnect resumes after it). */
  #cursor: string | undefined;
  /** The last event handed to the consumer. */
  #yielded: string | undefined;
  #liveSince: number | undefined;
  #closed = false;
  #iterating = false;
  /** The consumer takes single events (the cursor moves event by event), not batches. */
  #perEvent = false;
  /** Received (converted, replays dropped), not yet handed to the consumer. */
  #pending: DeliveryEvent[] = [];
  #paused = false;
  /** Why the stream gave up: thrown to the consumer after the events received before it. */
  #failure: { error: unknown } | undefined;
  #waiter: Waiter | undefined;
  #call: ClientReadableStream<SendRequestEvent> | undefined;
  #wake: (() => void) | undefined;
  readonly #transport: EventStreamTransport;
  readonly #options: StreamEventsOptions;
  readonly #onClose: (() => void) | undefined;

  constructor(transport: EventStreamTransport, options: StreamEventsOptions = {}, onClose?: () => void) {
    this.#transport = transport;
    this.#options = options;
    this.#onClose = onClose;
    this.sendRequestId = options.sendRequestId;
    this.#cursor = this.#yielded = options.afterEventId || undefined;
    if (options.signal?.aborted) this.close();
    else options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = () => this.close();

  /** Id of the last event yielded (or the starting `afterEventId`): save it to resume later. */
  get cursor(): string | undefined {
    return this.#yielded;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Since when (ms) the current server stream is known to be open: the server answered with its
   * headers, or sent an event. Undefined while connecting or reconnecting (host down, token slow):
   * a quiet stream then proves nothing about what the server holds.
   */
  get liveSince(): number | undefined {
    return this.#liveSince;
  }

  /** Stops the stream: a pending `next()` resolves with `done`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#call?.cancel();
    this.#wake?.();
    this.#answerWaiter();
    this.#onClose?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<DeliveryEvent> {
    this.#start();
    this.#perEvent = true;
    return this.#events();
  }

  /**
   * The events in batches: whatever arrived together, in order. For a busy consumer, much cheaper
   * than one `await` per event; iterate either this or the stream itself, once.
   */
  batches(): AsyncGenerator<DeliveryEvent[], void, undefined> {
    this.#start();
    return this.#batchIterator();
  }

  #start(): void {
    if (this.#iterating) throw new Error('an EventStream has a single consumer; open another stream for a second one');
    this.#iterating = true;
    if (!this.#closed) void this.#run();
  }

  async *#events(): AsyncGenerator<DeliveryEvent, void, undefined> {
    const batches = this.#batchIterator();
    try {
      for (let next = await batches.next(); !next.done; next = await batches.next()) {
        for (const event of next.value) {
          this.#yielded = event.eventId;
          yield event;
        }
      }
    } finally {
      this.close();
    }
  }

  /** Written out rather than an async generator: a batch costs the consumer's one await and nothing more. */
  #batchIterator(): AsyncGenerator<DeliveryEvent[], void, undefined> {
    const iterator: AsyncGenerator<DeliveryEvent[], void, undefined> = {
      next: () => this.#next(),
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
      throw: (err: unknown) => {
        this.close();
        return Promise.reject(err);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #next(): Promise<BatchResult> {
    if (this.#waiter) return Promise.reject(new Error('EventStream: await each next() before calling it again'));
    const outcome = this.#outcome();
    if (outcome) return 'error' in outcome ? Promise.reject(outcome.error) : Promise.resolve(outcome.result);
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** What next() answers now: the events received, then a failure, then the end; undefined: nothing yet. */
  #outcome(): Outcome | undefined {
    // After close() nothing more is handed out; after a failure, what arrived before it still is.
    if (this.#pending.length > 0 && (!this.#closed || this.#failure)) return { result: this.#take() };
    if (this.#failure) {
      const { error } = this.#failure;
      this.#failure = undefined;
      return { error };
    }
    if (this.#closed) return { result: { done: true, value: undefined } };
    return undefined;
  }

  #take(): BatchResult {
    const events = this.#pending;
    this.#pending = [];
    if (!this.#perEvent) this.#yielded = events[events.length - 1]!.eventId;
    if (this.#paused) {
      this.#paused = false;
      this.#call?.resume();
    }
    return { done: false, value: events };
  }

  /**
   * Answers a waiting next(). It is resolved with a thenable, which the promise machinery calls in a
   * microtask: the events are taken then, so the other messages of the same network read go along.
   */
  #answerWaiter(): void {
    const waiter = this.#waiter;
    if (!waiter || waiter.answering) return;
    waiter.answering = true;
    waiter.resolve(this.#answer);
  }

  /** The thenable #answerWaiter resolves with: one per stream, not one per batch (a batch is often a single event). */
  readonly #answer: PromiseLike<BatchResult> = {
    then: (resolve, reject) => {
      this.#waiter = undefined;
      const outcome = this.#outcome();
      // Nothing to answer cannot happen (only next() takes events, and it is refused meanwhile); wait on if it did.
      if (!outcome) this.#waiter = { resolve: resolve as Waiter['resolve'], reject: reject as Waiter['reject'] };
      else if ('error' in outcome) reject?.(outcome.error);
      else resolve?.(outcome.result);
      return undefined as never;
    },
  };

  /** Opens server streams one after the other until closed, or until a failure reconnecting cannot fix. */
  async #run(): Promise<void> {
    let idleSessions = 0; // consecutive streams that ended without a new event
    let unauthenticatedInARow = 0;
    try {
      while (!this.#closed) {
        let token: string | undefined;
        let failure: PpoppoApiError | undefined;
        let sawEvent = false;
        try {
          token = await this.#transport.getToken();
          if (this.#closed) return;
          const end = await this.#session(this.#open(token));
          sawEvent = end.sawEvent;
          if (sawEvent) {
            idleSessions = 0;
            unauthenticatedInARow = 0;
          }
          if (end.error !== undefined) throw end.error;
        } catch (err) {
          if (this.#closed) return;
          failure = toPpoppoError(err, METHOD);
          if (failure instanceof UnauthenticatedError) {
            if (token !== undefined) this.#transport.invalidateToken(token);
            unauthenticatedInARow += 1;
            if (unauthenticatedInARow > 1) throw failure; // a fresh token was refused too
          } else if (failure.retry === 'unsafe') {
            throw failure;
          }
        } finally {
          this.#call?.cancel();
          this.#call = undefined;
          this.#paused = false;
          this.#liveSince = undefined;
        }
        if (this.#closed) return;
        const delayMs = sawEvent && !failure ? 0 : this.#backoffMs(idleSessions);
        if (!sawEvent) idleSessions += 1;
        this.reconnects += 1;
        this.#options.onReconnect?.({ reconnects: this.reconnects, delayMs, cursor: this.#cursor, ...(failure ? { error: failure } : {}) });
        await this.#sleep(delayMs);
      }
    } catch (err) {
      if (!this.#closed) this.#failure = { error: err };
    } finally {
      this.close();
    }
  }

  /**
   * Reads one server stream until it ends (cleanly, with an error, or a premature close). Messages
   * are converted as they arrive; replays (id <= cursor; ids are ULIDs, so ordered) are dropped.
   */
  #session(call: ClientReadableStream<SendRequestEvent>): Promise<SessionEnd> {
    return new Promise((resolve) => {
      let sawEvent = false;
      let ended = false;
      const end = (error?: unknown) => {
        if (ended) return;
        ended = true;
        stopFinished();
        call.off('data', onData);
        resolve(error === undefined ? { sawEvent } : { sawEvent, error });
      };
      const onData = (message: SendRequestEvent) => {
        if (this.#closed || ended) return;
        this.#liveSince ??= Date.now();
        let event: DeliveryEvent;
        try {
          event = eventFromProto(message);
        } catch (err) {
          end(err); // the caller cancels the call and reconnects after the last good event
          return;
        }
        if (this.#cursor !== undefined && event.eventId <= this.#cursor) return; // replayed
        this.#cursor = event.eventId;
        sawEvent = true;
        this.#pending.push(event);
        if (this.#pending.length >= MAX_PENDING && !this.#paused) {
          this.#paused = true;
          call.pause();
        }
        this.#answerWaiter();
      };
      const stopFinished = finished(call, (err) => end(err ?? undefined));
      call.on('metadata', () => (this.#liveSince ??= Date.now()));
      call.on('data', onData);
    });
  }

  #open(token: string): ClientReadableStream<SendRequestEvent> {
    const request: StreamSendRequestEventsReq = {};
    if (this.sendRequestId !== undefined) request.sendRequestId = this.sendRequestId;
    if (this.#cursor !== undefined) request.afterEventId = this.#cursor;
    const call = this.#transport.open(request, token);
    call.on('error', () => undefined); // errors reach the session through finished(); this keeps a late one (after cancel) from being unhandled
    this.#call = call;
    return call;
  }

  /** Jittered backoff: a random wait in [base/2, base], base = initial * 2^attempt capped at max. */
  #backoffMs(attempt: number): number {
    const initial = this.#options.initialBackoffMs ?? 250;
    const max = this.#options.maxBackoffMs ?? 15_000;
    const base = Math.min(max, initial * 2 ** Math.min(attempt, 20));
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => {
      this.#wake = undefined;
    });
  }
}
