// The chunk workflow on a real Temporal server with stub activities: every send decision
// (refused → wait → retry, ambiguous → reconcile → adopt, timed out → reconcile → resend),
// pause/resume/cancel before sending, the consent window, and fallback at most once.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryEvent, EventType } from '../../src/api/types';
import type { ChunkInput, ChunkResult } from '../../src/contracts/chunk';
import { chunkControlSignal, chunkProgressQuery, chunkRecipientsQuery, deliveryEventsSignal, reportFinishBySignal, CHUNK_ERROR_CODES, CHUNK_WORKFLOW_TYPE } from '../../src/contracts/chunk';
import { decodePayload, pollUntil, queryOrExplain, testTemporalAddress } from '../support/temporal';
import { STUB_LISTENER_WORKFLOW_ID, StubWorld, ambiguous, recipients, refused, rejected } from './stub-worker';

const world = new StubWorld();
const started: WorkflowHandle[] = [];

beforeAll(() => world.start(testTemporalAddress()));
afterAll(async () => {
  for (const handle of started) await handle.terminate('test finished').catch(() => undefined);
  await world.stop();
});

/** The chunkConsent reports a chunk sent so far, as [asked, granted, delivered]. */
async function consentReports(handle: WorkflowHandle): Promise<number[][]> {
  const inputs = (await historyEvents(handle)).flatMap((event) => {
    const attributes = event.signalExternalWorkflowExecutionInitiatedEventAttributes;
    return attributes?.signalName === 'chunkConsent' ? [attributes.input!.payloads![0]!] : [];
  });
  const reports = await Promise.all(inputs.map((payload) => decodePayload<{ consent: { asked: number; granted: number }; counts: { delivered: number } }>(payload)));
  return reports.map((report) => [report.consent.asked, report.consent.granted, report.counts.delivered]);
}

function chunkInput(templateId: string, overrides: Partial<ChunkInput> = {}): ChunkInput {
  return {
    campaignId: templateId, // the stubs log fallbacks by campaign id
    chunkIndex: 0,
    templateId,
    source: { kind: 'inline', recipients: recipients(3) },
    consentWindowMs: 60_000,
    parentWorkflowId: `no-such-campaign-${templateId}`,
    // As campaigns start chunks:
    afterLocalActivities: 'fixed',
    sendCursor: 'attempt-time',
    heldReports: 'wake',
    ...overrides,
  };
}

async function startChunk(input: ChunkInput): Promise<WorkflowHandle> {
  const handle = await world.client.workflow.start(CHUNK_WORKFLOW_TYPE, {
    workflowId: `chunk-test-${randomUUID()}`,
    taskQueue: world.taskQueue,
    args: [input],
    memo: world.memo,
  });
  started.push(handle);
  return handle;
}

async function historyEvents(handle: WorkflowHandle) {
  return (await handle.fetchHistory()).events ?? [];
}

/** Every run of the chunk's workflow id, once visibility shows them all closed, the last one included. */
async function closedRuns(handle: WorkflowHandle) {
  const last = (await world.client.workflow.getHandle(handle.workflowId).describe()).runId;
  return pollUntil(
    'every run closed in visibility',
    async () => {
      const found = [];
      for await (const info of world.client.workflow.list({ query: `WorkflowId = "${handle.workflowId}"` })) found.push(info);
      return found;
    },
    (found) => found.some((info) => info.runId === last) && found.every((info) => info.status.name !== 'RUNNING'),
    30_000,
  );
}

/** The names of the signals the chunk sent, in order. */
async function signalsSent(handle: WorkflowHandle): Promise<string[]> {
  return (await historyEvents(handle)).flatMap((event) => {
    const attributes = event.signalExternalWorkflowExecutionInitiatedEventAttributes;
    return attributes ? [attributes.signalName ?? ''] : [];
  });
}

