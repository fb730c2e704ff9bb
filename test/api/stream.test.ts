// EventStream resume/dedup/backoff logic with a scripted transport (unit test: no gRPC).
// The same behaviour over real gRPC against the sandbox is in sandbox.integration.test.ts.
import { PassThrough } from 'node:stream';
import { Metadata, status } from '@grpc/grpc-js';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { PermissionDeniedError, UnauthenticatedError } from '../../src/api/errors';
import { SendRequestEventType } from '../../src/api/gen/ppoppo/external/v1/external';
import type { SendRequestEvent, StreamSendRequestEventsReq } from '../../src/api/gen/ppoppo/external/v1/external';
import { EventStream } from '../../src/api/stream';
import type { EventStreamTransport, ReconnectInfo } from '../../src/api/stream';

type Ending = 'ok' | 'hang' | ServiceError;
interface Session {
  events: string[];
  end: Ending;
}

function grpcError(code: number, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

function event(eventId: string): SendRequestEvent {
  return { eventId, sendRequestId: 'sr-1', eventType: SendRequestEventType.RECIPIENT_DELIVERED, recipient: { id: 'r', ppnum: '12300000001', status: 2 } };
}

/** Each open() plays the next scripted session; records requests, tokens and cancellations. */
class ScriptedTransport implements EventStreamTransport {
  readonly requests: StreamSendRequestEventsReq[] = [];
  readonly tokensUsed: string[] = [];
  readonly invalidated: string[] = [];
  cancelled = 0;
  private tokenSerial = 0;
  private currentToken = 'token-0';

  constructor(private readonly sessions: Session[]) {}

  open(request: StreamSendRequestEventsReq, token: string): ClientReadableStream<SendRequestEvent> {
    this.requests.push({ ...request });
    this.tokensUsed.push(token);
    const session = this.sessions.shift() ?? { events: [], end: 'hang' };
    const call = new PassThrough({ objectMode: true }) as unknown as ClientReadableStream<SendRequestEvent> & PassThrough;
    let ended = false;
    (call as unknown as { cancel(): void }).cancel = () => {
      if (ended) return;
      ended = true;
      this.cancelled += 1;
      call.emit('error', grpcError(status.CANCELLED, 'Cancelled on client'));
    };
    setImmediate(() => {
      for (const id of session.events) call.write(event(id));
      if (session.end === 'hang') return;
      ended = true;
      if (session.end === 'ok') call.end();
      else call.emit('error', session.end);
    });
    return call;
  }

  async getToken(): Promise<string> {
    return this.currentToken;
  }

  invalidateToken(token: string): void {
    this.invalidated.push(token);
    this.tokenSerial += 1;
    this.currentToken = `token-${this.tokenSerial}`;
  }
}

async function take(stream: EventStream, count: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of stream) {
    ids.push(e.eventId);
    if (ids.length === count) break;
  }
  return ids;
}

const fast = { initialBackoffMs: 1, maxBackoffMs: 4 };

