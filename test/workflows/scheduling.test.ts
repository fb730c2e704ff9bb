// Start time, deadline and throttle: the real campaign and chunk workflows on a real Temporal
// server with stub activities, in seconds instead of hours.
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecipientInput } from '../../src/api/types';
import type { CampaignSpec } from '../../src/campaign/spec';
import type { CampaignResult } from '../../src/contracts/campaign';
import { CAMPAIGN_WORKFLOW_TYPE, cancelUpdate, pauseUpdate, progressQuery, resumeUpdate, throttleUpdate } from '../../src/contracts/campaign';
import { chunkProgressQuery, chunkRecipientsQuery, chunkWorkflowId } from '../../src/contracts/chunk';
import { CampaignClient, InvalidScheduleError } from '../../src/client/campaigns';
import type { ChunkInput } from '../../src/contracts/chunk';
import { decodePayload, pollUntil, testTemporalAddress } from '../support/temporal';
import { fixedZone, offsetWhereItIs } from '../support/time-zones';
import { StubWorld, recipients, refused } from './stub-worker';
import type { Scenario } from './stub-worker';

const world = new StubWorld();

beforeAll(() => world.start(testTemporalAddress()));
afterAll(() => world.terminateAllAndStop());

/** A campaign whose id is its template id (the stubs find the scenario by either); sends are timed. */
function campaign(scenario: Scenario, list: RecipientInput[], extra: Partial<CampaignSpec> = {}) {
  const sentAt: number[] = [];
  const timed: Scenario = {
    ...scenario,
    send: (call, attempt) => {
      sentAt.push(Date.now());
      return scenario.send ? scenario.send(call, attempt) : `sr-${call.workflowId.slice(-6)}-${attempt}`;
    },
  };
  const { templateId, calls } = world.scenario(timed);
  // Tests that set a chunkSize count (and time) chunks of that size: one request each, unless they say otherwise.
  const limits = extra.limits?.chunkSize !== undefined ? { sendsPerChunk: 1, ...extra.limits } : extra.limits;
  const spec: CampaignSpec = { campaignId: templateId, template: { templateId }, recipients: { inline: list }, ...extra, ...(limits ? { limits } : {}) };
  return { spec, calls, sentAt };
}

function start(spec: CampaignSpec): Promise<WorkflowHandle> {
  return world.client.workflow.start(CAMPAIGN_WORKFLOW_TYPE, { workflowId: `campaign/${spec.campaignId}`, taskQueue: world.taskQueue, args: [spec], memo: world.memo });
}

const iso = (ms: number) => new Date(ms).toISOString();

async function statusAttribute(handle: WorkflowHandle): Promise<unknown> {
  return (await handle.describe()).searchAttributes.PpoppoCampaignStatus;
}

describe('start time', () => {
  it('waits scheduled (progress, search attribute), takes pause and resume while waiting, and a cancel before the start reads and sends nothing', async () => {
    const startAt = iso(Date.now() + 60 * 60_000);
    const { spec, calls } = campaign({}, recipients(3), { startAt });
    const handle = await start(spec);
    const waiting = await pollUntil('scheduled', () => handle.query(progressQuery), (p) => p.status === 'scheduled');
    expect(waiting.scheduledFor).toBe(startAt);
    await pollUntil('status attribute', () => statusAttribute(handle), (status) => JSON.stringify(status) === '["scheduled"]');
    expect((await handle.executeUpdate(pauseUpdate)).status).toBe('paused');
    expect((await handle.executeUpdate(resumeUpdate)).status).toBe('scheduled');
    expect((await handle.executeUpdate(cancelUpdate)).status).toBe('cancelling');
    const result: CampaignResult = await handle.result();
    expect(result).toMatchObject({ status: 'cancelled', total: 0 });
    expect(calls).toMatchObject({ ensureTemplate: 0, sends: [] });
    expect(await statusAttribute(handle)).toEqual(['cancelled']);
  });

  it('sends nothing before startAt, then runs by itself', async () => {
    const startAtMs = Date.now() + 2_000;
    const { spec, calls, sentAt } = campaign({}, recipients(2), { startAt: iso(startAtMs) });
    const handle = await start(spec);
    await pollUntil('scheduled', () => handle.query(progressQuery), (p) => p.status === 'scheduled');
    const result: CampaignResult = await handle.result();
    expect(result).toMatchObject({ status: 'completed', counts: { delivered: 2 } });
    expect(calls.sends).toHaveLength(1);
    expect(sentAt[0]).toBeGreaterThanOrEqual(startAtMs);
  });
});

