// What happens to each recipient: the documented test numbers, our sandbox-only ones, and a
// deterministic hash-based path (and decision time) for every other ppnum.
import type { DecisionSpread, OutcomeMix } from './options';

/**
 * The scripted path of one recipient before consent memory is applied (see engine.ts): `deliver`
 * and `fail` skip the consent step (test numbers, or consent on file), the `consent_*` paths start
 * with RECIPIENT_PENDING_CONSENT.
 */
export type Outcome = 'deliver' | 'fail' | 'consent_grant' | 'consent_grant_fail' | 'consent_deny' | 'consent_expire';

/** Ppoppo's documented sandbox numbers (…01–…04) and ours (…05–…07, sandbox only). */
export const TEST_NUMBERS: Readonly<Record<string, Outcome>> = {
  '12300000001': 'deliver',
  '12300000002': 'consent_grant',
  '12300000003': 'consent_deny',
  '12300000004': 'fail',
  '12300000005': 'consent_expire', // ours: no decision, CONSENT_EXPIRED at the end of the window
  '12300000006': 'deliver', // ours: accepted, but the answer is lost (INTERNAL)
  '12300000007': 'deliver', // ours: first two requests containing it per app get UNAVAILABLE
};

export const ANSWER_LOST_PPNUM = '12300000006';
export const REFUSED_TWICE_PPNUM = '12300000007';
export const REFUSALS_BEFORE_ACCEPT = 2;

/** A Map: a property lookup by a fresh ppnum string first interns it, for every recipient. */
const TEST_NUMBER_OUTCOMES: ReadonlyMap<string, Outcome> = new Map(Object.entries(TEST_NUMBERS));

export function isTestNumber(ppnum: string): boolean {
  return TEST_NUMBER_OUTCOMES.has(ppnum);
}

/** Whether the path starts with RECIPIENT_PENDING_CONSENT (when no consent is on file). */
export function asksForConsent(outcome: Outcome): boolean {
  return outcome.startsWith('consent_');
}

/**
 * FNV-1a plus murmur3's final mix: a stable number in [0, 1) for a string, the same in every run.
 * The final mix matters: consecutive ppnums (a CSV of 45600000000, 45600000001, ...) differ only in
 * their last digits, and plain FNV-1a maps them to clustered values that skew the outcome mix.
 */
export function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** New weights go last, so a mix without them picks the same path per ppnum as before. */
const ORDER: Array<[keyof OutcomeMix, Outcome]> = [
  ['delivered', 'deliver'],
  ['consentGranted', 'consent_grant'],
  ['consentDenied', 'consent_deny'],
  ['failed', 'fail'],
  ['consentExpired', 'consent_expire'],
  ['grantedThenFailed', 'consent_grant_fail'],
];

export function outcomeFor(ppnum: string, mix: OutcomeMix): Outcome {
  const scripted = TEST_NUMBER_OUTCOMES.get(ppnum);
  if (scripted) return scripted;
  const total = ORDER.reduce((sum, [key]) => sum + Math.max(0, mix[key]), 0);
  if (total <= 0) return 'deliver';
  let point = unitHash(ppnum) * total;
  for (const [key, outcome] of ORDER) {
    point -= Math.max(0, mix[key]);
    if (point < 0) return outcome;
  }
  return 'deliver';
}

/**
 * How long after RECIPIENT_PENDING_CONSENT a new recipient decides. A fixed delay (capped at half
 * the window) when one is configured; otherwise this ppnum's point in the spread: a truncated
 * exponential with the spread's median, cut off at its latest point. The ppnum's own hash (not
 * the path's) places it, so decision times are independent of the decision.
 */
export function decisionDelayMs(ppnum: string, windowMs: number, fixedDelayMs: number | null, spread: DecisionSpread): number {
  if (fixedDelayMs !== null) return Math.min(fixedDelayMs, windowMs / 2);
  const rate = Math.LN2 / (spread.median * windowMs);
  const reachable = 1 - Math.exp(-rate * spread.latest * windowMs);
  const u = unitHash(`${ppnum}:decides-at`);
  return Math.round(-Math.log(1 - u * reachable) / rate);
}

/** The poll option a recipient picks: deterministic per (send request, ppnum). */
export function pollChoice(sendRequestId: string, ppnum: string, optionCount: number): number {
  return Math.floor(unitHash(`${sendRequestId}:${ppnum}`) * optionCount);
}
