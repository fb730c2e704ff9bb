// EventStream: StreamSendRequestEvents as an endless AsyncIterable that survives disconnects.
//
// After any end of a server stream (clean close, transport error, server restart) it reconnects
// with `after_event_id` = the last event it yielded, waiting a jittered exponential backoff that
// resets once an event arrives. Replayed events (id <= cursor; ids are ULIDs, so ordered) are
// skipped: one consumer never sees an event twice. UNAUTHENTICATED drops the token and reconnects
// once with a fresh one; errors that will not go away (bad request, no permission, unknown send
// request) end the iteration by throwing the PpoppoApiError.
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
    this.#onClose?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<DeliveryEvent> {
    return this.#events(this.#start());
  }

  /**
   * The events in batches: whatever arrived together, in order. For a busy consumer, much cheaper
   * than one `await` per event; iterate either this or the stream itself, once.
   */
  batches(): AsyncGenerator<DeliveryEvent[], void, undefined> {
    return this.#batches(this.#start());
  }

  #start(): AsyncGenerator<DeliveryEvent[], void, undefined> {
    if (this.#iterating) throw new Error('an EventStream has a single consumer; open another stream for a second one');
    this.#iterating = true;
    return this.#run();
  }

  async *#events(batches: AsyncGenerator<DeliveryEvent[], void, undefined>): AsyncGenerator<DeliveryEvent, void, undefined> {
    for await (const batch of batches) {
      for (const event of batch) {
        this.#yielded = event.eventId;
        yield event;
      }
    }
  }

  async *#batches(batches: AsyncGenerator<DeliveryEvent[], void, undefined>): AsyncGenerator<DeliveryEvent[], void, undefined> {
    for await (const batch of batches) {
      this.#yielded = batch[batch.length - 1]!.eventId;
      yield batch;
    }
  }

  async *#run(): AsyncGenerator<DeliveryEvent[], void, undefined> {
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
          const call = this.#open(token);
          call.on('metadata', () => (this.#liveSince ??= Date.now()));
          for await (const messages of readBatches(call)) {
            this.#liveSince ??= Date.now();
            const events: DeliveryEvent[] = [];
            for (const message of messages) {
              const event = eventFromProto(message);
              if (this.#cursor !== undefined && event.eventId <= this.#cursor) continue; // replayed
              this.#cursor = event.eventId;
              events.push(event);
            }
            if (events.length === 0) continue;
            sawEvent = true;
            idleSessions = 0;
            unauthenticatedInARow = 0;
            yield events;
            if (this.#closed) return;
          }
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
          this.#liveSince = undefined;
        }
        if (this.#closed) return;
        const delayMs = sawEvent && !failure ? 0 : this.#backoffMs(idleSessions);
        if (!sawEvent) idleSessions += 1;
        this.reconnects += 1;
        this.#options.onReconnect?.({ reconnects: this.reconnects, delayMs, cursor: this.#cursor, ...(failure ? { error: failure } : {}) });
        await this.#sleep(delayMs);
      }
    } finally {
      this.close();
    }
  }

  #open(token: string): ClientReadableStream<SendRequestEvent> {
    const request: StreamSendRequestEventsReq = {};
    if (this.sendRequestId !== undefined) request.sendRequestId = this.sendRequestId;
    if (this.#cursor !== undefined) request.afterEventId = this.#cursor;
    const call = this.#transport.open(request, token);
    call.on('error', () => undefined); // errors reach the for-await; this keeps a late one (after cancel) from being unhandled
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

/**
 * The messages of a server stream, in batches of what is buffered (an object-mode readable): ends
 * when the stream ends, throws its error (or a premature close, as `for await` over it would).
 */
async function* readBatches(call: ClientReadableStream<SendRequestEvent>): AsyncGenerator<SendRequestEvent[], void, undefined> {
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const stopFinished = finished(call, (err) => {
    if (err) failure = err;
    ended = true;
    wake?.();
  });
  const onReadable = () => wake?.();
  call.on('readable', onReadable);
  try {
    for (;;) {
      const batch: SendRequestEvent[] = [];
      for (let message = call.read() as SendRequestEvent | null; message !== null; message = call.read() as SendRequestEvent | null) batch.push(message);
      if (batch.length > 0) {
        yield batch;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    call.off('readable', onReadable);
    stopFinished();
  }
}
