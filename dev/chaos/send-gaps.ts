// How long sending stalled after a fault: the longest pause between CreateSendRequest calls the
// sandbox accepted, counted from the moment of the fault, over the seconds after it. The sandbox's
// ledger of accepted send requests is the evidence, so the figure is the API's view, not ours.
import type { SendRequestEntry } from '../sandbox/inspector';

/** How long after a fault sends are watched (a stall it causes shows within seconds). */
export const SEND_GAP_WINDOW_MS = 10_000;

/** Targets from issue 13: sends continue within ~2 s of a listener kill and ~6 s of a worker kill. */
export const SEND_GAP_TARGETS_MS: Partial<Record<string, number>> = { 'listener-kill': 2_000, 'worker-kill': 6_000 };

/** Acceptance times (ms since the epoch) of the sandbox's send requests, oldest first. */
export function acceptanceTimes(requests: readonly SendRequestEntry[]): number[] {
  return requests
    .map((request) => (request.createdAt ? Date.parse(request.createdAt) : Number.NaN))
    .filter((time) => Number.isFinite(time))
    .sort((a, b) => a - b);
}

/**
 * The longest pause in sending from `at` to `at + windowMs`: between the fault and the first send
 * after it, and between consecutive sends after that. Undefined when the campaign was not sending at
 * the fault (no send before it: still planning; or none after it: every chunk had sent).
 * `nextFaultAt`: a later fault's moment; pauses from then on are that fault's, so this one's are
 * counted up to it (a pause still running then counts up to it).
 */
export function sendGapAfter(sentAt: readonly number[], at: number, windowMs = SEND_GAP_WINDOW_MS, nextFaultAt = Infinity): number | undefined {
  if (!sentAt.some((time) => time <= at)) return undefined;
  const clipped = nextFaultAt < at + windowMs;
  const end = Math.min(at + windowMs, nextFaultAt);
  const after = sentAt.filter((time) => time > at && time <= end);
  if (after.length === 0 && !clipped) return undefined;
  let longest = 0;
  let previous = at;
  for (const time of after) {
    longest = Math.max(longest, time - previous);
    previous = time;
  }
  return clipped ? Math.max(longest, end - previous) : longest;
}

/**
 * For comparison: the longest pause between consecutive sends that does not touch any fault's
 * window, i.e. how long sending pauses on its own at this load (busy CPU, rate limit, window).
 */
export function longestPauseOutside(sentAt: readonly number[], faultTimes: readonly number[], windowMs = SEND_GAP_WINDOW_MS): number | undefined {
  let longest: number | undefined;
  for (let i = 1; i < sentAt.length; i++) {
    const [from, to] = [sentAt[i - 1]!, sentAt[i]!];
    if (faultTimes.some((at) => from < at + windowMs && to > at)) continue;
    longest = Math.max(longest ?? 0, to - from);
  }
  return longest;
}
