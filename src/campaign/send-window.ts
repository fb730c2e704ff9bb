// Send windows: the local hours (and weekdays) in which a campaign may send, in an IANA time zone.
// Local wall time comes from Intl (the tz database of the worker's Node), so daylight-saving
// changes are the zone's own: a window from 09:00 opens at 09:00 local on either side of one.
// PURE: workflow code imports this module.

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface SendWindow {
  /** Local days the window opens on (default every day). */
  days?: Weekday[];
  /** Local "HH:MM" or "HH:MM:SS"; `until` after `from` (a window does not span midnight). */
  from: string;
  until: string;
  /** IANA time zone, e.g. "Asia/Seoul". */
  timeZone: string;
}

/** Whether the window is open at a moment, and when that changes (epoch ms). */
export interface WindowState {
  open: boolean;
  changesAt: number;
}

const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

/** Seconds after local midnight of "HH:MM[:SS]", or undefined if malformed. */
export function clockSeconds(text: unknown): number | undefined {
  const match = typeof text === 'string' ? CLOCK.exec(text) : null;
  return match ? Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3] ?? 0) : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, format);
  }
  return format;
}

export function isTimeZone(name: unknown): boolean {
  if (typeof name !== 'string' || name === '') return false;
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** The local wall clock at `ms`, as if it were UTC (epoch ms), to do day arithmetic with Date.UTC. */
function wallClock(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

/**
 * The instant a local wall time (as UTC ms) happens in the zone: two passes over the zone's offset.
 * A wall time that does not exist (skipped by a spring-forward change: 02:30 when 02:00 jumps to
 * 03:00) moves forward by the gap (03:30), as Temporal's and java.time's "compatible" rule does; a
 * wall time that happens twice (fall back) is taken once.
 */
function instantOf(wall: number, timeZone: string): number {
  const first = wall - (wallClock(wall, timeZone) - wall);
  const instant = wall - (wallClock(first, timeZone) - first);
  const shown = wallClock(instant, timeZone);
  return shown < wall ? instant + (wall - shown) : instant;
}

/** "HH:MM", the local time at `ms` in the zone (for operators: "opens 09:00 Asia/Seoul"). */
export function localTime(ms: number, timeZone: string): string {
  return new Date(wallClock(ms, timeZone)).toISOString().slice(11, 16);
}

const DAY_MS = 86_400_000;

/** Whether `window` is open at `now`, and the next moment that changes. */
export function windowAt(window: SendWindow, now: number): WindowState {
  const from = clockSeconds(window.from)! * 1000;
  const until = clockSeconds(window.until)! * 1000;
  const days = window.days && window.days.length > 0 ? window.days : WEEKDAYS;
  const wall = wallClock(now, window.timeZone);
  const midnight = wall - (wall % DAY_MS);
  for (let offset = 0; offset <= 7; offset++) {
    const day = midnight + offset * DAY_MS;
    if (!days.includes(WEEKDAYS[new Date(day).getUTCDay()]!)) continue;
    const opens = instantOf(day + from, window.timeZone);
    const closes = instantOf(day + until, window.timeZone);
    if (now < opens) return { open: false, changesAt: opens };
    if (now < closes) return { open: true, changesAt: closes };
  }
  throw new Error('a send window must open on at least one day');
}

/** Problems of a spec's sendWindow, each with its path. */
export function checkSendWindow(value: unknown, issue: (path: string, message: string) => void): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return issue('sendWindow', 'sendWindow must be { "days": ["mon", …], "from": "09:00", "until": "20:00", "timeZone": "Asia/Seoul" }');
  const window = value as Record<string, unknown>;
  for (const key of Object.keys(window)) if (!['days', 'from', 'until', 'timeZone'].includes(key)) issue(`sendWindow.${key}`, `unknown field "${key}"; expected one of days, from, until, timeZone`);
  const from = clockSeconds(window.from);
  const until = clockSeconds(window.until);
  if (from === undefined) issue('sendWindow.from', `from must be a local time "HH:MM" (got ${JSON.stringify(window.from)})`);
  if (until === undefined) issue('sendWindow.until', `until must be a local time "HH:MM" (got ${JSON.stringify(window.until)})`);
  if (from !== undefined && until !== undefined && until <= from) issue('sendWindow.until', `until (${String(window.until)}) must be after from (${String(window.from)}): a window does not span midnight`);
  if (!isTimeZone(window.timeZone)) issue('sendWindow.timeZone', `timeZone must be an IANA time zone like "Asia/Seoul" (got ${JSON.stringify(window.timeZone)})`);
  if (window.days !== undefined) {
    if (!Array.isArray(window.days) || window.days.length === 0) issue('sendWindow.days', `days must be a non-empty list of ${WEEKDAYS.join(', ')}`);
    else window.days.forEach((day, i) => WEEKDAYS.includes(day as Weekday) || issue(`sendWindow.days[${i}]`, `unknown day ${JSON.stringify(day)}; use ${WEEKDAYS.join(', ')}`));
  }
}
