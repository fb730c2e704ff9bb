// Webhook channel against a real local HTTP server: Standard Webhooks signature, headers, retries,
// permanent errors, and where it may connect (FALLBACK_ALLOWED_HOSTS).
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { FallbackMessage } from '../../activities/fallback/channel';
import type { OutboundPolicy } from '../../activities/outbound';
import { parseRetryAfter } from '../../activities/fallback/retry';
import { createWebhookChannel } from '../../activities/fallback/webhook';
import { verifyWebhook } from '../../src/webhooks/signature';
import { sendExpectingFailure } from './expect-failure';
import { startWebhookReceiver, type WebhookReceiver } from '../../dev/receivers';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const SECRET = `whsec_${KEY.toString('base64')}`;
const fastBackoff = { initialMs: 5, maxMs: 50 };

const message: FallbackMessage = {
  campaignId: 'spring',
  ppnum: '12300000003',
  outcome: 'denied',
  idempotencyKey: 'spring:12300000003',
  text: 'Hello Ana, see you elsewhere',
  vars: { name: 'Ana' },
};

let receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  receivers = [];
});

async function receiver(answer?: Parameters<typeof startWebhookReceiver>[0]): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver(answer);
  receivers.push(started);
  return started;
}

/** The worker's environment for a receiver on 127.0.0.1: the secret, and the receiver's address allowed explicitly. */
function envFor(r: WebhookReceiver, extra: Record<string, string> = {}): Record<string, string> {
  return { FALLBACK_SECRET_WEBHOOK: SECRET, FALLBACK_ALLOWED_HOSTS: new URL(r.url).host, ...extra };
}

