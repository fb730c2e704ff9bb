// What happens to each recipient: the documented test numbers, our sandbox-only ones, and a
// deterministic hash-based mix for every other ppnum.
import type { OutcomeMix } from './options';

/** The scripted path of one recipient (before consent memory is applied, see engine.ts). */
export type Outcome = 'deliver' | 'fail' | 'consent_grant' | 'consent_deny' | 'consent_expire';

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

export function isTestNumber(ppnum: string): boolean {
  return ppnum in TEST_NUMBERS;
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

const ORDER: Array<[keyof OutcomeMix, Outcome]> = [
  ['delivered', 'deliver'],
  ['consentGranted', 'consent_grant'],
  ['consentDenied', 'consent_deny'],
  ['failed', 'fail'],
  ['consentExpired', 'consent_expire'],
];

export function outcomeFor(ppnum: string, mix: OutcomeMix): Outcome {
  const scripted = TEST_NUMBERS[ppnum];
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

/** The poll option a recipient picks: deterministic per (send request, ppnum). */
export function pollChoice(sendRequestId: string, ppnum: string, optionCount: number): number {
  return Math.floor(unitHash(`${sendRequestId}:${ppnum}`) * optionCount);
}
