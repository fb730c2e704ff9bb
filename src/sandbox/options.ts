// Sandbox options: what can be configured, and the defaults. Everything time-related is in ms so
// tests can shrink the 24 h consent window to seconds.

/** One API client the token endpoint knows (an "External API client" of one app). */
export interface SandboxApp {
  clientId: string;
  clientSecret: string;
  appId: string;
  scopes: string[];
}

/** Weights of the outcomes of ppnums that are not test numbers (any non-negative numbers). */
export interface OutcomeMix {
  delivered: number;
  consentGranted: number;
  consentDenied: number;
  failed: number;
  consentExpired: number;
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
  /** Time from RECIPIENT_PENDING_CONSENT to the grant or denial. Default 200 (capped at half the window). */
  consentDecisionDelayMs?: number;
  /** Time a pending consent waits before RECIPIENT_FAILED / CONSENT_EXPIRED. Default 24 h. */
  consentWindowMs?: number;
  /** Time from delivery of a poll to the recipient's answer. Default 100. */
  pollResponseDelayMs?: number;
  /** Outcome weights for other ppnums. Default 80/8/5/5/2. */
  outcomeMix?: Partial<OutcomeMix>;
  /** Per-app request rate for CreateSendRequest. Default off (undefined or null). */
  rateLimit?: { requestsPerSecond: number; burst?: number } | null;
  /** Per-app messages (accepted recipients) per calendar month, UTC. Default off. */
  monthlyQuota?: number | null;
  /** The server ends each event stream after this many events. Default 500; 0 = never. */
  streamMaxEvents?: number;
  /** The server ends each event stream after this long. Default 30 s; 0 = never. */
  streamMaxMs?: number;
  /** Where to report startup and problems. Default: silent. */
  log?: (line: string) => void;
}

/** Options that can change at runtime (POST /inspect/config). */
export interface RuntimeConfig {
  deliveryDelayMs: number;
  consentDecisionDelayMs: number;
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

export const DEFAULT_MIX: OutcomeMix = { delivered: 80, consentGranted: 8, consentDenied: 5, failed: 5, consentExpired: 2 };

export function toRateLimit(value: { requestsPerSecond: number; burst?: number } | null | undefined): RateLimit | null {
  if (!value || !(value.requestsPerSecond > 0)) return null;
  return { requestsPerSecond: value.requestsPerSecond, burst: Math.max(1, value.burst ?? Math.ceil(value.requestsPerSecond)) };
}

export function runtimeConfig(options: SandboxOptions): RuntimeConfig {
  return {
    deliveryDelayMs: options.deliveryDelayMs ?? 50,
    consentDecisionDelayMs: options.consentDecisionDelayMs ?? 200,
    consentWindowMs: options.consentWindowMs ?? 24 * 3600_000,
    pollResponseDelayMs: options.pollResponseDelayMs ?? 100,
    outcomeMix: { ...DEFAULT_MIX, ...options.outcomeMix },
    rateLimit: toRateLimit(options.rateLimit),
    monthlyQuota: options.monthlyQuota != null && options.monthlyQuota >= 0 ? options.monthlyQuota : null,
    streamMaxEvents: options.streamMaxEvents ?? 500,
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