describe('deadline', () => {
  it('ends a quota park at the deadline: no send after it, the unsent recipients (parked chunk and unstarted chunk) end deadline', async () => {
    const deadlineMs = Date.now() + 4_000;
    // Chunk 0 is accepted; chunk 1 is refused for the monthly quota (an hour's wait), so the campaign parks.
    const { spec, calls, sentAt } = campaign({ send: (call, attempt) => (attempt === 1 ? 'sr-first' : Promise.reject(refused(60 * 60_000, true))) }, recipients(6), {
      deadline: iso(deadlineMs),
      limits: { chunkSize: 2, chunksInFlight: 1 },
    });
    const handle = await start(spec);
    const parked = await pollUntil('parked on the quota', () => handle.query(progressQuery), (p) => p.status === 'parked');
    expect(parked).toMatchObject({ parkedReason: 'quota', deadline: iso(deadlineMs), deadlinePassed: false });
    const result: CampaignResult = await handle.result();
    expect(result).toMatchObject({ status: 'completed', total: 6, counts: { delivered: 2, deadline: 4, cancelled: 0 } });
    expect(calls.sends).toHaveLength(2);
    for (const at of sentAt) expect(at).toBeLessThan(deadlineMs);
    const parkedChunk = await world.client.workflow.getHandle(chunkWorkflowId(spec.campaignId, 1)).query(chunkRecipientsQuery);
    expect(parkedChunk.map((r) => [r.outcome, r.errorCode])).toEqual([
      ['deadline', 'DEADLINE'],
      ['deadline', 'DEADLINE'],
    ]);
    // Chunk 2 never started: the campaign settled its recipients itself.
    await expect(world.client.workflow.getHandle(chunkWorkflowId(spec.campaignId, 2)).describe()).rejects.toThrow();
  }, 30_000);

  it('ends a quota park inside a chunk of several requests at the deadline: the requests sent count, the rest end deadline', async () => {
    const deadlineMs = Date.now() + 4_000;
    // One chunk of three requests: the first is accepted, the second refused for the monthly quota.
    const { spec, calls, sentAt } = campaign({ send: (call, attempt) => (attempt === 1 ? 'sr-first' : Promise.reject(refused(60 * 60_000, true))) }, recipients(6), {
      deadline: iso(deadlineMs),
      limits: { chunkSize: 2, sendsPerChunk: 3, chunksInFlight: 1 },
    });
    const handle = await start(spec);
    await pollUntil('parked on the quota', () => handle.query(progressQuery), (p) => p.status === 'parked' && p.parkedReason === 'quota');
    const result: CampaignResult = await handle.result();
    expect(result).toMatchObject({ status: 'completed', total: 6, chunks: 1, counts: { delivered: 2, deadline: 4, cancelled: 0 } });
    expect(calls.sends.map((call) => call.ppnums.length)).toEqual([2, 2]);
    for (const at of sentAt) expect(at).toBeLessThan(deadlineMs);
    const chunk = await world.client.workflow.getHandle(chunkWorkflowId(spec.campaignId, 0)).query(chunkRecipientsQuery);
    expect(chunk.map((r) => r.outcome)).toEqual(['delivered', 'delivered', 'deadline', 'deadline', 'deadline', 'deadline']);
  }, 30_000);

  it('with "deadline" in fallback.on, every recipient the deadline left unsent gets a fallback, including those of chunks not started by then', async () => {
    const deadlineMs = Date.now() + 4_000;
    const list = recipients(6);
    const { spec, calls, sentAt } = campaign({ send: (call, attempt) => (attempt === 1 ? 'sr-first' : Promise.reject(refused(60 * 60_000, true))) }, list, {
      deadline: iso(deadlineMs),
      limits: { chunkSize: 2, chunksInFlight: 1 },
      fallback: { on: ['deadline'], channel: { type: 'webhook', url: 'http://127.0.0.1:1/unused' } },
    });
    const result: CampaignResult = await (await start(spec)).result();
    expect(result).toMatchObject({ status: 'completed', total: 6, counts: { delivered: 2, deadline: 4, cancelled: 0, fallbackSent: 4, fallbackFailed: 0 } });
    expect(calls.sends).toHaveLength(2);
    for (const at of sentAt) expect(at).toBeLessThan(deadlineMs);
    // The parked chunk's two and the unstarted chunk's two, once each, as 'deadline'.
    expect(calls.fallbacks.map((f) => [f.ppnum, f.outcome]).sort()).toEqual(list.slice(2).map((r) => [r.ppnum, 'deadline']).sort());
    // Chunk 2 started after the deadline only to settle and fall back: nothing went to Ppoppo from it.
    const lastChunk = await world.client.workflow.getHandle(chunkWorkflowId(spec.campaignId, 2)).query(chunkRecipientsQuery);
    expect(lastChunk.map((r) => [r.outcome, r.errorCode, r.fallback])).toEqual([
      ['deadline', 'DEADLINE', 'sent'],
      ['deadline', 'DEADLINE', 'sent'],
    ]);
  }, 30_000);
});

