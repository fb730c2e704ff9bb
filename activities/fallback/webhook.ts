// Webhook fallback: POSTs the message as JSON. Receivers verify `x-ppoppo-signature`
// (sha256=<hex HMAC-SHA256 of the raw body, keyed with the shared secret>) and drop repeats by
// `idempotency-key`: a retry (ours or Temporal's) sends the same key and the same body.
import { createHmac } from 'node:crypto';
import type { WebhookChannelSettings } from '../../src/campaign/fallback-settings';
import type { FallbackChannel, FallbackMessage } from './channel';
import { parseRetryAfter, withRetries, type BackoffOptions, type TryResult } from './retry';

export const DEFAULT_WEBHOOK_SECRET_ENV = 'FALLBACK_WEBHOOK_SECRET';

export interface WebhookChannelOptions {
  env?: Record<string, string | undefined>;
  backoff?: BackoffOptions;
}

export function createWebhookChannel(settings: WebhookChannelSettings, options: WebhookChannelOptions = {}): FallbackChannel {
  const secret = webhookSecret(settings, options.env ?? process.env);
  const timeoutMs = settings.timeoutMs ?? 10_000;
  const maxAttempts = settings.maxAttempts ?? 5;

  return {
    name: 'webhook',
    async send(msg) {
      const body = JSON.stringify(webhookBody(msg));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'idempotency-key': msg.idempotencyKey,
        'x-ppoppo-timestamp': String(Math.floor(Date.now() / 1000)),
      };
      if (secret) headers['x-ppoppo-signature'] = signBody(body, secret);
      const { value, attempts } = await withRetries(maxAttempts, options.backoff ?? {}, () => postOnce(settings.url, headers, body, timeoutMs));
      return { attempts, detail: value };
    },
  };
}

/** The JSON receivers get. Stable for a given message, so retries are byte-identical. */
export function webhookBody(msg: FallbackMessage) {
  return { idempotencyKey: msg.idempotencyKey, campaignId: msg.campaignId, ppnum: msg.ppnum, outcome: msg.outcome, text: msg.text, vars: msg.vars };
}

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The secret named by secretEnv (must then be set), else FALLBACK_WEBHOOK_SECRET if set, else none. */
function webhookSecret(settings: WebhookChannelSettings, env: Record<string, string | undefined>): string | undefined {
  if (settings.secretEnv) {
    const secret = env[settings.secretEnv];
    if (!secret) throw new Error(`webhook secret: environment variable ${settings.secretEnv} is not set`);
    return secret;
  }
  return env[DEFAULT_WEBHOOK_SECRET_ENV] || undefined;
}

// Error messages name the status, never the URL: webhook URLs often carry tokens.
async function postOnce(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<TryResult<string>> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const timedOut = err instanceof Error && err.name === 'TimeoutError';
    const reason = timedOut ? `no answer within ${timeoutMs} ms` : networkReason(err);
    return { ok: false, retryable: true, channelFault: true, code: timedOut ? 'TIMEOUT' : reason, message: `webhook unreachable (${reason})` };
  }
  await response.body?.cancel().catch(() => undefined); // we only need the status
  const status = response.status;
  if (status >= 200 && status < 300) return { ok: true, value: `HTTP ${status}` };
  const retryable = status >= 500 || status === 408 || status === 429;
  // Refused credentials or an endpoint that is not there are the set-up's fault, not the recipient's.
  const channelFault = retryable || CHANNEL_STATUSES.includes(status);
  return { ok: false, retryable, channelFault, code: `HTTP ${status}`, message: `webhook answered HTTP ${status}`, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
}

/** Answers that mean the webhook's configuration is wrong (signature refused, URL wrong or gone). */
const CHANNEL_STATUSES = [401, 403, 404, 405, 410];

function networkReason(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
  return cause?.code ?? (err instanceof Error ? err.message : String(err));
}
