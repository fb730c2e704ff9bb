// Validates `fallback.channel` from the campaign spec (opaque to the workflows) into typed settings.
// Accepts `type` (the spec's field) and `kind` as its alias.
import type { EmailChannelSettings, FallbackChannelSettings, WebhookChannelSettings } from './channel';

export type RawChannelSettings = Record<string, unknown>;

/** Typed settings, or an Error naming the first problem (no secrets: settings hold none). */
export function parseChannelSettings(raw: RawChannelSettings): FallbackChannelSettings {
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