describe('sending', () => {
  it('waits exactly the retry hint on a workflow timer after a refusal, then sends again', async () => {
    const { templateId, calls } = world.scenario({
      send: (_call, attempt) => {
        if (attempt === 1) throw refused(1_500);
        return 'sr-after-refusal';
      },
    });
    const handle = await startChunk(chunkInput(templateId));
    const result: ChunkResult = await handle.result();
    expect(calls.sends).toHaveLength(2);
    expect(result.sendRequestId).toBe('sr-after-refusal');
    expect(result.counts.delivered).toBe(3);
    const timers = (await historyEvents(handle)).filter((e) => e.timerStartedEventAttributes);
    expect(timers.map((e) => tsToMs(e.timerStartedEventAttributes!.startToFireTimeout))).toContain(1_500);
  });

  it('adopts the request reconciliation finds after an ambiguous failure, without sending again', async () => {
    const { templateId, calls } = world.scenario({
      send: () => {
        throw ambiguous();
      },
      reconcile: () => 'sr-found-by-reconcile',
    });
    const handle = await startChunk(chunkInput(templateId));
    const result: ChunkResult = await handle.result();
    expect(calls.sends).toHaveLength(1);
    expect(calls.reconciles).toHaveLength(1);
    expect(calls.reconciles[0]!.ppnums).toEqual(recipients(3).map((r) => r.ppnum));
    expect(result.sendRequestId).toBe('sr-found-by-reconcile');
    expect(result.counts.delivered).toBe(3);
    const description = await handle.describe();
    expect(description.searchAttributes.PpoppoSendRequestId).toEqual(['sr-found-by-reconcile']);
    // The campaign hears of the reconciliation first, and lets another chunk into the window meanwhile.
    const steps = (await historyEvents(handle)).flatMap((event) => {
      if (event.signalExternalWorkflowExecutionInitiatedEventAttributes) return [`signal ${event.signalExternalWorkflowExecutionInitiatedEventAttributes.signalName}`];
      if (event.activityTaskScheduledEventAttributes) return [`activity ${event.activityTaskScheduledEventAttributes.activityType?.name}`];
      return [];
    });
    expect(steps).toEqual(['activity createSendRequest', 'signal chunkReconciling', 'activity reconcileSend', 'signal chunkSent', 'signal chunkFinished']);
  });

  it('takes the pre-send cursor from the attempt time when started so (no beginSend local activity), from beginSend otherwise', async () => {
    const before = Date.now();
    const localActivities = async (handle: WorkflowHandle) => (await historyEvents(handle)).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
    const run = async (overrides: Partial<ChunkInput>) => {
      const { templateId, calls } = world.scenario({
        send: () => {
          throw ambiguous();
        },
        reconcile: () => `sr-${templateId}`,
      });
      const handle = await startChunk(chunkInput(templateId, overrides));
      expect((await handle.result()).counts.delivered).toBe(3);
      return { reconcile: calls.reconciles[0]!, localActivities: await localActivities(handle) };
    };
    const attemptTime = await run({ sendCursor: 'attempt-time' });
    expect(attemptTime.localActivities).toBe(0); // an inline list needs no read either
    expect(attemptTime.reconcile.cursorBefore).toBeUndefined();
    expect(attemptTime.reconcile.attemptStartedAt).toBeGreaterThanOrEqual(before);
    const older = await run({ sendCursor: undefined });
    expect(older.localActivities).toBe(1);
    expect(older.reconcile).toMatchObject({ cursorBefore: 'cursor-before', attemptStartedAt: undefined });
  });

  it('leaves chunkSent to the send activity when it told the campaign itself: no signal of its own, chunkFinished still its own', async () => {
    const { templateId, calls } = world.scenario({ tellsCampaign: true });
    const input = chunkInput(templateId, { chunkIndex: 5 });
    const handle = await startChunk(input);
    const result: ChunkResult = await handle.result();
    expect(result.counts.delivered).toBe(3);
    expect(calls.sends[0]!.campaign).toEqual({ workflowId: input.parentWorkflowId, chunkIndex: 5, recipients: 3 });
    expect(await signalsSent(handle)).toEqual(['chunkFinished']);
  });

  it('reports its end by its result alone when started so: no signal at all, unless the campaign asks for one', async () => {
    const { templateId } = world.scenario({ tellsCampaign: true });
    const quiet = await startChunk(chunkInput(templateId, { chunkIndex: 1, finishReport: 'result' }));
    expect(((await quiet.result()) as ChunkResult).counts.delivered).toBe(3);
    expect(await signalsSent(quiet)).toEqual([]);

    // Asked (its campaign run is about to continue as new) while it waits: it signals its end.
    const asked = await startChunk(chunkInput(templateId, { chunkIndex: 2, finishReport: 'result', initialControl: 'paused' }));
    await asked.signal(reportFinishBySignal);
    await asked.signal(chunkControlSignal, { action: 'resume' });
    const result: ChunkResult = await asked.result();
    expect(result.counts.delivered).toBe(3);
    expect(await signalsSent(asked)).toEqual(['chunkFinished']);
  });

  it('sends again when the attempt timed out and reconciliation is certain nothing was accepted', async () => {
    const { templateId, calls } = world.scenario({
      send: async (_call, attempt) => {
        // The first attempt outlives its 30 s start-to-close timeout, like a worker that died mid-call.
        if (attempt === 1) await sleep(33_000);
        return `sr-attempt-${attempt}`;
      },
      reconcile: () => null,
    });
    const handle = await startChunk(chunkInput(templateId));
    const result: ChunkResult = await handle.result();
    expect(calls.reconciles).toHaveLength(1);
    expect(calls.sends).toHaveLength(2);
    expect(result.sendRequestId).toBe('sr-attempt-2');
    expect(result.counts.delivered).toBe(3);
  }, 90_000);

  it('marks every recipient invalid when the request is rejected', async () => {
    const { templateId, calls } = world.scenario({
      send: () => {
        throw rejected('INVALID_ARGUMENT');
      },
    });
    const handle = await startChunk(chunkInput(templateId));
    const result: ChunkResult = await handle.result();
    expect(calls.sends).toHaveLength(1);
    expect(result.sendRequestId).toBeUndefined();
    expect(result.counts.invalid).toBe(3);
    const records = await handle.query(chunkRecipientsQuery);
    expect(records.every((r) => r.state === 'invalid' && r.errorCode === 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('failure', () => {
  it('tells the campaign by signal when its rows cannot be read (a continued-as-new campaign awaits no result), then fails', async () => {
    const { templateId, calls } = world.scenario({ file: { chunks: [['45600000000']], unreadable: [0] } });
    const source = { kind: 'file' as const, path: `stub-file://${templateId}`, format: 'csv' as const, byteStart: 0, byteEnd: 1, firstLine: 2, skipLines: [] };
    const handle = await startChunk(chunkInput(templateId, { chunkIndex: 7, source }));
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    const signals = (await historyEvents(handle)).flatMap((event) => {
      const attributes = event.signalExternalWorkflowExecutionInitiatedEventAttributes;
      return attributes ? [{ name: attributes.signalName, to: attributes.workflowExecution?.workflowId, input: attributes.input?.payloads?.[0] }] : [];
    });
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({ name: 'chunkFailed', to: `no-such-campaign-${templateId}` });
    expect(await decodePayload(signals[0]!.input as Payload)).toEqual({ chunkIndex: 7, reason: 'stub file chunk 0 is unreadable' });
    expect(calls.sends).toHaveLength(0);
  });
});

describe('history size', () => {
  it('keeps a directly delivered 1,000-recipient chunk within 20 history events', async () => {
    // As campaigns start chunks: the send activity tells the campaign, the completion reports the end.
    const { templateId } = world.scenario({ tellsCampaign: true }); // accepted; every recipient delivered, in one listener batch
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: recipients(1000) }, finishReport: 'result' }));
    const result: ChunkResult = await handle.result();
    expect(result.counts.delivered).toBe(1000);
    expect((await historyEvents(handle)).length).toBeLessThanOrEqual(20); // 17 measured: start, 3 tasks, send, batch, markers, completion
  });
});

describe('pause, resume and cancel before sending', () => {
  it('holds a paused chunk until it is resumed', async () => {
    const { templateId, calls } = world.scenario();
    const handle = await startChunk(chunkInput(templateId, { initialControl: 'paused' }));
    await pollUntil('paused phase', () => handle.query(chunkProgressQuery), (p) => p.phase === 'paused' && p.recipients === 3);
    expect(calls.sends).toHaveLength(0);
    await handle.signal(chunkControlSignal, { action: 'resume' });
    const result: ChunkResult = await handle.result();
    expect(calls.sends).toHaveLength(1);
    expect(result.counts.delivered).toBe(3);
  });

  it("shows a paused file chunk's planned recipients until its rows are read at the send", async () => {
    const { templateId, calls } = world.scenario({ file: { chunks: [['45600000000', '45600000001']] } });
    const source = { kind: 'file' as const, path: `stub-file://${templateId}`, format: 'csv' as const, byteStart: 0, byteEnd: 1, firstLine: 2, skipLines: [] };
    const handle = await startChunk(chunkInput(templateId, { source, initialControl: 'paused', plannedRecipients: 2 }));
    const paused = await pollUntil('paused phase', () => handle.query(chunkProgressQuery), (p) => p.phase === 'paused');
    expect(paused).toMatchObject({ recipients: 2, unread: true, states: {} });
    await handle.signal(chunkControlSignal, { action: 'resume' });
    const result: ChunkResult = await handle.result();
    expect(result.counts.delivered).toBe(2);
    const done = await handle.query(chunkProgressQuery);
    expect(done.recipients).toBe(2);
    expect(done.unread).toBeUndefined();
    expect(calls.sends).toHaveLength(1);
  });

  it('cancels a paused chunk: nobody is sent anything, everyone is cancelled', async () => {
    const { templateId, calls } = world.scenario();
    const handle = await startChunk(chunkInput(templateId, { initialControl: 'paused' }));
    await pollUntil('paused phase', () => handle.query(chunkProgressQuery), (p) => p.phase === 'paused');
    await handle.signal(chunkControlSignal, { action: 'cancel' });
    const result: ChunkResult = await handle.result();
    expect(calls.sends).toHaveLength(0);
    expect(result.counts.cancelled).toBe(3);
    const records = await handle.query(chunkRecipientsQuery);
    expect(records.map((r) => r.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
  });

  it('cancels a chunk waiting out a refusal at once, without another attempt', async () => {
    const { templateId, calls } = world.scenario({
      send: () => {
        throw refused(10 * 60_000, true);
      },
    });
    const handle = await startChunk(chunkInput(templateId));
    const progress = await pollUntil('retry wait', () => handle.query(chunkProgressQuery), (p) => p.phase === 'waiting_retry');
    expect(progress.retryAt).toBeDefined();
    await handle.signal(chunkControlSignal, { action: 'cancel' });
    const result: ChunkResult = await handle.result();
    expect(calls.sends).toHaveLength(1);
    expect(result.counts.cancelled).toBe(3);
  });
});

describe('a chunk of several requests (limits.sendsPerChunk)', () => {
  const five = () => recipients(5);

  it('sends them one after another, each with its own recipients, and tells the campaign once, with every id', async () => {
    const { templateId, calls } = world.scenario({ tellsCampaign: true, send: (_call, attempt) => `sr-part-${attempt}` });
    const input = chunkInput(templateId, { chunkIndex: 4, source: { kind: 'inline', recipients: five() }, requestSize: 2 });
    const handle = await startChunk(input);
    const result: ChunkResult = await handle.result();
    expect(calls.sends.map((call) => call.ppnums)).toEqual([five().slice(0, 2), five().slice(2, 4), five().slice(4)].map((part) => part.map((r) => r.ppnum)));
    // Only the last request's activity tells the campaign, with the ids before it.
    expect(calls.sends.map((call) => call.campaign)).toEqual([undefined, undefined, { workflowId: input.parentWorkflowId, chunkIndex: 4, recipients: 5, sendRequestIds: ['sr-part-1', 'sr-part-2'] }]);
    expect(result).toMatchObject({ sendRequestId: 'sr-part-1', sendRequestIds: ['sr-part-1', 'sr-part-2', 'sr-part-3'], counts: { delivered: 5 } });
    expect(await signalsSent(handle)).toEqual(['chunkFinished']);
    // Each recipient's history names the request it went out in.
    const recipientsSeen = await handle.query(chunkRecipientsQuery);
    expect(recipientsSeen.map((r) => r.history.filter((line) => line.event.startsWith('accepted')).map((line) => line.event))).toEqual([
      ['accepted: sr-part-1'],
      ['accepted: sr-part-1'],
      ['accepted: sr-part-2'],
      ['accepted: sr-part-2'],
      ['accepted: sr-part-3'],
    ]);
  });

  it('waits out a refusal of a later request and sends only that one again', async () => {
    const { templateId, calls } = world.scenario({
      send: (_call, attempt) => {
        if (attempt === 2) throw refused(1_000);
        return `sr-${attempt}`;
      },
    });
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: five() }, requestSize: 2 }));
    const result: ChunkResult = await handle.result();
    expect(calls.sends.map((call) => call.ppnums.length)).toEqual([2, 2, 2, 1]);
    expect(calls.sends[1]!.ppnums).toEqual(calls.sends[2]!.ppnums);
    expect(result.sendRequestIds).toEqual(['sr-1', 'sr-3', 'sr-4']);
    expect(result.counts.delivered).toBe(5);
    // No campaign heard it from an activity here: the chunk signals chunkSent once, after the last request.
    expect(await signalsSent(handle)).toEqual(['chunkSent', 'chunkFinished']);
  });

  it('tells the campaign it is no longer parked once a parked request is accepted and more are to be sent', async () => {
    const { templateId, calls } = world.scenario({
      send: (_call, attempt) => {
        if (attempt === 2) throw refused(1_000, true); // the monthly quota: the campaign parks
        return `sr-${attempt}`;
      },
    });
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: five() }, requestSize: 2 }));
    const result: ChunkResult = await handle.result();
    expect(calls.sends).toHaveLength(4);
    expect(result.counts.delivered).toBe(5);
    expect(await signalsSent(handle)).toEqual(['chunkParked', 'chunkUnparked', 'chunkSent', 'chunkFinished']);
  });

  it('cancels only the requests not sent yet: the sent ones go on to their outcomes', async () => {
    const { templateId, calls } = world.scenario({
      send: (_call, attempt) => {
        if (attempt === 2) throw refused(10 * 60_000, true);
        return `sr-${attempt}`;
      },
    });
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: five() }, requestSize: 2 }));
    await pollUntil('retry wait', () => handle.query(chunkProgressQuery), (p) => p.phase === 'waiting_retry');
    await handle.signal(chunkControlSignal, { action: 'cancel' });
    const result: ChunkResult = await handle.result();
    expect(calls.sends).toHaveLength(2);
    expect(result).toMatchObject({ sendRequestId: 'sr-1', counts: { delivered: 2, cancelled: 3 } });
    expect(result.sendRequestIds).toBeUndefined();
    expect(await signalsSent(handle)).toEqual(['chunkParked', 'chunkSent', 'chunkFinished']);
  });

  it('lets the routes of its earlier requests wait for the last send, which tells them all: the chunk tells none itself', async () => {
    const { templateId, calls } = world.scenario({ routesWait: true });
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: five() }, requestSize: 2, routes: 'with-last' }));
    const result: ChunkResult = await handle.result();
    expect(result.counts.delivered).toBe(5);
    expect(calls.sends.map((call) => call.untold?.map((route) => [route.sendRequestId, route.index]))).toEqual([[], [[result.sendRequestIds![0], 0]], [[result.sendRequestIds![0], 0], [result.sendRequestIds![1], 1]]]);
    expect(await signalsSent(handle)).toEqual(['chunkSent', 'chunkFinished']);
  });

  it('tells the waiting routes itself before it waits out a refusal, so their events are not held back', async () => {
    const { templateId, calls } = world.scenario({
      routesWait: true,
      send: (_call, attempt) => {
        if (attempt === 2) throw refused(10 * 60_000, true);
        return `sr-${attempt}-${templateId}`;
      },
    });
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: five() }, requestSize: 2, routes: 'with-last' }));
    await pollUntil('retry wait', () => handle.query(chunkProgressQuery), (p) => p.phase === 'waiting_retry');
    await handle.signal(chunkControlSignal, { action: 'cancel' });
    await handle.result();
    expect(calls.sends).toHaveLength(2);
    const told = (await historyEvents(handle)).flatMap((event) => event.signalExternalWorkflowExecutionInitiatedEventAttributes ?? []);
    expect(told.map((signal) => signal.signalName)).toEqual(['chunkRoute', 'chunkParked', 'chunkSent', 'chunkFinished']);
    expect(told[0]!.workflowExecution?.workflowId).toBe(STUB_LISTENER_WORKFLOW_ID);
  });

  it("keeps a throttled campaign's pace between its requests", async () => {
    const { templateId, calls } = world.scenario({});
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: five() }, requestSize: 2, requestIntervalMs: 1_500 }));
    const result: ChunkResult = await handle.result();
    expect(result.counts.delivered).toBe(5);
    const at = calls.sends.map((call) => call.at!);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(1_400);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(1_400);
    const timers = (await historyEvents(handle)).filter((e) => e.timerStartedEventAttributes).map((e) => tsToMs(e.timerStartedEventAttributes!.startToFireTimeout));
    expect(timers.filter((ms) => ms > 1_000 && ms <= 1_500)).toHaveLength(2);
  });
});

