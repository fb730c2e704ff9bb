// Unit tests of the send activities' own logic with a stand-in API client (the sandbox-based
// integration tests are in send.test.ts): reconciliation's stop rules and candidate checks,
// template idempotency, reading file rows inside the send activity, poll totals, when a route may wait.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { PpoppoClient } from '../../src/api/client';
import { AlreadyExistsError, GRPC_CODES, NotFoundError } from '../../src/api/errors';
import type { RecipientInput, TemplateComponentSpec, TemplateInfo } from '../../src/api/types';
import { decodeTime, ulid } from 'ulid';
import { createSendActivities, routeMayWait } from '../../activities/send';
import type { SendPacer } from '../../activities/send-pacer';
import { cursorAt } from '../../activities/reconcile';
import { planRecipients } from '../../activities/recipients';
import { FakeEventLog } from '../listener/fake-event-stream';

/** A stand-in for the parts of PpoppoClient the send activities use. */
class FakeApi {
  readonly log = new FakeEventLog();
  readonly requests = new Map<string, string[]>(); // send request id → ppnums
  readonly templates: TemplateInfo[] = [];
  readonly sent: RecipientInput[][] = [];
  polls = new Map<string, { optionText: string; count: number }[]>();

  streamEvents(request: { afterEventId?: string }) {
    return this.log.streamEvents(request);
  }
  async getSendRequestStatus(id: string) {
    const ppnums = this.requests.get(id) ?? [];
    return { totals: { sendRequestId: id, status: 'PROCESSING', totalRecipients: ppnums.length, delivered: 0, pendingConsent: 0, failed: 0 }, recipients: ppnums.map((ppnum) => ({ ppnum, status: 'PENDING' })) };
  }
  /** Accepts a request: records it and emits one event per recipient. */
  accept(id: string, ppnums: string[]) {
    this.requests.set(id, ppnums);
    for (const ppnum of ppnums) this.log.append(id, 'RECIPIENT_PENDING_CONSENT', ppnum);
  }
  async findTemplateByName(name: string) {
    return this.templates.find((t) => t.name === name);
  }
  async createTemplate(input: { name: string; components: TemplateComponentSpec[] }): Promise<TemplateInfo> {
    if (this.templates.some((t) => t.name === input.name)) throw new AlreadyExistsError({ grpcCode: GRPC_CODES.ALREADY_EXISTS, method: 'CreateTemplate', details: 'exists' });
    const template = { id: `t${this.templates.length + 1}`, name: input.name, components: input.components, isActive: true, version: 1 };
    this.templates.push(template);
    return template;
  }
  async createSendRequest(input: { templateId: string; recipients: RecipientInput[] }) {
    this.sent.push(input.recipients);
    return { sendRequestId: `sr${this.sent.length}`, status: 'QUEUED' as const, totalRecipients: input.recipients.length };
  }
  async getPollResults(id: string) {
    const results = this.polls.get(id);
    if (!results) throw new NotFoundError({ grpcCode: GRPC_CODES.NOT_FOUND, method: 'GetPollResults', details: 'no poll' });
    return { pollId: id, question: 'q', results: results.map((r) => ({ ...r, percentage: 0 })), totalResponses: results.reduce((sum, r) => sum + r.count, 0) };
  }
}

function setup(settleMs = 300) {
  const api = new FakeApi();
  const activities = createSendActivities({ client: api as unknown as PpoppoClient, reconcileSettleMs: settleMs, reconcileMaxScanMs: 20_000 });
  return { api, activities };
}

