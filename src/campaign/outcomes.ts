// What becomes of each recipient: the final outcomes, the fallback beside them, and their counts.
// PURE: workflow code imports this module.

/** 'deadline': never sent, because the campaign's deadline passed first (no send request after it). */
export type RecipientOutcome = 'delivered' | 'failed' | 'denied' | 'expired' | 'invalid' | 'cancelled' | 'deadline';
export const RECIPIENT_OUTCOMES: readonly RecipientOutcome[] = ['delivered', 'failed', 'denied', 'expired', 'invalid', 'cancelled', 'deadline'];

/** The outcomes a fallback policy may name ('denied' always triggers one; 'deadline' only when named). */
export type FallbackTrigger = Extract<RecipientOutcome, 'denied' | 'expired' | 'failed' | 'deadline'>;
export const FALLBACK_TRIGGERS: readonly FallbackTrigger[] = ['denied', 'expired', 'failed', 'deadline'];

export function isFallbackTrigger(outcome: unknown): outcome is FallbackTrigger {
  return FALLBACK_TRIGGERS.includes(outcome as FallbackTrigger);
}

/**
 * What a follow-up campaign (`campaign retry <id> --outcome …`) can retry: recipients whose
 * message failed or expired (sent again), or whose fallback finally failed (only the fallback is
 * sent again). A delivered recipient is never among them.
 */
export type RetryOutcome = 'failed' | 'expired' | 'fallback-failed';
export const RETRY_OUTCOMES: readonly RetryOutcome[] = ['failed', 'expired', 'fallback-failed'];

export function isRetryOutcome(value: unknown): value is RetryOutcome {
  return RETRY_OUTCOMES.includes(value as RetryOutcome);
}

/** What became of a recipient's fallback message. */
export type FallbackOutcome = 'sent' | 'failed';

export type OutcomeCounts = Record<RecipientOutcome, number> & { fallbackSent: number; fallbackFailed: number };

export function emptyCounts(): OutcomeCounts {
  return { delivered: 0, failed: 0, denied: 0, expired: 0, invalid: 0, cancelled: 0, deadline: 0, fallbackSent: 0, fallbackFailed: 0 };
}

export function addCounts(into: OutcomeCounts, more: Partial<OutcomeCounts>): OutcomeCounts {
  for (const key of Object.keys(into) as (keyof OutcomeCounts)[]) into[key] += more[key] ?? 0;
  return into;
}

/** Recipients with a final outcome (fallback counts are beside the outcomes, not extra recipients). */
export function countRecipients(counts: OutcomeCounts): number {
  // Counts from before an outcome existed lack its key.
  return RECIPIENT_OUTCOMES.reduce((sum, outcome) => sum + (counts[outcome] ?? 0), 0);
}
