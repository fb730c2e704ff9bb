// Fixed-offset IANA zones for send-window tests: a window of a few seconds placed where the local
// clock is now, without depending on any zone's daylight-saving rules.

/** The zone `offset` hours east of UTC (Etc/GMT-9 is UTC+9; the Etc names' sign is inverted), and local "HH:MM:SS" of a moment there. */
export function fixedZone(offset: number): { timeZone: string; local: (ms: number) => string } {
  const timeZone = offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
  return { timeZone, local: (ms) => new Date(ms + offset * 3_600_000).toISOString().slice(11, 19) };
}

/** Hours east of UTC (-12 … 11) where it is now `hour` o'clock. */
export function offsetWhereItIs(hour: number): number {
  return ((((hour - new Date().getUTCHours()) % 24) + 36) % 24) - 12;
}