describe('outcomes and fallback', () => {
  const [delivered, pending, denied, silent] = recipients(4);

  it('expires what is still pending at the end of the consent window and falls back once per recipient', async () => {
    const { templateId, calls } = world.scenario({
      send: () => 'sr-window',
      eventsFor: (ppnum): EventType[] => {
        if (ppnum === delivered!.ppnum) return ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED', 'RECIPIENT_DELIVERED'];
        if (ppnum === pending!.ppnum) return ['RECIPIENT_PENDING_CONSENT'];
        if (ppnum === denied!.ppnum) return ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED', 'CONSENT_DENIED'];
        return []; // silent: accepted, then never a word
      },
    });
    const handle = await startChunk(
      chunkInput(templateId, {
        source: { kind: 'inline', recipients: [delivered!, pending!, denied!, silent!] },
        consentWindowMs: 2_000,
        fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: 'http://127.0.0.1:1/unused' } },
      }),
    );
    // Duplicates of what already happened arrive later again (stream replay): harmless.
    await pollUntil('denied', () => handle.query(chunkRecipientsQuery), (records) => records.some((r) => r.state === 'denied'));
    const replay: DeliveryEvent[] = [
      { eventId: 'dup-1', sendRequestId: 'sr-window', type: 'CONSENT_DENIED', ppnum: denied!.ppnum },
      { eventId: 'dup-2', sendRequestId: 'sr-window', type: 'RECIPIENT_PENDING_CONSENT', ppnum: delivered!.ppnum },
      { eventId: 'other', sendRequestId: 'sr-someone-else', type: 'RECIPIENT_DELIVERED', ppnum: pending!.ppnum },
    ];
    await handle.signal(deliveryEventsSignal, { events: replay });

    const result: ChunkResult = await handle.result();
    // The silent one is expired too (NO_EVENT): our window ending is nobody's failure.
    expect(result.counts).toMatchObject({ delivered: 1, denied: 1, expired: 2, failed: 0, fallbackSent: 3, fallbackFailed: 0 });
    expect(calls.fallbacks.map((item) => [item.ppnum, item.outcome]).sort()).toEqual(
      [
        [denied!.ppnum, 'denied'],
        [pending!.ppnum, 'expired'],
        [silent!.ppnum, 'expired'],
      ].sort(),
    );
    expect(calls.fallbacks.find((item) => item.ppnum === denied!.ppnum)!.vars).toEqual(denied!.vars);
    // Two batches (the denial, then both expiries), as regular activities: a local activity's result
    // can reach the workflow a task later than its marker says, and what follows a batch looks at signals.
    const scheduled = (await historyEvents(handle)).flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(scheduled.filter((name) => name === 'sendFallbacks')).toHaveLength(2);
    // A query now replays the whole closed history (once seen failing in CI on nondeterminism: the error then says where).
    const byPpnum = new Map((await queryOrExplain(handle, chunkRecipientsQuery)).map((r) => [r.ppnum, r]));
    expect(byPpnum.get(pending!.ppnum)).toMatchObject({ state: 'expired', outcome: 'expired', errorCode: CHUNK_ERROR_CODES.consentWindowEnded, fallback: 'sent' });
    expect(byPpnum.get(silent!.ppnum)).toMatchObject({ state: 'expired', errorCode: CHUNK_ERROR_CODES.noEvent, fallback: 'sent' });
    expect(byPpnum.get(delivered!.ppnum)!.fallback).toBeUndefined();
    expect(byPpnum.get(delivered!.ppnum)!.history.map((h) => h.event).slice(-3)).toEqual(['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED']);
  });

  it('asks the API for the unsettled recipients before closing the window, and believes it over silence', async () => {
    const [granted, deniedLate, deliveredQuietly, undecided] = recipients(4, 100);
    const { templateId, calls } = world.scenario({
      send: () => `sr-snap-${templateIdSuffix()}`,
      // The stream brings only the consent prompts (the listener was down for the rest).
      eventsFor: (ppnum): EventType[] => (ppnum === deliveredQuietly!.ppnum ? [] : ['RECIPIENT_PENDING_CONSENT']),
      snapshot: (ppnums) => [
        { ppnum: granted!.ppnum, status: 'DELIVERED' as const },
        { ppnum: deniedLate!.ppnum, status: 'FAILED' as const, errorCode: 'CONSENT_DENIED' },
        { ppnum: deliveredQuietly!.ppnum, status: 'DELIVERED' as const },
      ].filter((s) => ppnums.includes(s.ppnum)),
    });
    const handle = await startChunk(
      chunkInput(templateId, {
        source: { kind: 'inline', recipients: [granted!, deniedLate!, deliveredQuietly!, undecided!] },
        consentWindowMs: 1_500,
        fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: 'http://127.0.0.1:1/unused' } },
      }),
    );
    const result: ChunkResult = await handle.result();
    expect(calls.snapshots).toHaveLength(1);
    expect([...calls.snapshots[0]!].sort()).toEqual([granted, deniedLate, deliveredQuietly, undecided].map((r) => r!.ppnum).sort());
    expect(result.counts).toMatchObject({ delivered: 2, denied: 1, expired: 1, failed: 0, fallbackSent: 2 });
    expect(calls.fallbacks.map((item) => [item.ppnum, item.outcome]).sort()).toEqual([[deniedLate!.ppnum, 'denied'], [undecided!.ppnum, 'expired']].sort());
    const byPpnum = new Map((await handle.query(chunkRecipientsQuery)).map((r) => [r.ppnum, r]));
    expect(byPpnum.get(granted!.ppnum)!.history.at(-1)!.event).toBe('status snapshot: DELIVERED');
    expect(byPpnum.get(undecided!.ppnum)).toMatchObject({ outcome: 'expired', errorCode: CHUNK_ERROR_CODES.consentWindowEnded });
  });

  it('continues as new at its own threshold (continueAtEvents), before the server suggests it, and keeps every outcome', async () => {
    const list = recipients(30, 400);
    const sendRequestId = `sr-trickle-${templateIdSuffix()}`;
    const { templateId } = world.scenario({ send: () => sendRequestId, eventsFor: () => ['RECIPIENT_PENDING_CONSENT'] });
    // The test server suggests continue-as-new at 200 events; this chunk's own threshold is 60.
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: list }, continueAtEvents: 60 }));
    await pollUntil('every recipient asked', () => handle.query(chunkProgressQuery), (p) => p.states.pending_consent === 30);
    // One decision at a time: a signal and a workflow task each, as a day's trickle brings them.
    for (const [i, recipient] of list.entries()) {
      await handle.signal(deliveryEventsSignal, { events: [{ eventId: `grant-${i}`, sendRequestId, type: 'CONSENT_GRANTED', ppnum: recipient.ppnum }] });
      await handle.signal(deliveryEventsSignal, { events: [{ eventId: `delivered-${i}`, sendRequestId, type: 'RECIPIENT_DELIVERED', ppnum: recipient.ppnum }] });
    }
    const result: ChunkResult = await handle.result(); // follows the runs
    expect(result.counts.delivered).toBe(30);
    const runs = await closedRuns(handle);
    expect(runs.length).toBeGreaterThan(1);
    // Each run ends within a few workflow tasks of 60 events, far below the server's 200.
    for (const info of runs) expect(info.historyLength).toBeLessThan(100);
  });

  it('continues as new between two fallback batches when due, and sends each fallback once', async () => {
    const list = recipients(250, 500);
    const sendRequestId = `sr-batches-${templateIdSuffix()}`;
    const { templateId, calls } = world.scenario({ send: () => sendRequestId, eventsFor: () => ['RECIPIENT_PENDING_CONSENT'] });
    const handle = await startChunk(
      chunkInput(templateId, {
        source: { kind: 'inline', recipients: list },
        fallback: { on: ['denied'], channel: { type: 'webhook', url: 'http://127.0.0.1:1/unused' } },
        continueAtEvents: 20,
      }),
    );
    await pollUntil('every recipient asked', () => handle.query(chunkProgressQuery), (p) => p.states.pending_consent === 250 && p.run > 1);
    // 250 denials in one signal: three batches of fallbacks (100, 100, 50), more than one run's worth of events.
    await handle.signal(deliveryEventsSignal, { events: list.map((recipient, i) => ({ eventId: `deny-${i}`, sendRequestId, type: 'CONSENT_DENIED' as EventType, ppnum: recipient.ppnum })) });
    const result: ChunkResult = await handle.result();
    expect(result.counts).toMatchObject({ denied: 250, fallbackSent: 250, fallbackFailed: 0 });
    expect(calls.fallbacks.map((item) => item.ppnum).sort()).toEqual(list.map((recipient) => recipient.ppnum).sort());
    // The batches that one signal called for went out in more than one run: a run stopped between two.
    const runs = await closedRuns(handle);
    const batchesPerRun = await Promise.all(
      runs.map(async (info) => {
        const history = await world.client.workflow.getHandle(handle.workflowId, info.runId).fetchHistory();
        return (history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'sendFallbacks').length;
      }),
    );
    expect(batchesPerRun.reduce((sum, n) => sum + n, 0)).toBe(3);
    expect(batchesPerRun.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it('applies a denial that arrives after our consent window while the chunk closes, and falls back for it', async () => {
    const late = recipients(1, 300)[0]!;
    const sendRequestId = `sr-late-${templateIdSuffix()}`;
    const { templateId, calls } = world.scenario({ send: () => sendRequestId, eventsFor: () => ['RECIPIENT_PENDING_CONSENT'] });
    const handle = await startChunk(
      chunkInput(templateId, {
        source: { kind: 'inline', recipients: [late] },
        consentWindowMs: 2_000,
        fallback: { on: ['denied'], channel: { type: 'webhook', url: 'http://127.0.0.1:1/unused' } },
      }),
    );
    // Our window ends first: the recipient is expired for now, and the chunk stays open for late events.
    await pollUntil('closing', () => handle.query(chunkProgressQuery), (p) => p.phase === 'closing');
    expect(calls.fallbacks).toHaveLength(0); // 'expired' is not in the policy
    await handle.signal(deliveryEventsSignal, { events: [{ eventId: 'late-denial', sendRequestId, type: 'CONSENT_DENIED', ppnum: late.ppnum }] });
    const result: ChunkResult = await handle.result();
    expect(result.counts).toMatchObject({ denied: 1, expired: 0, failed: 0, fallbackSent: 1 });
    expect(calls.fallbacks.map((item) => [item.ppnum, item.outcome])).toEqual([[late.ppnum, 'denied']]);
    const [record] = await handle.query(chunkRecipientsQuery);
    expect(record!.history.map((h) => h.event)).toContain('CONSENT_DENIED (after the consent window)');
  });

  it('reports its settled counts to the campaign when only they changed (a delivery after the grant), not only consent figures', async () => {
    const [first, second] = recipients(2, 200);
    const sendRequestId = `sr-counts-${templateIdSuffix()}`;
    const { templateId } = world.scenario({ send: () => sendRequestId, eventsFor: () => ['RECIPIENT_PENDING_CONSENT'] });
    // Reports at most every window / 12 = 1 s.
    const handle = await startChunk(chunkInput(templateId, { source: { kind: 'inline', recipients: [first!, second!] }, consentWindowMs: 12_000 }));
    const reports = () => consentReports(handle);
    // Reports at most once a second here: the grant is reported.
    await pollUntil('the send', () => handle.query(chunkProgressQuery), (p) => p.phase === 'sent' && p.consent.asked === 2);
    await sleep(1_100);
    await handle.signal(deliveryEventsSignal, { events: [{ eventId: 'grant', sendRequestId, type: 'CONSENT_GRANTED', ppnum: first!.ppnum }] });
    await pollUntil('the report of the grant', reports, (sent) => sent.some(([, granted]) => granted === 1), 10_000);
    // Then the consent figures stay as reported and only the counts change: that is reported too.
    await sleep(1_100);
    await handle.signal(deliveryEventsSignal, { events: [{ eventId: 'delivery', sendRequestId, type: 'RECIPIENT_DELIVERED', ppnum: first!.ppnum }] });
    const sent = await pollUntil('a report of the delivery alone', reports, (all) => all.at(-1)?.[2] === 1, 10_000);
    expect(sent.slice(-2)).toEqual([
      [2, 1, 0],
      [2, 1, 1],
    ]);
    const result: ChunkResult = await handle.result();
    expect(result.counts).toMatchObject({ delivered: 1, expired: 1 });
    // Replays as recorded (the query replays the closed history).
    expect((await queryOrExplain(handle, chunkRecipientsQuery)).map((r) => r.outcome)).toEqual(['delivered', 'expired']);
  }, 60_000);

  it('reports figures the report interval held back when it ends, without waiting for another event', async () => {
    const [first, second] = recipients(2, 210);
    const sendRequestId = `sr-held-${templateIdSuffix()}`;
    const { templateId } = world.scenario({ send: () => sendRequestId, eventsFor: () => ['RECIPIENT_PENDING_CONSENT'] });
    const source = { kind: 'inline' as const, recipients: [first!, second!] };
    // Reports at most every window / 12 = 1 s; nothing arrives after the pending events but what the test sends.
    const handle = await startChunk(chunkInput(templateId, { source, consentWindowMs: 12_000 }));
    const before = await startChunk(chunkInput(templateId, { source, consentWindowMs: 12_000, heldReports: undefined }));
    await pollUntil('the send', () => handle.query(chunkProgressQuery), (p) => p.phase === 'sent' && p.consent.asked === 2);
    const sentSeenAt = Date.now();
    // The pending events were held back by the first interval: reported when it ends, on a timer.
    expect(await pollUntil('the first report', () => consentReports(handle), (sent) => sent.length === 1, 5_000)).toEqual([[2, 0, 0]]);
    // A grant and its delivery right after it: held back again, reported when the interval ends.
    await handle.signal(deliveryEventsSignal, {
      events: [
        { eventId: 'grant', sendRequestId, type: 'CONSENT_GRANTED', ppnum: first!.ppnum },
        { eventId: 'delivery', sendRequestId, type: 'RECIPIENT_DELIVERED', ppnum: first!.ppnum },
      ],
    });
    expect(await pollUntil('the held report', () => consentReports(handle), (sent) => sent.length === 2, 5_000)).toEqual([
      [2, 0, 0],
      [2, 1, 1],
    ]);
    expect(Date.now()).toBeLessThan(sentSeenAt + 12_000); // well before the window's end
    // A chunk started before: nothing reported until another event comes.
    expect(await consentReports(before)).toEqual([]);
    await before.terminate('test finished');
  }, 60_000);

  it('falls back on a denial as soon as it is known, before the consent window ends', async () => {
    const { templateId, calls } = world.scenario({ send: () => 'sr-early', eventsFor: () => ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED'] });
    const handle = await startChunk(
      chunkInput(templateId, {
        source: { kind: 'inline', recipients: [denied!] },
        consentWindowMs: 24 * 3_600_000,
        fallback: { on: ['denied'], channel: { type: 'webhook', url: 'http://127.0.0.1:1/unused' } },
      }),
    );
    const result: ChunkResult = await handle.result();
    expect(result.counts).toMatchObject({ denied: 1, fallbackSent: 1 });
    expect(calls.fallbacks).toHaveLength(1);
  });
});

function templateIdSuffix(): string {
  return Math.random().toString(36).slice(2, 10);
}
