// The budget read from the API (GetUsageStats), as pure decisions: the fleet's send rate, whether a
// campaign fits the monthly quota, and the consent figures' histogram and words.
import { describe, expect, it } from 'vitest';
import type { UsageStats } from '../../src/api/types';
import { DEFAULT_DISPATCH_SHARE, SendRateSettingError, SendRateTooHighError, dispatchRate, quotaCheck, sendRateFor, usageLine } from '../../src/campaign/budget';
import { DECISION_BUCKETS_MS, addConsent, consentLine, countConsent, decisionPercentiles, emptyConsent, waitingForConsent } from '../../src/campaign/consent';

const usage = (over: Partial<UsageStats> = {}): UsageStats => ({
  appId: 'app_x',
  tier: 'PRO',
  monthlyMessageLimit: 1_000_000,
  currentMonthUsage: 997_000,
  remainingQuota: 3_000,
  usageResetAt: '2027-01-01T00:00:00.000Z',
  rateLimitPerMin: 600,
  ...over,
});

describe('sendRateFor', () => {
  it("defaults to the app's own limit, and lets an explicit setting lower it", () => {
    expect(sendRateFor(usage(), undefined)).toMatchObject({ perSecond: 10, text: "10 requests/s, the app's own limit (rate_limit_per_min 600)" });
    expect(sendRateFor(usage(), 4).perSecond).toBe(4);
    expect(sendRateFor(usage({ rateLimitPerMin: 90 }), undefined).perSecond).toBe(1.5);
  });

  it('refuses an explicit rate above the app’s limit, saying what to set', () => {
    expect(() => sendRateFor(usage(), 11)).toThrow(SendRateTooHighError);
    expect(() => sendRateFor(usage(), 11)).toThrow(/SEND_RATE_PER_SECOND=11 is above the app's own limit of 10 requests\/s .* Set it to 10 or less/);
  });

  it('without a limit from the API: the explicit setting, or none, and says why', () => {
    expect(sendRateFor(undefined, 3, 'UNAVAILABLE')).toMatchObject({ perSecond: 3, text: "3 requests/s (SEND_RATE_PER_SECOND; could not read the app's rate limit (UNAVAILABLE))" });
    expect(sendRateFor(usage({ rateLimitPerMin: 0 }), undefined).perSecond).toBeUndefined();
    expect(sendRateFor(usage({ rateLimitPerMin: 0 }), undefined).text).toContain('the API reports no rate limit');
  });
});

describe('dispatchRate', () => {
  it('dispatches the send queue under the fleet rate by the given share (0.8 by default), unlimited stays unlimited', () => {
    expect(DEFAULT_DISPATCH_SHARE).toBe(0.8);
    expect(dispatchRate(sendRateFor(usage(), undefined))).toBe(8);
    expect(dispatchRate(sendRateFor(usage(), 2), 0.5)).toBe(1);
    expect(dispatchRate(sendRateFor(usage(), 2), 1)).toBe(2);
    expect(dispatchRate(sendRateFor(usage({ rateLimitPerMin: 0 }), undefined))).toBeUndefined();
  });

  it('refuses a share outside (0, 1] naming SEND_RATE_SHARE', () => {
    for (const share of [0, -0.5, 1.2, Number.NaN]) {
      expect(() => dispatchRate({ perSecond: 2, text: '' }, share)).toThrow(SendRateSettingError);
      expect(() => dispatchRate({ perSecond: 2, text: '' }, share)).toThrow(/SEND_RATE_SHARE must be above 0 and at most 1/);
    }
  });
});

describe('quotaCheck and usageLine', () => {
  it('says whether the campaign fits what is left this month, and when the month resets', () => {
    expect(quotaCheck(usage(), 2_000)).toMatchObject({ fits: true, needed: 2_000, remaining: 3_000, text: 'the campaign needs 2,000 messages; 3,000 of 1,000,000 left this month (resets 2027-01-01T00:00:00.000Z)' });
    const tooBig = quotaCheck(usage(), 5_000);
    expect(tooBig.fits).toBe(false);
    expect(tooBig.text).toContain('it will send what fits, then park at the quota until it resets');
    expect(quotaCheck(usage({ monthlyMessageLimit: undefined, remainingQuota: undefined }), 1)).toMatchObject({ fits: true, text: 'the campaign needs 1 message; the API reports no monthly quota for the app' });
  });

  it('shows quota use in one line', () => {
    expect(usageLine(usage())).toBe('quota: 997,000 of 1,000,000 messages used this month, 3,000 left, resets 2027-01-01T00:00:00.000Z; rate limit 600/min');
  });
});

describe('consent figures', () => {
  it('count each state once and put decision times in fixed buckets that merge by addition', () => {
    const a = emptyConsent();
    countConsent(a, 'granted', 50); // ≤ 100 ms
    countConsent(a, 'denied', 3_600_000);
    countConsent(a, 'asked');
    countConsent(a, 'already-consented');
    countConsent(a, undefined);
    expect(a).toMatchObject({ asked: 3, granted: 1, denied: 1, expired: 0, alreadyConsented: 1 });
    expect(waitingForConsent(a)).toBe(1);
    const b = emptyConsent();
    countConsent(b, 'expired');
    countConsent(b, 'granted', 3_500_000);
    const total = addConsent(addConsent(emptyConsent(), a), b);
    expect(total).toMatchObject({ asked: 5, granted: 2, denied: 1, expired: 1 });
    expect(total.decisionHistogram.reduce((x, y) => x + y, 0)).toBe(3);
    expect(total.decisionHistogram).toHaveLength(DECISION_BUCKETS_MS.length + 1);
  });

  it('reads percentiles as the upper bound of the bucket that holds them', () => {
    const stats = emptyConsent();
    for (let i = 0; i < 98; i++) countConsent(stats, 'granted', 60_000);
    countConsent(stats, 'granted', 7_200_000);
    countConsent(stats, 'denied', 7_200_000);
    const p = decisionPercentiles(stats.decisionHistogram);
    expect(p.decisions).toBe(100);
    expect(p.p50!).toBeGreaterThanOrEqual(60_000);
    expect(p.p50!).toBeLessThan(90_000);
    expect(p.p99!).toBeGreaterThanOrEqual(7_200_000);
    expect(p.p99!).toBeLessThan(1.5 * 7_200_000);
    expect(decisionPercentiles(emptyConsent().decisionHistogram)).toEqual({ decisions: 0, p50: null, p90: null, p99: null });
    expect(consentLine(stats)).toBe('asked 100 · granted 99 · denied 1 · expired 0 · time to decision p50 ≤ 1m, p90 ≤ 1m, p99 ≤ 2.4h');
    expect(consentLine(emptyConsent())).toBe('');
  });
});
