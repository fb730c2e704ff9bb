// Where the Ppoppo API and its token endpoint are, and the app's credentials, from the environment.
//
// PCS_API_URL: `https://host[:port][/path]` uses TLS, `http://…` plaintext gRPC. A path such as
// `/ext` prefixes every method path (`/ext/chat.external.ExternalMessageService/…`), as Ppoppo's
// ingress expects. Plaintext to a non-loopback host is allowed (docker-compose service names need
// it) but reported as a warning; the same goes for an http:// token URL, which carries the secret.
export interface ClientConfig {
  apiUrl: string;
  tokenUrl: string;
  clientId: string;
  /** Non-enumerable when built here, so it does not show when the config is logged or inspected. */
  clientSecret: string;
  /** Default deadline of unary calls in milliseconds (default 10 000). */
  deadlineMs?: number;
}

export const DEFAULT_API_URL = 'http://127.0.0.1:3203';
export const DEFAULT_TOKEN_URL = 'http://127.0.0.1:3100/oauth/token';
export const DEFAULT_DEADLINE_MS = 10_000;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads PCS_API_URL, PAS_TOKEN_URL, PAS_PCS_CLIENT_ID, PAS_PCS_CLIENT_SECRET and PCS_DEADLINE_MS. */
export function clientConfigFromEnv(env: Record<string, string | undefined> = process.env): ClientConfig {
  const required = (name: string) => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(`${name} is not set: the Ppoppo API client needs it`);
    return value;
  };
  const apiUrl = env.PCS_API_URL?.trim() || DEFAULT_API_URL;
  const tokenUrl = env.PAS_TOKEN_URL?.trim() || DEFAULT_TOKEN_URL;
  parseApiUrl(apiUrl, 'PCS_API_URL');
  checkTokenUrl(tokenUrl, 'PAS_TOKEN_URL');
  const config = makeClientConfig({ apiUrl, tokenUrl, clientId: required('PAS_PCS_CLIENT_ID'), clientSecret: required('PAS_PCS_CLIENT_SECRET') });
  const deadline = env.PCS_DEADLINE_MS?.trim();
  if (deadline) {
    if (!/^\d+$/.test(deadline) || Number(deadline) <= 0) throw new ConfigError(`PCS_DEADLINE_MS must be a positive whole number of milliseconds, got "${deadline}"`);
    config.deadlineMs = Number(deadline);
  }
  return config;
}

/** A ClientConfig whose secret is non-enumerable (hidden from inspect/JSON; lost by `{...spread}`). */
export function makeClientConfig(fields: ClientConfig): ClientConfig {
  const { clientSecret, ...visible } = fields;
  const config = { ...visible } as ClientConfig;
  Object.defineProperty(config, 'clientSecret', { value: clientSecret, enumerable: false, writable: false });
  return config;
}

/** A parsed PCS_API_URL: grpc-js target, transport security and method path prefix. */
export interface ApiEndpoint {
  /** `host:port` for grpc-js. */
  target: string;
  tls: boolean;
  /** '' or a path without trailing slash, e.g. '/ext'. */
  pathPrefix: string;
  /** Human-readable concerns, e.g. plaintext to a remote host. */
  warnings: string[];
}

export function parseApiUrl(url: string, what = 'PCS_API_URL'): ApiEndpoint {
  const parsed = parseUrl(url, what);
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new ConfigError(`${what} must be scheme://host[:port][/path] without credentials, query or fragment`);
  }
  const tls = parsed.protocol === 'https:';
  const port = parsed.port || (tls ? '443' : '80');
  const pathPrefix = parsed.pathname.replace(/\/+$/, '');
  const warnings = !tls && !isLoopback(parsed.hostname) ? [`${what} uses plaintext gRPC to ${parsed.hostname}; use https:// outside a trusted network`] : [];
  return { target: `${parsed.hostname}:${port}`, tls, pathPrefix, warnings };
}

/** Validates the token URL; returns warnings (plaintext to a remote host sends the secret in clear). */
export function checkTokenUrl(url: string, what = 'PAS_TOKEN_URL'): string[] {
  const parsed = parseUrl(url, what);
  if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) {
    return [`${what} uses plain http to ${parsed.hostname}: the client secret travels unencrypted; use https:// outside a trusted network`];
  }
  return [];
}

function parseUrl(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${what} is not a valid URL: "${url}" (expected e.g. https://api.ppoppo.com/ext)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`${what} must start with http:// or https://, got "${parsed.protocol}"`);
  }
  return parsed;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