describe('throttle', () => {
  it('paces chunk starts, and a throttle update applies to the running campaign', async () => {
    const { spec } = campaign({}, recipients(3), { throttle: 60, limits: { chunkSize: 1, chunksInFlight: 3 } });
    const handle = await start(spec);
    // 60/min would start a one-recipient chunk every second; 20/min every 3 s.
    const updated = await handle.executeUpdate(throttleUpdate, { args: [{ perMinute: 20 }] });
    expect(updated.throttle).toBe(20);
    const result: CampaignResult = await handle.result();
    expect(result).toMatchObject({ status: 'completed', counts: { delivered: 3 } });
    // When the workflow decided each start: its clock (the start time of the workflow task that
    // issued the command). The server's start times add each command's own delay, tens of ms apart.
    const decidedAt: number[] = [];
    let taskStartedAt = 0;
    for (const event of (await handle.fetchHistory()).events ?? []) {
      const at = tsToMs(event.eventTime);
      if (event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) taskStartedAt = at;
      if (event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED) decidedAt.push(taskStartedAt);
    }
    expect(decidedAt).toHaveLength(3);
    expect(decidedAt[1]! - decidedAt[0]!).toBeGreaterThanOrEqual(3_000);
    expect(decidedAt[2]! - decidedAt[1]!).toBeGreaterThanOrEqual(3_000);
  }, 30_000);

  it('refuses a throttle that is no whole number of recipients per minute, saying so', async () => {
    const { spec } = campaign({}, recipients(1), { startAt: iso(Date.now() + 60 * 60_000) });
    const handle = await start(spec);
    await expect(handle.executeUpdate(throttleUpdate, { args: [{ perMinute: 0 }] })).rejects.toThrow();
    const refusal = await handle.executeUpdate(throttleUpdate, { args: [{ perMinute: 2.5 }] }).catch((err: Error) => (err.cause as Error | undefined)?.message);
    expect(refusal).toContain('throttle must be a whole number of recipients per minute');
    await handle.executeUpdate(cancelUpdate);
  });
});

/** A fixed-offset zone where it is about noon now, so a window of a few seconds or an hour never spans midnight there. */
function noonZone(): { timeZone: string; local: (ms: number) => string } {
  return fixedZone(offsetWhereItIs(12));
}

describe('send window', () => {
  it('holds every chunk until the window opens, then sends inside it', async () => {
    const { timeZone, local } = noonZone();
    const opensAt = Math.ceil((Date.now() + 3_000) / 1_000) * 1_000;
    const sendWindow = { from: local(opensAt), until: local(opensAt + 3_600_000), timeZone };
    const { spec, sentAt } = campaign({}, recipients(2), { sendWindow, limits: { chunkSize: 1 } });
    const handle = await start(spec);
    const waiting = await pollUntil('waiting for the window', () => handle.query(progressQuery), (p) => p.status === 'running');
    expect(waiting).toMatchObject({ chunksStarted: 0, sendWindow });
    const result: CampaignResult = await handle.result();
    expect(result).toMatchObject({ status: 'completed', counts: { delivered: 2 } });
    expect(sentAt).toHaveLength(2);
    for (const at of sentAt) expect(at).toBeGreaterThanOrEqual(opensAt);
  }, 30_000);

  it('a window closing mid-campaign holds the remaining chunks (nothing sent after it closes)', async () => {
    const { timeZone, local } = noonZone();
    // One-recipient chunks, one every 6 s: two start inside the window, the third would be after it
    // (the second has 3 s or more to send under a full test run; with 4 s pacing and 2.5 s it missed once in a full run).
    const closesAt = Math.ceil((Date.now() + 9_500) / 1_000) * 1_000;
    const sendWindow = { from: local(Date.now() - 60_000), until: local(closesAt), timeZone };
    const { spec, sentAt } = campaign({}, recipients(3), { sendWindow, throttle: 10, limits: { chunkSize: 1 } });
    const handle = await start(spec);
    await pollUntil('two chunks sent', () => handle.query(progressQuery), (p) => p.chunksSent === 2, 15_000);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, closesAt - Date.now()) + 2_000));
    const held = await handle.query(progressQuery);
    expect(held).toMatchObject({ status: 'running', chunksStarted: 2, chunksSent: 2 });
    for (const at of sentAt) expect(at).toBeLessThan(closesAt);
    expect((await handle.executeUpdate(cancelUpdate)).status).toBe('cancelling');
    expect(await handle.result()).toMatchObject({ status: 'cancelled', counts: { delivered: 2, cancelled: 1 } });
  }, 30_000);
});

