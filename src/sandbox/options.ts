// Sandbox options: what can be configured, and the defaults. The defaults follow Ppoppo's guide: every
// recipient the app has never messaged is asked for consent first, decisions come in over hours of
// a 24 h window, and a rate limit and a monthly quota are always on. Everything time-related is in ms
// so tests can shrink the window to seconds (decision times shrink with it).

/** One API client the token endpoint knows (an "External API client" of one app). */
export interface SandboxApp {
  clientId: string;
  clientSecret: string;
  appId: string;
  scopes: string[];
}

/**
 * Weights of the paths of ppnums that are not test numbers (any non-negative numbers), picked per
 * ppnum by a deterministic hash. Only `delivered` and `failed` skip the consent step: they stand for
 * recipients whose consent the app already has (an audience it messaged before); 0 by default.
 */
export interface OutcomeMix {
  /** Consent on file: RECIPIENT_DELIVERED directly. */
  delivered: number;
  /** New: RECIPIENT_PENDING_CONSENT → CONSENT_GRANTED → RECIPIENT_DELIVERED. */
  consentGranted: number;
  /** New: RECIPIENT_PENDING_CONSENT → CONSENT_DENIED. */
  consentDenied: number;
  /** Consent on file: RECIPIENT_FAILED (DELIVERY_FAILED) directly. */
  failed: number;
  /** New: RECIPIENT_PENDING_CONSENT, no decision → RECIPIENT_FAILED (CONSENT_EXPIRED) at the window's end. */
  consentExpired: number;
  /** New: RECIPIENT_PENDING_CONSENT → CONSENT_GRANTED → RECIPIENT_FAILED (DELIVERY_FAILED). */
  grantedThenFailed: number;
}

/**
 * When new recipients decide, as fractions of the consent window: a truncated exponential spread
 * (many decide early, a long tail), half of them by `median`, none after `latest`. Each ppnum's
 * point in it comes from a hash, so the same ppnum decides at the same offset on every run.
 */
export interface DecisionSpread {
  median: number;
  latest: number;
}

/** Token bucket per app for CreateSendRequest: refills `requestsPerSecond`, holds `burst`. */
export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

export interface SandboxOptions {
  /** Interface both servers listen on. Default 127.0.0.1. */
  host?: string;
  /** gRPC port; 0 (default) picks a free one. */
  grpcPort?: number;
  /** HTTP port (token, JWKS, inspection); 0 (default) picks a free one. */
  httpPort?: number;
  /** SQLite file. Default ':memory:' here; `npm run sandbox` defaults to .data/sandbox.sqlite. */
  dbPath?: string;
  /** Default: one app, client `sandbox-client` / `sandbox-secret`, scope `messaging`. */
  apps?: SandboxApp[];
  /** Bearer token the /inspect endpoints require (ledger with rendered texts, faults, config). Default: a random one per start. */
  inspectToken?: string;
  /** Lifetime of issued access tokens. Default 3600. */
  tokenTtlSeconds?: number;
  /** Time from acceptance (or consent grant) to the delivery outcome. Default 50. */
  deliveryDelayMs?: number;
  /**
   * Every decision exactly this long after RECIPIENT_PENDING_CONSENT (capped at half the window):
   * for tests that want quick decisions. Default unset (null): decisions follow `consentDecisionSpread`.
   */
  consentDecisionDelayMs?: number | null;
  /** Default { median: 1/12, latest: 0.95 }: in a 24 h window half decide within 2 h, all within 22.8 h. */
  consentDecisionSpread?: DecisionSpread;
  /** Time a pending consent waits before RECIPIENT_FAILED / CONSENT_EXPIRED. Default 24 h. */
  consentWindowMs?: number;
  /** Time from delivery of a poll to the recipient's answer. Default 100. */
  pollResponseDelayMs?: number;
  /** Path weights for other ppnums (weights not named are 0). Default DEFAULT_MIX: every one of them new. */
  outcomeMix?: Partial<OutcomeMix>;
  /** Per-app request rate for CreateSendRequest. Default DEFAULT_RATE_LIMIT; null = off. */
  rateLimit?: { requestsPerSecond: number; burst?: number } | null;
  /** Per-app messages (accepted recipients) per calendar month, UTC. Default DEFAULT_MONTHLY_QUOTA; null = off. */
  monthlyQuota?: number | null;
  /** The server ends each event stream after this many events. Default 0 = never (streamMaxMs still ends it). */
  streamMaxEvents?: number;
  /** The server ends each event stream after this long. Default 30 s; 0 = never. */
  streamMaxMs?: number;
  /** Where to report startup and problems. Default: silent. */
  log?: (line: string) => void;
}

