// Per-app rate limit (token bucket) and monthly quota: RESOURCE_EXHAUSTED with retry-after-ms in
// both the initial headers and the trailers; refused requests store nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateSendRequestResp, GetUsageStatsResp, Template } from '../../src/api/gen/ppoppo/external/v1/external';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { connect, failure, freshPpnum, inspect, rpc, text, tokenFor, type Clients } from './helpers';

let sandbox: RunningSandbox;
let clients: Clients;
let token: string;
let templateId: string;

const send = (...ppnums: string[]) => rpc<CreateSendRequestResp>(clients.message, 'createSendRequest', { templateId, recipients: ppnums.map((ppnum) => ({ ppnum })) }, token);
const retryAfter = (err: { metadata: { get(k: string): unknown[] }; headers?: { get(k: string): unknown[] } }) => ({
  trailer: err.metadata.get('retry-after-ms')[0],
  header: err.headers?.get('retry-after-ms')[0],
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
    const { trailer, header } = retryAfter(err);
    expect(trailer).toMatch(/^\d+$/);
    expect(header).toBe(trailer);
    expect(Number(trailer)).toBeGreaterThan(0);
    expect(Number(trailer)).toBeLessThanOrEqual(500);
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
    const { trailer, header } = retryAfter(err);
    expect(header).toBe(trailer);
    const untilNextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime();
    expect(Math.abs(Number(trailer) - untilNextMonth)).toBeLessThan(60_000);
    expect(await sendRequestCount()).toBe(before);

    await send(freshPpnum()); // exactly fills the quota
    const usage = await rpc<GetUsageStatsResp>(clients.app, 'getUsageStats', {}, token);
    expect(usage).toMatchObject({ currentMonthUsage: used + 3, monthlyMessageLimit: used + 3, remainingQuota: 0 });
    expect((await inspect<{ quotaRefusals: number }>(sandbox, '/inspect/stats')).quotaRefusals).toBe(1);
  });
});
