// ChunkState of a chunk sent as several requests (limits.sendsPerChunk): each request's recipients
// move on their own, events count only for their own request, pause and cancel hold or end the
// requests not sent yet, and the carry across continue-as-new keeps every request.
import { describe, expect, it } from 'vitest';
import type { EventType } from '../../src/api/types';
import type { ChunkEvent } from '../../src/contracts/chunk';
import { ChunkState } from '../../workflows/chunk/state';

const PPNUMS = ['45600000001', '45600000002', '45600000003', '45600000004', '45600000005'];
const [A, B, C, D, E] = PPNUMS as [string, string, string, string, string];

function partsChunk(requestSize = 2) {
  let clock = Date.parse('2026-12-01T00:00:00Z');
  const chunk = new ChunkState({ chunkIndex: 3, fallbackOn: ['denied'], requestSize, now: () => clock });
  chunk.load(PPNUMS);
  return {
    chunk,
    tick(ms = 1_000) {
      clock += ms;
    },
  };
}

function send(chunk: ChunkState, sendRequestId: string) {
  chunk.beginAttempt(1);
  chunk.markSending();
  chunk.accepted(sendRequestId, 'accepted');
}

const event = (sendRequestId: string, type: EventType, ppnum: string): ChunkEvent => ({ sendRequestId, type, ppnum });
const stateOf = (chunk: ChunkState, ppnum: string) => chunk.recipients().find((r) => r.ppnum === ppnum)!;

