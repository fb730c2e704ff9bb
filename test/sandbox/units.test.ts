// Unit tests of the sandbox's pure parts: outcome mix, token bucket, quota period, templates, durations.
import { describe, expect, it } from 'vitest';
import { TemplateComponentType as T } from '../../src/api/gen/ppoppo/external/v1/external';
import { sandboxOptionsFrom } from '../../dev/sandbox/cli-options';
import { sandboxArgs } from '../../dev/stack/start-stack';
import { nextMonthStart, RateMeter, TokenBucket } from '../../src/sandbox/limits';
import { DEFAULT_DECISION_SPREAD, DEFAULT_MIX, parseDurationMs, toMix, runtimeConfig } from '../../src/sandbox/options';
import { asksForConsent, decisionDelayMs, outcomeFor, TEST_NUMBERS, type Outcome } from '../../src/sandbox/outcomes';
import { placeholdersOf, renderMessage } from '../../src/sandbox/templates';

describe('outcomeFor', () => {
  it('scripts the test numbers and is deterministic for others', () => {
    for (const [ppnum, outcome] of Object.entries(TEST_NUMBERS)) expect(outcomeFor(ppnum, DEFAULT_MIX)).toBe(outcome);
    expect(outcomeFor('55512345678', DEFAULT_MIX)).toBe(outcomeFor('55512345678', DEFAULT_MIX));
  });

  it('by default asks every ppnum for consent, with the default weights', () => {
    const counts: Record<Outcome, number> = { deliver: 0, fail: 0, consent_grant: 0, consent_grant_fail: 0, consent_deny: 0, consent_expire: 0 };
    for (let i = 0; i < 20_000; i++) counts[outcomeFor(String(40000000000 + i * 7919), DEFAULT_MIX)]++;
    expect(counts.deliver + counts.fail).toBe(0);
    expect(counts.consent_grant / 20_000).toBeGreaterThan(0.65);
    expect(counts.consent_grant / 20_000).toBeLessThan(0.75);
    for (const outcome of ['consent_grant', 'consent_grant_fail', 'consent_deny', 'consent_expire'] as const) {
      expect(counts[outcome]).toBeGreaterThan(0);
      expect(asksForConsent(outcome)).toBe(true);
    }
    expect(outcomeFor('40000000001', toMix({ failed: 1 }))).toBe('fail');
    expect(asksForConsent('deliver') || asksForConsent('fail')).toBe(false);
  });

  it('a mix names the weights it wants: the others are 0, not the defaults', () => {
    expect(toMix({ delivered: 1 })).toEqual({ delivered: 1, consentGranted: 0, consentDenied: 0, failed: 0, consentExpired: 0, grantedThenFailed: 0 });
    expect(runtimeConfig({ outcomeMix: { consentDenied: 2 } }).outcomeMix.consentGranted).toBe(0);
    expect(runtimeConfig({}).outcomeMix).toEqual(DEFAULT_MIX);
  });

  it('follows the mix within every block of consecutive ppnums (a CSV numbered in order)', () => {
    const mix = toMix({ delivered: 60, consentGranted: 10, consentDenied: 8, failed: 7, consentExpired: 5, grantedThenFailed: 10 });
    const expected: Record<Outcome, number> = { deliver: 60, consent_grant: 10, consent_deny: 8, fail: 7, consent_expire: 5, consent_grant_fail: 10 };
    for (const start of [45_600_000_000, 45_700_000_007, 12_345_678_900]) {
      const counts: Record<Outcome, number> = { deliver: 0, fail: 0, consent_grant: 0, consent_grant_fail: 0, consent_deny: 0, consent_expire: 0 };
      for (let i = 0; i < 500; i++) counts[outcomeFor(String(start + i), mix)]++;
      for (const outcome of Object.keys(expected) as Outcome[]) expect(Math.abs(counts[outcome] / 5 - expected[outcome]), `${outcome} from ${start}`).toBeLessThan(5);
    }
  });
});

describe('decisionDelayMs', () => {
  const day = 86_400_000;
  const delays = (windowMs: number) => Array.from({ length: 10_000 }, (_, i) => decisionDelayMs(String(45_600_000_000 + i), windowMs, null, DEFAULT_DECISION_SPREAD)).sort((a, b) => a - b);

  it('spreads decisions over hours of a day: half within the median, none after the latest point', () => {
    const sorted = delays(day);
    const median = sorted[5_000]!;
    expect(median).toBeGreaterThan(1.8 * 3600_000);
    expect(median).toBeLessThan(2.2 * 3600_000);
    expect(sorted[0]!).toBeGreaterThanOrEqual(0);
    expect(sorted.at(-1)!).toBeLessThanOrEqual(0.95 * day);
    expect(sorted[9_900]!).toBeGreaterThan(12 * 3600_000); // a long tail: the last 1 % decide after half a day
  });

  it('scales with the window and is the same for a ppnum on every run', () => {
    const minute = delays(60_000);
    expect(minute[5_000]!).toBeGreaterThan(4_500);
    expect(minute[5_000]!).toBeLessThan(5_500);
    expect(decisionDelayMs('45600000123', day, null, DEFAULT_DECISION_SPREAD)).toBe(decisionDelayMs('45600000123', day, null, DEFAULT_DECISION_SPREAD));
  });

  it('a fixed delay overrides the spread, capped at half the window', () => {
    expect(decisionDelayMs('45600000123', 10_000, 200, DEFAULT_DECISION_SPREAD)).toBe(200);
    expect(decisionDelayMs('45600000123', 10_000, 9_000, DEFAULT_DECISION_SPREAD)).toBe(5_000);
  });
});

