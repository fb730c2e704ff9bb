// The app's budget as the API reports it (GetUsageStats): the fleet-wide send rate the workers use,
// and whether a campaign fits the monthly quota. Pure: the worker, the CLI and the demo call these
// with what they read from the API, and print the `text` as it is.
import type { UsageStats } from '../api/types';

export interface SendRateDecision {
  /** CreateSendRequest calls per second for the whole fleet; undefined = no fleet-wide limit. */
  perSecond?: number;
  /** Where it came from, in plain words (printed by the worker). */
  text: string;
}

/** A send-rate setting the worker refuses to start with (exit 2). */
export class SendRateSettingError extends Error {
  override name = 'SendRateSettingError';
}

/** An explicit send rate above the app's own limit: the API would refuse the excess. */
export class SendRateTooHighError extends SendRateSettingError {
  override name = 'SendRateTooHighError';
}

/**
 * The share of the fleet's send rate the send queue is dispatched at. Temporal's task-queue limiter
 * counts dispatches, not arrivals at the API: a busy worker, or a server restart that refills the
 * limiter's bucket, bunches calls (chaos runs saw 5 calls in one second against 2/s with a burst of
 * 2, and the API refused 3 of them). Dispatching 20 % under the limit keeps such bunching inside the
 * API's burst; RESOURCE_EXHAUSTED, should it still come, is waited out as before.
 */
export const DEFAULT_DISPATCH_SHARE = 0.8;

/** The send queue's dispatch rate (maxTaskQueueActivitiesPerSecond) for a decision; undefined = unlimited. */
export function dispatchRate(decision: SendRateDecision, share: number = DEFAULT_DISPATCH_SHARE): number | undefined {
  if (!(share > 0 && share <= 1)) throw new SendRateSettingError(`SEND_RATE_SHARE must be above 0 and at most 1, got ${share}`);
  return decision.perSecond === undefined ? undefined : decision.perSecond * share;
}

const rate = (perSecond: number) => `${Number(perSecond.toFixed(3))} requests/s`;

/**
 * The fleet's send rate: the app's own limit (rate_limit_per_min / 60) by default; an explicit
 * setting may lower it, never exceed it (SendRateTooHighError). Without usage (the API could not be
 * asked) the explicit setting, or none.
 */
export function sendRateFor(usage: UsageStats | undefined, explicit: number | undefined, why?: string): SendRateDecision {
  if (usage === undefined || usage.rateLimitPerMin <= 0) {
    const reason = usage === undefined ? `could not read the app's rate limit${why ? ` (${why})` : ''}` : 'the API reports no rate limit for the app';
    if (explicit !== undefined) return { perSecond: explicit, text: `${rate(explicit)} (SEND_RATE_PER_SECOND; ${reason})` };
    return { text: `no fleet-wide limit (${reason}; set SEND_RATE_PER_SECOND to give one): refusals are waited out as the API's retry hints say` };
  }
  const appLimit = usage.rateLimitPerMin / 60;
  if (explicit === undefined) return { perSecond: appLimit, text: `${rate(appLimit)}, the app's own limit (rate_limit_per_min ${usage.rateLimitPerMin})` };
  if (explicit > appLimit) {
    throw new SendRateTooHighError(
      `SEND_RATE_PER_SECOND=${explicit} is above the app's own limit of ${rate(appLimit)} (rate_limit_per_min ${usage.rateLimitPerMin}): the API would refuse the excess. Set it to ${Number(appLimit.toFixed(3))} or less, or leave it unset to use the app's limit.`,
    );
  }
  return { perSecond: explicit, text: `${rate(explicit)} (SEND_RATE_PER_SECOND, under the app's limit of ${rate(appLimit)})` };
}

export interface QuotaCheck {
  needed: number;
  remaining?: number;
  limit?: number;
  resetsAt?: string;
  fits: boolean;
  text: string;
}

/** Whether `needed` messages fit this month's remaining quota, in words. */
export function quotaCheck(usage: UsageStats, needed: number): QuotaCheck {
  const { remainingQuota: remaining, monthlyMessageLimit: limit, usageResetAt: resetsAt } = usage;
  const messages = `${needed.toLocaleString('en-US')} message${needed === 1 ? '' : 's'}`;
  if (remaining === undefined || limit === undefined) return { needed, fits: true, text: `the campaign needs ${messages}; the API reports no monthly quota for the app` };
  const left = `${remaining.toLocaleString('en-US')} of ${limit.toLocaleString('en-US')} left this month${resetsAt ? ` (resets ${resetsAt})` : ''}`;
  const fits = needed <= remaining;
  const text = fits
    ? `the campaign needs ${messages}; ${left}`
    : `the campaign needs ${messages} but only ${left}: it will send what fits, then park at the quota until it resets and go on by itself`;
  return { needed, remaining, limit, resetsAt, fits, text };
}

/** Quota use in one line, e.g. for `status`. */
export function usageLine(usage: UsageStats): string {
  const quota =
    usage.monthlyMessageLimit === undefined
      ? `${usage.currentMonthUsage.toLocaleString('en-US')} messages this month (no monthly quota reported)`
      : `${usage.currentMonthUsage.toLocaleString('en-US')} of ${usage.monthlyMessageLimit.toLocaleString('en-US')} messages used this month, ${(usage.remainingQuota ?? 0).toLocaleString('en-US')} left${usage.usageResetAt ? `, resets ${usage.usageResetAt}` : ''}`;
  const limit = usage.rateLimitPerMin > 0 ? `rate limit ${usage.rateLimitPerMin}/min` : 'no rate limit reported';
  return `quota: ${quota}; ${limit}`;
}
