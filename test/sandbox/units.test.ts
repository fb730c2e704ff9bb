// Unit tests of the sandbox's pure parts: outcome mix, token bucket, quota period, templates, durations.
import { describe, expect, it } from 'vitest';
import { TemplateComponentType as T } from '../../src/api/gen/ppoppo/external/v1/external';
import { nextMonthStart, RateMeter, TokenBucket } from '../../src/sandbox/limits';
import { DEFAULT_MIX, parseDurationMs } from '../../src/sandbox/options';
import { outcomeFor, TEST_NUMBERS, type Outcome } from '../../src/sandbox/outcomes';
import { placeholdersOf, renderMessage } from '../../src/sandbox/templates';

describe('outcomeFor', () => {
  it('scripts the test numbers and is deterministic for others', () => {
    for (const [ppnum, outcome] of Object.entries(TEST_NUMBERS)) expect(outcomeFor(ppnum, DEFAULT_MIX)).toBe(outcome);
    expect(outcomeFor('55512345678', DEFAULT_MIX)).toBe(outcomeFor('55512345678', DEFAULT_MIX));
  });

  it('follows the mix weights over many ppnums', () => {
    const counts: Record<Outcome, number> = { deliver: 0, fail: 0, consent_grant: 0, consent_deny: 0, consent_expire: 0 };
    for (let i = 0; i < 20_000; i++) counts[outcomeFor(String(40000000000 + i * 7919), DEFAULT_MIX)]++;
    expect(counts.deliver / 20_000).toBeGreaterThan(0.75);
    expect(counts.deliver / 20_000).toBeLessThan(0.85);
    for (const n of Object.values(counts)) expect(n).toBeGreaterThan(0);
    expect(outcomeFor('40000000001', { delivered: 0, consentGranted: 0, consentDenied: 0, failed: 1, consentExpired: 0 })).toBe('fail');
  });

  it('follows the mix within every block of consecutive ppnums (a CSV numbered in order)', () => {
    const mix = { delivered: 70, consentGranted: 10, consentDenied: 8, failed: 7, consentExpired: 5 };
    const expected: Record<Outcome, number> = { deliver: 70, consent_grant: 10, consent_deny: 8, fail: 7, consent_expire: 5 };
    for (const start of [45_600_000_000, 45_700_000_007, 12_345_678_900]) {
      const counts: Record<Outcome, number> = { deliver: 0, fail: 0, consent_grant: 0, consent_deny: 0, consent_expire: 0 };
      for (let i = 0; i < 500; i++) counts[outcomeFor(String(start + i), mix)]++;
      for (const outcome of Object.keys(expected) as Outcome[]) expect(Math.abs(counts[outcome] / 5 - expected[outcome]), `${outcome} from ${start}`).toBeLessThan(5);
    }
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

describe('parseDurationMs', () => {
  it('reads the units people write', () => {
    expect(parseDurationMs('24h')).toBe(86_400_000);
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('1500')).toBe(1500);
    expect(() => parseDurationMs('soon')).toThrow(/duration/);
  });
});
