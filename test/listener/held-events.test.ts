// The listener's coalescing policy without a stream or a server: when a send request's events are
// due for its chunk, and the committed cursor never passing an event still held.
import { describe, expect, it } from 'vitest';
import type { DeliveryEvent, EventType } from '../../src/api/types';
import { HeldEvents } from '../../activities/held-events';

const timing = { batchMaxEvents: 4, actionableMaxDelayMs: 1_000, batchMaxDelayMs: 10_000, partsMaxDelayMs: 3_000 };
let seq = 0;
const event = (sendRequestId: string, type: EventType, ppnum?: string): DeliveryEvent => ({ eventId: `E${String(++seq).padStart(4, '0')}`, sendRequestId, type, ppnum });
const sizes = (due: { sendRequestId: string; events: unknown[] }[]) => Object.fromEntries(due.map((d) => [d.sendRequestId, d.events.length]));

describe('HeldEvents', () => {
  it('holds grants and deliveries until the slow flush, a denial or failure until the actionable delay', () => {
    const held = new HeldEvents(timing, null);
    held.add(event('a', 'CONSENT_GRANTED', '1'), 0);
    held.add(event('a', 'RECIPIENT_DELIVERED', '1'), 0);
    held.resolve('a', { workflowId: 'chunk-a' });
    expect(held.due(9_999)).toEqual([]);
    expect(sizes(held.due(10_000))).toEqual({ a: 2 });

    const denial = new HeldEvents(timing, null);
    denial.add(event('b', 'RECIPIENT_DELIVERED', '1'), 0);
    denial.add(event('b', 'CONSENT_DENIED', '2'), 500);
    denial.resolve('b', { workflowId: 'chunk-b' });
    expect(denial.due(1_499)).toEqual([]);
    expect(sizes(denial.due(1_500))).toEqual({ b: 2 }); // the denial takes the held delivery along
  });

  it('holds a denial or failure like a delivery when the chunk\'s fallback policy does not act on it (the route\'s prompt)', () => {
    const held = new HeldEvents(timing, null);
    held.add(event('a', 'RECIPIENT_FAILED', '1'), 0); // fallback on denied and expired: a failure needs no action
    held.add(event('b', 'RECIPIENT_FAILED', '2'), 0); // fallback on failed too
    held.add(event('c', 'CONSENT_DENIED', '3'), 0); // no fallback at all
    held.resolve('a', { workflowId: 'chunk-a', prompt: ['CONSENT_DENIED'] });
    held.resolve('b', { workflowId: 'chunk-b', prompt: ['CONSENT_DENIED', 'RECIPIENT_FAILED'] });
    held.resolve('c', { workflowId: 'chunk-c', prompt: [] });
    expect(sizes(held.due(1_000))).toEqual({ b: 1 });
    expect(held.handOverDeadline()).toBe(1_000);
    held.handedOver('b', 1);
    expect(held.handOverDeadline()).toBe(10_000); // a and c wait for the slow flush
    held.add(event('a', 'CONSENT_DENIED', '4'), 2_000);
    expect(sizes(held.due(3_000))).toEqual({ a: 2 }); // a's denial takes its failure along
    expect(sizes(held.due(10_000))).toEqual({ a: 2, c: 1 });
  });

  it('hands over a burst at once, and everything once the request completed', () => {
    const held = new HeldEvents(timing, null);
    const full = ['1', '2', '3'].map((p) => held.add(event('a', 'RECIPIENT_DELIVERED', p), 0));
    expect(full).toEqual([false, false, false]);
    expect(held.add(event('a', 'RECIPIENT_DELIVERED', '4'), 0)).toBe(true); // batchMaxEvents reached: look now
    held.add(event('b', 'RECIPIENT_DELIVERED', '5'), 0);
    expect(held.add(event('b', 'REQUEST_COMPLETED'), 0)).toBe(true);
    held.resolve('a', { workflowId: 'chunk-a' });
    held.resolve('b', { workflowId: 'chunk-b' });
    expect(sizes(held.due(0))).toEqual({ a: 4, b: 1 });
    held.add(event('a', 'CONSENT_GRANTED', '6'), 100); // read while the burst was being signalled
    held.handedOver('a', 4);
    expect(held.due(100).map((d) => d.sendRequestId)).toEqual(['b']); // after the burst, a trickle waits for the slow flush again
    expect(sizes(held.due(10_100))).toEqual({ a: 1, b: 1 });
  });

  it('keeps events of unknown requests until resolved, and hands everything resolved over at the end of a run', () => {
    const held = new HeldEvents(timing, null);
    held.add(event('a', 'RECIPIENT_PENDING_CONSENT', '1'), 0);
    held.add(event('x', 'RECIPIENT_PENDING_CONSENT', '2'), 0);
    held.resolve('a', { workflowId: 'chunk-a' });
    expect(held.unresolved()).toEqual(['x']);
    expect(sizes(held.due(0, true))).toEqual({ a: 1 });
    expect(held.due(1_000_000).map((d) => d.sendRequestId)).toEqual(['a']); // x never, however old: it has no chunk yet
  });

  it('commits the cursor only up to the event before the oldest held one', () => {
    const held = new HeldEvents(timing, 'E0000');
    const first = event('a', 'RECIPIENT_PENDING_CONSENT', '1');
    const second = event('b', 'RECIPIENT_PENDING_CONSENT', '2');
    const third = event('a', 'CONSENT_GRANTED', '1');
    for (const e of [first, second, third]) held.add(e, 0);
    expect(held.cursor()).toBe('E0000');
    held.resolve('a', { workflowId: 'chunk-a' });
    held.handedOver('a', 2);
    expect(held.cursor()).toBe(first.eventId); // b's event (read after `first`) is still held
    held.drop('b');
    expect(held.cursor()).toBe(third.eventId);
    expect(held.size).toBe(0);
    const skipped = event('c', 'REQUEST_COMPLETED'); // nothing to hold: the cursor moves past it
    held.add(skipped, 0);
    expect(held.cursor()).toBe(skipped.eventId);
  });

  it('takes off only what was handed over: a failed signal leaves the events held, in order', () => {
    const held = new HeldEvents(timing, null);
    const events = ['1', '2', '3'].map((p) => event('a', 'CONSENT_DENIED', p));
    for (const e of events) held.add(e, 0);
    held.resolve('a', { workflowId: 'chunk-a' });
    const due = held.due(2_000);
    expect(due[0]!.events).toEqual(events);
    held.handedOver('a', 1);
    expect(held.due(2_000)[0]!.events).toEqual(events.slice(1));
    expect(held.size).toBe(2);
  });

  it("hands a chunk's finished parts over together, with its last part (one signal, one workflow task)", () => {
    const held = new HeldEvents(timing, null);
    const complete = (id: string, at: number, ppnums: string[]) => {
      for (const p of ppnums) held.add(event(id, 'RECIPIENT_DELIVERED', p), at);
      return held.add(event(id, 'REQUEST_COMPLETED'), at);
    };
    held.add(event('a', 'RECIPIENT_DELIVERED', '1'), 0);
    held.resolve('a', { workflowId: 'chunk-x', part: { index: 0, count: 3 } });
    expect(complete('a', 0, ['2'])).toBe(true);
    expect(complete('d', 0, ['9'])).toBe(true);
    held.resolve('d', { workflowId: 'chunk-y' }); // one request for its chunk: due as it completes
    expect(sizes(held.due(0))).toEqual({ d: 1 });
    held.handedOver('d', 1);
    expect(held.handOverDeadline()).toBe(3_000); // a waits for its chunk's last part, at most partsMaxDelayMs
    complete('b', 500, ['3', '4', '5', '6']); // full (batchMaxEvents) and complete: a part still waits
    held.resolve('b', { workflowId: 'chunk-x', part: { index: 1, count: 3 } });
    expect(held.due(500)).toEqual([]);
    held.add(event('c', 'RECIPIENT_DELIVERED', '7'), 900);
    held.resolve('c', { workflowId: 'chunk-x', part: { index: 2, count: 3 } });
    expect(held.due(900)).toEqual([]); // the last part is not finished yet
    complete('c', 1_000, ['8']);
    const due = held.due(1_000);
    expect(sizes(due)).toEqual({ a: 2, b: 4, c: 2 });
    expect(due.map((d) => d.part)).toEqual([{ index: 0, count: 3 }, { index: 1, count: 3 }, { index: 2, count: 3 }]);
  });

  it('lets a finished part wait for the last at most partsMaxDelayMs, and a denial in it at most the actionable delay', () => {
    const held = new HeldEvents(timing, null);
    held.add(event('a', 'RECIPIENT_DELIVERED', '1'), 0);
    held.add(event('a', 'REQUEST_COMPLETED'), 0);
    held.resolve('a', { workflowId: 'chunk-x', part: { index: 0, count: 2 } });
    expect(held.due(2_999)).toEqual([]);
    expect(sizes(held.due(3_000))).toEqual({ a: 1 }); // the last part never finished (a cancelled chunk): a goes alone

    const denial = new HeldEvents(timing, null);
    denial.add(event('b', 'CONSENT_DENIED', '2'), 0);
    denial.add(event('b', 'REQUEST_COMPLETED'), 0);
    denial.resolve('b', { workflowId: 'chunk-z', part: { index: 0, count: 2 } });
    expect(denial.handOverDeadline()).toBe(1_000);
    expect(denial.due(999)).toEqual([]);
    expect(sizes(denial.due(1_000))).toEqual({ b: 1 }); // a fallback is due: no waiting for the other part
  });
});
