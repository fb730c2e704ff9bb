// CampaignState without a server: planning, the sliding window, chunk reports in any order and
// twice, parking, controls in every status, cancellation accounting, continue-as-new round trip.
import { describe, expect, it } from 'vitest';
import { emptyConsent } from '../../src/campaign/consent';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import { emptyCounts } from '../../src/campaign/outcomes';
import type { OutcomeCounts } from '../../src/campaign/outcomes';
import type { CampaignStatus } from '../../src/contracts/campaign';
import type { ControlAction } from '../../src/contracts/chunk';
import { timingText } from '../../src/campaign/timing';
import { CampaignState } from '../../workflows/campaign/state';

const source = (n: number): ChunkSource => ({ kind: 'file', path: '/data/r.csv', format: 'csv', byteStart: n, byteEnd: n + 1, firstLine: 2, skipLines: [] });

/** 25 valid recipients in chunks of 10 (10, 10, 5) and 2 invalid rows skipped. */
function planned(): CampaignState {
  const state = new CampaignState('spring');
  state.planned({ templateId: 'tpl_1', chunkSize: 10, isPoll: false, validTotal: 25, invalidRows: 2, issues: [], chunks: [source(0), source(1), source(2)] });
  return state;
}

const counts = (partial: Partial<OutcomeCounts>): OutcomeCounts => ({ ...emptyCounts(), ...partial });

describe('planning', () => {
  it('starts validating, runs once planned, and counts the skipped invalid rows', () => {
    const fresh = new CampaignState('spring');
    expect(fresh.status).toBe('validating');
    const state = planned();
    expect(state.progress()).toMatchObject({ status: 'running', total: 27, chunksTotal: 3, templateId: 'tpl_1', counts: { invalid: 2 } });
  });

  it('stays paused when paused while validating', () => {
    const state = new CampaignState('spring');
    state.control('pause');
    state.planned({ templateId: 'tpl_1', chunkSize: 10, isPoll: false, validTotal: 5, invalidRows: 0, issues: [], chunks: [source(0)] });
    expect(state.status).toBe('paused');
    state.control('resume');
    expect(state.status).toBe('running');
  });

  it('resumes to validating when the plan is not made yet', () => {
    const state = new CampaignState('spring');
    state.control('pause');
    state.control('resume');
    expect(state.status).toBe('validating');
  });

  it('keeps at most 100 issues and marks a failure', () => {
    const state = new CampaignState('spring');
    state.failed(Array.from({ length: 150 }, (_, i) => ({ line: i + 2, field: 'ppnum', message: 'bad' })));
    expect(state.status).toBe('failed');
    expect(state.issues).toHaveLength(100);
  });
});

describe('the sliding window', () => {
  it('starts chunks while fewer than chunksInFlight are unsent, in order, within the per-run budget', () => {
    const state = planned();
    const started: number[] = [];
    while (state.canStartChunk(2, 1_000)) started.push(state.takeNextChunk().chunkIndex);
    expect(started).toEqual([0, 1]);
    expect(state.progress().inFlight).toBe(2);
    state.chunkSent(0, 'sr_0', 10);
    expect(state.canStartChunk(2, 1_000)).toBe(true);
    expect(state.takeNextChunk()).toEqual({ chunkIndex: 2, source: source(2), plannedRecipients: 5 }); // the last chunk: 25 - 2 × 10
    expect(state.canStartChunk(5, 1_000)).toBe(false); // none left
    const budget = planned();
    budget.takeNextChunk();
    expect(budget.canStartChunk(5, 1)).toBe(false); // this run's budget is spent
  });

  it('lets a chunk reconciling an ambiguous send out of the window until it reports sent', () => {
    const state = planned();
    state.takeNextChunk();
    state.takeNextChunk();
    expect(state.canStartChunk(2, 1_000)).toBe(false);
    state.chunkReconciling(7); // not a started, unsent chunk: ignored
    expect(state.canStartChunk(2, 1_000)).toBe(false);
    state.chunkReconciling(0);
    state.chunkReconciling(0); // repeated signal
    expect(state.canStartChunk(2, 1_000)).toBe(true);
    state.takeNextChunk(); // chunk 2 takes the slot; chunk 0 may send again beside it
    expect(state.progress().inFlight).toBe(3);
    state.chunkSent(0, 'sr_0', 10);
    state.chunkReconciling(0); // late: already sent
    expect(state.progress().inFlight).toBe(2);
    expect(state.canStartChunk(3, 1_000)).toBe(false); // none left
    const sent = planned();
    sent.takeNextChunk();
    sent.chunkReconciling(0);
    sent.chunkFinished(0, counts({ delivered: 10 })); // finished without a chunkSent (e.g. adopted on restart)
    sent.takeNextChunk();
    expect(sent.canStartChunk(1, 1_000)).toBe(false); // chunk 0 no longer discounts the window
  });

  it('starts nothing while paused or cancelling, and again when resumed or parked', () => {
    const state = planned();
    for (const [action, open] of [['pause', false], ['resume', true]] as [ControlAction, boolean][]) {
      state.control(action);
      expect(state.canStartChunk(4, 1_000)).toBe(open);
    }
    state.chunkParked(0, { until: '2026-12-01T01:00:00.000Z', reason: 'rate' });
    expect(state.canStartChunk(4, 1_000)).toBe(true);
    state.control('cancel');
    expect(state.canStartChunk(4, 1_000)).toBe(false);
  });
});

