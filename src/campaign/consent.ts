// What recipients made of the consent request: per-recipient consent states, and the counts and
// time-to-decision histogram a chunk reports and the campaign adds up. The histogram has fixed
// buckets, so a million decisions cost the same 41 numbers as ten, and chunks merge by addition.
// PURE: workflow code imports this module.
import { shortDuration, thousands } from '../text';

/**
 * A recipient's consent, as the API's events tell it:
 * - `asked`: RECIPIENT_PENDING_CONSENT came (a new recipient), no decision yet;
 * - `granted` / `denied`: decided after being asked;
 * - `expired`: asked, no decision by the end of the consent window;
 * - `already-consented`: delivered (or failed) without a consent step: consent was on file;
 * - `already-denied`: CONSENT_DENIED without a consent step: denied before.
 */
export type ConsentState = 'asked' | 'granted' | 'denied' | 'expired' | 'already-consented' | 'already-denied';

export interface ConsentCounts {
  /** Went through RECIPIENT_PENDING_CONSENT: new recipients (granted + denied + expired + still waiting). */
  asked: number;
  granted: number;
  denied: number;
  expired: number;
  alreadyConsented: number;
  alreadyDenied: number;
}

export interface ConsentStats extends ConsentCounts {
  /** Decisions (grants and denials) per DECISION_BUCKETS_MS bucket; the last bucket is everything longer. */
  decisionHistogram: number[];
}

/** Upper bounds of the time-to-decision buckets: 100 ms × 1.5^i, from 100 ms to about 86 days. */
export const DECISION_BUCKETS_MS: readonly number[] = Array.from({ length: 40 }, (_, i) => Math.round(100 * 1.5 ** i));

export function emptyConsent(): ConsentStats {
  return { asked: 0, granted: 0, denied: 0, expired: 0, alreadyConsented: 0, alreadyDenied: 0, decisionHistogram: new Array<number>(DECISION_BUCKETS_MS.length + 1).fill(0) };
}

/** Recipients asked who have not decided (yet). */
export function waitingForConsent(stats: ConsentCounts): number {
  return stats.asked - stats.granted - stats.denied - stats.expired;
}

/** Counts one recipient's consent state (and its time to decision, when known) into `into`. */
export function countConsent(into: ConsentStats, state: ConsentState | undefined, decisionMs?: number): void {
  if (state === undefined) return;
  if (state === 'already-consented') into.alreadyConsented += 1;
  else if (state === 'already-denied') into.alreadyDenied += 1;
  else {
    into.asked += 1;
    if (state === 'granted') into.granted += 1;
    if (state === 'denied') into.denied += 1;
    if (state === 'expired') into.expired += 1;
  }
  if ((state === 'granted' || state === 'denied') && decisionMs !== undefined) into.decisionHistogram[bucketOf(decisionMs)]! += 1;
}

export function addConsent(into: ConsentStats, more: ConsentStats | undefined): ConsentStats {
  if (!more) return into;
  for (const key of ['asked', 'granted', 'denied', 'expired', 'alreadyConsented', 'alreadyDenied'] as const) into[key] += more[key] ?? 0;
  more.decisionHistogram?.forEach((count, i) => {
    const at = Math.min(i, into.decisionHistogram.length - 1);
    into.decisionHistogram[at]! += count;
  });
  return into;
}

function bucketOf(ms: number): number {
  const index = DECISION_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? DECISION_BUCKETS_MS.length : index;
}

export interface DecisionPercentiles {
  decisions: number;
  /** Upper bounds of the buckets holding the 50th, 90th and 99th percentile (ms); null without decisions or beyond the last bound. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** Time-to-decision percentiles from a histogram: each is "at most" its bucket's upper bound. */
export function decisionPercentiles(histogram: readonly number[]): DecisionPercentiles {
  const decisions = histogram.reduce((sum, n) => sum + n, 0);
  const at = (p: number): number | null => {
    if (decisions === 0) return null;
    const rank = Math.ceil(p * decisions);
    let seen = 0;
    for (let i = 0; i < histogram.length; i++) {
      seen += histogram[i]!;
      if (seen >= rank) return DECISION_BUCKETS_MS[i] ?? null;
    }
    return null;
  };
  return { decisions, p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}


/** The consent figures in one line (empty when no recipient's consent is known yet). */
export function consentLine(stats: ConsentStats): string {
  const parts: string[] = [];
  if (stats.asked > 0) {
    parts.push(`asked ${thousands(stats.asked)}`, `granted ${thousands(stats.granted)}`, `denied ${thousands(stats.denied)}`, `expired ${thousands(stats.expired)}`);
    const waiting = waitingForConsent(stats);
    if (waiting > 0) parts.push(`waiting ${thousands(waiting)}`);
  }
  if (stats.alreadyConsented > 0) parts.push(`already consented ${thousands(stats.alreadyConsented)}`);
  if (stats.alreadyDenied > 0) parts.push(`denied before ${thousands(stats.alreadyDenied)}`);
  const timing = decisionPercentiles(stats.decisionHistogram);
  if (timing.p50 !== null) parts.push(`time to decision p50 ≤ ${shortDuration(timing.p50)}, p90 ≤ ${shortDuration(timing.p90 ?? timing.p50)}, p99 ≤ ${shortDuration(timing.p99 ?? timing.p50)}`);
  return parts.join(' · ');
}
