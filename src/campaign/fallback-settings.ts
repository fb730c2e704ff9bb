// The fallback channel settings a campaign spec holds (`fallback.channel`), and their validation
// into typed settings. Pure: the spec parser, the CLI and the fallback activities share it.
// Accepts `type` (the spec's field) and `kind` as its alias.
//
// A spec names secrets only by environment variable, and only variables starting with
// FALLBACK_SECRET_: a spec author must not be able to point a channel at any other worker
// variable (the API client secret, say) and receive an HMAC keyed with it. Where a channel may
// connect is the worker operator's decision (FALLBACK_ALLOWED_HOSTS, activities/outbound.ts).

/** The prefix of every environment variable a spec may name as a secret. */
export const FALLBACK_SECRET_PREFIX = 'FALLBACK_SECRET_';
/** The webhook's HMAC key when the channel names none. */
export const DEFAULT_WEBHOOK_SECRET_ENV = 'FALLBACK_SECRET_WEBHOOK';
/** The SMTP password of a channel with a `user` when it names none. */
export const DEFAULT_SMTP_PASSWORD_ENV = 'FALLBACK_SECRET_SMTP';

/** Settings as written in the campaign spec (`fallback.channel`). Secrets appear only as env var names. */
export interface WebhookChannelSettings {
  type: 'webhook';
  url: string;
  /** Env var (FALLBACK_SECRET_…) holding the signing secret; default FALLBACK_SECRET_WEBHOOK, which must then be set. */
  secretEnv?: string;
  /** true: send without a signature (the receiver cannot tell our webhooks from forged ones). Must be said explicitly. */
  unsigned?: boolean;
  /** Per request; default 10 000. */
  timeoutMs?: number;
  /** Tries per message, for network errors, 5xx, 408 and 429; default 5. */
  maxAttempts?: number;
}

export interface EmailChannelSettings {
  type: 'email';
  host: string;
  port: number;
  /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
  secure?: boolean;
  user?: string;
  /** Env var (FALLBACK_SECRET_…) holding the SMTP password; default FALLBACK_SECRET_SMTP when `user` is set. */
  passwordEnv?: string;
  from: string;
  /** Recipient variable (CSV column / NDJSON field) holding the email address. */
  addressColumn: string;
  /** Subject line; may use {{placeholders}}. */
  subject?: string;
  /** Tries per message for connection errors and 4xx SMTP replies; default 3. */
  maxAttempts?: number;
}

export type FallbackChannelSettings = WebhookChannelSettings | EmailChannelSettings;

type RawChannelSettings = Record<string, unknown>;

/** The fields each channel type may have (`kind` is an alias of `type`); the spec parser names any other. */
export const CHANNEL_FIELDS: Record<string, readonly string[]> = {
  webhook: ['type', 'kind', 'url', 'secretEnv', 'unsigned', 'timeoutMs', 'maxAttempts'],
  email: ['type', 'kind', 'host', 'port', 'secure', 'user', 'passwordEnv', 'from', 'addressColumn', 'subject', 'maxAttempts'],
};

/** Typed settings, or an Error naming the first problem (no secrets: settings hold none). */
export function parseChannelSettings(input: object): FallbackChannelSettings {
  const raw = input as RawChannelSettings;
  const type = raw.type ?? raw.kind;
  if (type === 'webhook') return webhookSettings(raw);
  if (type === 'email') return emailSettings(raw);
  throw new Error(`fallback.channel.type must be "webhook" or "email", got ${JSON.stringify(type)}`);
}

function webhookSettings(raw: RawChannelSettings): WebhookChannelSettings {
  const url = requireString(raw, 'url');
  if (!/^https?:\/\/[^/?#\s]+/i.test(url)) throw new Error('fallback.channel.url must be an http(s) URL');
  if (/^https?:\/\/[^/?#]*@/i.test(url)) throw new Error('fallback.channel.url must not hold credentials (user:password@); sign with secretEnv instead');
  if (raw.unsigned !== undefined && typeof raw.unsigned !== 'boolean') throw new Error('fallback.channel.unsigned must be true or false');
  const secretEnv = optionalEnvName(raw, 'secretEnv');
  if (raw.unsigned === true && secretEnv) throw new Error('fallback.channel: give secretEnv or "unsigned": true, not both');
  return {
    type: 'webhook',
    url,
    secretEnv,
    ...(raw.unsigned === true ? { unsigned: true } : {}),
    timeoutMs: optionalPositive(raw, 'timeoutMs'),
    maxAttempts: optionalPositive(raw, 'maxAttempts'),
  };
}

function emailSettings(raw: RawChannelSettings): EmailChannelSettings {
  const port = optionalPositive(raw, 'port');
  if (port === undefined) throw new Error('fallback.channel.port is required for email');
  if (raw.secure !== undefined && typeof raw.secure !== 'boolean') throw new Error('fallback.channel.secure must be true or false');
  return {
    type: 'email',
    host: requireString(raw, 'host'),
    port,
    secure: raw.secure as boolean | undefined,
    user: optionalString(raw, 'user'),
    passwordEnv: optionalEnvName(raw, 'passwordEnv'),
    from: requireString(raw, 'from'),
    addressColumn: requireString(raw, 'addressColumn'),
    subject: optionalString(raw, 'subject'),
    maxAttempts: optionalPositive(raw, 'maxAttempts'),
  };
}

function requireString(raw: RawChannelSettings, key: string): string {
  const value = raw[key];
  if (typeof value !== 'string' || value === '') throw new Error(`fallback.channel.${key} is required (a non-empty string)`);
  return value;
}

function optionalString(raw: RawChannelSettings, key: string): string | undefined {
  if (raw[key] === undefined) return undefined;
  return requireString(raw, key);
}

/** An environment variable a spec may name: FALLBACK_SECRET_ and upper-case letters, digits, underscores. */
function optionalEnvName(raw: RawChannelSettings, key: string): string | undefined {
  const name = optionalString(raw, key);
  if (name !== undefined && !new RegExp(`^${FALLBACK_SECRET_PREFIX}[A-Z0-9_]+$`).test(name)) {
    throw new Error(`fallback.channel.${key} must name an environment variable starting with ${FALLBACK_SECRET_PREFIX} (e.g. ${FALLBACK_SECRET_PREFIX}PARTNER_HOOK), got "${name}"`);
  }
  return name;
}

function optionalPositive(raw: RawChannelSettings, key: string): number | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error(`fallback.channel.${key} must be a positive integer`);
  return value;
}