describe('chunk reports', () => {
  it('counts each chunk once however often and in whatever order its reports come', () => {
    const state = planned();
    state.takeNextChunk();
    state.takeNextChunk();
    state.chunkSent(0, 'sr_0', 10);
    expect(state.progress().awaitingOutcome).toBe(10);
    state.chunkFinished(0, counts({ delivered: 9, denied: 1 }));
    state.chunkFinished(0, counts({ delivered: 9, denied: 1 })); // repeated signal
    state.chunkSent(0, 'sr_0', 10); // late duplicate: no new awaited recipients
    // chunk 1 reports finished before sent (signals may cross)
    state.chunkFinished(1, counts({ delivered: 10 }));
    state.chunkSent(1, 'sr_1', 10);
    expect(state.progress()).toMatchObject({ chunksSent: 2, chunksFinished: 2, awaitingOutcome: 0, inFlight: 0, counts: { delivered: 19, denied: 1, invalid: 2 } });
  });

  it('parks while running, shows until when and why, and runs again when the parked chunk sends', () => {
    const state = planned();
    state.takeNextChunk();
    state.chunkParked(0, { until: '2026-12-01T01:00:00.000Z', reason: 'quota' });
    expect(state.progress()).toMatchObject({ status: 'parked', parkedUntil: '2026-12-01T01:00:00.000Z', parkedReason: 'quota' });
    state.chunkSent(0, 'sr_0', 10);
    expect(state.progress()).toMatchObject({ status: 'running', parkedUntil: undefined });
  });

  it('stays parked while any parked chunk has not sent: another chunk sending does not unpark it', () => {
    const state = planned();
    for (let i = 0; i < 3; i++) state.takeNextChunk();
    state.chunkParked(1, { until: '2027-01-01T00:00:00.000Z', reason: 'quota' });
    state.chunkParked(2, { until: '2027-01-01T00:00:00.000Z', reason: 'quota' });
    state.chunkSent(0, 'sr_0', 10); // the chunk that fitted reports after the refusals
    state.chunkFinished(0, counts({ delivered: 10 }));
    expect(state.progress()).toMatchObject({ status: 'parked', parkedReason: 'quota' });
    state.chunkParked(0, { until: '2027-01-01T00:00:00.000Z', reason: 'quota' }); // late: chunk 0 has sent
    const next = new CampaignState('spring', { carry: JSON.parse(JSON.stringify(state.carry())), chunkSize: 10 });
    next.chunkSent(1, 'sr_1', 10);
    expect(next.status).toBe('parked');
    next.chunkFailed(2, 'terminated');
    expect(next.status).toBe('running');
  });

  it('does not turn a paused campaign into a parked one', () => {
    const state = planned();
    state.control('pause');
    state.chunkParked(0, { until: '2026-12-01T01:00:00.000Z', reason: 'rate' });
    expect(state.status).toBe('paused');
  });

  it('counts a failed chunk as its planned recipients failed, once, with the reason as an issue', () => {
    const state = planned();
    expect(state.chunkFailed(0, 'recipient file changed')).toBe(true);
    expect(state.chunkFailed(2, 'terminated')).toBe(true); // the last chunk holds the remainder: 5
    expect(state.chunkFailed(2, 'terminated')).toBe(false);
    expect(state.progress().counts.failed).toBe(15);
    expect(state.issues.map((issue) => issue.field)).toEqual(['chunks[0]', 'chunks[2]']);
  });

  it('is done when every chunk finished', () => {
    const state = planned();
    for (let i = 0; i < 3; i++) state.chunkFinished(i, counts({ delivered: i < 2 ? 10 : 5 }));
    expect(state.allDone()).toBe(true);
    state.close();
    expect(state.result(undefined)).toMatchObject({ status: 'completed', total: 27, chunks: 3, counts: { delivered: 25, invalid: 2 } });
  });
});