describe('webhook fallback channel', () => {
  it('POSTs the message as JSON, signed Standard Webhooks style over id, timestamp and body', async () => {
    const r = await receiver();
    const delivery = await createWebhookChannel({ type: 'webhook', url: r.url }, { env: envFor(r) }).send(message);

    expect(delivery.attempts).toBe(1);
    const [request] = r.requests;
    const headers = request!.headers;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['idempotency-key']).toBe('spring:12300000003');
    expect(headers['webhook-id']).toBe('spring:12300000003');
    const timestamp = Number(headers['webhook-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);
    // The scheme spelled out independently of our signer: v1,base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")).
    const expected = createHmac('sha256', KEY).update(`spring:12300000003.${timestamp}.${request!.body}`).digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(verifyWebhook({ headers, body: request!.body, secret: SECRET })).toEqual({ ok: true, id: 'spring:12300000003', timestamp });
    expect(headers['x-ppoppo-signature']).toBeUndefined();
    expect(JSON.parse(request!.body)).toEqual({ idempotencyKey: 'spring:12300000003', campaignId: 'spring', ppnum: '12300000003', outcome: 'denied', text: 'Hello Ana, see you elsewhere', vars: { name: 'Ana' } });
  });

  it('signs with the secret named by secretEnv (a FALLBACK_SECRET_ variable); a plain secret is used as its UTF-8 bytes', async () => {
    const r = await receiver();
    const plain = 'a-plain-partner-secret-of-32-chars';
    await createWebhookChannel({ type: 'webhook', url: r.url, secretEnv: 'FALLBACK_SECRET_PARTNER' }, { env: envFor(r, { FALLBACK_SECRET_PARTNER: plain }) }).send(message);
    const [request] = r.requests;
    expect(verifyWebhook({ headers: request!.headers, body: request!.body, secret: plain }).ok).toBe(true);
    expect(verifyWebhook({ headers: request!.headers, body: request!.body, secret: SECRET })).toMatchObject({ ok: false, reason: expect.stringContaining('no signature matches') });
  });

  it('refuses to start without its secret unless the spec says unsigned, naming the variable, not a value', () => {
    const url = 'http://127.0.0.1:1/';
    const policy = { FALLBACK_ALLOWED_HOSTS: '127.0.0.1:1' };
    expect(() => createWebhookChannel({ type: 'webhook', url }, { env: policy })).toThrow('environment variable FALLBACK_SECRET_WEBHOOK is not set on the worker (or mark the channel "unsigned": true');
    expect(() => createWebhookChannel({ type: 'webhook', url, secretEnv: 'FALLBACK_SECRET_MISSING' }, { env: { ...policy, FALLBACK_SECRET_WEBHOOK: SECRET } })).toThrow(/FALLBACK_SECRET_MISSING is not set/);
    expect(() => createWebhookChannel({ type: 'webhook', url }, { env: { ...policy, FALLBACK_SECRET_WEBHOOK: 'short' } })).toThrow('webhook secret in FALLBACK_SECRET_WEBHOOK: the webhook secret is too short');
  });

  it('sends unsigned only when the spec marks the channel "unsigned": true', async () => {
    const r = await receiver();
    await createWebhookChannel({ type: 'webhook', url: r.url, unsigned: true }, { env: { FALLBACK_ALLOWED_HOSTS: new URL(r.url).host } }).send(message);
    expect(r.requests[0]!.headers['webhook-signature']).toBeUndefined();
    expect(r.requests[0]!.headers['idempotency-key']).toBe('spring:12300000003');
  });

  it('retries after a 503 (honouring Retry-After): same id and body, a fresh timestamp and signature', async () => {
    const r = await receiver((_request, n) => (n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 202 }));
    const delivery = await createWebhookChannel({ type: 'webhook', url: r.url }, { env: envFor(r), backoff: { initialMs: 5, maxMs: 2_000 } }).send(message);

    expect(delivery).toEqual({ attempts: 2, detail: 'HTTP 202' });
    const [first, second] = r.requests;
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(second!.body).toBe(first!.body);
    expect(Number(second!.headers['webhook-timestamp'])).toBeGreaterThan(Number(first!.headers['webhook-timestamp']));
    for (const request of [first!, second!]) expect(verifyWebhook({ headers: request.headers, body: request.body, secret: SECRET }).ok).toBe(true);
  });

  it('retries 429 and 408 as well', async () => {
    const r = await receiver((_request, n) => ({ status: [429, 408, 200][n - 1] ?? 500 }));
    const delivery = await createWebhookChannel({ type: 'webhook', url: r.url }, { env: envFor(r), backoff: fastBackoff }).send(message);
    expect(delivery.attempts).toBe(3);
  });

  it('treats a 400 as permanent: one request, no retry', async () => {
    const r = await receiver(() => ({ status: 400 }));
    const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url: r.url }, { env: envFor(r), backoff: fastBackoff }).send(message));
    expect(error).toMatchObject({ permanent: true, channelFault: false, attempts: 1, message: 'webhook answered HTTP 400' }); // about this message, not the channel
    expect(r.requests).toHaveLength(1);
  });

  it('treats a refused signature or a missing endpoint (401, 403, 404, 410) as the channel\'s fault, not the recipient\'s', async () => {
    for (const status of [401, 403, 404, 410]) {
      const r = await receiver(() => ({ status }));
      const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url: r.url }, { env: envFor(r), backoff: fastBackoff }).send(message));
      expect([error.permanent, error.channelFault, error.code]).toEqual([true, true, `HTTP ${status}`]);
    }
  });

  it('hands a long Retry-After to the workflow instead of waiting in the activity', async () => {
    const r = await receiver(() => ({ status: 503, headers: { 'retry-after': '3600' } }));
    const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url: r.url }, { env: envFor(r), backoff: fastBackoff }).send(message));
    expect(error).toMatchObject({ permanent: false, channelFault: true, retryAfterMs: 3_600_000, attempts: 1, code: 'HTTP 503' });
    expect(error.message).toBe('asked to wait 3600 s: webhook answered HTTP 503');
  });

  it('gives up after maxAttempts on persistent 5xx, as a temporary failure', async () => {
    const r = await receiver(() => ({ status: 500 }));
    const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url: r.url, maxAttempts: 3 }, { env: envFor(r), backoff: fastBackoff }).send(message));
    expect(error).toMatchObject({ permanent: false, channelFault: true, attempts: 3, message: 'gave up after 3 attempts: webhook answered HTTP 500' });
    expect(r.requests).toHaveLength(3);
  });

  it('retries network errors and never puts the URL in the error', async () => {
    const closed = await startWebhookReceiver();
    const url = `${closed.url}?token=url-secret`;
    const env = envFor(closed);
    await closed.close(); // nothing listens on this port any more

    const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url, maxAttempts: 2 }, { env, backoff: fastBackoff }).send(message));
    expect(error).toMatchObject({ permanent: false, channelFault: true, code: 'ECONNREFUSED', attempts: 2 });
    expect(error.message).toMatch(/webhook unreachable \(ECONNREFUSED\)/);
    expect(error.message).not.toContain('url-secret');
  });
});

