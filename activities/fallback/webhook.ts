// Webhook fallback: POSTs the message as JSON, signed the Standard Webhooks way (webhook-id,
// webhook-timestamp, webhook-signature: see src/webhooks/signature.ts and the README's "Security"
// section; examples/verify-webhook.ts is a receiver that verifies them). The same message always
// has the same body and webhook-id (= idempotency-key), so a receiver drops repeats; each attempt
// is signed with its own timestamp. Unsigned only when the spec says "unsigned": true.
//
// Where it may connect is FALLBACK_ALLOWED_HOSTS (outbound.ts); a redirect is never followed.
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DEFAULT_WEBHOOK_SECRET_ENV } from '../../src/campaign/fallback-settings';
import type { WebhookChannelSettings } from '../../src/campaign/fallback-settings';
import { signWebhook, webhookKey } from '../../src/webhooks/signature';
import type { FallbackChannel, FallbackMessage } from './channel';
import { OutboundRefusedError, checkDestination, guardedLookup, outboundPolicyFromEnv, urlDestination } from '../outbound';
import type { OutboundPolicy } from '../outbound';
import { parseRetryAfter, withRetries, type BackoffOptions, type TryResult } from './retry';

export interface WebhookChannelOptions {
  env?: Record<string, string | undefined>;
  /** Where it may connect; default from FALLBACK_ALLOWED_HOSTS in `env`. */
  policy?: OutboundPolicy;
  backoff?: BackoffOptions;
}

/** Throws (a configuration fault, not a recipient's) when the secret is missing or the URL is not allowed. */
export function createWebhookChannel(settings: WebhookChannelSettings, options: WebhookChannelOptions = {}): FallbackChannel {
  const env = options.env ?? process.env;
  const secret = webhookSecret(settings, env);
  const policy = options.policy ?? outboundPolicyFromEnv(env);
  const { host, port } = urlDestination(settings.url);
  checkDestination(policy, host, port);
  const timeoutMs = settings.timeoutMs ?? 10_000;
  const maxAttempts = settings.maxAttempts ?? 5;

  return {
    name: 'webhook',
    async send(msg) {
      const body = JSON.stringify(webhookBody(msg));
      const attempt = () => {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': msg.idempotencyKey };
        if (secret) Object.assign(headers, signWebhook({ id: msg.idempotencyKey, body, secret }));
        return postOnce(settings.url, headers, body, timeoutMs, policy, port);
      };
      const { value, attempts } = await withRetries(maxAttempts, options.backoff ?? {}, attempt);
      return { attempts, detail: value };
    },
  };
}

/** The JSON receivers get. Stable for a given message, so retries are byte-identical. */
export function webhookBody(msg: FallbackMessage) {
  return { idempotencyKey: msg.idempotencyKey, campaignId: msg.campaignId, ppnum: msg.ppnum, outcome: msg.outcome, text: msg.text, vars: msg.vars };
}

/** The secret named by secretEnv, else FALLBACK_SECRET_WEBHOOK; it must be set unless the spec says "unsigned": true. */
function webhookSecret(settings: WebhookChannelSettings, env: Record<string, string | undefined>): string | undefined {
  if (settings.unsigned) return undefined;
  const name = settings.secretEnv ?? DEFAULT_WEBHOOK_SECRET_ENV;
  const secret = env[name];
  if (!secret) throw new Error(`webhook secret: environment variable ${name} is not set on the worker (or mark the channel "unsigned": true to send unsigned webhooks)`);
  try {
    webhookKey(secret);
  } catch (err) {
    throw new Error(`webhook secret in ${name}: ${(err as Error).message}`);
  }
  return secret;
}

// Error messages name the status, never the URL: webhook URLs often carry tokens.
async function postOnce(url: string, headers: Record<string, string>, body: string, timeoutMs: number, policy: OutboundPolicy, port: number): Promise<TryResult<string>> {
  let response: IncomingMessage;
  try {
    response = await post(url, headers, body, timeoutMs, policy, port);
  } catch (err) {
    const error = err as NodeJS.ErrnoException;
    const refused = [error, error.cause].find((e) => e instanceof OutboundRefusedError);
    if (refused) throw refused; // the operator's setting, not this recipient: the batch holds on a configuration fault
    const timedOut = [error.name, (error.cause as Error | undefined)?.name].includes('TimeoutError');
    const reason = timedOut ? `no answer within ${timeoutMs} ms` : (error.code ?? String(err));
    return { ok: false, retryable: true, channelFault: true, code: timedOut ? 'TIMEOUT' : (error.code ?? 'NETWORK'), message: `webhook unreachable (${reason})` };
  }
  response.resume(); // we only need the status
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return { ok: true, value: `HTTP ${status}` };
  // A redirect means the channel's URL is out of date: the set-up's fault, not the recipient's.
  if (status >= 300 && status < 400) return { ok: false, retryable: false, channelFault: true, code: `HTTP ${status}`, message: `webhook answered HTTP ${status} (a redirect: fallbacks never follow one; point the channel at the final URL)` };
  const retryable = status >= 500 || status === 408 || status === 429;
  // Refused credentials or an endpoint that is not there are the set-up's fault, not the recipient's.
  const channelFault = retryable || CHANNEL_STATUSES.includes(status);
  const retryAfter = response.headers['retry-after'];
  return { ok: false, retryable, channelFault, code: `HTTP ${status}`, message: `webhook answered HTTP ${status}`, retryAfterMs: parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : null) };
}

/** Answers that mean the webhook's configuration is wrong (signature refused, URL wrong or gone). */
const CHANNEL_STATUSES = [401, 403, 404, 405, 410];

function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number, policy: OutboundPolicy, port: number): Promise<IncomingMessage> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: guardedLookup(policy, port), signal: AbortSignal.timeout(timeoutMs) }, resolve);
    req.once('error', reject);
    req.end(body);
  });
}
