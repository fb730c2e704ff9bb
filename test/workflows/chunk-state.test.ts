// ChunkState without a server: every transition, every event order, duplicate and out-of-order
// events, the end-of-window snapshot, the fallback queue, consent figures, and the carry across
// continue-as-new.
import { describe, expect, it } from 'vitest';
import type { DeliveryEvent, EventType } from '../../src/api/types';
import { decisionPercentiles } from '../../src/campaign/consent';
import type { FallbackTrigger } from '../../src/campaign/outcomes';
import { CHUNK_ERROR_CODES, decodeBatch, encodeBatch, fromDeliveryEvents } from '../../src/contracts/chunk';
import type { ChunkEvent } from '../../src/contracts/chunk';
import { ChunkState } from '../../workflows/chunk/state';

const A = '45600000001';
const B = '45600000002';
const C = '45600000003';
const SR = 'sr_1';

function newChunk(options: { fallbackOn?: FallbackTrigger[]; paused?: boolean } = {}) {
  let clock = Date.parse('2026-12-01T00:00:00Z');
  const chunk = new ChunkState({ chunkIndex: 7, fallbackOn: options.fallbackOn ?? [], paused: options.paused, now: () => clock });
  return {
    chunk,
    tick(ms = 1_000) {
      clock += ms;
    },
  };
}

/** A loaded chunk whose send was accepted as SR. */
function sentChunk(fallbackOn: FallbackTrigger[] = ['denied']) {
  const made = newChunk({ fallbackOn });
  made.chunk.load([A, B, C]);
  made.chunk.beginAttempt(1);
  made.chunk.markSending();
  made.chunk.accepted(SR, 'accepted');
  return made;
}

function event(type: EventType, ppnum: string | undefined, extra: Partial<ChunkEvent> = {}): ChunkEvent {
  return { sendRequestId: SR, type, ppnum, ...extra };
}

