// Per-app request rate (token bucket), monthly quota arithmetic, and the observed-rate meter the
// inspection endpoint reports (so tests can prove a fleet never exceeded the limit).
import type { RateLimit } from './options';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private limit: RateLimit, now = Date.now()) {
    this.tokens = limit.burst;
    this.last = now;
  }

  /** Takes one token; returns 0 if granted, else the ms until one will be available. */
  take(now = Date.now()): number {
    const { requestsPerSecond: rate, burst } = this.limit;
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) / rate) * 1000));
  }
}

/** Buckets per app, rebuilt (full) when the configured limit changes. */
export class AppRateLimiter {
  private buckets = new Map<string, TokenBucket>();

  constructor(private limit: RateLimit | null) {}

  setLimit(limit: RateLimit | null): void {
    this.limit = limit;
    this.buckets.clear();
  }

  /** 0 when allowed, else retry-after in ms. Always 0 when rate limiting is off. */
  take(appId: string, now = Date.now()): number {
    if (!this.limit) return 0;
    let bucket = this.buckets.get(appId);
    if (!bucket) this.buckets.set(appId, (bucket = new TokenBucket(this.limit, now)));
    return bucket.take(now);
  }
}

/** 'YYYY-MM' of a time, in UTC: the quota period. */
export function monthKey(now = Date.now()): string {
  return new Date(now).toISOString().slice(0, 7);
}

/** Start of the next calendar month, UTC, in epoch ms. */
export function nextMonthStart(now = Date.now()): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Counts events and remembers the most seen within any 1 s window (exact, sliding). */
export class RateMeter {
  private recent: number[] = [];
  private head = 0;
  total = 0;
  maxInAnySecond = 0;
  first: number | undefined;

  mark(now = Date.now()): void {
    this.total++;
    this.first ??= now;
    this.recent.push(now);
    while (this.recent[this.head]! <= now - 1000) this.head++;
    if (this.head > 1024) {
      this.recent = this.recent.slice(this.head);
      this.head = 0;
    }
    this.maxInAnySecond = Math.max(this.maxInAnySecond, this.recent.length - this.head);
  }

  /** Events in the last second. */
  lastSecond(now = Date.now()): number {
    return this.recent.slice(this.head).filter((t) => t > now - 1000).length;
  }

  /** Average per second since the first event. */
  average(now = Date.now()): number {
    if (this.first === undefined) return 0;
    return this.total / Math.max(1, (now - this.first) / 1000);
  }
}
