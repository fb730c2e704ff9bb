// Per-app rate limit (token bucket) and monthly quota: RESOURCE_EXHAUSTED with retry-after-ms in
// both the initial headers and the trailers; refused requests store nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateSendRequestResp, GetUsageStatsResp, Template } from '../../src/api/gen/ppoppo/external/v1/external';
import { DEFAULT_MONTHLY_QUOTA, DEFAULT_RATE_LIMIT } from '../../src/sandbox/options';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { connect, failure, freshPpnum, inspect, rpc, text, tokenFor, type Clients, type RpcFailure } from './helpers';

let sandbox: RunningSandbox;
let clients: Clients;
let token: string;
let templateId: string;

const send = (...ppnums: string[]) => rpc<CreateSendRequestResp>(clients.message, 'createSendRequest', { templateId, recipients: ppnums.map((ppnum) => ({ ppnum })) }, token);
const retryAfter = (err: { metadata: { get(k: string): unknown[] }; headers?: { get(k: string): unknown[] } }) => ({
  trailer: err.metadata.get('retry-after-ms')[0],
  header: err.headers?.get('retry-after-ms')[0],
  seconds: err.metadata.get('retry-after')[0],
  secondsHeader: err.headers?.get('retry-after')[0],
});
const sendRequestCount = async () => (await inspect<{ sendRequests: number }>(sandbox, '/inspect/stats')).sendRequests;

beforeAll(async () => {
  sandbox = await startSandbox({ rateLimit: { requestsPerSecond: 2, burst: 2 } });
  clients = connect(sandbox);
  token = await tokenFor(sandbox);
  templateId = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: 'limits', components: [text('hi')] }, token)).template.id;
});

afterAll(async () => {
  clients?.close();
  await sandbox?.close();
});

describe('rate limit', () => {
  it('refuses beyond the burst with "rate limit exceeded" and retry-after-ms, then accepts after waiting it', async () => {
    await send(freshPpnum());
    await send(freshPpnum());
    const before = await sendRequestCount();
    const err = await failure(send(freshPpnum()));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe('rate limit exceeded');
    const { trailer, header, seconds, secondsHeader } = retryAfter(err);
    expect(trailer).toMatch(/^\d+$/);
    expect(header).toBe(trailer);
    expect(Number(trailer)).toBeGreaterThan(0);
    expect(Number(trailer)).toBeLessThanOrEqual(500);
    expect(seconds).toBe('1'); // retry-after: whole seconds, rounded up, for clients that read only that
    expect(secondsHeader).toBe('1');
    expect(await sendRequestCount()).toBe(before);

    await sleep(Number(trailer));
    await send(freshPpnum());
    const stats = await inspect<{ rateLimitRefusals: number; createSendRequest: { maxCallsInAnySecond: number; maxAcceptedInAnySecond: number } }>(sandbox, '/inspect/stats');
    expect(stats.rateLimitRefusals).toBe(1);
    expect(stats.createSendRequest.maxCallsInAnySecond).toBeGreaterThanOrEqual(3);
    expect(stats.createSendRequest.maxAcceptedInAnySecond).toBeLessThanOrEqual(4); // burst 2 + 2/s refill
  });
});

describe('monthly quota', () => {
  it('refuses a request that would exceed it with "monthly quota exceeded", retrying at the next UTC month', async () => {
    await inspect(sandbox, '/inspect/config', { rateLimit: null, monthlyQuota: 0 });
    const used = (await rpc<GetUsageStatsResp>(clients.app, 'getUsageStats', {}, token)).currentMonthUsage;
    await inspect(sandbox, '/inspect/config', { monthlyQuota: used + 3 });

    await send(freshPpnum(), freshPpnum());
    const before = await sendRequestCount();
    const now = new Date();
    const err = await failure(send(freshPpnum(), freshPpnum()));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe('monthly quota exceeded');
    const { trailer, header, seconds } = retryAfter(err);
    expect(header).toBe(trailer);
    expect(Number(seconds)).toBe(Math.ceil(Number(trailer) / 1000));
    const untilNextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime();
    expect(Math.abs(Number(trailer) - untilNextMonth)).toBeLessThan(60_000);
    expect(await sendRequestCount()).toBe(before);

    await send(freshPpnum()); // exactly fills the quota
    const usage = await rpc<GetUsageStatsResp>(clients.app, 'getUsageStats', {}, token);
    expect(usage).toMatchObject({ currentMonthUsage: used + 3, monthlyMessageLimit: used + 3, remainingQuota: 0 });
    expect((await inspect<{ quotaRefusals: number }>(sandbox, '/inspect/stats')).quotaRefusals).toBe(1);
  });
});

describe('defaults', () => {
  it('a sandbox started without options enforces the documented rate limit and quota, and GetUsageStats reports them', async () => {
    const plain = await startSandbox();
    const c = connect(plain);
    try {
      const t = await tokenFor(plain);
      const tpl = (await rpc<{ template: Template }>(c.template, 'createTemplate', { name: 'defaults', components: [text('hi')] }, t)).template.id;
      const sendOne = () => rpc<CreateSendRequestResp>(c.message, 'createSendRequest', { templateId: tpl, recipients: [{ ppnum: freshPpnum() }] }, t);
      // Twice the burst at once: the bucket holds the burst, and refills one token per 100 ms, so
      // however slowly a busy machine serves them, all twenty would take a second to be accepted.
      const answers = await Promise.allSettled(Array.from({ length: 2 * DEFAULT_RATE_LIMIT.burst }, () => sendOne()));
      const accepted = answers.filter((answer) => answer.status === 'fulfilled').length;
      const refused = answers.flatMap((answer) => (answer.status === 'rejected' ? [answer.reason as RpcFailure] : []));
      expect(accepted).toBeGreaterThanOrEqual(DEFAULT_RATE_LIMIT.burst);
      expect(refused.length).toBeGreaterThan(0);
      for (const err of refused) {
        expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
        expect(err.details).toBe('rate limit exceeded');
        expect(retryAfter(err).seconds).toBe('1');
      }

      const usage = await rpc<GetUsageStatsResp>(c.app, 'getUsageStats', {}, t);
      const now = new Date();
      expect(usage).toMatchObject({
        rateLimitPerMin: DEFAULT_RATE_LIMIT.requestsPerSecond * 60,
        monthlyMessageLimit: DEFAULT_MONTHLY_QUOTA,
        currentMonthUsage: accepted,
        remainingQuota: DEFAULT_MONTHLY_QUOTA - accepted,
      });
      expect(usage.usageResetAt?.getTime()).toBe(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    } finally {
      c.close();
      await plain.close();
    }
  });

  it('with the limits turned off, GetUsageStats says so: no monthly limit, rate 0', async () => {
    const open = await startSandbox({ rateLimit: null, monthlyQuota: null });
    const c = connect(open);
    try {
      const usage = await rpc<GetUsageStatsResp>(c.app, 'getUsageStats', {}, await tokenFor(open));
      expect(usage.rateLimitPerMin).toBe(0);
      expect(usage.monthlyMessageLimit).toBeUndefined();
      expect(usage.remainingQuota).toBeUndefined();
    } finally {
      c.close();
      await open.close();
    }
  });
});
