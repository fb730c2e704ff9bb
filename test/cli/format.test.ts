// The CLI's texts without a server: the progress line (three counts, no ETA while nothing moves,
// never wider than the terminal) and the status report's reasons.
import { describe, expect, it } from 'vitest';
import { emptyConsent } from '../../src/campaign/consent';
import { emptyCounts } from '../../src/campaign/outcomes';
import type { CampaignProgress } from '../../src/contracts/campaign';
import { formatRepair, formatStatus, progressLine } from '../../src/cli/format';

const progress: CampaignProgress = {
  campaignId: 'spring',
  status: 'running',
  total: 4_000,
  chunksTotal: 4,
  chunksStarted: 3,
  chunksSent: 2,
  chunksFinished: 1,
  counts: { ...emptyCounts(), delivered: 1_150, failed: 50 },
  inFlight: 1,
  awaitingOutcome: 800,
  issues: [],
  consent: emptyConsent(),
};

describe('progressLine', () => {
  it('shows final, sent-and-awaiting and queued recipients separately, in the bar and in words', () => {
    const line = progressLine(progress, { etaMs: 65_000 });
    expect(line).toBe('[#########======...............] 1,200 final · 800 sent, awaiting consent · 2,000 queued of 4,000 | running | delivered 1,150, failed 50 | chunks 2/4 sent | ETA 1m05s');
  });

  it('gives no ETA while nothing moves forward', () => {
    for (const status of ['paused', 'parked', 'validating'] as const) expect(progressLine({ ...progress, status }, { etaMs: 65_000 })).not.toContain('ETA');
  });

  it('never wraps: fits the terminal width', () => {
    for (const width of [40, 80, 120]) {
      const line = progressLine({ ...progress, status: 'parked', parkedReason: 'credentials', parkedSince: '2026-12-01T09:00:00.000Z' }, { width });
      expect(line.length).toBeLessThan(width);
    }
  });

  it('says why it is parked, and the retry in progress', () => {
    const line = progressLine(
      { ...progress, status: 'parked', parkedReason: 'quota', parkedUntil: '2026-12-01T10:00:00.000Z' },
      { retrying: { where: 'chunk 3', activity: 'snapshotOutcomes', attempt: 4, lastFailure: 'UNAVAILABLE: try later' } },
    );
    expect(line).toContain('parked until 2026-12-01T10:00:00.000Z: monthly quota');
    expect(line).toContain('chunk 3: snapshotOutcomes attempt 4, last failure: UNAVAILABLE: try later');
  });

  it('says how many other campaigns share the app limit, when any do', () => {
    expect(progressLine(progress, { sharingWith: ['autumn', 'winter'] })).toContain('| running | sharing the app limit with 2 campaigns |');
    expect(progressLine(progress, { sharingWith: ['autumn'] })).toContain('sharing the app limit with 1 campaign |');
    expect(progressLine(progress, { sharingWith: [] })).not.toContain('sharing');
  });
});