describe('reconcileSend', () => {
  it('adopts the request whose recipient set equals ours, not one that only overlaps', async () => {
    const { api, activities } = setup();
    api.accept('other', ['12300000001', '12300000002']);
    api.accept('ours', ['12300000001']);
    expect(await activities.reconcileSend({ cursorBefore: null, ppnums: ['12300000001'], templateId: 't1' })).toEqual({ sendRequestId: 'ours' });
  });

  it('only looks after cursorBefore', async () => {
    const { api, activities } = setup();
    api.accept('old', ['12300000001']);
    const cursorBefore = api.log.events.at(-1)!.eventId;
    expect(await activities.reconcileSend({ cursorBefore, ppnums: ['12300000001'], templateId: 't1' })).toEqual({ sendRequestId: null });
  });

  it('from an attempt time, looks after the pre-send margin before it', async () => {
    const api = new FakeApi();
    const withMargin = (presendCursorMarginMs: number) => createSendActivities({ client: api as unknown as PpoppoClient, presendCursorMarginMs, reconcileSettleMs: 300, reconcileMaxScanMs: 20_000 });
    api.accept('earlier', ['12300000001']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const attemptStartedAt = Date.now();
    // Accepted 200 ms before the attempt: outside a 50 ms margin, inside a minute's.
    expect(await withMargin(50).reconcileSend({ attemptStartedAt, ppnums: ['12300000001'], templateId: 't1' })).toEqual({ sendRequestId: null });
    expect(await withMargin(60_000).reconcileSend({ attemptStartedAt, ppnums: ['12300000001'], templateId: 't1' })).toEqual({ sendRequestId: 'earlier' });
  });

  it('answers null once the stream stays quiet for the settle period', async () => {
    const { api, activities } = setup();
    api.accept('someone-else', ['12300000009']);
    expect(await activities.reconcileSend({ cursorBefore: null, ppnums: ['12300000001'], templateId: 't1' })).toEqual({ sendRequestId: null });
  });

  it('never answers "nothing accepted" from a stream that could not connect: quiet counts only while it is open', async () => {
    const { api, activities } = setup(300);
    api.accept('ours', ['12300000001']); // accepted; the answer was lost
    api.log.offlineUntil = Date.now() + 1_500; // host unreachable, or the token slow: five settle periods
    expect(await activities.reconcileSend({ cursorBefore: null, ppnums: ['12300000001'], templateId: 't1' })).toEqual({ sendRequestId: 'ours' });
  });

  it('sees a request whose events arrive during the settle period', async () => {
    const { api, activities } = setup(1_000);
    const pending = activities.reconcileSend({ cursorBefore: null, ppnums: ['12300000001', '12300000002'], templateId: 't1' });
    setTimeout(() => api.accept('late', ['12300000002', '12300000001']), 200);
    expect(await pending).toEqual({ sendRequestId: 'late' });
  });

  it('answers null on a busy stream once it has read past the settle period', async () => {
    const { api, activities } = setup();
    const noise = setInterval(() => api.log.append('noise', 'RECIPIENT_DELIVERED', '12300000077'), 10);
    try {
      expect(await activities.reconcileSend({ cursorBefore: null, ppnums: ['12300000001'], templateId: 't1' })).toEqual({ sendRequestId: null });
    } finally {
      clearInterval(noise);
    }
  });
});

describe('ensureTemplate', () => {
  const components: TemplateComponentSpec[] = [{ type: 'text', content: 'Hi {{first_name}}' }, { type: 'poll', question: 'Ok?', options: ['yes', 'no'] }];

  it('creates once, reuses an identical template, and refuses a different one with the same name', async () => {
    const { api, activities } = setup();
    const first = await activities.ensureTemplate({ name: 'welcome', components });
    expect(first).toEqual({ templateId: 't1', placeholders: ['first_name'], urlTemplates: [], isPoll: true });
    expect(await activities.ensureTemplate({ name: 'welcome', components })).toEqual(first);
    expect(api.templates).toHaveLength(1);
    await expect(activities.ensureTemplate({ name: 'welcome', components: [{ type: 'text', content: 'Bye' }] })).rejects.toMatchObject({ type: 'TemplateConflict', nonRetryable: true });
  });
});

describe('createSendRequest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'send-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the rows of a file chunk itself, variables included', async () => {
    const file = join(dir, 'r.csv');
    writeFileSync(file, 'ppnum,first_name\n12300000001,Ada\nbad,Bo\n12300000002,"Lee, C"\n');
    const plan = await planRecipients({ campaignId: 'c', file, format: 'csv', requiredVars: ['first_name'], chunkSize: 1000, maxIssues: 10 });
    const { api, activities } = setup();
    const receipt = await activities.createSendRequest({ templateId: 't1', source: plan.chunks[0]! });
    expect(receipt).toMatchObject({ sendRequestId: 'sr1', totalRecipients: 2 });
    expect(api.sent[0]).toEqual([
      { ppnum: '12300000001', vars: { first_name: 'Ada' } },
      { ppnum: '12300000002', vars: { first_name: 'Lee, C' } },
    ]);
  });

  it('makes no call past the campaign deadline, also when the deadline passes while it waits for its pacing slot', async () => {
    const source = { kind: 'inline' as const, recipients: [{ ppnum: '12300000001', vars: {} }] };
    const { api, activities } = setup();
    const past = new Date(Date.now() - 1_000).toISOString();
    await expect(activities.createSendRequest({ templateId: 't1', source, notAfter: past })).rejects.toMatchObject({ type: 'SendAfterDeadline', nonRetryable: true });
    const slow = createSendActivities({ client: api as unknown as PpoppoClient, pacer: { slot: () => new Promise<void>((resolve) => setTimeout(resolve, 300)) } as unknown as SendPacer });
    const soon = new Date(Date.now() + 100).toISOString();
    await expect(slow.createSendRequest({ templateId: 't1', source, notAfter: soon })).rejects.toMatchObject({ type: 'SendAfterDeadline' });
    expect(api.sent).toHaveLength(0);
    expect(await slow.createSendRequest({ templateId: 't1', source, notAfter: new Date(Date.now() + 60_000).toISOString() })).toMatchObject({ sendRequestId: 'sr1' });
  });

  it('heartbeats only a send that waits longer than a turn at the app\'s limit takes (each heartbeat is a write in Temporal)', async () => {
    const source = { kind: 'inline' as const, recipients: [{ ppnum: '12300000001', vars: {} }] };
    const { api } = setup();
    const heartbeatsWaiting = async (turnMs: number) => {
      const activities = createSendActivities({ client: api as unknown as PpoppoClient, pacer: { slot: () => new Promise<void>((resolve) => setTimeout(resolve, turnMs)) } as unknown as SendPacer });
      const env = new MockActivityEnvironment();
      let heartbeats = 0;
      env.on('heartbeat', () => (heartbeats += 1));
      await env.run(activities.createSendRequest, { templateId: 't1', source });
      return heartbeats;
    };
    expect(await heartbeatsWaiting(1_200)).toBe(0); // a turn at 2 requests/s behind a queue of two
    expect(await heartbeatsWaiting(2_800)).toBe(1); // a dead worker is still found by the 5 s heartbeat timeout
  });
});

