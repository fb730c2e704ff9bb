// Webhook channel against a real local HTTP server: signature, headers, retries, permanent errors.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { FallbackMessage } from '../../activities/fallback/channel';
import { parseRetryAfter } from '../../activities/fallback/retry';
import { createWebhookChannel } from '../../activities/fallback/webhook';
import { sendExpectingFailure } from './expect-failure';
import { startWebhookReceiver, type WebhookReceiver } from '../../dev/receivers';

const SECRET = 'test-webhook-secret';
const env = { FALLBACK_WEBHOOK_SECRET: SECRET, OTHER_SECRET: 'other-secret' };
const fastBackoff = { initialMs: 5, maxMs: 50 };

const message: FallbackMessage = {
  campaignId: 'spring',
  ppnum: '12300000003',
  outcome: 'denied',
  idempotencyKey: 'spring:12300000003',
  text: 'Hello Ana, see you elsewhere',
  vars: { name: 'Ana' },
};

let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function expectedSignature(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

describe('webhook fallback channel', () => {
  it('POSTs the message as JSON, signed with HMAC-SHA256 of the raw body, with an idempotency key', async () => {
    receiver = await startWebhookReceiver();
    const channel = createWebhookChannel({ type: 'webhook', url: receiver.url }, { env });

    const delivery = await channel.send(message);

    expect(delivery.attempts).toBe(1);
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['idempotency-key']).toBe('spring:12300000003');
    expect(request!.headers['x-ppoppo-signature']).toBe(expectedSignature(request!.body));
    expect(Number(request!.headers['x-ppoppo-timestamp'])).toBeGreaterThan(1_600_000_000);
    expect(JSON.parse(request!.body)).toEqual({
      idempotencyKey: 'spring:12300000003',
      campaignId: 'spring',
      ppnum: '12300000003',
      outcome: 'denied',
      text: 'Hello Ana, see you elsewhere',
      vars: { name: 'Ana' },
    });
  });

  it('signs with the secret named by secretEnv', async () => {
    receiver = await startWebhookReceiver();
    await createWebhookChannel({ type: 'webhook', url: receiver.url, secretEnv: 'OTHER_SECRET' }, { env }).send(message);
    const [request] = receiver.requests;
    expect(request!.headers['x-ppoppo-signature']).toBe(expectedSignature(request!.body, 'other-secret'));
  });

  it('refuses to start when secretEnv names an unset variable, without revealing other secrets', () => {
    expect(() => createWebhookChannel({ type: 'webhook', url: 'http://127.0.0.1:1/', secretEnv: 'MISSING_SECRET' }, { env })).toThrow(/MISSING_SECRET is not set/);
  });

  it('sends unsigned when no secret is configured at all', async () => {
    receiver = await startWebhookReceiver();
    await createWebhookChannel({ type: 'webhook', url: receiver.url }, { env: {} }).send(message);
    expect(receiver.requests[0]!.headers['x-ppoppo-signature']).toBeUndefined();
  });

  it('retries after a 503 (honouring Retry-After) and resends the same key and body', async () => {
    receiver = await startWebhookReceiver((_request, n) => (n === 1 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 202 }));
    const channel = createWebhookChannel({ type: 'webhook', url: receiver.url }, { env, backoff: fastBackoff });

    const delivery = await channel.send(message);

    expect(delivery).toEqual({ attempts: 2, detail: 'HTTP 202' });
    expect(receiver.requests).toHaveLength(2);
    const [first, second] = receiver.requests;
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(second!.body).toBe(first!.body);
  });

  it('retries 429 and 408 as well', async () => {
    receiver = await startWebhookReceiver((_request, n) => ({ status: [429, 408, 200][n - 1] ?? 500 }));
    const delivery = await createWebhookChannel({ type: 'webhook', url: receiver.url }, { env, backoff: fastBackoff }).send(message);
    expect(delivery.attempts).toBe(3);
  });

  it('treats a 400 as permanent: one request, no retry', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 400 }));
    const channel = createWebhookChannel({ type: 'webhook', url: receiver.url }, { env, backoff: fastBackoff });

    const error = await sendExpectingFailure(channel.send(message));

    expect(error.permanent).toBe(true);
    expect(error.channelFault).toBe(false); // about this message, not the channel
    expect(error.attempts).toBe(1);
    expect(error.message).toBe('webhook answered HTTP 400');
    expect(receiver.requests).toHaveLength(1);
  });

  it('treats a refused signature or a missing endpoint (401, 403, 404, 410) as the channel\'s fault, not the recipient\'s', async () => {
    for (const status of [401, 403, 404, 410]) {
      receiver = await startWebhookReceiver(() => ({ status }));
      const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url: receiver.url }, { env, backoff: fastBackoff }).send(message));
      expect([error.permanent, error.channelFault, error.code]).toEqual([true, true, `HTTP ${status}`]);
      await receiver.close();
      receiver = undefined;
    }
  });

  it('hands a long Retry-After to the workflow instead of waiting in the activity', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 503, headers: { 'retry-after': '3600' } }));
    const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url: receiver.url }, { env, backoff: fastBackoff }).send(message));
    expect(error).toMatchObject({ permanent: false, channelFault: true, retryAfterMs: 3_600_000, attempts: 1, code: 'HTTP 503' });
    expect(error.message).toBe('asked to wait 3600 s: webhook answered HTTP 503');
  });

  it('gives up after maxAttempts on persistent 5xx, as a temporary failure', async () => {
    receiver = await startWebhookReceiver(() => ({ status: 500 }));
    const channel = createWebhookChannel({ type: 'webhook', url: receiver.url, maxAttempts: 3 }, { env, backoff: fastBackoff });

    const error = await sendExpectingFailure(channel.send(message));

    expect(error.permanent).toBe(false);
    expect(error.channelFault).toBe(true);
    expect(error.attempts).toBe(3);
    expect(error.message).toBe('gave up after 3 attempts: webhook answered HTTP 500');
    expect(receiver.requests).toHaveLength(3);
  });

  it('retries network errors and never puts the URL in the error', async () => {
    const closed = await startWebhookReceiver();
    const url = `${closed.url}?token=url-secret`;
    await closed.close(); // nothing listens on this port any more

    const error = await sendExpectingFailure(createWebhookChannel({ type: 'webhook', url, maxAttempts: 2 }, { env, backoff: fastBackoff }).send(message));

    expect(error.permanent).toBe(false);
    expect([error.channelFault, error.code]).toEqual([true, 'ECONNREFUSED']);
    expect(error.attempts).toBe(2);
    expect(error.message).toMatch(/webhook unreachable \(ECONNREFUSED\)/);
    expect(error.message).not.toContain('url-secret');
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