/** Options that can change at runtime (POST /inspect/config). */
export interface RuntimeConfig {
  deliveryDelayMs: number;
  consentDecisionDelayMs: number | null;
  consentDecisionSpread: DecisionSpread;
  consentWindowMs: number;
  pollResponseDelayMs: number;
  outcomeMix: OutcomeMix;
  rateLimit: RateLimit | null;
  monthlyQuota: number | null;
  streamMaxEvents: number;
  streamMaxMs: number;
}

export const DEFAULT_APP: SandboxApp = {
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-secret',
  appId: 'app_sandbox',
  scopes: ['messaging'],
};

/** A first campaign: everyone is asked; 70 % grant (5 % of them then fail delivery), 15 % deny, 10 % never answer. */
export const DEFAULT_MIX: OutcomeMix = { delivered: 0, consentGranted: 70, consentDenied: 15, failed: 0, consentExpired: 10, grantedThenFailed: 5 };
/** Every recipient already consented and every delivery works: the all-delivered benchmark, tests of the direct path. */
export const ALL_DELIVERED_MIX: OutcomeMix = { delivered: 1, consentGranted: 0, consentDenied: 0, failed: 0, consentExpired: 0, grantedThenFailed: 0 };
export const DEFAULT_DECISION_SPREAD: DecisionSpread = { median: 1 / 12, latest: 0.95 };
/** 600 CreateSendRequest calls a minute (GetUsageStats: rate_limit_per_min 600), bursts of 10. */
export const DEFAULT_RATE_LIMIT: RateLimit = { requestsPerSecond: 10, burst: 10 };
/** Accepted recipients per app per calendar month (UTC). */
export const DEFAULT_MONTHLY_QUOTA = 1_000_000;

/** A mix as given: the weights it names (negative ones as 0), every other weight 0. */
export function toMix(weights: Partial<Record<keyof OutcomeMix, unknown>>): OutcomeMix {
  const mix: OutcomeMix = { delivered: 0, consentGranted: 0, consentDenied: 0, failed: 0, consentExpired: 0, grantedThenFailed: 0 };
  for (const key of Object.keys(mix) as (keyof OutcomeMix)[]) {
    const value = weights[key];
    if (typeof value === 'number' && value > 0) mix[key] = value;
  }
  return mix;
}

/** A rate limit from options: undefined = the default, null (or a rate ≤ 0) = off. */
export function toRateLimit(value: { requestsPerSecond: number; burst?: number } | null | undefined): RateLimit | null {
  if (value === undefined) return { ...DEFAULT_RATE_LIMIT };
  if (!value || !(value.requestsPerSecond > 0)) return null;
  return { requestsPerSecond: value.requestsPerSecond, burst: Math.max(1, value.burst ?? Math.ceil(value.requestsPerSecond)) };
}

/** A monthly quota from options: undefined = the default, null (or negative) = off. */
export function toMonthlyQuota(value: number | null | undefined): number | null {
  if (value === undefined) return DEFAULT_MONTHLY_QUOTA;
  return value !== null && value >= 0 ? Math.floor(value) : null;
}

/** A decision spread with both fractions in (0, 1] and the median before the latest. */
export function checkSpread(spread: DecisionSpread): DecisionSpread {
  const { median, latest } = spread;
  if (!(median > 0 && latest > 0 && latest <= 1 && median < latest)) throw new Error(`consent decision spread needs 0 < median < latest <= 1, got median ${median}, latest ${latest}`);
  return { median, latest };
}

export function runtimeConfig(options: SandboxOptions): RuntimeConfig {
  return {
    deliveryDelayMs: options.deliveryDelayMs ?? 50,
    consentDecisionDelayMs: options.consentDecisionDelayMs ?? null,
    consentDecisionSpread: checkSpread(options.consentDecisionSpread ?? DEFAULT_DECISION_SPREAD),
    consentWindowMs: options.consentWindowMs ?? 24 * 3600_000,
    pollResponseDelayMs: options.pollResponseDelayMs ?? 100,
    outcomeMix: options.outcomeMix ? toMix(options.outcomeMix) : { ...DEFAULT_MIX },
    rateLimit: toRateLimit(options.rateLimit),
    monthlyQuota: toMonthlyQuota(options.monthlyQuota),
    streamMaxEvents: options.streamMaxEvents ?? 0,
    streamMaxMs: options.streamMaxMs ?? 30_000,
  };
}

/** '24h', '30s', '1500ms', '2m', '1d' or a plain number of ms. */
export function parseDurationMs(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new Error(`not a duration: "${text}" (use e.g. 1500ms, 30s, 5m, 24h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[(match[2] ?? 'ms') as 'ms'];
  return Math.round(Number(match[1]) * unit);
}
