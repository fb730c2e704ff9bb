// Send windows without a server: local hours in a zone, weekdays, and daylight-saving changes.
import { describe, expect, it } from 'vitest';
import { checkSendWindow, localTime, windowAt } from '../../src/campaign/send-window';
import type { SendWindow } from '../../src/campaign/send-window';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('windowAt', () => {
  const seoul: SendWindow = { from: '09:00', until: '20:00', timeZone: 'Asia/Seoul' };

  it('is open inside the local hours and says when it closes; closed outside, saying when it opens', () => {
    expect(windowAt(seoul, at('2026-12-01T01:00:00Z'))).toEqual({ open: true, changesAt: at('2026-12-01T11:00:00Z') }); // 10:00 in Seoul
    expect(windowAt(seoul, at('2026-12-01T11:00:00Z'))).toEqual({ open: false, changesAt: at('2026-12-01T24:00:00Z') }); // 20:00 → tomorrow 09:00
    expect(windowAt(seoul, at('2026-11-30T23:59:59Z'))).toEqual({ open: false, changesAt: at('2026-12-01T00:00:00Z') });
  });

  it('skips days not listed (Friday evening → Monday 09:00)', () => {
    const weekdays: SendWindow = { ...seoul, days: ['mon', 'tue', 'wed', 'thu', 'fri'] };
    // Friday 2026-12-04 21:00 in Seoul.
    expect(iso(windowAt(weekdays, at('2026-12-04T12:00:00Z')).changesAt)).toBe('2026-12-07T00:00:00.000Z');
  });

  it('opens at 09:00 local on both sides of a daylight-saving change (Europe/Berlin, spring and autumn)', () => {
    const berlin: SendWindow = { from: '09:00', until: '17:00', timeZone: 'Europe/Berlin' };
    // Saturday 2026-03-28 18:00 CET; clocks go forward on Sunday 29 March: Sunday 09:00 is 07:00Z (CEST).
    expect(iso(windowAt(berlin, at('2026-03-28T17:00:00Z')).changesAt)).toBe('2026-03-29T07:00:00.000Z');
    // Saturday 2026-10-24 18:00 CEST; clocks go back on Sunday 25 October: Sunday 09:00 is 08:00Z (CET).
    expect(iso(windowAt(berlin, at('2026-10-24T16:00:00Z')).changesAt)).toBe('2026-10-25T08:00:00.000Z');
    expect(windowAt(berlin, at('2026-10-25T15:59:00Z'))).toEqual({ open: true, changesAt: at('2026-10-25T16:00:00Z') });
  });

  it('a window edge in the skipped hour of a spring-forward change opens just after the gap (New York, 02:30)', () => {
    const night: SendWindow = { from: '02:30', until: '05:00', timeZone: 'America/New_York' };
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist, the window opens at 03:30 EDT = 07:30Z.
    expect(iso(windowAt(night, at('2026-03-08T05:00:00Z')).changesAt)).toBe('2026-03-08T07:30:00.000Z');
  });
});

describe('localTime (what operators read: "opens 09:00 America/New_York")', () => {
  it('shows the zone\'s wall clock on either side of a fall-back change, and a window opening the morning after it', () => {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    expect(localTime(at('2026-11-01T05:30:00Z'), 'America/New_York')).toBe('01:30');
    expect(localTime(at('2026-11-01T06:30:00Z'), 'America/New_York')).toBe('01:30');
    const opens = windowAt({ from: '09:00', until: '17:00', timeZone: 'America/New_York' }, at('2026-11-01T05:30:00Z')).changesAt;
    expect([iso(opens), localTime(opens, 'America/New_York')]).toEqual(['2026-11-01T14:00:00.000Z', '09:00']); // EST: 09:00 is 14:00Z, not 13:00Z
  });
});

describe('checkSendWindow', () => {
  it('names each bad field', () => {
    const issues: string[] = [];
    checkSendWindow({ from: '9am', until: '25:00', timeZone: 'Seoul', days: ['monday'], quiet: true }, (path) => issues.push(path));
    expect(issues).toEqual(['sendWindow.quiet', 'sendWindow.from', 'sendWindow.until', 'sendWindow.timeZone', 'sendWindow.days[0]']);
    const order: string[] = [];
    checkSendWindow({ from: '20:00', until: '09:00', timeZone: 'Asia/Seoul' }, (path, message) => order.push(`${path}: ${message}`));
    expect(order).toEqual(['sendWindow.until: until (09:00) must be after from (20:00): a window does not span midnight']);
  });
});