describe('where a webhook may connect', () => {
  it('refuses a loopback or private address unless FALLBACK_ALLOWED_HOSTS names it, and sends nothing', async () => {
    const r = await receiver();
    const { port } = new URL(r.url);
    for (const env of [{}, { FALLBACK_ALLOWED_HOSTS: 'hooks.example.com' }, { FALLBACK_ALLOWED_HOSTS: `127.0.0.1:${Number(port) + 1}` }]) {
      expect(() => createWebhookChannel({ type: 'webhook', url: r.url }, { env: { FALLBACK_SECRET_WEBHOOK: SECRET, ...env } })).toThrow(/127\.0\.0\.1:\d+ (is a private or loopback address|is not in FALLBACK_ALLOWED_HOSTS)/);
    }
    for (const url of ['http://localhost:9/x', 'http://[::1]:9/x', 'http://10.1.2.3/x', 'http://169.254.169.254/latest/meta-data']) {
      expect(() => createWebhookChannel({ type: 'webhook', url }, { env: { FALLBACK_SECRET_WEBHOOK: SECRET } })).toThrow(/is a private or loopback address: list it in FALLBACK_ALLOWED_HOSTS/);
    }
    expect(r.requests).toHaveLength(0);
  });

  it('checks what a name resolves to at connection time: a wildcard entry never allows a private address, an exact one does', async () => {
    const r = await receiver();
    const port = Number(new URL(r.url).port);
    const resolve = async (host: string) => (host === 'hooks.internal' ? [{ address: '127.0.0.1', family: 4 }] : Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' })));
    const url = `http://hooks.internal:${port}/fallback`;
    const wildcard: OutboundPolicy = { allowed: [{ host: 'internal', wildcard: true }], resolve };
    const refused = await createWebhookChannel({ type: 'webhook', url }, { env: { FALLBACK_SECRET_WEBHOOK: SECRET }, policy: wildcard }).send(message).catch((err: Error) => err);
    expect(refused).toMatchObject({ name: 'OutboundRefusedError', message: expect.stringContaining(`hooks.internal:${port} resolves to a private or loopback address`) });
    expect(r.requests).toHaveLength(0);

    const exact: OutboundPolicy = { allowed: [{ host: 'hooks.internal', port, wildcard: false }], resolve };
    await createWebhookChannel({ type: 'webhook', url }, { env: { FALLBACK_SECRET_WEBHOOK: SECRET }, policy: exact }).send(message);
    expect(r.requests).toHaveLength(1); // connected to the address the check passed
  });

  it('never follows a redirect (not even to an allowed host)', async () => {
    const target = await receiver();
    const redirecting = await receiver(() => ({ status: 307, headers: { location: target.url } }));
    const env = { FALLBACK_SECRET_WEBHOOK: SECRET, FALLBACK_ALLOWED_HOSTS: `${new URL(redirecting.url).host},${new URL(target.url).host}` };
    const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url: redirecting.url }, { env, backoff: fastBackoff }).send(message));
    expect(error).toMatchObject({ permanent: true, channelFault: true, attempts: 1 }); // the channel's URL is out of date, not the recipient's fault
    expect(error.message).toContain('HTTP 307 (a redirect: fallbacks never follow one');
    expect(target.requests).toHaveLength(0);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
