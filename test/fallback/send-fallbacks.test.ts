// The sendFallbacks activity (run in a MockActivityEnvironment for its Context) delivering to a
// real local webhook receiver: per-item results, heartbeat progress, resume after a retry,
// vars read from a file source, and configuration errors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { FALLBACK_SETTINGS_CODE, createFallbackActivities, type FallbackItemResult, type SendFallbacksInput } from '../../activities/fallback/index';
import { CONFIGURATION_FAULT } from '../../src/contracts/chunk';
import { createWebhookChannel } from '../../activities/fallback/webhook';
import { planRecipients } from '../../activities/recipients';
import type { FallbackChannelSettings } from '../../src/campaign/fallback-settings';
import { startSmtpReceiver, startWebhookReceiver, type WebhookReceiver } from '../../dev/receivers';
import { testLogger } from '../support/quiet-logs';

/** The activity's Context, its SDK log in test-results/worker.log (failures here are on purpose). */
function mockEnvironment(info: ConstructorParameters<typeof MockActivityEnvironment>[0] = {}): MockActivityEnvironment {
  return new MockActivityEnvironment(info, { logger: testLogger() });
}

const A = '12300000003';
const B = '12300000005';
const C = '45600000001';

let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const SECRET = 'a-webhook-secret-of-some-length';

/**
 * Activities whose webhook channel retries fast, with the worker's environment `env` (default: the
 * secret set and the receiver allowed); the receiver answers 400 for ppnums in `refuse`.
 */
async function setup(refuse: string[] = [], env?: Record<string, string>) {
  receiver = await startWebhookReceiver((request) => ({ status: refuse.some((ppnum) => request.body.includes(ppnum)) ? 400 : 200 }));
  const workerEnv = env ?? { FALLBACK_SECRET_WEBHOOK: SECRET, FALLBACK_ALLOWED_HOSTS: new URL(receiver.url).host };
  const { sendFallbacks, checkFallbackChannel } = createFallbackActivities({
    env: workerEnv,
    channelFactory: (settings) => {
      if (settings.type !== 'webhook') throw new Error('webhook expected');
      return createWebhookChannel(settings, { env: workerEnv, backoff: { initialMs: 5, maxMs: 50 } });
    },
  });
  const input = (items: SendFallbacksInput['items'], extra: Partial<SendFallbacksInput> = {}): SendFallbacksInput => ({
    campaignId: 'spring',
    chunkIndex: 0,
    channel: { type: 'webhook', url: receiver!.url },
    template: 'Hello {{name}}',
    items,
    ...extra,
  });
  return { sendFallbacks, checkFallbackChannel, input, receiver };
}

function sentPpnums(r: WebhookReceiver): string[] {
  return r.requests.map((request) => (JSON.parse(request.body) as { ppnum: string }).ppnum).sort();
}