describe('parking', () => {
  const credentials = { reason: 'credentials' as const, until: '2026-12-01T00:05:00.000Z', since: '2026-12-01T00:00:00.000Z', message: 'oauth/token: invalid_client (HTTP 401)' };

  it('stays parked while any chunk holds, shows the configuration fault first, and runs when the last one clears', () => {
    const state = planned();
    state.takeNextChunk();
    state.takeNextChunk();
    state.chunkParked(0, { until: '2026-12-01T01:00:00.000Z', reason: 'rate' });
    state.chunkParked(1, credentials);
    expect(state.progress()).toMatchObject({ status: 'parked', parkedReason: 'credentials', parkedMessage: credentials.message, parkedSince: credentials.since, parkedChunks: 2 });
    state.chunkSent(1, 'sr_1', 10);
    expect(state.progress()).toMatchObject({ status: 'parked', parkedReason: 'rate', parkedChunks: 1 });
    state.chunkUnparked(0);
    expect(state.progress()).toMatchObject({ status: 'running', parkedReason: undefined });
    expect(state.progress().parkedMessage).toBeUndefined();
  });

  it('clears a chunk\'s park when it finishes, and ignores a park that arrives after it finished', () => {
    const state = planned();
    state.takeNextChunk();
    state.chunkParked(0, { ...credentials, reason: 'fallback' });
    state.chunkFinished(0, counts({ denied: 10, fallbackSent: 10 }));
    expect(state.status).toBe('running');
    state.chunkParked(0, { ...credentials, reason: 'fallback' });
    expect(state.status).toBe('running');
  });

  it('parks the campaign itself while preparing, and validates again once the fault clears', () => {
    const state = new CampaignState('spring');
    state.blocked({ ...credentials, reason: 'unreachable', message: 'No connection established' });
    expect(state.progress()).toMatchObject({ status: 'parked', parkedReason: 'unreachable', parkedChunks: 0 });
    state.check('resume');
    expect(state.control('resume')).toEqual([]);
    expect(state.wakeRequested).toBe(true);
    expect(state.status).toBe('parked'); // still waiting: the wake only makes it try again now
    state.blocked({ ...credentials, reason: 'unreachable', since: '2026-12-01T00:09:00.000Z', message: 'No connection established' });
    expect(state.progress().parkedSince).toBe(credentials.since); // the same fault since the first time
    expect(state.wakeRequested).toBe(false);
    state.unblocked();
    expect(state.status).toBe('validating');
  });

  it('forwards a resume to the parked chunks as well as the unsent ones', () => {
    const state = planned();
    state.takeNextChunk();
    state.takeNextChunk();
    state.chunkSent(0, 'sr_0', 10);
    state.chunkParked(0, { ...credentials, reason: 'fallback' });
    expect(state.control('resume').sort()).toEqual([0, 1]);
  });

  it('keeps its parks across continue-as-new, and reads a carry from before parks were per chunk', () => {
    const state = planned();
    state.takeNextChunk();
    state.chunkParked(0, credentials);
    const carry = JSON.parse(JSON.stringify(state.carry()));
    expect(new CampaignState('spring', { carry, chunkSize: 10 }).progress()).toEqual(state.progress());
    const { parks: _parks, ...legacy } = carry;
    const old = new CampaignState('spring', { carry: { ...legacy, status: 'parked', parked: { until: credentials.until, reason: 'quota' } }, chunkSize: 10 });
    expect(old.progress()).toMatchObject({ status: 'parked', parkedReason: 'quota' });
    old.chunkSent(1, 'sr_1', 10);
    expect(old.status).toBe('running');
  });
});