describe('send windows in the recipients\' own time zones', () => {
  // With one chunk in flight, the campaign waits with a full window (no timer) and must still wake for the opening.
  it.each([4, 1])('sends an inline list\'s open zone at once and holds the other zone\'s chunk until its window opens; each chunk gets its zone\'s window (chunksInFlight %i)', async (chunksInFlight) => {
    const offset = offsetWhereItIs(12);
    const { timeZone, local } = fixedZone(offset);
    const east = fixedZone(offset + 1).timeZone;
    // 8 s: with one chunk in flight the open zone's two sends take turns, 3 s apart under a full test run.
    const opensAt = Math.ceil((Date.now() + 8_000) / 1_000) * 1_000;
    // The window opens in a few seconds in `timeZone`; one hour east the same local hours are open now.
    const sendWindow = { from: local(opensAt), until: local(opensAt + 2 * 3_600_000), timeZone: east };
    const list = recipients(4).map((recipient, i) => ({ ...recipient, vars: { ...recipient.vars, tz: i % 2 === 0 ? timeZone : '' } }));
    const { spec, calls, sentAt } = campaign({}, list, { recipients: { inline: list, timeZoneColumn: 'tz' }, sendWindow, limits: { chunkSize: 1, chunksInFlight } });
    const handle = await start(spec);
    const waiting = await pollUntil('the open zone sent', () => handle.query(progressQuery), (p) => p.chunksSent === 2);
    expect(Date.now(), `sent at ${sentAt.map((at) => at - opensAt).join(', ')} ms from the opening`).toBeLessThan(opensAt);
    expect(waiting).toMatchObject({ chunksStarted: 2, pendingTimeZones: [timeZone] });
    const result: CampaignResult = await handle.result();
    expect(result).toMatchObject({ status: 'completed', counts: { delivered: 4 } });
    const sentPpnums = calls.sends.map((call) => call.ppnums[0]);
    expect(sentPpnums.slice(0, 2).sort()).toEqual([list[1]!.ppnum, list[3]!.ppnum]);
    expect(sentPpnums.slice(2).sort()).toEqual([list[0]!.ppnum, list[2]!.ppnum]);
    for (const at of sentAt.slice(0, 2)) expect(at).toBeLessThan(opensAt);
    for (const at of sentAt.slice(2)) expect(at).toBeGreaterThanOrEqual(opensAt);
    // Each chunk checks its own window in its recipients' zone (the empty ones' is sendWindow.timeZone).
    for (let i = 0; i < 4; i++) {
      const started = (await world.client.workflow.getHandle(chunkWorkflowId(spec.campaignId, i)).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
      const input = await decodePayload<ChunkInput>(started.input!.payloads![0]!);
      const zones = new Set((input.source.kind === 'inline' ? input.source.recipients : []).map((r) => r.vars.tz || east));
      expect([...zones]).toEqual([input.sendWindow!.timeZone]);
    }
  }, 30_000);
});

describe('send window in a started chunk', () => {
  it('a chunk whose retry falls after the window closes holds until it opens again, without another attempt', async () => {
    const { timeZone, local } = noonZone();
    const closesAt = Math.ceil((Date.now() + 2_000) / 1_000) * 1_000;
    const sendWindow = { from: local(Date.now() - 60_000), until: local(closesAt), timeZone };
    // The first attempt is refused with a 4 s retry hint: the retry would fall after the window.
    const { spec, calls } = campaign({ send: (_call, attempt) => (attempt === 1 ? Promise.reject(refused(4_000)) : 'sr-late') }, recipients(1), { sendWindow });
    const handle = await start(spec);
    const chunk = world.client.workflow.getHandle(chunkWorkflowId(spec.campaignId, 0));
    const held = await pollUntil('held for the window', () => chunk.query(chunkProgressQuery), (p) => p.phase === 'window', 15_000);
    expect(Date.parse(held.retryAt!)).toBeGreaterThan(closesAt);
    expect(calls.sends).toHaveLength(1);
    await handle.executeUpdate(cancelUpdate);
    expect(await handle.result()).toMatchObject({ status: 'cancelled', counts: { cancelled: 1 } });
    expect(calls.sends).toHaveLength(1);
  }, 30_000);
});

describe('fair share of the send queue', () => {
  it('sends under the campaign as fairness key, with the spec\'s weight (the server shares a rate-limited queue by them)', async () => {
    const { spec } = campaign({}, recipients(1), { weight: 3 });
    const handle = await start(spec);
    await handle.result();
    const history = await world.client.workflow.getHandle(chunkWorkflowId(spec.campaignId, 0)).fetchHistory();
    const scheduled = history.events!.map((e) => e.activityTaskScheduledEventAttributes).filter((a) => a?.activityType?.name === 'createSendRequest');
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]!.priority).toMatchObject({ fairnessKey: spec.campaignId, fairnessWeight: 3 });
  });
});

