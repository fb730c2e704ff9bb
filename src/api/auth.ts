// OAuth2 client_credentials tokens for the External API, cached and refreshed before they expire.
//
// The JWT `exp` claim is authoritative (as in Ppoppo's SDK); `expires_in` is the fallback when the
// token is not a JWT or its `exp` already lies in the past by our clock (clock skew). A token is
// refreshed `refreshSkewMs` (60 s) before it expires, or halfway through its life if it lives
// shorter than twice that. One request to the token endpoint at a time (single flight).
//
// The client secret and the token live in private fields: they never show in util.inspect, JSON,
// error messages or logs.
import { decodeJwt } from 'jose';
import { GRPC_CODES, PpoppoApiError } from './errors';

export interface TokenSourceOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Refresh this long before expiry (default 60 000). */
  refreshSkewMs?: number;
  /** Timeout of one token request (default 10 000). */
  requestTimeoutMs?: number;
  /** For tests: the clock. */
  now?: () => number;
}

/** The token endpoint refused or failed. Never contains the secret or a token. */
export class TokenEndpointError extends PpoppoApiError {
  /** OAuth `error` code (e.g. 'invalid_client'), when the endpoint sent one. */
  readonly oauthError?: string;
  /** HTTP status, when a response arrived. */
  readonly httpStatus?: number;

  constructor(details: string, options: { oauthError?: string; httpStatus?: number; retry: 'safe' | 'unsafe' }) {
    const grpcCode = options.retry === 'safe' ? GRPC_CODES.UNAVAILABLE : GRPC_CODES.UNAUTHENTICATED;
    super({ grpcCode, method: 'oauth/token', details, retry: options.retry });
    if (options.oauthError !== undefined) this.oauthError = options.oauthError;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
  }
}

interface CachedToken {
  token: string;
  refreshAt: number;
}

export class TokenSource {
  readonly tokenUrl: string;
  readonly clientId: string;
  #secret: string;
  #cached: CachedToken | undefined;
  #inflight: Promise<string> | undefined;
  readonly #refreshSkewMs: number;
  readonly #requestTimeoutMs: number;
  readonly #now: () => number;
  /** How many tokens were fetched (observability and tests). */
  fetchCount = 0;

  constructor(options: TokenSourceOptions) {
    this.tokenUrl = options.tokenUrl;
    this.clientId = options.clientId;
    this.#secret = options.clientSecret;
    this.#refreshSkewMs = options.refreshSkewMs ?? 60_000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** A valid access token, from the cache or freshly fetched. */
  async getToken(): Promise<string> {
    const cached = this.#cached;
    if (cached && this.#now() < cached.refreshAt) return cached.token;
    this.#inflight ??= this.#fetchToken().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /**
   * Forget the cached token (the server answered UNAUTHENTICATED). Pass the token that failed so a
   * newer token fetched meanwhile by a concurrent call is kept.
   */
  invalidate(failedToken?: string): void {
    if (failedToken === undefined || this.#cached?.token === failedToken) this.#cached = undefined;
  }

  async #fetchToken(): Promise<string> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.clientId, client_secret: this.#secret });
    const where = describeUrl(this.tokenUrl);
    const requestedAt = this.#now(); // lifetimes count from before the request: errs on the early side
    let response: Response;
    try {
      response = await fetch(this.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(this.#requestTimeoutMs),
      });
    } catch (err) {
      throw new TokenEndpointError(`token endpoint ${where} unreachable: ${networkReason(err)}`, { retry: 'safe' });
    }
    const payload = await response.json().catch(() => undefined) as Record<string, unknown> | undefined;
    if (!response.ok) {
      const oauthError = typeof payload?.error === 'string' ? payload.error : undefined;
      const description = typeof payload?.error_description === 'string' ? `: ${this.#redact(payload.error_description).slice(0, 200)}` : '';
      const retry = response.status >= 500 || response.status === 429 ? 'safe' : 'unsafe';
      throw new TokenEndpointError(`token endpoint ${where} refused the client credentials of ${this.clientId}: ${oauthError ?? 'no OAuth error code'} (HTTP ${response.status})${description}`, {
        oauthError,
        httpStatus: response.status,
        retry,
      });
    }
    const token = payload?.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new TokenEndpointError(`token endpoint ${where} answered HTTP ${response.status} without an access_token`, { httpStatus: response.status, retry: 'safe' });
    }
    const expiresAt = this.#expiresAt(token, payload?.expires_in, requestedAt);
    if (expiresAt === undefined) {
      throw new TokenEndpointError(`token endpoint ${where} gave a token with neither a JWT exp nor expires_in`, { httpStatus: response.status, retry: 'unsafe' });
    }
    const lifetime = expiresAt - requestedAt;
    const skew = Math.min(this.#refreshSkewMs, lifetime / 2);
    this.#cached = { token, refreshAt: expiresAt - skew };
    this.fetchCount += 1;
    return token;
  }

  #expiresAt(token: string, expiresIn: unknown, now: number): number | undefined {
    let exp: number | undefined;
    try {
      exp = decodeJwt(token).exp;
    } catch {
      exp = undefined; // not a JWT: opaque tokens are allowed
    }
    if (typeof exp === 'number' && exp * 1000 > now) return exp * 1000;
    if (typeof expiresIn === 'number' && expiresIn > 0) return now + expiresIn * 1000;
    if (typeof exp === 'number') return now; // already expired by our clock and no hint: use once
    return undefined;
  }

  #redact(text: string): string {
    return this.#secret ? text.split(this.#secret).join('[redacted]') : text;
  }

  toJSON(): object {
    return { tokenUrl: this.tokenUrl, clientId: this.clientId };
  }
}

/** Scheme, host and path of a URL: never userinfo or query, which may hold credentials. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  return err instanceof Error ? err.message : String(err);
}