describe('TokenBucket', () => {
  it('allows the burst, then tells how long until the next token', () => {
    const bucket = new TokenBucket({ requestsPerSecond: 4, burst: 2 }, 0);
    expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(250);
    expect(bucket.take(100)).toBe(150);
    expect(bucket.take(250)).toBe(0);
  });
});

describe('RateMeter', () => {
  it('reports the most events in any sliding 1 s window', () => {
    const meter = new RateMeter();
    for (const t of [0, 100, 900, 1050, 1100, 1899, 2950]) meter.mark(t);
    expect(meter.maxInAnySecond).toBe(4); // 1050..1899 with 900
  });
});

describe('nextMonthStart', () => {
  it('is the first of the next month, UTC, also across a year end', () => {
    expect(nextMonthStart(Date.UTC(2025, 11, 31, 23, 59))).toBe(Date.UTC(2026, 0, 1));
    expect(nextMonthStart(Date.UTC(2026, 1, 1))).toBe(Date.UTC(2026, 2, 1));
  });
});

describe('templates', () => {
  it('finds placeholders everywhere and renders them per recipient', () => {
    const components = [
      { componentType: T.TEMPLATE_COMPONENT_TYPE_TEXT, content: 'Hi {{ name }}, {{code}}', options: [] },
      { componentType: T.TEMPLATE_COMPONENT_TYPE_BUTTON, label: 'Open', url: 'https://x.test/{{id}}', options: [] },
    ];
    expect(placeholdersOf(components)).toEqual(['name', 'code', 'id']);
    expect(renderMessage(components, { name: 'Ann', code: '7', id: 'a1' })).toBe('Hi Ann, 7\n[Open](https://x.test/a1)');
  });
});

describe('npm run sandbox flags', () => {
  it('leave the limits and the mix at their defaults unless told, and "off" turns a limit off', () => {
    const plain = runtimeConfig(sandboxOptionsFrom([], {}));
    expect(plain).toMatchObject({ rateLimit: { requestsPerSecond: 10, burst: 10 }, monthlyQuota: 1_000_000, outcomeMix: DEFAULT_MIX, consentDecisionDelayMs: null });
    const off = runtimeConfig(sandboxOptionsFrom(['--rate-limit-rps', 'off', '--monthly-quota', 'off'], {}));
    expect(off).toMatchObject({ rateLimit: null, monthlyQuota: null });
    expect(runtimeConfig(sandboxOptionsFrom([], { SANDBOX_MONTHLY_QUOTA: 'off' })).monthlyQuota).toBeNull();
  });

  it('take the flags a stack passes, even a random inspect token that starts with a dash', () => {
    const options = sandboxOptionsFrom(sandboxArgs({ 'grpc-port': '4321', 'inspect-token': '-Xb9_token' }), {});
    expect(options).toMatchObject({ grpcPort: 4321, inspectToken: '-Xb9_token' });
  });

  it('read a mix of five or six weights and a decision spread, naming the flag when one is wrong', () => {
    expect(sandboxOptionsFrom(['--outcome-mix', '100/0/0/0/0'], {}).outcomeMix).toEqual(toMix({ delivered: 100 }));
    expect(sandboxOptionsFrom(['--outcome-mix', '0/60/20/0/10/10'], {}).outcomeMix).toEqual(toMix({ consentGranted: 60, consentDenied: 20, consentExpired: 10, grantedThenFailed: 10 }));
    expect(sandboxOptionsFrom(['--consent-decision-spread', '0.1/0.9'], {}).consentDecisionSpread).toEqual({ median: 0.1, latest: 0.9 });
    expect(() => sandboxOptionsFrom(['--outcome-mix', '1/2'], {})).toThrow(/--outcome-mix/);
    expect(() => sandboxOptionsFrom(['--rate-limit-rps', 'fast'], {})).toThrow(/--rate-limit-rps/);
    expect(() => runtimeConfig(sandboxOptionsFrom(['--consent-decision-spread', '0.9/0.5'], {}))).toThrow(/median < latest/);
  });
});

describe('parseDurationMs', () => {
  it('reads the units people write', () => {
    expect(parseDurationMs('24h')).toBe(86_400_000);
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('1500')).toBe(1500);
    expect(() => parseDurationMs('soon')).toThrow(/duration/);
  });
});
