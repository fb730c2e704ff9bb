// The Web UI texts: Markdown the UI renders as tables, with no "a/b" between numbers (the UI
// shows 1/2 as a fraction glyph) and nothing about a recipient but counts.
import { describe, expect, it } from 'vitest';
import { emptyConsent } from '../../src/campaign/consent';
import { emptyCounts } from '../../src/campaign/outcomes';
import type { CampaignProgress } from '../../src/contracts/campaign';
import { campaignDetails, chunkSummary } from '../../workflows/campaign/details';
import { chunkDetails } from '../../workflows/chunk/details';

const progress: CampaignProgress = {
  campaignId: 'spring',
  status: 'parked',
  parkedUntil: '2026-12-01T10:00:00.000Z',
  parkedReason: 'quota',
  total: 12_000,
  chunksTotal: 12,
  chunksStarted: 4,
  chunksSent: 3,
  chunksFinished: 1,
  counts: { ...emptyCounts(), delivered: 1_150, failed: 50, fallbackSent: 12 },
  inFlight: 1,
  awaitingOutcome: 2_000,
  issues: [],
  consent: emptyConsent(),
};

describe('campaign details', () => {
  const text = campaignDetails(progress);

  it('heads with the status, why it waits, and how much is done', () => {
    expect(text.split('\n')[0]).toBe('**parked** until 2026-12-01T10:00:00.000Z (monthly quota) · 1,200 of 12,000 recipients done');
  });

  it('tables the counts per outcome and the chunk phases', () => {
    expect(text).toContain('| recipients | count |\n|:--|--:|\n| awaiting outcome | 2,000 |\n| delivered | 1,150 |\n| failed | 50 |\n| fallback sent | 12 |');
    expect(text).toContain('| planned | 12 |\n| started | 4 |\n| sent | 3 |\n| finished | 1 |');
    expect(text).not.toMatch(/\d\/\d/);
  });

  it('says which configuration fault a parked campaign waits for, since when, and that it tries again', () => {
    const parked = campaignDetails({ ...progress, parkedReason: 'credentials', parkedSince: '2026-12-01T09:00:00.000Z', parkedMessage: 'oauth/token: UNAUTHENTICATED: invalid_client (HTTP 401)' });
    expect(parked.split('\n')[0]).toBe('**parked** since 2026-12-01T09:00:00.000Z (API credentials refused) · 1,200 of 12,000 recipients done');
    expect(parked).toContain('Waiting for: oauth/token: UNAUTHENTICATED: invalid_client (HTTP 401).');
  });

  it('says why a failed campaign failed, and what a follow-up retries', () => {
    const failed = campaignDetails({ ...progress, status: 'failed', failure: 'no recipient was delivered or reached by a fallback (failed 500)', retryOf: { campaignId: 'spring', outcome: 'failed' } });
    expect(failed).toContain('Failed: no recipient was delivered or reached by a fallback (failed 500)');
    expect(failed).toContain('Retries the failed recipients of campaign spring.');
  });

  it('omits the tables while nothing is planned or counted', () => {
    expect(campaignDetails({ ...progress, status: 'validating', total: 0, chunksTotal: 0, awaitingOutcome: 0, counts: emptyCounts() })).toBe('**validating** · 0 of 0 recipients done');
  });

  it('summarises a chunk by campaign, position and source only', () => {
    expect(chunkSummary('spring', 0, 12, 'file')).toBe('campaign spring · chunk 1 of 12 · file recipients');
  });
});

describe('chunk details', () => {
  it('shows the configuration fault holding a chunk', () => {
    const blocked = { reason: 'unreachable' as const, codeName: 'UNAVAILABLE', message: 'No connection established', since: '2026-12-01T00:00:00.000Z', retryAt: '2026-12-01T00:00:04.000Z' };
    const text = chunkDetails({ chunkIndex: 3, phase: 'blocked', recipients: 2, states: { queued: 2 }, counts: emptyCounts(), sendAttempts: 3, blocked, paused: false, cancelled: false, consent: emptyConsent(), run: 1 });
    expect(text).toContain('held since 2026-12-01T00:00:00.000Z: API unreachable (No connection established); next try at 2026-12-01T00:00:04.000Z');
  });

  it('shows the phase, the send request and recipients per state', () => {
    const text = chunkDetails({ chunkIndex: 3, phase: 'waiting_retry', recipients: 1000, states: { queued: 1000 }, counts: emptyCounts(), sendAttempts: 2, retryAt: '2026-12-01T00:00:02.000Z', paused: false, cancelled: false, consent: emptyConsent(), run: 1 });
    expect(text).toBe('**chunk 3 · waiting retry**\n\nnext attempt at 2026-12-01T00:00:02.000Z · 2 send attempts\n\n| state | recipients |\n|:--|--:|\n| queued | 1,000 |');
  });

  it('shows the planned recipients of a list read only at the send, with no empty state table', () => {
    const text = chunkDetails({ chunkIndex: 3, phase: 'paused', recipients: 1000, unread: true, states: {}, counts: emptyCounts(), sendAttempts: 0, paused: true, cancelled: false, consent: emptyConsent(), run: 1 });
    expect(text).toBe('**chunk 3 · paused**\n\npaused · 1,000 recipients, read at the send');
  });

  it('adds the run after a continue-as-new, and the consent figures once there are any', () => {
    const consent = { ...emptyConsent(), asked: 1000, granted: 600, denied: 100, expired: 0 };
    consent.decisionHistogram[20] = 700; // ≤ 100 ms × 1.5^20 ≈ 5.5 min, shown rounded
    const text = chunkDetails({ chunkIndex: 3, phase: 'sent', sendRequestId: 'sr_1', recipients: 1000, states: { granted: 600, denied: 100, pending_consent: 300 }, counts: emptyCounts(), sendAttempts: 1, paused: false, cancelled: false, consent, run: 3 });
    expect(text).toContain('run 3');
    expect(text).toContain('consent: asked 1,000 · granted 600 · denied 100 · expired 0 · waiting 300 · time to decision p50 ≤ 6m, p90 ≤ 6m, p99 ≤ 6m');
    expect(text).not.toMatch(/\d\/\d/);
  });
});