describe('EventStream', () => {
  it('resumes after each end from the last yielded event and never repeats an event', async () => {
    const transport = new ScriptedTransport([
      { events: ['01A', '01B'], end: 'ok' },
      { events: ['01B', '01C'], end: grpcError(status.UNAVAILABLE, 'Connection dropped') }, // 01B replayed
      { events: [], end: grpcError(status.INTERNAL, 'boom') },
      { events: ['01A', '01C', '01D'], end: 'hang' },
    ]);
    const reconnects: ReconnectInfo[] = [];
    const stream = new EventStream(transport, { ...fast, afterEventId: '01', onReconnect: (info) => reconnects.push(info) });
    expect(await take(stream, 4)).toEqual(['01A', '01B', '01C', '01D']);
    expect(transport.requests.map((request) => request.afterEventId)).toEqual(['01', '01B', '01C', '01C']);
    expect(stream.cursor).toBe('01D');
    expect(stream.reconnects).toBe(3);
    expect(reconnects.map((info) => info.error?.codeName)).toEqual([undefined, 'UNAVAILABLE', 'INTERNAL']);
    expect(transport.cancelled).toBe(1); // the consumer's break cancelled the last call
  });

  it('hands out what arrived together as one batch, with the cursor at its last event and replays skipped', async () => {
    const transport = new ScriptedTransport([
      { events: ['01A', '01B', '01C'], end: 'ok' },
      { events: ['01B', '01C', '01D', '01E'], end: 'hang' }, // 01B and 01C replayed
    ]);
    const stream = new EventStream(transport, fast);
    const batches: string[][] = [];
    const cursors: (string | undefined)[] = [];
    for await (const batch of stream.batches()) {
      batches.push(batch.map((e) => e.eventId));
      cursors.push(stream.cursor);
      if (batches.flat().length === 5) break;
    }
    expect(batches).toEqual([['01A', '01B', '01C'], ['01D', '01E']]);
    expect(cursors).toEqual(['01C', '01E']);
    expect(transport.requests.map((request) => request.afterEventId)).toEqual([undefined, '01C']);
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/single consumer/);
  });

  it('moves the cursor event by event for a consumer of single events, even inside a batch', async () => {
    const stream = new EventStream(new ScriptedTransport([{ events: ['01A', '01B', '01C'], end: 'hang' }]), fast);
    const seen: (string | undefined)[] = [];
    for await (const e of stream) {
      seen.push(stream.cursor);
      if (e.eventId === '01B') break;
    }
    expect(seen).toEqual(['01A', '01B']);
    expect(stream.cursor).toBe('01B');
  });

  it('filters by send request when asked', async () => {
    const transport = new ScriptedTransport([{ events: ['01A'], end: 'hang' }]);
    const stream = new EventStream(transport, { sendRequestId: 'sr-9' });
    await take(stream, 1);
    expect(transport.requests[0]).toEqual({ sendRequestId: 'sr-9' });
  });

  it('refreshes the token once on UNAUTHENTICATED and gives up when the fresh one is refused too', async () => {
    const unauthenticated = () => grpcError(status.UNAUTHENTICATED, 'Invalid token');
    const transport = new ScriptedTransport([
      { events: ['01A'], end: unauthenticated() },
      { events: ['01B'], end: unauthenticated() }, // an event in between resets the count
      { events: [], end: unauthenticated() },
      { events: [], end: unauthenticated() }, // never reached
    ]);
    const stream = new EventStream(transport, fast);
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of stream) seen.push(e.eventId);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['01A', '01B']);
    expect(err).toBeInstanceOf(UnauthenticatedError);
    expect(transport.invalidated).toEqual(['token-0', 'token-1', 'token-2']);
    expect(transport.tokensUsed).toEqual(['token-0', 'token-1', 'token-2']);
    expect(stream.closed).toBe(true);
  });

  it('throws errors that reconnecting cannot fix', async () => {
    const transport = new ScriptedTransport([{ events: [], end: grpcError(status.PERMISSION_DENIED, 'missing scope') }]);
    await expect(take(new EventStream(transport, fast), 1)).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('close() ends a pending next() and cancels the call', async () => {
    const transport = new ScriptedTransport([{ events: ['01A'], end: 'hang' }]);
    const stream = new EventStream(transport, fast);
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.eventId).toBe('01A');
    const pending = iterator.next();
    stream.close();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(transport.cancelled).toBe(1);
  });

  it('an AbortSignal stops it, also during a reconnect backoff', async () => {
    const transport = new ScriptedTransport([{ events: [], end: grpcError(status.UNAVAILABLE, 'No connection established') }]);
    const controller = new AbortController();
    const stream = new EventStream(transport, { initialBackoffMs: 60_000, maxBackoffMs: 60_000, signal: controller.signal, onReconnect: () => controller.abort() });
    const iterator = stream[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    expect(stream.reconnects).toBe(1);
  });

  it('has a single consumer', () => {
    const stream = new EventStream(new ScriptedTransport([]), fast);
    stream[Symbol.asyncIterator]();
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/single consumer/);
    stream.close();
  });
});
