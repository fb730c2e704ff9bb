// Test-only fault injection (POST /inspect/faults) and the CreateSendRequest counters that
// GET /inspect/stats reports.
import { RateMeter } from './limits';

export interface FaultRequest {
  ambiguousNext?: number;
  unavailableNext?: number;
  resourceExhaustedNext?: number;
  retryAfterMs?: number;
  cutStreamsNow?: boolean;
}

export class Faults {
  /** Accept the next n CreateSendRequest calls, then answer INTERNAL. */
  ambiguousNext = 0;
  /** Refuse the next n calls with UNAVAILABLE before anything is stored. */
  unavailableNext = 0;
  /** Refuse the next n calls with RESOURCE_EXHAUSTED ("rate limit exceeded") + retry-after-ms. */
  resourceExhaustedNext = 0;
  retryAfterMs = 1000;

  /** Adds to the counters; returns whether streams should be cut now. */
  apply(request: FaultRequest): boolean {
    const count = (n: unknown) => (typeof n === 'number' && n > 0 ? Math.floor(n) : 0);
    this.ambiguousNext += count(request.ambiguousNext);
    this.unavailableNext += count(request.unavailableNext);
    this.resourceExhaustedNext += count(request.resourceExhaustedNext);
    if (typeof request.retryAfterMs === 'number' && request.retryAfterMs >= 0) this.retryAfterMs = request.retryAfterMs;
    return request.cutStreamsNow === true;
  }

  /** Consumes one injected fault of `kind` if any is pending. */
  take(kind: 'ambiguousNext' | 'unavailableNext' | 'resourceExhaustedNext'): boolean {
    if (this[kind] <= 0) return false;
    this[kind]--;
    return true;
  }
}

export class SendStats {
  /** Every CreateSendRequest call that passed authentication. */
  readonly calls = new RateMeter();
  /** Calls whose send request was stored. */
  readonly accepted = new RateMeter();
  readonly refusals = { rateLimit: 0, monthlyQuota: 0, injectedResourceExhausted: 0, injectedUnavailable: 0, testNumberUnavailable: 0, invalid: 0 };
  ambiguousAnswers = 0;
}
