// Webhook signatures, Standard Webhooks style (https://www.standardwebhooks.com): every fallback
// webhook carries
//   webhook-id         the message id: `<campaignId>:<ppnum>`, the same on every retry (also sent as idempotency-key)
//   webhook-timestamp  when this attempt was signed, in whole seconds since the epoch
//   webhook-signature  `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` (space-separated if several)
// The timestamp is signed with the body, so an old delivery cannot be replayed with a new
// timestamp; a receiver refuses timestamps outside its tolerance (5 minutes) and processes each
// webhook-id once. The secret is `whsec_<base64>` (the key is the decoded bytes) or, for any other
// value, its UTF-8 bytes; at least 16 bytes either way.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const;
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;
const MIN_KEY_BYTES = 16;

/** The HMAC key of a secret; throws when it is too short to be a key. */
export function webhookKey(secret: string): Buffer {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  if (key.length < MIN_KEY_BYTES) throw new Error(`the webhook secret is too short: use at least ${MIN_KEY_BYTES} random bytes, e.g. whsec_ followed by \`openssl rand -base64 32\``);
  return key;
}

function signature(key: Buffer, id: string, timestamp: string, body: string): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
}

/** The three headers for one attempt. */
export function signWebhook(input: { id: string; body: string; secret: string; now?: number }): Record<string, string> {
  const timestamp = String(Math.floor((input.now ?? Date.now()) / 1000));
  return {
    [WEBHOOK_HEADERS.id]: input.id,
    [WEBHOOK_HEADERS.timestamp]: timestamp,
    [WEBHOOK_HEADERS.signature]: `v1,${signature(webhookKey(input.secret), input.id, timestamp, input.body)}`,
  };
}

export type WebhookVerification = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

/**
 * Checks a received webhook: headers present, timestamp within `toleranceSeconds` of now, and one
 * of the v1 signatures matching the raw body. Deduplicating by `id` is the receiver's part.
 */
export function verifyWebhook(input: {
  headers: Record<string, string | string[] | undefined>;
  /** The raw body exactly as received (not re-serialized JSON). */
  body: string;
  secret: string;
  toleranceSeconds?: number;
  now?: number;
}): WebhookVerification {
  const header = (name: string) => {
    const value = input.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = header(WEBHOOK_HEADERS.id);
  const timestamp = header(WEBHOOK_HEADERS.timestamp);
  const signatures = header(WEBHOOK_HEADERS.signature);
  if (!id || !timestamp || !signatures) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp is not a number of seconds' };
  const age = Math.floor((input.now ?? Date.now()) / 1000) - Number(timestamp);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (age > tolerance) return { ok: false, reason: `webhook-timestamp is ${age} s old (tolerance ${tolerance} s): a replay, or a clock far off` };
  if (age < -tolerance) return { ok: false, reason: `webhook-timestamp is ${-age} s in the future (tolerance ${tolerance} s)` };
  const expected = Buffer.from(signature(webhookKey(input.secret), id, timestamp, input.body));
  const matches = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .some((entry) => {
      const candidate = Buffer.from(entry.slice(3));
      return candidate.length === expected.length && timingSafeEqual(candidate, expected);
    });
  return matches ? { ok: true, id, timestamp: Number(timestamp) } : { ok: false, reason: 'no signature matches: the body, id or timestamp was changed, or the secret differs' };
}