describe('the end', () => {
  it('fails a campaign that reached nobody, saying what became of them', () => {
    const state = planned();
    for (let i = 0; i < 3; i++) state.chunkFinished(i, counts({ failed: i < 2 ? 10 : 5 }));
    state.close({ failWhenNobodyReached: true });
    expect(state.status).toBe('failed');
    expect(state.progress().failure).toBe('no recipient was delivered or reached by a fallback (failed 25, invalid 2)');
    expect(state.result(undefined).status).toBe('failed');
  });

  it('completes when a fallback reached someone, and without the rule (histories recorded before it)', () => {
    const reached = planned();
    for (let i = 0; i < 3; i++) reached.chunkFinished(i, counts({ denied: i < 2 ? 10 : 5, fallbackSent: 1 }));
    reached.close({ failWhenNobodyReached: true });
    expect(reached.status).toBe('completed');
    const legacy = planned();
    for (let i = 0; i < 3; i++) legacy.chunkFinished(i, counts({ failed: i < 2 ? 10 : 5 }));
    legacy.close();
    expect(legacy.status).toBe('completed');
  });

  it('counts a failed follow-up chunk by its own planned size, and shows what it retries', () => {
    const state = new CampaignState('spring.retry-failed');
    state.planned({ templateId: 'tpl_1', chunkSize: 10, isPoll: false, validTotal: 7, invalidRows: 0, issues: [], chunks: [source(0), source(1)], sizes: [3, 4], retryOf: { campaignId: 'spring', outcome: 'failed' } });
    state.chunkFailed(1, 'x');
    expect(state.progress()).toMatchObject({ counts: { failed: 4 }, retryOf: { campaignId: 'spring', outcome: 'failed' } });
    const next = new CampaignState('spring.retry-failed', { carry: JSON.parse(JSON.stringify(state.carry())), chunkSize: 10 });
    expect(next.progress()).toEqual(state.progress());
  });
});

describe('controls', () => {
  const matrix: [CampaignStatus, Record<ControlAction, boolean>][] = [
    ['validating', { pause: true, resume: false, cancel: true }],
    ['running', { pause: true, resume: false, cancel: true }],
    ['parked', { pause: true, resume: true, cancel: true }],
    ['paused', { pause: false, resume: true, cancel: true }],
    ['cancelling', { pause: false, resume: false, cancel: false }],
    ['completed', { pause: false, resume: false, cancel: false }],
    ['cancelled', { pause: false, resume: false, cancel: false }],
    ['failed', { pause: false, resume: false, cancel: false }],
  ];
  for (const [status, allowed] of matrix) {
    it(`in status ${status} allows ${Object.entries(allowed).filter(([, ok]) => ok).map(([a]) => a).join(', ') || 'nothing'}`, () => {
      for (const action of ['pause', 'resume', 'cancel'] as ControlAction[]) {
        const state = planned();
        state.status = status;
        if (allowed[action]) expect(() => state.check(action)).not.toThrow();
        else expect(() => state.check(action)).toThrow(`cannot ${action} campaign spring: it is ${status}`);
      }
    });
  }

  it('forwards a control to the started chunks that have not sent', () => {
    const state = planned();
    state.takeNextChunk();
    state.takeNextChunk();
    state.chunkSent(0, 'sr_0', 10);
    expect(state.control('pause')).toEqual([1]);
  });

  it('cancels: done when the started chunks finished, the never-started recipients end cancelled', () => {
    const state = planned();
    state.takeNextChunk();
    state.control('cancel');
    expect(state.allDone()).toBe(false);
    state.chunkFinished(0, counts({ delivered: 10 }));
    expect(state.allDone()).toBe(true);
    expect(state.cancelledBeforeStart()).toBe(0); // not until the campaign closes as cancelled
    state.close();
    expect(state.result(undefined)).toMatchObject({ status: 'cancelled', counts: { delivered: 10, cancelled: 15, invalid: 2 } });
    // What the campaign settles itself (the metrics record these; the chunks record the rest).
    expect(state.cancelledBeforeStart()).toBe(15);
    expect(state.invalidRowsSkipped()).toBe(2);
  });
});

