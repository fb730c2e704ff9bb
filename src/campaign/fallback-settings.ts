// The fallback channel settings a campaign spec holds (`fallback.channel`), and their validation
// into typed settings. Pure: the spec parser, the CLI and the fallback activities share it.
// Accepts `type` (the spec's field) and `kind` as its alias.

/** Settings as written in the campaign spec (`fallback.channel`). Secrets appear only as env var names. */
export interface WebhookChannelSettings {
  type: 'webhook';
  url: string;
  /** Env var holding the HMAC key; default FALLBACK_WEBHOOK_SECRET. Unsigned if neither is set. */
  secretEnv?: string;
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
  /** Env var holding the SMTP password; default SMTP_PASSWORD when `user` is set. */
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
  webhook: ['type', 'kind', 'url', 'secretEnv', 'timeoutMs', 'maxAttempts'],
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
  if (!/^https?:\/\//.test(url)) throw new Error('fallback.channel.url must be an http(s) URL');
  return {
    type: 'webhook',
    url,
    secretEnv: optionalString(raw, 'secretEnv'),
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
    passwordEnv: optionalString(raw, 'passwordEnv'),
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

function optionalPositive(raw: RawChannelSettings, key: string): number | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error(`fallback.channel.${key} must be a positive integer`);
  return value;
}
