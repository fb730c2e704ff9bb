// Retries one delivery with exponential backoff (jittered), honouring a server's Retry-After.
import { setTimeout as sleep } from 'node:timers/promises';
import { FallbackDeliveryError } from './channel';

export interface BackoffOptions {
  /** First wait; doubles each try. Default 500 ms. */
  initialMs?: number;
  /** Cap for one wait, also for Retry-After. Default 30 s. */
  maxMs?: number;
}

/** What one try returned: done, or failed with a reason and whether another try may help. */
export type TryResult<T> = { ok: true; value: T } | { ok: false; message: string; retryable: boolean; retryAfterMs?: number };

export async function withRetries<T>(maxAttempts: number, backoff: BackoffOptions, attempt: (n: number) => Promise<TryResult<T>>): Promise<{ value: T; attempts: number }> {
  const initialMs = backoff.initialMs ?? 500;
  const maxMs = backoff.maxMs ?? 30_000;
  for (let n = 1; ; n++) {
    const result = await attempt(n);
    if (result.ok) return { value: result.value, attempts: n };
    if (!result.retryable) throw new FallbackDeliveryError(result.message, { permanent: true, attempts: n });
    if (n >= maxAttempts) throw new FallbackDeliveryError(`gave up after ${n} attempts: ${result.message}`, { permanent: false, attempts: n });
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