describe('continue-as-new', () => {
  it('carries everything the next run needs, and nothing it can recompute', () => {
    const state = planned();
    state.takeNextChunk();
    state.takeNextChunk();
    state.chunkSent(0, 'sr_0', 10);
    state.chunkFinished(1, counts({ delivered: 10 }));
    state.chunkParked(0, { until: '2026-12-01T01:00:00.000Z', reason: 'rate' });
    state.takeNextChunk();
    state.chunkReconciling(2);
    const carry = JSON.parse(JSON.stringify(state.carry())); // as Temporal would serialize it
    const next = new CampaignState('spring', { carry, chunkSize: 10 });
    expect(next.progress()).toEqual(state.progress());
    expect(next.carry().reconciling).toEqual([2]); // chunk 2 stays out of the window in the next run
    const { reconciling: _, ...older } = carry; // a carry from before the field
    expect(new CampaignState('spring', { carry: older, chunkSize: 10 }).carry().reconciling).toEqual([]);
    expect(next.startedThisRun).toBe(0);
    expect(next.chunkFailed(2, 'x')).toBe(true);
    expect(next.progress().counts.failed).toBe(5);
  });

  it('adds up consent: finished chunks exactly, running ones by their latest report, across continue-as-new', () => {
    const state = planned();
    for (let i = 0; i < 3; i++) state.takeNextChunk();
    const figures = (asked: number, granted: number, bucket: number) => {
      const consent = { ...emptyConsent(), asked, granted };
      consent.decisionHistogram[bucket] = granted;
      return consent;
    };
    state.chunkConsent(0, figures(10, 2, 5));
    state.chunkConsent(0, figures(10, 6, 5)); // the latest replaces the earlier
    state.chunkConsent(1, figures(10, 1, 7));
    expect(state.progress().consent).toMatchObject({ asked: 20, granted: 7 });
    state.chunkFinished(0, counts({ delivered: 8, denied: 2 }), 'sr_0', figures(10, 8, 5));
    state.chunkConsent(0, figures(10, 1, 5)); // a report after the finish is stale: ignored
    const carry = JSON.parse(JSON.stringify(state.carry()));
    const next = new CampaignState('spring', { carry, chunkSize: 10 });
    expect(next.progress().consent).toEqual(state.progress().consent);
    expect(next.progress().consent).toMatchObject({ asked: 20, granted: 9 });
    expect(next.progress().consent.decisionHistogram[5]).toBe(8);
    expect(next.progress().consent.decisionHistogram[7]).toBe(1);
    next.chunkFailed(1, 'gone');
    expect(next.progress().consent).toMatchObject({ asked: 10, granted: 8 });
    expect(next.result(undefined).consent).toEqual(next.progress().consent);
  });

  it('counts running chunks\' settled recipients from their latest report, replaced by the finish, across continue-as-new', () => {
    const state = planned();
    for (let i = 0; i < 3; i++) state.takeNextChunk();
    state.chunkSent(0, 'sr_0', 10);
    state.chunkSent(1, 'sr_1', 10);
    const consent = { ...emptyConsent(), asked: 10 };
    state.chunkConsent(0, consent, counts({ denied: 2, fallbackSent: 2 }));
    state.chunkConsent(0, consent, counts({ denied: 3, delivered: 1, fallbackSent: 3 })); // the latest replaces the earlier
    state.chunkConsent(1, consent); // a chunk of the version before: consent only
    // planned() skipped 2 invalid rows at planning.
    expect(state.progress()).toMatchObject({ counts: counts({ denied: 3, delivered: 1, fallbackSent: 3, invalid: 2 }), awaitingOutcome: 16 });
    const carry = JSON.parse(JSON.stringify(state.carry()));
    const next = new CampaignState('spring', { carry, chunkSize: 10 });
    expect(next.progress()).toEqual(state.progress());
    next.chunkFinished(0, counts({ delivered: 6, denied: 4, fallbackSent: 4 }), 'sr_0', consent);
    next.chunkConsent(0, consent, counts({ denied: 1 })); // a report after the finish is stale: ignored
    expect(next.progress()).toMatchObject({ counts: counts({ delivered: 6, denied: 4, fallbackSent: 4, invalid: 2 }), awaitingOutcome: 10 });
    const { countsOfRunning: _, ...older } = carry; // a carry from before the field
    expect(new CampaignState('spring', { carry: older, chunkSize: 10 }).progress()).toMatchObject({ counts: counts({ invalid: 2 }), awaitingOutcome: 20 });
  });

  it('reads a carry from before consent figures', () => {
    const state = planned();
    const carry = JSON.parse(JSON.stringify(state.carry()));
    delete carry.consent;
    delete carry.consentOfRunning;
    expect(new CampaignState('spring', { carry, chunkSize: 10 }).progress().consent).toEqual(emptyConsent());
  });

  it('keeps poll send request ids only for poll templates', () => {
    const poll = new CampaignState('poll');
    poll.planned({ templateId: 'tpl_p', chunkSize: 10, isPoll: true, validTotal: 10, invalidRows: 0, issues: [], chunks: [source(0)] });
    poll.chunkSent(0, 'sr_p', 10);
    expect(poll.pollSendRequestIds()).toEqual(['sr_p']);
    const plain = planned();
    plain.chunkSent(0, 'sr_0', 10);
    expect(plain.pollSendRequestIds()).toEqual([]);
  });
});