describe('a chunk larger than one request', () => {
  it('splits into requests of requestSize in list order, and sends them one after another', () => {
    const { chunk } = partsChunk();
    expect(chunk.sendPart()).toEqual({ index: 0, count: 3, offset: 0, size: 2 });
    expect(chunk.ppnums()).toEqual([A, B]);
    send(chunk, 'sr_1');
    expect(chunk.lastPartToSend()).toBe(false);
    expect(chunk.nextPart()).toBe(true);
    expect(chunk.sendPart()).toEqual({ index: 1, count: 3, offset: 2, size: 2 });
    expect(chunk.ppnums()).toEqual([C, D]);
    // Only the first request's recipients are sent; the others wait.
    expect(chunk.recipients().map((r) => r.state)).toEqual(['sent', 'sent', 'queued', 'queued', 'queued']);
    send(chunk, 'sr_2');
    expect(chunk.nextPart()).toBe(true);
    expect(chunk.ppnums()).toEqual([E]);
    expect(chunk.lastPartToSend()).toBe(true);
    send(chunk, 'sr_3');
    expect(chunk.nextPart()).toBe(false);
    expect(chunk.sendRequestIds()).toEqual(['sr_1', 'sr_2', 'sr_3']);
    expect(chunk.sendRequestId).toBe('sr_1');
    expect(chunk.sentRecipients()).toBe(5);
    expect(chunk.progress().sendRequests).toEqual({ sent: 3, total: 3 });
  });

  it('keeps the routes left to a later request until they are told, with their acceptance times', () => {
    const { chunk, tick } = partsChunk();
    send(chunk, 'sr_1');
    chunk.routeWaits('listener-x');
    const firstAt = Date.parse('2026-12-01T00:00:00Z');
    tick(4_000);
    chunk.nextPart();
    send(chunk, 'sr_2');
    chunk.routeWaits('listener-x');
    expect(chunk.untoldRoutes()).toEqual([
      { sendRequestId: 'sr_1', index: 0, acceptedAt: firstAt },
      { sendRequestId: 'sr_2', index: 1, acceptedAt: firstAt + 4_000 },
    ]);
    expect(chunk.untoldRoutesListener()).toBe('listener-x');
    chunk.routesTold();
    expect(chunk.untoldRoutes()).toEqual([]);
    expect(chunk.untoldRoutesListener()).toBeUndefined();
  });

  it('is one request, as before, when the chunk fits in one', () => {
    const chunk = new ChunkState({ chunkIndex: 0, fallbackOn: [], requestSize: 5 });
    chunk.load(PPNUMS);
    expect(chunk.sendPart()).toBeUndefined();
    expect(chunk.nextPart()).toBe(false);
    expect(chunk.ppnums()).toEqual(PPNUMS);
    expect(chunk.progress().sendRequests).toBeUndefined();
  });

  it('applies an event only for the request its recipient was sent in, and keeps events of a request it has not heard accepted', () => {
    const { chunk } = partsChunk();
    send(chunk, 'sr_1');
    // sr_2's events arrive before its send returned: held, then applied with the acceptance.
    chunk.receive([event('sr_2', 'RECIPIENT_DELIVERED', C), event('sr_1', 'RECIPIENT_DELIVERED', A), event('sr_1', 'RECIPIENT_DELIVERED', C)]);
    expect(stateOf(chunk, A).outcome).toBe('delivered');
    expect(stateOf(chunk, C).state).toBe('queued');
    chunk.nextPart();
    send(chunk, 'sr_2');
    expect(stateOf(chunk, C).outcome).toBe('delivered');
    // An event naming the wrong request for a recipient is ignored once every request is known.
    chunk.nextPart();
    send(chunk, 'sr_3');
    chunk.receive([event('sr_1', 'CONSENT_DENIED', E), event('sr_3', 'RECIPIENT_DELIVERED', B)]);
    expect(stateOf(chunk, E).outcome).toBeUndefined();
    expect(stateOf(chunk, B).outcome).toBeUndefined();
    chunk.receive([event('sr_3', 'CONSENT_DENIED', E)]);
    expect(stateOf(chunk, E).outcome).toBe('denied');
    expect(chunk.nextFallbackBatch(10)).toEqual([{ ppnum: E, outcome: 'denied' }]);
  });

  it('keeps each request its own history lines, in the recipients query', () => {
    const { chunk, tick } = partsChunk();
    send(chunk, 'sr_1');
    tick();
    chunk.nextPart();
    send(chunk, 'sr_2');
    const eventsOf = (ppnum: string) => stateOf(chunk, ppnum).history.map((line) => line.event);
    expect(eventsOf(A)).toEqual(['queued', 'send attempt 1', 'accepted: sr_1']);
    expect(eventsOf(C)).toEqual(['queued', 'send attempt 1', 'accepted: sr_2']);
    expect(eventsOf(E)).toEqual(['queued']);
  });

  it('holds the requests not sent yet on a pause, and cancels only them on a cancel', () => {
    const { chunk } = partsChunk();
    send(chunk, 'sr_1');
    expect(chunk.control('pause')).toBe(true);
    expect(chunk.paused).toBe(true);
    expect(chunk.control('cancel')).toBe(true);
    expect(chunk.cancelled).toBe(true);
    chunk.finishUnsent();
    expect(chunk.recipients().map((r) => r.outcome)).toEqual([undefined, undefined, 'cancelled', 'cancelled', 'cancelled']);
    expect(chunk.sendRequestIds()).toEqual(['sr_1']);
    expect(chunk.sentRecipients()).toBe(2);
    // Sent recipients go on to their outcomes.
    chunk.receive([event('sr_1', 'RECIPIENT_DELIVERED', A), event('sr_1', 'RECIPIENT_DELIVERED', B)]);
    expect(chunk.allSettled()).toBe(true);
    expect(chunk.counts()).toMatchObject({ delivered: 2, cancelled: 3 });
  });

  it('settles one rejected request and goes on with the next', () => {
    const { chunk } = partsChunk();
    send(chunk, 'sr_1');
    chunk.nextPart();
    chunk.beginAttempt(1);
    chunk.markSending();
    chunk.rejected('invalid', 'INVALID_ARGUMENT', 'bad variables');
    expect(chunk.nextPart()).toBe(true);
    expect(chunk.ppnums()).toEqual([E]);
    send(chunk, 'sr_3');
    expect(chunk.recipients().map((r) => r.outcome)).toEqual([undefined, undefined, 'invalid', 'invalid', undefined]);
    expect(chunk.unsettledByRequest()).toEqual([
      { sendRequestId: 'sr_1', ppnums: [A, B] },
      { sendRequestId: 'sr_3', ppnums: [E] },
    ]);
  });

  it('carries every request across continue-as-new, and applies events by request after it', () => {
    const { chunk } = partsChunk();
    send(chunk, 'sr_1');
    chunk.nextPart();
    send(chunk, 'sr_2');
    chunk.nextPart();
    send(chunk, 'sr_3');
    chunk.receive([event('sr_1', 'RECIPIENT_PENDING_CONSENT', A)]);
    const carry = JSON.parse(JSON.stringify(chunk.carry())) as ReturnType<ChunkState['carry']>;
    const next = ChunkState.continued({ chunkIndex: 3, fallbackOn: ['denied'], requestSize: 2 }, carry);
    expect(next.sendRequestIds()).toEqual(['sr_1', 'sr_2', 'sr_3']);
    expect(next.recipients()).toEqual(chunk.recipients());
    next.receive([event('sr_2', 'CONSENT_DENIED', A), event('sr_1', 'CONSENT_DENIED', A), event('sr_2', 'RECIPIENT_DELIVERED', D)]);
    expect(next.recipients().map((r) => r.outcome)).toEqual(['denied', undefined, undefined, 'delivered', undefined]);
  });
});
