// Numbers and durations for people, shared by the Web UI details, validation messages, the CLI and
// the reports. PURE: workflow code imports it, so no Intl (the workflow sandbox's locale data is not
// guaranteed).

/** 1234567 → "1,234,567". */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A short duration: 850ms, 42s, 17m, 3.4h. */
export function shortDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 1_000)}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}