describe('recurring campaigns on a Temporal Schedule', () => {
  it('runs the spec at each run time as its own campaign, named by the schedule id and the run time', async () => {
    const { spec, calls } = campaign({}, recipients(2));
    const schedules = new CampaignClient(world.client, { taskQueue: world.taskQueue, sendTaskQueue: world.taskQueue }).schedules;
    await expect(schedules.create({ ...spec, deadline: iso(Date.now() + 60_000) }, { every: '2s' })).rejects.toThrow(InvalidScheduleError);
    await expect(schedules.create(spec, { every: '2s', timeZone: 'Mars/Olympus' })).rejects.toThrow('--time-zone "Mars/Olympus" is not an IANA time zone');
    const created = await schedules.create(spec, { every: '2s', timeZone: 'Asia/Seoul', overlap: 'allow-all' });
    expect(created).toMatchObject({ scheduleId: spec.campaignId, paused: false });
    expect(created.nextRuns[0]!.campaignId).toMatch(new RegExp(`^${spec.campaignId}\\.\\d{8}T\\d{6}Z$`));
    try {
      const runs = await pollUntil(
        'two completed runs',
        async () => {
          const found: { campaignId: string; status: string }[] = [];
          for await (const info of world.client.workflow.list({ query: `WorkflowType = "${CAMPAIGN_WORKFLOW_TYPE}" AND WorkflowId STARTS_WITH "campaign/${spec.campaignId}."` })) {
            found.push({ campaignId: info.workflowId.replace(/^campaign\//, ''), status: info.status.name });
          }
          return found;
        },
        (found) => found.filter((r) => r.status === 'COMPLETED').length >= 2,
        20_000,
      );
      // Each run is its own campaign; its id is the schedule's run time, as describe reports it.
      const described = await schedules.describe(spec.campaignId);
      for (const run of runs.filter((r) => r.status === 'COMPLETED')) expect(described.recentRuns.map((r) => r.campaignId)).toContain(run.campaignId);
      expect(new Set(runs.map((r) => r.campaignId)).size).toBe(runs.length);
      expect(calls.sends.length).toBeGreaterThanOrEqual(2);
      expect((await schedules.pause(spec.campaignId)).paused).toBe(true);
      // `schedule list` reads visibility, which catches up with the pause a moment later.
      const listed = await pollUntil('the schedule listed as paused', () => schedules.list(), (list) => list.find((s) => s.scheduleId === spec.campaignId)?.paused === true);
      expect(listed.find((s) => s.scheduleId === spec.campaignId)?.paused).toBe(true);
    } finally {
      await schedules.delete(spec.campaignId);
    }
    await expect(schedules.describe(spec.campaignId)).rejects.toThrow(`no campaign schedule "${spec.campaignId}"`);
  }, 40_000);
});
