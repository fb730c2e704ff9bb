// Retries one delivery with exponential backoff (jittered), honouring a server's Retry-After.
import { setTimeout as sleep } from 'node:timers/promises';
import { FallbackDeliveryError } from './channel';

export interface BackoffOptions {
  /** First wait; doubles each try. Default 500 ms. */
  initialMs?: number;
  /** Cap for one wait, also for Retry-After. Default 30 s. */
  maxMs?: number;
}

/**
 * What one try returned: done, or failed with a reason, whether another try may help, and whether
 * the fault is the channel's (every retryable failure is; so are refused credentials or a missing
 * endpoint) rather than the recipient's. `code` names it briefly ("HTTP 503", "ECONNREFUSED").
 */
export type TryResult<T> = { ok: true; value: T } | { ok: false; message: string; retryable: boolean; channelFault?: boolean; code?: string; retryAfterMs?: number };

/**
 * A few quick tries for one message. A channel that stays down, or asks to wait longer than
 * `maxMs`, is reported as a channel fault with its hint: the workflow waits that out (for up to
 * the spec's fallback.retryFor) instead of this activity.
 */
export async function withRetries<T>(maxAttempts: number, backoff: BackoffOptions, attempt: (n: number) => Promise<TryResult<T>>): Promise<{ value: T; attempts: number }> {
  const initialMs = backoff.initialMs ?? 500;
  const maxMs = backoff.maxMs ?? 30_000;
  for (let n = 1; ; n++) {
    const result = await attempt(n);
    if (result.ok) return { value: result.value, attempts: n };
    const fault = { attempts: n, code: result.code, retryAfterMs: result.retryAfterMs };
    if (!result.retryable) throw new FallbackDeliveryError(result.message, { ...fault, permanent: true, channelFault: result.channelFault ?? false });
    const longWait = result.retryAfterMs !== undefined && result.retryAfterMs > maxMs;
    if (n >= maxAttempts || longWait) {
      const why = longWait ? `asked to wait ${Math.round(result.retryAfterMs! / 1000)} s` : `gave up after ${n} attempts`;
      throw new FallbackDeliveryError(`${why}: ${result.message}`, { ...fault, permanent: false, channelFault: true });
    }
    const exponential = initialMs * 2 ** (n - 1) * (0.5 + Math.random() / 2);
    await sleep(Math.min(maxMs, result.retryAfterMs ?? exponential));
  }
}

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