describe('start time, deadline and throttle', () => {
  it('waits scheduled: pause and cancel apply, a resume goes back to waiting, the start time moves it on to validating', () => {
    const state = new CampaignState('spring');
    state.scheduled('2030-01-01T09:00:00.000Z');
    expect(state.progress()).toMatchObject({ status: 'scheduled', scheduledFor: '2030-01-01T09:00:00.000Z' });
    expect(() => state.check('resume')).toThrow('cannot resume campaign spring: it is scheduled');
    state.control('pause');
    expect(state.status).toBe('paused');
    state.control('resume');
    expect(state.status).toBe('scheduled');
    state.startDue();
    expect(state.progress()).toMatchObject({ status: 'validating' });
    expect(state.progress().scheduledFor).toBeUndefined();
    const cancelled = new CampaignState('autumn');
    cancelled.scheduled('2030-01-01T09:00:00.000Z');
    state.check('cancel');
    cancelled.control('cancel');
    expect(cancelled.allDone()).toBe(true);
    cancelled.close();
    expect(cancelled.result(undefined)).toMatchObject({ status: 'cancelled', total: 0 });
  });

  it('a campaign paused while scheduled stays paused past the start time, and validates once resumed', () => {
    const state = new CampaignState('spring');
    state.scheduled('2030-01-01T09:00:00.000Z');
    state.control('pause');
    state.startDue();
    expect(state.status).toBe('paused');
    state.control('resume');
    expect(state.status).toBe('validating');
  });

  it('after the deadline: no chunk starts, the unstarted recipients end deadline, done once the started chunks finish', () => {
    const state = planned();
    state.timing({ deadline: '2030-01-01T18:00:00.000Z' });
    state.takeNextChunk();
    state.deadlinePassed();
    expect(state.canStartChunk(4, 1000)).toBe(false);
    expect(state.allDone()).toBe(false);
    expect(state.progress()).toMatchObject({ deadline: '2030-01-01T18:00:00.000Z', deadlinePassed: true, counts: { deadline: 15 } });
    // The started chunk was parked on the quota; at the deadline it settles its own recipients.
    state.chunkFinished(0, counts({ deadline: 10 }));
    expect(state.allDone()).toBe(true);
    state.close({ failWhenNobodyReached: true });
    expect(state.deadlineBeforeStart()).toBe(15);
    expect(state.result(undefined)).toMatchObject({ status: 'failed', counts: { deadline: 25, invalid: 2, cancelled: 0 } });
    expect(state.failure).toContain('deadline 25');
  });

  it('after the deadline with "deadline" in the fallback policy: the rest start at once, unpaced, to settle and fall back themselves', () => {
    const state = planned();
    const now = Date.parse('2030-01-01T18:00:01.000Z');
    state.timing({ deadline: '2030-01-01T18:00:00.000Z', throttle: 1, deadlineFallbacks: true });
    state.takeNextChunk(now - 5_000);
    expect(state.canStartChunk(4, 1000, now)).toBe(false); // the throttle holds it before the deadline
    state.deadlinePassed();
    expect(state.canStartChunk(4, 1000, now)).toBe(true);
    expect(state.deadlineBeforeStart()).toBe(0); // the chunks settle them, not the campaign
    state.chunkFinished(0, counts({ deadline: 10, fallbackSent: 10 }));
    expect(state.allDone()).toBe(false);
    while (state.canStartChunk(4, 1000, now)) state.takeNextChunk(now);
    state.chunkFinished(1, counts({ deadline: 10, fallbackSent: 10 }));
    state.chunkFinished(2, counts({ deadline: 5, fallbackSent: 5 }));
    expect(state.allDone()).toBe(true);
    state.close({ failWhenNobodyReached: true });
    expect(state.result(undefined)).toMatchObject({ status: 'completed', counts: { deadline: 25, fallbackSent: 25 } });
  });

  it('cancelled after the deadline: the unstarted stay deadline, not cancelled', () => {
    const state = planned();
    state.takeNextChunk();
    state.deadlinePassed();
    state.control('cancel');
    state.chunkFinished(0, counts({ delivered: 10 }));
    state.close();
    expect(state.result(undefined)).toMatchObject({ status: 'cancelled', counts: { delivered: 10, deadline: 15, cancelled: 0 } });
  });

  it('paces chunk starts by the throttle, and a throttle update re-paces from the last start', () => {
    const state = planned();
    state.timing({ throttle: 20 }); // 10-recipient chunks: one every 30 s
    expect(state.canStartChunk(4, 1000, 0)).toBe(true);
    state.takeNextChunk(1_000);
    expect(state.nextStartAt()).toBe(31_000);
    expect(state.canStartChunk(4, 1000, 30_999)).toBe(false);
    expect(state.waitsForPace(4, 1000, 30_999)).toBe(true);
    expect(state.canStartChunk(4, 1000, 31_000)).toBe(true);
    state.checkThrottle(60);
    const revision = state.pacingRevision;
    state.setThrottle(60);
    expect(state.pacingRevision).not.toBe(revision);
    expect(state.nextStartAt()).toBe(11_000);
    expect(state.progress().throttle).toBe(60);
    state.setThrottle(null);
    expect(state.nextStartAt()).toBe(0);
    expect(state.progress().throttle).toBeUndefined();
    expect(() => state.checkThrottle(0)).toThrow('throttle must be a whole number of recipients per minute');
    expect(() => state.checkThrottle(1.5)).toThrow('throttle must be');
  });

  it('carries a throttle update and the last start through continue-as-new; the spec throttle does not override it', () => {
    const state = planned();
    state.timing({ throttle: 20 });
    state.takeNextChunk(1_000);
    state.setThrottle(10);
    const next = new CampaignState('spring', { carry: JSON.parse(JSON.stringify(state.carry())), chunkSize: 10 });
    next.timing({ throttle: 20 });
    expect(next.throttle).toBe(10);
    expect(next.nextStartAt()).toBe(61_000);
  });

  it('holds chunk starts outside the send window, and counts the throttle from inside it', () => {
    const state = planned();
    // 09:00-10:00 in Seoul is 00:00-01:00Z.
    state.timing({ throttle: 20, sendWindow: { from: '09:00', until: '10:00', timeZone: 'Asia/Seoul' } });
    const before = Date.parse('2026-12-01T23:30:00Z');
    expect(state.canStartChunk(4, 1000, before)).toBe(false);
    expect(state.nextStartAt(before)).toBe(Date.parse('2026-12-02T00:00:00Z'));
    const inside = Date.parse('2026-12-02T00:59:50Z');
    expect(state.canStartChunk(4, 1000, inside)).toBe(true);
    state.takeNextChunk(inside);
    // The throttle's next start (30 s later) falls after the window: the next day's opening.
    expect(state.nextStartAt(inside)).toBe(Date.parse('2026-12-03T00:00:00Z'));
    expect(state.progress().sendWindow).toEqual({ from: '09:00', until: '10:00', timeZone: 'Asia/Seoul' });
  });

  it('refuses a throttle once the campaign has finished', () => {
    const state = planned();
    state.control('cancel');
    state.close();
    expect(() => state.checkThrottle(10)).toThrow('cannot throttle campaign spring: it is cancelled');
  });

  it('reads carries from before the deadline outcome existed (no key in their counts)', () => {
    const carry = planned().carry();
    const old = { ...carry, chunkCounts: { delivered: 3, failed: 0, denied: 0, expired: 0, invalid: 0, cancelled: 0, fallbackSent: 0, fallbackFailed: 0 } as OutcomeCounts };
    const state = new CampaignState('spring', { carry: old, chunkSize: 10 });
    expect(state.progress().counts).toMatchObject({ delivered: 3, deadline: 0 });
  });
});