function stateOf(chunk: ChunkState, ppnum: string) {
  return chunk.recipients().find((r) => r.ppnum === ppnum)!;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('before the send', () => {
  it('loads every recipient as queued, with its history', () => {
    const { chunk } = newChunk();
    chunk.load([A, B]);
    expect(chunk.recipients().map((r) => [r.ppnum, r.state, r.history.length])).toEqual([
      [A, 'queued', 1],
      [B, 'queued', 1],
    ]);
    expect(chunk.progress()).toMatchObject({ chunkIndex: 7, phase: 'reading', recipients: 2, states: { queued: 2 }, sendAttempts: 0 });
  });

  it('takes pause, resume and cancel until the send is accepted, and ignores them afterwards', () => {
    const { chunk } = newChunk({ paused: true });
    chunk.load([A]);
    expect(chunk.paused).toBe(true);
    expect(chunk.control('resume')).toBe(true);
    expect(chunk.paused).toBe(false);
    expect(chunk.control('pause')).toBe(true);
    chunk.holdForPause();
    expect(chunk.phase).toBe('paused');
    chunk.accepted(SR, 'accepted');
    expect(chunk.control('cancel')).toBe(false);
    expect(chunk.cancelled).toBe(false);
  });

  it('cancels a chunk that never sent: every recipient ends cancelled', () => {
    const { chunk } = newChunk({ fallbackOn: ['denied', 'failed'] });
    chunk.load([A, B]);
    chunk.control('cancel');
    chunk.finishUnsent();
    expect(chunk.recipients().map((r) => r.outcome)).toEqual(['cancelled', 'cancelled']);
    expect(chunk.hasFallbacksDue()).toBe(false);
    expect(chunk.counts()).toMatchObject({ cancelled: 2 });
  });

  it('walks an attempt: sending, refused with the retry time, due again, then accepted', () => {
    const { chunk, tick } = newChunk();
    chunk.load([A, B]);
    chunk.beginAttempt(1);
    expect(chunk.phase).toBe('sending');
    chunk.markSending();
    expect(chunk.progress().states).toEqual({ sending: 2 });
    chunk.refused('RESOURCE_EXHAUSTED', '2026-12-01T00:00:02.000Z');
    expect(chunk.progress()).toMatchObject({ phase: 'waiting_retry', retryAt: '2026-12-01T00:00:02.000Z', states: { queued: 2 } });
    expect(stateOf(chunk, A).history.at(-1)!.event).toBe('refused (RESOURCE_EXHAUSTED)');
    chunk.retryDue();
    expect(chunk.retryAt).toBeUndefined();
    tick(2_000);
    chunk.beginAttempt(2);
    chunk.markSending();
    chunk.accepted(SR, 'accepted');
    expect(chunk.progress()).toMatchObject({ phase: 'sent', sendRequestId: SR, sendAttempts: 2, states: { sent: 2 } });
    expect(chunk.sentAt).toBe(Date.parse('2026-12-01T00:00:02Z'));
  });

  it('reconciles an ambiguous send: nothing accepted means queued again, then adopted', () => {
    const { chunk } = newChunk();
    chunk.load([A]);
    chunk.beginAttempt(1);
    chunk.markSending();
    chunk.reconciling();
    expect(chunk.phase).toBe('reconciling');
    chunk.notAccepted();
    expect(stateOf(chunk, A).state).toBe('queued');
    chunk.beginAttempt(2);
    chunk.markSending();
    chunk.accepted('sr_adopted', 'adopted after reconciliation');
    expect(stateOf(chunk, A).history.at(-1)!.event).toBe('adopted after reconciliation: sr_adopted');
  });

  it('settles a rejected request: invalid or failed with the code, and queues fallbacks the policy names', () => {
    const { chunk } = newChunk({ fallbackOn: ['denied', 'failed'] });
    chunk.load([A, B]);
    chunk.rejected('failed', 'FAILED_PRECONDITION', 'Template inactive');
    expect(chunk.recipients().map((r) => [r.outcome, r.errorCode])).toEqual([
      ['failed', 'FAILED_PRECONDITION'],
      ['failed', 'FAILED_PRECONDITION'],
    ]);
    expect(chunk.nextFallbackBatch(10).map((r) => r.ppnum)).toEqual([A, B]);
    chunk.finishUnsent(); // nothing left to cancel
    expect(chunk.counts()).toMatchObject({ failed: 2, cancelled: 0 });
  });
});

describe('events after the send', () => {
  it('moves each recipient by its events: delivered, failed with its code, consent expired, denied', () => {
    const { chunk } = sentChunk(['denied', 'expired', 'failed']);
    chunk.receive([event('RECIPIENT_DELIVERED', A), event('RECIPIENT_FAILED', B, { errorCode: 'DELIVERY_FAILED' }), event('RECIPIENT_PENDING_CONSENT', C)]);
    expect([stateOf(chunk, A).outcome, stateOf(chunk, B).outcome, stateOf(chunk, C).state]).toEqual(['delivered', 'failed', 'pending_consent']);
    expect(stateOf(chunk, B).errorCode).toBe('DELIVERY_FAILED');
    chunk.receive([event('RECIPIENT_FAILED', C, { errorCode: 'CONSENT_EXPIRED' })]);
    expect(stateOf(chunk, C)).toMatchObject({ state: 'expired', outcome: 'expired', errorCode: 'CONSENT_EXPIRED' });
    expect(chunk.allSettled()).toBe(true);
    expect(chunk.nextFallbackBatch(10).map((r) => r.ppnum)).toEqual([B, C]);
  });

  it('ends the same way whatever order the consent events arrive in', () => {
    const granted: EventType[] = ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED'];
    for (const order of permutations(granted)) {
      const { chunk } = sentChunk();
      chunk.receive(order.map((type) => event(type, A)));
      expect(stateOf(chunk, A).outcome, order.join(' > ')).toBe('delivered');
    }
    const denied: EventType[] = ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED'];
    for (const order of permutations(denied)) {
      const { chunk } = sentChunk();
      chunk.receive(order.map((type) => event(type, A)));
      expect(stateOf(chunk, A).outcome, order.join(' > ')).toBe('denied');
      expect(chunk.nextFallbackBatch(10)).toHaveLength(1);
    }
  });

  it('never moves backwards, and the first final outcome stands', () => {
    const { chunk } = sentChunk();
    chunk.receive([event('CONSENT_GRANTED', A), event('RECIPIENT_PENDING_CONSENT', A)]);
    expect(stateOf(chunk, A).state).toBe('granted');
    chunk.receive([event('CONSENT_DENIED', B), event('RECIPIENT_DELIVERED', B)]);
    expect(stateOf(chunk, B).outcome).toBe('denied');
  });

  it('applies a repeated batch once: same states, same history, one fallback', () => {
    const { chunk } = sentChunk();
    const batch = [event('RECIPIENT_PENDING_CONSENT', A), event('CONSENT_DENIED', A), event('RECIPIENT_DELIVERED', B)];
    chunk.receive(batch);
    const once = JSON.stringify(chunk.recipients());
    chunk.receive(batch);
    chunk.receive([...batch].reverse());
    expect(JSON.stringify(chunk.recipients())).toBe(once);
    expect(chunk.nextFallbackBatch(10).map((r) => r.ppnum)).toEqual([A]);
    expect(chunk.nextFallbackBatch(10)).toEqual([]);
  });

  it('ignores events of another send request, of unknown ppnums, and without a recipient', () => {
    const { chunk } = sentChunk();
    chunk.receive([event('RECIPIENT_DELIVERED', A, { sendRequestId: 'sr_other' }), event('RECIPIENT_DELIVERED', '45699999999'), event('REQUEST_COMPLETED', undefined)]);
    expect(chunk.progress().states).toEqual({ sent: 3 });
  });

  it('holds events that arrive before the records or the send request id, and applies them once both are known', () => {
    const { chunk } = newChunk();
    chunk.receive([event('RECIPIENT_PENDING_CONSENT', A)]); // before load
    chunk.load([A, B]);
    chunk.receive([event('RECIPIENT_DELIVERED', B)]); // before the receipt
    expect(chunk.progress().states).toEqual({ queued: 2 });
    chunk.accepted(SR, 'accepted');
    expect([stateOf(chunk, A).state, stateOf(chunk, B).outcome]).toEqual(['pending_consent', 'delivered']);
  });

  it('counts a poll response once per recipient', () => {
    const { chunk } = sentChunk();
    chunk.receive([event('RECIPIENT_DELIVERED', A), event('POLL_RESPONSE_RECEIVED', A), event('POLL_RESPONSE_RECEIVED', A)]);
    expect(chunk.pollResponses()).toBe(1);
    expect(stateOf(chunk, A).history.filter((h) => h.event === 'POLL_RESPONSE_RECEIVED')).toHaveLength(1);
  });
});

describe('the end of the consent window', () => {
  it('takes final statuses from the snapshot for the unsettled, and leaves the settled alone', () => {
    const { chunk } = sentChunk(['denied', 'expired']);
    chunk.receive([event('RECIPIENT_DELIVERED', A), event('RECIPIENT_PENDING_CONSENT', B), event('RECIPIENT_PENDING_CONSENT', C)]);
    expect(chunk.unsettledByRequest()).toEqual([{ sendRequestId: SR, ppnums: [B, C] }]);
    chunk.applySnapshot([
      { ppnum: A, status: 'FAILED', errorCode: 'DELIVERY_FAILED' }, // already delivered: stays delivered
      { ppnum: B, status: 'FAILED', errorCode: 'CONSENT_DENIED' },
      { ppnum: C, status: 'FAILED', errorCode: 'CONSENT_EXPIRED' },
      { ppnum: '45699999999', status: 'DELIVERED' },
    ]);
    expect([stateOf(chunk, A).outcome, stateOf(chunk, B).outcome, stateOf(chunk, C).outcome]).toEqual(['delivered', 'denied', 'expired']);
    expect(stateOf(chunk, B).history.at(-1)!.event).toBe('status snapshot: FAILED CONSENT_DENIED');
    expect(chunk.nextFallbackBatch(10).map((r) => r.ppnum)).toEqual([B, C]);
  });

  it('maps a delivered and a plainly failed snapshot status', () => {
    const { chunk } = sentChunk();
    chunk.applySnapshot([
      { ppnum: A, status: 'DELIVERED' },
      { ppnum: B, status: 'FAILED', errorCode: 'DELIVERY_FAILED' },
    ]);
    expect([stateOf(chunk, A).outcome, stateOf(chunk, B).outcome, stateOf(chunk, B).errorCode]).toEqual(['delivered', 'failed', 'DELIVERY_FAILED']);
  });

  it('expires whoever has no final outcome (never failed), and queues their fallbacks only once late events are closed', () => {
    const { chunk } = sentChunk(['denied', 'expired']);
    chunk.receive([event('RECIPIENT_PENDING_CONSENT', A), event('RECIPIENT_PENDING_CONSENT', B), event('CONSENT_GRANTED', B), event('RECIPIENT_DELIVERED', C)]);
    chunk.expireUnsettled();
    expect(stateOf(chunk, A)).toMatchObject({ outcome: 'expired', errorCode: CHUNK_ERROR_CODES.consentWindowEnded });
    expect(stateOf(chunk, B)).toMatchObject({ outcome: 'expired', errorCode: CHUNK_ERROR_CODES.noEvent });
    expect(stateOf(chunk, C).outcome).toBe('delivered');
    expect(chunk.phase).toBe('closing');
    expect(chunk.hasLateOpen()).toBe(true);
    expect(chunk.hasFallbacksDue()).toBe(false); // a late delivery may still come
    chunk.closeLateEvents();
    expect(chunk.nextFallbackBatch(10).map((r) => r.ppnum)).toEqual([A, B]);
    chunk.expireUnsettled(); // nothing left: no change
    expect(chunk.counts()).toMatchObject({ delivered: 1, expired: 2, failed: 0 });
  });

  it('lets a late final event replace our window\'s expiry until the chunk closes: a late denial gets its fallback', () => {
    const { chunk } = sentChunk(['denied']);
    chunk.receive([event('RECIPIENT_PENDING_CONSENT', A), event('RECIPIENT_PENDING_CONSENT', B), event('RECIPIENT_PENDING_CONSENT', C)]);
    chunk.expireUnsettled();
    chunk.receive([event('CONSENT_DENIED', A), event('RECIPIENT_DELIVERED', B), event('CONSENT_GRANTED', C)]);
    expect(stateOf(chunk, A)).toMatchObject({ state: 'denied', outcome: 'denied' });
    expect(stateOf(chunk, A).errorCode).toBeUndefined();
    expect(stateOf(chunk, A).history.at(-1)!.event).toBe('CONSENT_DENIED (after the consent window)');
    expect(stateOf(chunk, B).outcome).toBe('delivered');
    expect(stateOf(chunk, C)).toMatchObject({ outcome: 'expired', errorCode: CHUNK_ERROR_CODES.consentWindowEnded }); // a grant is not final
    expect(chunk.nextFallbackBatch(10).map((r) => r.ppnum)).toEqual([A]);
    expect(chunk.hasLateOpen()).toBe(true);
    chunk.closeLateEvents();
    chunk.receive([event('RECIPIENT_DELIVERED', C)]); // closed: too late
    expect(stateOf(chunk, C).outcome).toBe('expired');
    expect(chunk.hasFallbacksDue()).toBe(false); // 'expired' is not in the policy
    expect(chunk.counts()).toMatchObject({ denied: 1, delivered: 1, expired: 1 });
  });

  it('never replaces an outcome the API itself gave', () => {
    const { chunk } = sentChunk(['denied', 'expired']);
    chunk.receive([event('RECIPIENT_FAILED', A, { errorCode: 'CONSENT_EXPIRED' }), event('RECIPIENT_PENDING_CONSENT', B)]);
    chunk.expireUnsettled();
    chunk.receive([event('RECIPIENT_DELIVERED', A)]);
    expect(stateOf(chunk, A)).toMatchObject({ outcome: 'expired', errorCode: 'CONSENT_EXPIRED' });
  });
});

describe('configuration faults', () => {
  const fault = { reason: 'credentials' as const, codeName: 'UNAUTHENTICATED', message: 'oauth/token: invalid_client' };

  it('holds the send: recipients back to queued with one history entry per fault, never an outcome', () => {
    const { chunk, tick } = newChunk({ fallbackOn: ['failed'] });
    chunk.load([A, B]);
    chunk.beginAttempt(1);
    chunk.markSending();
    expect(chunk.blockedBy(fault, '2026-12-01T00:00:05.000Z')).toBe(true);
    const since = chunk.blocked!.since;
    expect(chunk.progress()).toMatchObject({ phase: 'blocked', blocked: { reason: 'credentials', codeName: 'UNAUTHENTICATED', retryAt: '2026-12-01T00:00:05.000Z' } });
    for (let attempt = 2; attempt <= 5; attempt++) {
      tick(5_000);
      chunk.beginAttempt(attempt);
      chunk.markSending();
      expect(chunk.blockedBy(fault, '2026-12-01T00:01:00.000Z')).toBe(false); // the same fault: no news
    }
    expect(chunk.blocked!.since).toBe(since);
    expect(chunk.recipients().map((r) => [r.state, r.outcome])).toEqual([
      ['queued', undefined],
      ['queued', undefined],
    ]);
    expect(stateOf(chunk, A).history.map((h) => h.event)).toEqual(['queued', 'send attempt 1', 'held: API credentials refused (UNAUTHENTICATED)']);
    expect(chunk.counts()).toMatchObject({ failed: 0 });
    expect(chunk.hasFallbacksDue()).toBe(false);
    expect(chunk.blockedBy({ ...fault, reason: 'unreachable', codeName: 'UNAVAILABLE' }, '2026-12-01T00:02:00.000Z')).toBe(true); // another fault is news
  });

  it('wakes on resume, clears when the send gets through, and keeps outcomes exact', () => {
    const { chunk } = newChunk();
    chunk.load([A]);
    chunk.beginAttempt(1);
    chunk.markSending();
    chunk.blockedBy(fault, '2026-12-01T01:00:00.000Z');
    expect(chunk.control('resume')).toBe(true);
    expect(chunk.wakeRequested).toBe(true);
    chunk.beginAttempt(2);
    chunk.markSending();
    chunk.accepted(SR, 'accepted');
    expect(chunk.blocked).toBeUndefined();
    expect(chunk.progress().blocked).toBeUndefined();
    expect(chunk.phase).toBe('sent');
    expect(chunk.unblock()).toBe(false);
  });

  it('holds a fallback batch: back to the front of the queue, delivered once when the channel answers', () => {
    const { chunk } = sentChunk(['denied']);
    chunk.receive([event('CONSENT_DENIED', A), event('CONSENT_DENIED', B)]);
    const batch = chunk.nextFallbackBatch(10);
    chunk.requeueFallbacks(batch);
    expect(chunk.blockedBy({ reason: 'fallback', codeName: 'HTTP 503', message: 'webhook answered HTTP 503' }, '2026-12-01T00:10:00.000Z')).toBe(true);
    expect(chunk.recipients().map((r) => [r.state, r.outcome])).toEqual([['denied', 'denied'], ['denied', 'denied'], ['sent', undefined]]); // nothing touched
    expect(chunk.control('resume')).toBe(true); // sent chunks ignore controls, but a resume wakes a held fallback
    expect(chunk.unblock()).toBe(true);
    expect(chunk.phase).toBe('fallback');
    const again = chunk.nextFallbackBatch(10);
    expect(again.map((r) => r.ppnum)).toEqual([A, B]);
    for (const record of again) chunk.recordFallback(record.ppnum, 'sent');
    chunk.requeueFallbacks(again); // already recorded: not queued again
    expect(chunk.hasFallbacksDue()).toBe(false);
    expect(chunk.counts()).toMatchObject({ fallbackSent: 2 });
  });

  it('loads a fallback-only follow-up: outcomes as they were, every recipient queued for its fallback once', () => {
    const { chunk } = newChunk({ fallbackOn: ['denied'] });
    chunk.loadForFallback([{ ppnum: A, outcome: 'denied' }, { ppnum: B, outcome: 'expired' }], 'fallback retry for campaign spring');
    expect(chunk.allSettled()).toBe(true);
    expect(chunk.nextFallbackBatch(10).map((r) => r.ppnum)).toEqual([A, B]);
    expect(chunk.counts()).toMatchObject({ denied: 1, expired: 1 });
  });
});

describe('fallbacks', () => {
  it('hands out each recipient once, in batches, and records one fallback outcome each', () => {
    const { chunk } = sentChunk(['denied']);
    chunk.receive([event('CONSENT_DENIED', A), event('CONSENT_DENIED', B), event('CONSENT_DENIED', C)]);
    const first = chunk.nextFallbackBatch(2);
    expect(chunk.phase).toBe('fallback');
    const second = chunk.nextFallbackBatch(2);
    expect([first.map((r) => r.ppnum), second.map((r) => r.ppnum)]).toEqual([[A, B], [C]]);
    expect(chunk.hasFallbacksDue()).toBe(false);
    chunk.recordFallback(A, 'sent');
    chunk.recordFallback(A, 'failed', 'late duplicate'); // ignored: one fallback outcome per recipient
    chunk.recordFallback(B, 'failed', 'HTTP 500');
    expect(stateOf(chunk, B).history.at(-1)!.event).toBe('fallback failed: HTTP 500');
    expect(chunk.counts()).toMatchObject({ denied: 3, fallbackSent: 1, fallbackFailed: 1 });
  });

  it('queues no fallback without a policy, and only for the outcomes the policy names', () => {
    const none = sentChunk([]).chunk;
    none.receive([event('CONSENT_DENIED', A)]);
    expect(none.hasFallbacksDue()).toBe(false);
    const deniedOnly = sentChunk(['denied']).chunk;
    deniedOnly.receive([event('RECIPIENT_FAILED', A, { errorCode: 'DELIVERY_FAILED' }), event('RECIPIENT_FAILED', B, { errorCode: 'CONSENT_EXPIRED' })]);
    expect(deniedOnly.hasFallbacksDue()).toBe(false);
  });

  it('finishes with the phase and counts the campaign adds up', () => {
    const { chunk } = sentChunk();
    chunk.receive([event('RECIPIENT_DELIVERED', A), event('RECIPIENT_DELIVERED', B), event('CONSENT_DENIED', C)]);
    chunk.finish();
    expect(chunk.progress()).toMatchObject({ phase: 'finished', counts: { delivered: 2, denied: 1 }, states: { delivered: 2, denied: 1 } });
  });
});

describe('both signal forms', () => {
  it('a compact batch applies exactly like the full events it encodes', () => {
    const full: DeliveryEvent[] = [
      { eventId: 'e1', sendRequestId: SR, type: 'RECIPIENT_PENDING_CONSENT', ppnum: A, occurredAt: '2026-12-01T00:00:01.000Z' },
      { eventId: 'e2', sendRequestId: SR, type: 'CONSENT_DENIED', ppnum: A, errorCode: 'CONSENT_DENIED', occurredAt: '2026-12-01T00:30:01.000Z' },
      { eventId: 'e3', sendRequestId: SR, type: 'RECIPIENT_FAILED', ppnum: B, errorCode: 'DELIVERY_FAILED', occurredAt: '2026-12-01T00:00:02.000Z' },
      { eventId: 'e4', sendRequestId: SR, type: 'REQUEST_COMPLETED', occurredAt: '2026-12-01T00:30:02.000Z' },
    ];
    const batch = encodeBatch(SR, full, Date.parse('2026-12-01T01:00:00Z'));
    expect(batch).toEqual({ sendRequestId: SR, t0: Date.parse('2026-12-01T00:00:01Z'), events: [[3, A, 0], [5, A, 1_800_000, 'CONSENT_DENIED'], [2, B, 1_000, 'DELIVERY_FAILED']] });
    const thousand: DeliveryEvent[] = Array.from({ length: 1_000 }, (_, i) => ({ eventId: `01KB${i}`, sendRequestId: SR, type: 'RECIPIENT_DELIVERED', ppnum: String(45_600_000_000 + i), messageId: `msg_${i}`, occurredAt: '2026-12-01T00:00:01.000Z' }));
    expect(JSON.stringify(encodeBatch(SR, thousand, 0)).length / 1_000).toBeLessThan(25); // bytes per event (the full form was ~225)
    const viaBatch = sentChunk(['denied']).chunk;
    const viaFull = sentChunk(['denied']).chunk;
    viaBatch.receive(decodeBatch(batch));
    viaFull.receive(fromDeliveryEvents({ events: full }));
    expect(viaBatch.recipients()).toEqual(viaFull.recipients());
    expect(stateOf(viaBatch, A)).toMatchObject({ outcome: 'denied', consent: 'denied', consentDecisionMs: 1_800_000 });
  });
});

describe('consent', () => {
  const at = (iso: string) => Date.parse(iso);

  it('tells new recipients from those with consent on file, and times each decision by the API’s clock', () => {
    const { chunk, tick } = sentChunk(['denied', 'expired']);
    chunk.receive([
      event('RECIPIENT_PENDING_CONSENT', A, { at: at('2026-12-01T00:00:00Z') }),
      event('RECIPIENT_PENDING_CONSENT', B, { at: at('2026-12-01T00:00:00Z') }),
      event('RECIPIENT_DELIVERED', C),
    ]);
    expect(chunk.consent()).toMatchObject({ asked: 2, granted: 0, alreadyConsented: 1 });
    tick(3_600_000); // the chunk hears an hour late: the decision time still comes from the events
    chunk.receive([event('CONSENT_GRANTED', A, { at: at('2026-12-01T00:20:00Z') }), event('RECIPIENT_DELIVERED', A), event('CONSENT_DENIED', B, { at: at('2026-12-01T02:00:00Z') })]);
    expect(stateOf(chunk, A)).toMatchObject({ consent: 'granted', consentDecisionMs: 20 * 60_000 });
    expect(stateOf(chunk, B)).toMatchObject({ consent: 'denied', consentDecisionMs: 2 * 3_600_000 });
    expect(stateOf(chunk, C).consent).toBe('already-consented');
    const stats = chunk.consent();
    expect(stats).toMatchObject({ asked: 2, granted: 1, denied: 1, expired: 0, alreadyConsented: 1, alreadyDenied: 0 });
    const timing = decisionPercentiles(stats.decisionHistogram);
    expect(timing.decisions).toBe(2);
    expect(timing.p50!).toBeGreaterThanOrEqual(20 * 60_000);
    expect(timing.p50!).toBeLessThan(1.5 * 20 * 60_000);
    expect(timing.p99!).toBeGreaterThanOrEqual(2 * 3_600_000);
  });

  it('counts expiries (the API’s and our window’s end) and denials made before', () => {
    const { chunk } = sentChunk(['denied', 'expired']);
    chunk.receive([event('RECIPIENT_PENDING_CONSENT', A), event('RECIPIENT_FAILED', A, { errorCode: 'CONSENT_EXPIRED' }), event('CONSENT_DENIED', B), event('RECIPIENT_PENDING_CONSENT', C)]);
    chunk.expireUnsettled();
    expect(chunk.recipients().map((r) => r.consent)).toEqual(['expired', 'already-denied', 'expired']);
    expect(chunk.consent()).toMatchObject({ asked: 2, expired: 2, alreadyDenied: 1, denied: 0 });
    expect(decisionPercentiles(chunk.consent().decisionHistogram).decisions).toBe(0);
  });

  it('says when the campaign should hear the figures: changed, and not more often than asked', () => {
    const { chunk, tick } = sentChunk();
    expect(chunk.reportDue(10_000)).toBeUndefined(); // nothing known yet, and too soon
    chunk.receive([event('RECIPIENT_PENDING_CONSENT', A)]);
    tick(5_000);
    expect(chunk.reportDue(10_000)).toBeUndefined();
    tick(5_000);
    const report = chunk.reportDue(10_000)!;
    expect(report).toMatchObject({ countsOnly: false, consent: { asked: 1 } });
    chunk.reported(report.consent);
    tick(20_000);
    expect(chunk.reportDue(10_000)).toBeUndefined(); // unchanged
    chunk.receive([event('CONSENT_GRANTED', A)]);
    expect(chunk.reportDue(10_000)?.consent.granted).toBe(1);
  });

  it('says until when a changed figure is held back by the interval, and nothing once it is told or unchanged', () => {
    const { chunk, tick } = sentChunk();
    const sentAt = chunk.sentAt!;
    chunk.receive([event('RECIPIENT_PENDING_CONSENT', A)]);
    tick(4_000);
    expect(chunk.reportHeldUntil(10_000)).toBe(sentAt + 10_000); // the first report waits an interval from the send
    tick(6_000);
    expect(chunk.reportHeldUntil(10_000)).toBeUndefined(); // due now, not held
    chunk.reported(chunk.reportDue(10_000)!.consent);
    tick(1_000);
    expect(chunk.reportHeldUntil(10_000)).toBeUndefined(); // nothing new
    chunk.receive([event('CONSENT_GRANTED', A), event('RECIPIENT_DELIVERED', A)]);
    expect(chunk.reportHeldUntil(10_000)).toBe(sentAt + 20_000);
    const { chunk: quiet } = sentChunk();
    quiet.receive([event('CONSENT_GRANTED', A)]);
    quiet.reported(quiet.consent());
    quiet.receive([event('RECIPIENT_DELIVERED', A)]);
    expect(quiet.reportHeldUntil(10_000)).toBeUndefined(); // the counts alone, not asked for
    expect(quiet.reportHeldUntil(10_000, { counts: true })).toBeDefined();
  });

  it('with counts asked for, a change of the settled counts alone is due too (a delivery after a grant)', () => {
    const { chunk, tick } = sentChunk();
    chunk.receive([event('RECIPIENT_PENDING_CONSENT', A), event('CONSENT_GRANTED', A)]);
    tick(10_000);
    chunk.reported(chunk.reportDue(10_000, { counts: true })!.consent);
    expect(chunk.reportedCounts()).toBe(true);
    chunk.receive([event('RECIPIENT_DELIVERED', A)]);
    tick(5_000);
    expect(chunk.reportDue(10_000, { counts: true })).toBeUndefined(); // too soon
    tick(5_000);
    expect(chunk.reportDue(10_000)).toBeUndefined(); // consent unchanged, counts not asked for
    const due = chunk.reportDue(10_000, { counts: true })!;
    expect(due).toMatchObject({ countsOnly: true, consent: { granted: 1 } });
    chunk.reported(due.consent);
    tick(10_000);
    expect(chunk.reportDue(10_000, { counts: true })).toBeUndefined(); // told already
    // The next run knows the counts were reported (and goes on reporting them).
    const next = ChunkState.continued({ chunkIndex: 7, fallbackOn: [] }, JSON.parse(JSON.stringify(chunk.carry())) as ReturnType<ChunkState['carry']>);
    expect(next.reportedCounts()).toBe(true);
  });
});

describe('continue-as-new', () => {
  it('a continued chunk is the same chunk: recipients, histories, counts, consent and due fallbacks', () => {
    const { chunk, tick } = sentChunk(['denied']);
    chunk.receive([event('RECIPIENT_PENDING_CONSENT', A, { at: 1_000 }), event('CONSENT_DENIED', B), event('RECIPIENT_DELIVERED', C)]);
    const carry = JSON.parse(JSON.stringify(chunk.carry())) as ReturnType<ChunkState['carry']>; // as Temporal stores it
    expect(carry.run).toBe(2);
    const next = ChunkState.continued({ chunkIndex: 7, fallbackOn: ['denied'], now: () => Date.parse('2026-12-01T01:00:00Z') }, carry);
    expect(next.recipients()).toEqual(chunk.recipients());
    expect(next.counts()).toEqual(chunk.counts());
    expect(next.progress()).toMatchObject({ phase: 'sent', sendRequestId: SR, run: 2 });
    expect(next.nextFallbackBatch(10).map((r) => r.ppnum)).toEqual([B]); // due, not dispatched before the carry
    tick();
    next.receive([event('CONSENT_GRANTED', A, { at: 61_000 }), event('RECIPIENT_DELIVERED', A)]);
    expect(stateOf(next, A)).toMatchObject({ outcome: 'delivered', consent: 'granted', consentDecisionMs: 60_000 });
    expect(next.allSettled()).toBe(true);
  });

  it('keeps the lines every recipient shares once, so a 1,000-recipient carry stays small', () => {
    const made = newChunk();
    const ppnums = Array.from({ length: 1_000 }, (_, i) => String(45_600_000_000 + i));
    made.chunk.load(ppnums);
    made.chunk.beginAttempt(1);
    made.chunk.markSending();
    made.chunk.accepted(SR, 'accepted');
    made.chunk.receive(ppnums.flatMap((p) => [event('RECIPIENT_PENDING_CONSENT', p, { at: 1 }), event('CONSENT_GRANTED', p, { at: 5 })]));
    const carry = made.chunk.carry();
    expect(carry.log.map(([, text]) => text)).toEqual(['queued', 'send attempt 1', `accepted: ${SR}`]);
    expect(made.chunk.recipients()[0]!.history.map((h) => h.event)).toEqual(['queued', 'send attempt 1', `accepted: ${SR}`, 'RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED']);
    expect(JSON.stringify(carry).length).toBeLessThan(200_000);
  });

  it('refuses to carry a chunk that has not sent', () => {
    const { chunk } = newChunk();
    chunk.load([A]);
    expect(() => chunk.carry()).toThrow(/sent/);
  });
});

describe('the campaign deadline', () => {
  it('settles every unsent recipient as deadline (code DEADLINE), unblocking a held chunk, and calls for no fallback', () => {
    const { chunk } = newChunk({ fallbackOn: ['denied', 'expired', 'failed'] });
    chunk.load([A, B]);
    chunk.refused('RESOURCE_EXHAUSTED', '2026-12-31T00:00:00Z');
    chunk.deadlinePassed();
    expect(chunk.allSettled()).toBe(true);
    expect(chunk.counts()).toMatchObject({ deadline: 2 });
    expect(chunk.progress().retryAt).toBeUndefined();
    expect(chunk.recipients()[0]).toMatchObject({ state: 'deadline', outcome: 'deadline', errorCode: CHUNK_ERROR_CODES.deadline });
    expect(chunk.recipients()[0]!.history.at(-1)?.event).toBe('not sent: the campaign deadline passed');
    expect(chunk.hasFallbacksDue()).toBe(false);
  });
});

describe('figures kept between changes', () => {
  /** The figures counted afresh from what the recipients query shows. */
  function recount(chunk: ChunkState) {
    const records = chunk.recipients();
    const states: Record<string, number> = {};
    const counts: Record<string, number> = {};
    for (const record of records) {
      states[record.state] = (states[record.state] ?? 0) + 1;
      if (record.outcome) counts[record.outcome] = (counts[record.outcome] ?? 0) + 1;
      if (record.fallback === 'sent') counts.fallbackSent = (counts.fallbackSent ?? 0) + 1;
      if (record.fallback === 'failed') counts.fallbackFailed = (counts.fallbackFailed ?? 0) + 1;
    }
    const consentOf = (state: string) => records.filter((record) => record.consent === state).length;
    return {
      states,
      counts,
      consent: { granted: consentOf('granted'), denied: consentOf('denied'), alreadyConsented: consentOf('already-consented') },
      responded: records.filter((record) => record.responded).length,
      settled: records.every((record) => record.outcome !== undefined),
    };
  }

  function figures(chunk: ChunkState) {
    const progress = chunk.progress();
    const counts = Object.fromEntries(Object.entries(chunk.counts()).filter(([, n]) => n > 0));
    const consent = chunk.consent();
    return {
      states: progress.states,
      counts,
      consent: { granted: consent.granted, denied: consent.denied, alreadyConsented: consent.alreadyConsented },
      responded: chunk.pollResponses(),
      settled: chunk.allSettled(),
    };
  }

  it('match a fresh count after every change: events, snapshot, expiry, late events, fallbacks', () => {
    const { chunk, tick } = newChunk({ fallbackOn: ['denied', 'expired'] });
    const ppnums = Array.from({ length: 60 }, (_, i) => `4560${String(i).padStart(7, '0')}`);
    chunk.load(ppnums);
    expect(figures(chunk)).toEqual(recount(chunk));
    chunk.beginAttempt(1);
    chunk.markSending();
    expect(figures(chunk)).toEqual(recount(chunk));
    chunk.accepted(SR, 'accepted');
    expect(figures(chunk)).toEqual(recount(chunk));
    // A fixed pseudo-random walk through the events (same every run).
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const types: EventType[] = ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'CONSENT_DENIED', 'RECIPIENT_DELIVERED', 'RECIPIENT_FAILED', 'POLL_RESPONSE_RECEIVED'];
    for (let step = 0; step < 120; step++) {
      tick(100);
      chunk.receive([event(types[next(types.length)]!, ppnums[next(40)], { at: Date.parse('2026-12-01T00:00:00Z') + step * 100 })]);
      expect(figures(chunk), `after event ${step}`).toEqual(recount(chunk));
      if (step % 25 === 0 && chunk.hasFallbacksDue()) {
        for (const item of chunk.nextFallbackBatch(3)) chunk.recordFallback(item.ppnum, next(2) === 0 ? 'sent' : 'failed');
        expect(figures(chunk), `after fallbacks ${step}`).toEqual(recount(chunk));
      }
    }
    chunk.applySnapshot([{ ppnum: ppnums[41]!, status: 'DELIVERED' }, { ppnum: ppnums[42]!, status: 'FAILED', errorCode: 'CONSENT_DENIED' }]);
    expect(figures(chunk)).toEqual(recount(chunk));
    chunk.expireUnsettled();
    expect(figures(chunk)).toEqual(recount(chunk));
    expect(chunk.hasLateOpen()).toBe(chunk.recipients().some((r) => r.outcome === 'expired' && (r.errorCode === CHUNK_ERROR_CODES.consentWindowEnded || r.errorCode === CHUNK_ERROR_CODES.noEvent)));
    const late = chunk.recipients().find((r) => r.outcome === 'expired')!;
    chunk.receive([event('CONSENT_DENIED', late.ppnum)]);
    expect(figures(chunk)).toEqual(recount(chunk));
    chunk.closeLateEvents();
    while (chunk.hasFallbacksDue()) for (const item of chunk.nextFallbackBatch(10)) chunk.recordFallback(item.ppnum, 'sent');
    expect(figures(chunk)).toEqual(recount(chunk));
    const continued = ChunkState.continued({ chunkIndex: 7, fallbackOn: ['denied', 'expired'] }, chunk.carry());
    expect(figures(continued)).toEqual(recount(continued));
    expect(figures(continued)).toEqual(figures(chunk));
  });
});