describe('fetchPollResults', () => {
  it('adds up the options over send requests and skips requests without a poll', async () => {
    const { api, activities } = setup();
    api.polls.set('a', [{ optionText: 'yes', count: 2 }, { optionText: 'no', count: 1 }]);
    api.polls.set('b', [{ optionText: 'yes', count: 3 }]);
    expect(await activities.fetchPollResults({ sendRequestIds: ['a', 'b', 'c'] })).toEqual({ options: { yes: 5, no: 1 }, totalResponses: 6 });
  });
});

describe('pre-send cursor', () => {
  it('sorts after every ULID of earlier milliseconds and before every ULID of its own or later ones', () => {
    const at = Date.parse('2026-03-01T12:00:00.000Z');
    const cursor = cursorAt(at);
    expect(decodeTime(cursor)).toBe(at - 1);
    for (let i = 0; i < 500; i++) {
      expect(ulid(at) > cursor).toBe(true);
      expect(ulid(at + 1 + i) > cursor).toBe(true);
      expect(ulid(at - 1 - i) <= cursor).toBe(true);
    }
  });

  it('points the margin before now, without asking the listener or the API', async () => {
    const api = new FakeApi();
    const activities = createSendActivities({ client: api as unknown as PpoppoClient, presendCursorMarginMs: 60_000 });
    const before = Date.now();
    const { cursorBefore } = await activities.beginSend();
    expect(decodeTime(cursorBefore!)).toBeGreaterThanOrEqual(before - 60_001);
    expect(decodeTime(cursorBefore!)).toBeLessThanOrEqual(Date.now() - 60_000);
    expect(api.log.events).toHaveLength(0);
  });
});

describe('routeMayWait', () => {
  const part = (index: number) => ({ index, count: 5 });
  it('lets a route wait for the chunk\'s last request while the requests to come take little time', () => {
    // 4 s per request, 4 to come: the first route would wait 16 s.
    expect(routeMayWait({ part: part(0), untold: [], scheduledAt: 0, acceptedAt: 4_000 })).toBe(true);
    expect(routeMayWait({ part: part(3), untold: [{ sendRequestId: 'a', index: 0, acceptedAt: 4_000 }], scheduledAt: 12_000, acceptedAt: 16_000 })).toBe(true);
  });
  it('tells at once at the last request, when the oldest waiting route would wait too long, and at a slow rate', () => {
    expect(routeMayWait({ part: part(4), untold: [], scheduledAt: 0, acceptedAt: 1 })).toBe(false);
    expect(routeMayWait({ part: part(2), untold: [{ sendRequestId: 'a', index: 0, acceptedAt: 0 }], scheduledAt: 20_000, acceptedAt: 25_000 })).toBe(false); // 25 s + 2 × 5 s
    expect(routeMayWait({ part: part(0), untold: [], scheduledAt: 0, acceptedAt: 8_000 })).toBe(false); // 4 × 8 s to come
  });
});