describe('recipients in their own time zones (recipients.timeZoneColumn)', () => {
  const window = { from: '09:00', until: '17:00', timeZone: 'Asia/Seoul' };
  const zoned = (n: number, timeZone: string): ChunkSource => ({ kind: 'file', path: '/data/r.csv', format: 'csv', byteStart: 0, byteEnd: 99, firstLine: 2, skipLines: [], timeZone, timeZoneColumn: 'tz', emptyZone: 'Asia/Seoul', count: n + 1 });
  const at = (iso: string) => Date.parse(iso);

  /** Chunks as the plan orders them (zone name, then file order): New York 3, Seoul 10 + 2, Berlin 4 recipients. */
  function zonedCampaign(): CampaignState {
    const state = new CampaignState('spring');
    state.timing({ sendWindow: window });
    state.planned({
      templateId: 'tpl_1',
      chunkSize: 10,
      isPoll: false,
      validTotal: 19,
      invalidRows: 0,
      issues: [],
      chunks: [zoned(0, 'America/New_York'), zoned(1, 'Asia/Seoul'), zoned(2, 'Asia/Seoul'), zoned(3, 'Europe/Berlin')],
      sizes: [3, 10, 2, 4],
    });
    return state;
  }

  const startAll = (state: CampaignState, now: number) => {
    const started: number[] = [];
    while (state.canStartChunk(10, 1000, now)) started.push(state.takeNextChunk(now).chunkIndex);
    return started;
  };

  it('starts the chunks of zones whose window is open; a closed zone\'s wait while others go on, and the next wake is the earliest opening', () => {
    const state = zonedCampaign();
    // 01:00Z: 10:00 in Seoul (open), 02:00 in Berlin and 20:00 the day before in New York (closed).
    const seoulMorning = at('2026-12-02T01:00:00Z');
    expect(startAll(state, seoulMorning)).toEqual([1, 2]);
    expect(state.waitsForPace(10, 1000, seoulMorning)).toBe(true);
    expect(new Date(state.nextStartAt(seoulMorning)).toISOString()).toBe('2026-12-02T08:00:00.000Z'); // 09:00 in Berlin
    expect(state.progress()).toMatchObject({ chunksStarted: 2, pendingTimeZones: ['America/New_York', 'Europe/Berlin'] });
    expect(startAll(state, at('2026-12-02T07:59:59Z'))).toEqual([]);
    expect(startAll(state, at('2026-12-02T08:00:00Z'))).toEqual([3]);
    expect(new Date(state.nextStartAt(at('2026-12-02T08:00:00Z'))).toISOString()).toBe('2026-12-02T14:00:00.000Z'); // 09:00 in New York
    expect(startAll(state, at('2026-12-02T14:00:00Z'))).toEqual([0]);
    expect(state.progress().pendingTimeZones).toBeUndefined();
  });

  it('keeps chunk indexes the plan\'s (a restart adopts them by index) and carries chunks started out of order through continue-as-new', () => {
    const state = zonedCampaign();
    startAll(state, at('2026-12-02T01:00:00Z'));
    const carry = JSON.parse(JSON.stringify(state.carry()));
    expect(carry).toMatchObject({ nextChunk: 0, pendingIndexes: [0, 3] });
    const next = new CampaignState('spring', { carry, chunkSize: 10 });
    next.timing({ sendWindow: window });
    expect(startAll(next, at('2026-12-02T08:00:00Z'))).toEqual([3]);
    expect(next.progress().chunksStarted).toBe(3);
  });

  it('counts the recipients of never-started chunks of any zone when the deadline passes', () => {
    const state = zonedCampaign();
    startAll(state, at('2026-12-02T01:00:00Z'));
    state.deadlinePassed();
    expect(state.deadlineBeforeStart()).toBe(3 + 4);
    state.chunkFinished(1, counts({ delivered: 10 }));
    expect(state.allDone()).toBe(false);
    state.chunkFinished(2, counts({ delivered: 2 }));
    expect(state.allDone()).toBe(true);
    expect(state.counts()).toMatchObject({ delivered: 12, deadline: 7 });
  });

  it('opens each zone at 09:00 local across a daylight-saving change in one of them (Berlin springs forward, Seoul has none)', () => {
    const state = new CampaignState('spring');
    state.timing({ sendWindow: window });
    state.planned({ templateId: 'tpl_1', chunkSize: 10, isPoll: false, validTotal: 2, invalidRows: 0, issues: [], chunks: [zoned(0, 'Asia/Seoul'), zoned(1, 'Europe/Berlin')], sizes: [1, 1] });
    // Saturday 2026-03-28 18:00 CET; Berlin's clocks go forward that night.
    const saturdayEvening = at('2026-03-28T17:00:00Z');
    expect(new Date(state.nextStartAt(saturdayEvening)).toISOString()).toBe('2026-03-29T00:00:00.000Z'); // Seoul's Sunday 09:00
    expect(startAll(state, at('2026-03-29T00:00:00Z'))).toEqual([0]);
    // Berlin's Sunday 09:00 is CEST: 07:00Z, not the 08:00Z of the day before.
    expect(new Date(state.nextStartAt(at('2026-03-29T00:00:00Z'))).toISOString()).toBe('2026-03-29T07:00:00.000Z');
    expect(startAll(state, at('2026-03-29T06:59:59Z'))).toEqual([]);
    expect(startAll(state, at('2026-03-29T07:00:00Z'))).toEqual([1]);
  });

  it('shows operators the earliest waiting zone\'s opening in its own local time, and where the window is open', () => {
    const state = zonedCampaign();
    const now = at('2026-12-02T01:00:00Z');
    const waiting = timingText(state.progress(), now);
    expect(waiting).toBe('send window opens 09:00 Europe/Berlin (2026-12-02T08:00:00.000Z; 09:00–17:00 local, 1 more zones later); open in Asia/Seoul');
    startAll(state, now);
    expect(timingText(state.progress(), now)).toBe('send window opens 09:00 Europe/Berlin (2026-12-02T08:00:00.000Z; 09:00–17:00 local, 1 more zones later)');
  });
});