describe('sendFallbacks', () => {
  it('returns one result per item in order; a permanent failure does not fail the batch', async () => {
    const { sendFallbacks, input, receiver } = await setup([B]);
    const heartbeats: { done: FallbackItemResult[] }[] = [];
    const env = mockEnvironment();
    env.on('heartbeat', (details: { done: FallbackItemResult[] }) => heartbeats.push(details));

    const results = await env.run(sendFallbacks, input([
      { ppnum: A, outcome: 'denied', vars: { name: 'Ana' } },
      { ppnum: B, outcome: 'expired', vars: { name: 'Bo' } },
      { ppnum: C, outcome: 'failed', vars: { name: 'Cy' } },
    ]));

    expect(results).toEqual([
      { ppnum: A, status: 'sent', attempts: 1 },
      { ppnum: B, status: 'failed', attempts: 1, error: 'webhook: webhook answered HTTP 400' },
      { ppnum: C, status: 'sent', attempts: 1 },
    ]);
    expect(sentPpnums(receiver)).toEqual([A, B, C].sort());
    const bodyOfA = JSON.parse(receiver.requests.find((r) => r.body.includes(A))!.body) as { text: string; idempotencyKey: string };
    expect(bodyOfA).toMatchObject({ text: 'Hello Ana', idempotencyKey: `spring:${A}` });
    // One heartbeat per finished item, each carrying everything finished so far.
    expect(heartbeats.map((h) => h.done.length)).toEqual([1, 2, 3]);
  });

  it('on a retried attempt, skips items its heartbeat details report done', async () => {
    const { sendFallbacks, input, receiver } = await setup();
    const doneBefore: FallbackItemResult[] = [{ ppnum: A, status: 'sent', attempts: 2 }];
    const env = mockEnvironment({ attempt: 2, heartbeatDetails: { done: doneBefore } });

    const results = await env.run(sendFallbacks, input([
      { ppnum: A, outcome: 'denied', vars: { name: 'Ana' } },
      { ppnum: B, outcome: 'denied', vars: { name: 'Bo' } },
    ]));

    expect(sentPpnums(receiver)).toEqual([B]);
    expect(results).toEqual([
      { ppnum: A, status: 'sent', attempts: 2 },
      { ppnum: B, status: 'sent', attempts: 1 },
    ]);
  });

  it('reports outcomes that do not call for a fallback as failed without sending', async () => {
    const { sendFallbacks, input, receiver } = await setup();
    const results = await mockEnvironment().run(sendFallbacks, input([{ ppnum: A, outcome: 'delivered', vars: {} }]));
    expect(results).toEqual([{ ppnum: A, status: 'failed', attempts: 0, error: 'outcome delivered does not call for a fallback' }]);
    expect(receiver.requests).toHaveLength(0);
  });

  it('reports bad channel settings as a configuration fault the chunk holds for (nobody\'s fallback fails)', async () => {
    const { sendFallbacks, input } = await setup();
    const env = mockEnvironment();
    const items = [{ ppnum: A, outcome: 'denied' as const, vars: {} }];

    const unknownType = await env.run(sendFallbacks, input(items, { channel: { type: 'pigeon' } as unknown as FallbackChannelSettings })).catch((err: unknown) => err);
    expect(unknownType).toBeInstanceOf(ApplicationFailure);
    expect((unknownType as ApplicationFailure).nonRetryable).toBe(true);
    expect((unknownType as ApplicationFailure).type).toBe(CONFIGURATION_FAULT);
    expect((unknownType as ApplicationFailure).details?.[0]).toMatchObject({ reason: 'fallback', codeName: FALLBACK_SETTINGS_CODE });

    const emailWithoutText = await env.run(sendFallbacks, input(items, {
      template: undefined,
      channel: { type: 'email', host: '127.0.0.1', port: 25, from: 'a@example.com', addressColumn: 'email' },
    })).catch((err: unknown) => err);
    expect((emailWithoutText as ApplicationFailure).message).toBe('fallback channel: an email fallback needs fallback.text');
  });

  it('fails the batch as a ConfigurationFault (fallback), sending nothing, when the worker lacks the secret or does not allow the host', async () => {
    const items = [{ ppnum: A, outcome: 'denied' as const, vars: { name: 'Ana' } }];
    const envs: Record<string, string>[] = [{ FALLBACK_ALLOWED_HOSTS: '127.0.0.1' }, { FALLBACK_SECRET_WEBHOOK: SECRET }, { FALLBACK_SECRET_WEBHOOK: SECRET, FALLBACK_ALLOWED_HOSTS: '*.example.com' }];
    for (const env of envs) {
      const { sendFallbacks, input, receiver } = await setup([], env);
      const failure = await mockEnvironment().run(sendFallbacks, input(items)).catch((err: unknown) => err);
      expect(failure).toMatchObject({ type: CONFIGURATION_FAULT, nonRetryable: true, message: expect.stringMatching(/^fallback channel: (webhook secret|127\.0\.0\.1:\d+ )/) });
      expect((failure as ApplicationFailure).details?.[0]).toMatchObject({ reason: 'fallback' });
      expect(receiver.requests).toHaveLength(0);
      await receiver.close();
    }
  });

  it('checkFallbackChannel (campaign start) finds the same faults before anything is sent, and passes a usable channel', async () => {
    const refused = await setup([], { FALLBACK_SECRET_WEBHOOK: SECRET });
    await expect(mockEnvironment().run(refused.checkFallbackChannel, { channel: refused.input([]).channel })).rejects.toMatchObject({
      type: CONFIGURATION_FAULT,
      nonRetryable: true,
      message: expect.stringContaining('is a private or loopback address: list it in FALLBACK_ALLOWED_HOSTS'),
    });
    await refused.receiver.close();
    const usable = await setup();
    await expect(mockEnvironment().run(usable.checkFallbackChannel, { channel: usable.input([]).channel })).resolves.toBeUndefined();
    expect(usable.receiver.requests).toHaveLength(0);
  });

  it('stops at a channel fault and hands back what it finished: the rest waits, nobody is counted failed', async () => {
    receiver = await startWebhookReceiver((_request, n) => (n === 1 ? { status: 200 } : { status: 503 }));
    const env = { FALLBACK_SECRET_WEBHOOK: SECRET, FALLBACK_ALLOWED_HOSTS: new URL(receiver.url).host };
    const { sendFallbacks } = createFallbackActivities({
      concurrency: 1,
      env,
      channelFactory: (settings) => createWebhookChannel(settings as Parameters<typeof createWebhookChannel>[0], { env, backoff: { initialMs: 5, maxMs: 50 } }),
    });
    const items = [A, B, C].map((ppnum) => ({ ppnum, outcome: 'denied' as const, vars: { name: 'x' } }));
    const err = await mockEnvironment()
      .run(sendFallbacks, { campaignId: 'spring', chunkIndex: 0, channel: { type: 'webhook' as const, url: receiver.url, maxAttempts: 2 }, template: 'Hi', items })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure).toMatchObject({ type: CONFIGURATION_FAULT, nonRetryable: true, message: 'webhook: gave up after 2 attempts: webhook answered HTTP 503' });
    expect(failure.details).toEqual([
      { reason: 'fallback', codeName: 'HTTP 503', message: 'webhook: gave up after 2 attempts: webhook answered HTTP 503', retryAfterMs: null },
      { done: [{ ppnum: A, status: 'sent', attempts: 1 }] },
    ]);
    expect(receiver.requests).toHaveLength(3); // A once; B twice; C never tried
  });

  it('keeps recipients\' addresses out of a channel fault (its words reach the Web UI)', async () => {
    const smtp = await startSmtpReceiver({ rcpt: (address) => ({ code: 451, message: `greylisted, try ${address} later` }) });
    try {
      const { sendFallbacks } = createFallbackActivities({ env: { FALLBACK_ALLOWED_HOSTS: `127.0.0.1:${smtp.port}` } });
      const err = await mockEnvironment()
        .run(sendFallbacks, {
          campaignId: 'spring',
          chunkIndex: 0,
          channel: { type: 'email' as const, host: '127.0.0.1', port: smtp.port, from: 'c@example.com', addressColumn: 'email', maxAttempts: 1 },
          template: 'Hi',
          items: [{ ppnum: A, outcome: 'denied' as const, vars: { email: 'ana@example.com' } }],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      const message = (err as ApplicationFailure).message;
      expect(message).toContain('greylisted, try <address> later');
      expect(message).not.toContain('ana@example.com');
    } finally {
      await smtp.close();
    }
  });

  describe('with a file source', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'ppoppo-fallback-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the vars of items sent without them from the chunk file', async () => {
      const file = join(dir, 'recipients.csv');
      writeFileSync(file, `ppnum,name\n${A},Ana\n${B},Bo\n`);
      const plan = await planRecipients({ campaignId: 'spring', file, format: 'csv', requiredVars: ['name'], chunkSize: 10, maxIssues: 10 });
      const { sendFallbacks, input, receiver } = await setup();

      const results = await mockEnvironment().run(sendFallbacks, input(
        [{ ppnum: B, outcome: 'denied' }, { ppnum: C, outcome: 'denied' }],
        { source: plan.chunks[0] },
      ));

      expect(results).toEqual([
        { ppnum: B, status: 'sent', attempts: 1 },
        { ppnum: C, status: 'failed', attempts: 0, error: "the recipient is not in the chunk's source" },
      ]);
      expect(JSON.parse(receiver.requests[0]!.body)).toMatchObject({ ppnum: B, text: 'Hello Bo', vars: { name: 'Bo' } });
    });
  });
});