describe('formatStatus', () => {
  it('gives every reason a line: parked why, retries, follow-ups', () => {
    const text = formatStatus({
      progress: { ...progress, status: 'parked', parkedReason: 'credentials', parkedSince: '2026-12-01T09:00:00.000Z', parkedMessage: 'oauth/token: UNAUTHENTICATED: invalid_client (HTTP 401)', parkedChunks: 1 },
      workflowStatus: 'RUNNING',
      retries: [{ where: 'campaign', activity: 'planRecipients', attempt: 3, lastFailure: 'EMFILE' }],
      followUps: [{ outcome: 'failed', campaignId: 'spring.retry-failed', status: 'completed' }],
    });
    expect(text.split('\n')).toEqual(
      expect.arrayContaining([
        'campaign spring: parked',
        '  parked since 2026-12-01T09:00:00.000Z: API credentials refused (1 chunk(s) holding)',
        '  reason: oauth/token: UNAUTHENTICATED: invalid_client (HTTP 401)',
        "  nobody's outcome changes meanwhile; it tries again by itself (`campaign resume spring` tries now)",
        'retrying:',
        '  campaign: planRecipients attempt 3, last failure: EMFILE',
        'follow-ups: spring.retry-failed (failed, completed)',
      ]),
    );
  });

  it('names the campaigns sharing the app limit', () => {
    const text = formatStatus({ progress, workflowStatus: 'RUNNING', retries: [], followUps: [], sharingWith: ['autumn', 'winter'] });
    expect(text.split('\n')).toContain('  sharing the app limit with 2 campaigns (autumn, winter): the send rate is split among them by weight');
    expect(formatStatus({ progress, workflowStatus: 'RUNNING', retries: [], followUps: [] })).not.toContain('sharing');
  });

  it('names a workflow task that keeps failing, and the command for a nondeterminism error', () => {
    const text = formatStatus({
      progress,
      workflowStatus: 'RUNNING',
      retries: [],
      followUps: [],
      workflowTask: { attempt: 2, cause: 'timed out' },
      chunkWorkflowTasks: [{ chunkIndex: 3, attempt: 5, cause: 'nondeterminism', message: '[TMPRL1100] Nondeterminism error: No command scheduled for event HistoryEvent(id: 35, TimerStarted)' }],
    });
    expect(text.split('\n')).toEqual(
      expect.arrayContaining([
        'workflow task: attempt 2 (timed out)',
        'chunk 3 workflow task: attempt 5 (nondeterminism: [TMPRL1100] Nondeterminism error: No command scheduled for event HistoryEvent(id: 35, TimerStarted)); `campaign repair spring` resets it to where it diverged',
      ]),
    );
  });

  it('says why a failed campaign failed', () => {
    expect(formatStatus({ progress: { ...progress, status: 'failed' }, workflowStatus: 'FAILED', failure: ['a template named "x" already exists'], retries: [], followUps: [] })).toContain('failed: a template named "x" already exists');
  });
});

describe('formatRepair', () => {
  const failing = { attempt: 4, cause: 'nondeterminism', message: '[TMPRL1100] Nondeterminism error: No command scheduled for event HistoryEvent(id: 890, StartChildWorkflowExecutionInitiated)' };
  it('says there is nothing to repair', () => {
    expect(formatRepair({ campaignId: 'spring', checked: 5, findings: [] })).toBe('campaign spring: nothing to repair (5 workflow(s) checked, no workflow task failing)');
  });

  it('gives each workflow its cause, where it diverged, and what was done', () => {
    const text = formatRepair({
      campaignId: 'spring',
      checked: 3,
      findings: [
        {
          where: 'campaign',
          workflowId: 'campaign/spring',
          runId: 'r1',
          failing,
          divergence: { startedEventId: 885, completedEventId: 886, bundleHash: 'ab'.repeat(32), sameCode: true, message: failing.message },
          action: 'reset',
          reason: 'reset to workflow task 886: recorded by this very build',
          newRunId: 'r2',
        },
        { where: 'chunk 7', workflowId: 'campaign/spring/chunk/000007', runId: 'r3', failing: { attempt: 3, cause: 'workflow worker unhandled failure', message: 'boom' }, action: 'left', reason: 'not a nondeterminism error' },
      ],
    });
    expect(text.split('\n')).toEqual([
      'campaign spring: 2 of 3 workflow(s) with a failing workflow task',
      '  campaign (campaign/spring): nondeterminism, attempt 4',
      `    diverged at workflow task 886: ${failing.message}`,
      '    reset: reset to workflow task 886: recorded by this very build',
      '    new run r2: the signals after that task were applied to it again',
      '  chunk 7 (campaign/spring/chunk/000007): workflow worker unhandled failure, attempt 3',
      '    left as is: not a nondeterminism error',
    ]);
  });
});
