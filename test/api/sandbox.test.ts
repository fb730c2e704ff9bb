// PpoppoClient against the real sandbox over loopback gRPC: every status of the API's error table
// the sandbox can produce, token expiry, both URL path forms, stream resumption (server-side cut
// and sandbox restart on the same database) and each test number's event sequence.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenEndpointError, TokenSource } from '../../src/api/auth';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  PpoppoApiError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
} from '../../src/api/errors';
import type { ReconnectInfo } from '../../src/api/stream';
import type { DeliveryEvent, EventType } from '../../src/api/types';
import type { FaultRequest } from '../../src/sandbox/faults';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import { startSandbox } from '../../src/sandbox/server';
import { freePort } from '../../dev/ports';
import { AlertSender } from '../../src/alerts';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

const MAIN_APP = { clientId: 'sandbox-client', clientSecret: 'sandbox-secret', appId: 'app_sandbox', scopes: ['messaging'] };
/** An app whose client has no `messaging` scope: its tokens are valid but not allowed to message. */
const NO_SCOPE_APP = { clientId: 'reporting-client', clientSecret: 'reporting-secret', appId: 'app_reporting', scopes: [] };

const dir = mkdtempSync(join(tmpdir(), 'api-sandbox-test-'));
let sandbox: Sandbox;
const clients: PpoppoClient[] = [];

function clientFor(sb: Sandbox, overrides: { apiUrl?: string; clientId?: string; clientSecret?: string; tokens?: TokenSource } = {}): PpoppoClient {
  const config = makeClientConfig({ apiUrl: overrides.apiUrl ?? sb.grpcUrl, tokenUrl: sb.tokenUrl, clientId: overrides.clientId ?? sb.clientId, clientSecret: overrides.clientSecret ?? sb.clientSecret });
  const client = new PpoppoClient(config, { onWarning: () => undefined, ...(overrides.tokens ? { tokens: overrides.tokens } : {}) });
  clients.push(client);
  return client;
}

function injectFaults(sb: Sandbox, faults: FaultRequest): Promise<{ cutStreams: number }> {
  return new SandboxInspector(sb.httpUrl, sb.inspectToken).faults(faults);
}

/** Send requests the sandbox accepted whose recipients include `ppnum` (its ledger). */
async function acceptedWith(sb: Sandbox, ppnum: string): Promise<string[]> {
  return (await new SandboxInspector(sb.httpUrl, sb.inspectToken).sendRequests({ ppnum })).map((request) => request.id);
}

/**
 * Reads until `done` says so and returns what was read. Pass an iterator to read on later from
 * the same position (breaking out of a for-await would close the stream).
 */
async function collect(source: AsyncIterable<DeliveryEvent> | AsyncIterator<DeliveryEvent>, done: (events: DeliveryEvent[]) => boolean): Promise<DeliveryEvent[]> {
  const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source;
  const events: DeliveryEvent[] = [];
  while (!done(events)) {
    const next = await iterator.next();
    if (next.done) break;
    events.push(next.value);
  }
  return events;
}

/** Calls `fn` again while it fails with a 'safe' error (nothing was accepted), up to 50 times. */
async function retrySafe<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof PpoppoApiError) || err.retry !== 'safe' || attempt >= 50) throw err;
      await sleep(100);
    }
  }
}

const completedOf = (ids: string[]) => (events: DeliveryEvent[]) => ids.every((id) => events.some((e) => e.type === 'REQUEST_COMPLETED' && e.sendRequestId === id));

function sequencesByPpnum(events: DeliveryEvent[]): Record<string, EventType[]> {
  const result: Record<string, EventType[]> = {};
  for (const event of events) if (event.ppnum) (result[event.ppnum] ??= []).push(event.type);
  return result;
}

let unique = 0;
/** Fresh ppnums so consent memory and ledgers never mix between tests. */
const freshPpnum = () => `5${String(Date.now() % 1e9).padStart(9, '0')}${String(unique++).padStart(3, '0')}`;

async function textTemplate(client: PpoppoClient, name: string): Promise<string> {
  return (await client.createTemplate({ name: `${name}-${unique++}`, components: [{ type: 'text', content: 'Hello {{name}}' }] })).id;
}

beforeAll(async () => {
  sandbox = await startSandbox({ consentWindowMs: 1_500, apps: [MAIN_APP, NO_SCOPE_APP] });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sandbox: URL path forms', () => {
  it.each(['', '/ext'])('works with the API URL path "%s"', async (path) => {
    const client = clientFor(sandbox, { apiUrl: `${sandbox.grpcUrl.replace(/\/+$/, '').replace(/\/ext$/, '')}${path}` });
    const created = await client.createTemplate({ name: `paths${path.replace('/', '-')}-${unique++}`, components: [{ type: 'text', content: 'Hi {{name}}' }] });
    expect(await client.getTemplate(created.id)).toMatchObject({ id: created.id, components: [{ type: 'text', content: 'Hi {{name}}' }] });
  });
});

describe('sandbox: templates', () => {
  it('creates, gets, lists and finds by name; a repeated name is ALREADY_EXISTS (unsafe)', async () => {
    const client = clientFor(sandbox);
    const name = `tpl-${unique++}`;
    const created = await client.createTemplate({ name, description: 'd', components: [{ type: 'text', content: 'Hi {{first_name}}' }, { type: 'divider' }, { type: 'button', label: 'Open', url: 'https://x.test/{{id}}' }] });
    expect(created).toMatchObject({ name, description: 'd', isActive: true });
    expect((await client.getTemplate(created.id)).components).toEqual(created.components);
    expect((await client.findTemplateByName(name))?.id).toBe(created.id);
    expect(await client.findTemplateByName(`${name}-absent`)).toBeUndefined();
    const page = await client.listTemplates({ limit: 1 });
    expect(page.templates).toHaveLength(1);

    const again = await client.createTemplate({ name, components: [{ type: 'text', content: 'x' }] }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(AlreadyExistsError);
    expect(again).toMatchObject({ retry: 'unsafe', codeName: 'ALREADY_EXISTS' });
  });

  it('an unknown template is NOT_FOUND for GetTemplate and CreateSendRequest', async () => {
    const client = clientFor(sandbox);
    await expect(client.getTemplate('tpl_01ZZZZZZZZZZZZZZZZZZZZZZZZ')).rejects.toBeInstanceOf(NotFoundError);
    const err = await client.createSendRequest({ templateId: 'tpl_01ZZZZZZZZZZZZZZZZZZZZZZZZ', recipients: [{ ppnum: freshPpnum(), vars: { name: 'x' } }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ retry: 'unsafe' });
    await expect(client.getSendRequestStatus('sr_01ZZZZZZZZZZZZZZZZZZZZZZZZ')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('sandbox: authentication', () => {
  it('a wrong client secret is refused by the token endpoint, naming the OAuth error', async () => {
    const err = await clientFor(sandbox, { clientSecret: 'wrong-secret' }).getTemplate('tpl_x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenEndpointError);
    expect((err as Error).message).toMatch(/invalid_client.*HTTP 401/);
    expect((err as Error).message).not.toContain('wrong-secret');
  });

  it('an expired cached token gets UNAUTHENTICATED, is replaced, and the call succeeds', async () => {
    const short = await startSandbox({ tokenTtlSeconds: 1 });
    try {
      // A frozen clock keeps the first token cached after it expired on the server.
      const frozen = Date.now();
      const tokens = new TokenSource({ tokenUrl: short.tokenUrl, clientId: short.clientId, clientSecret: short.clientSecret, now: () => frozen });
      const client = clientFor(short, { tokens });
      const id = await textTemplate(client, 'expiry');
      expect(tokens.fetchCount).toBe(1);
      await sleep(2_100); // let the 1 s token expire on the server
      expect((await client.getTemplate(id)).id).toBe(id);
      expect(tokens.fetchCount).toBe(2);

      // With the real clock, calls keep working across several token lifetimes.
      const fresh = clientFor(short);
      for (let i = 0; i < 4; i++) {
        expect((await fresh.getTemplate(id)).id).toBe(id);
        await sleep(700);
      }
      expect(fresh.tokens.fetchCount).toBeGreaterThanOrEqual(2);
    } finally {
      await short.close();
    }
  });

  it('a valid token without the messaging scope is PERMISSION_DENIED (unsafe)', async () => {
    const err = await clientFor(sandbox, { clientId: NO_SCOPE_APP.clientId, clientSecret: NO_SCOPE_APP.clientSecret }).getTemplate('tpl_x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toMatchObject({ retry: 'unsafe', codeName: 'PERMISSION_DENIED' });
  });

  it('a token the server does not accept is UNAUTHENTICATED after one retry', async () => {
    const bogus = new TokenSource({ tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret });
    bogus.getToken = async () => 'not-a-valid-token';
    const err = await clientFor(sandbox, { tokens: bogus }).getTemplate('tpl_x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthenticatedError);
    expect(err).toMatchObject({ retry: 'unsafe' });
    expect((err as Error).message).not.toContain('not-a-valid-token');
  });
});

describe('sandbox: send failures', () => {
  let client: PpoppoClient;
  let templateId: string;
  beforeAll(async () => {
    client = clientFor(sandbox);
    templateId = await textTemplate(client, 'failures');
  });

  it('RESOURCE_EXHAUSTED carries retryAfterMs and is safe; nothing was accepted', async () => {
    const ppnum = freshPpnum();
    await injectFaults(sandbox, { resourceExhaustedNext: 1, retryAfterMs: 1_500 });
    const err = await client.createSendRequest({ templateId, recipients: [{ ppnum, vars: { name: 'a' } }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect(err).toMatchObject({ retry: 'safe', retryAfterMs: 1_500 });
    expect(await acceptedWith(sandbox, ppnum)).toEqual([]);
  });

  it('…07 is refused twice with UNAVAILABLE (safe), then accepted', async () => {
    const send = () => client.createSendRequest({ templateId, recipients: [{ ppnum: '12300000007', vars: { name: 'seven' } }] });
    for (let attempt = 0; attempt < 2; attempt++) {
      const err = await send().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err).toMatchObject({ retry: 'safe' });
    }
    expect(await acceptedWith(sandbox, '12300000007')).toEqual([]);
    const receipt = await send();
    expect(await acceptedWith(sandbox, '12300000007')).toEqual([receipt.sendRequestId]);
  });

  it('…06 is accepted but answered with INTERNAL: ambiguous', async () => {
    const err = await client.createSendRequest({ templateId, recipients: [{ ppnum: '12300000006', vars: { name: 'six' } }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect(err).toMatchObject({ retry: 'ambiguous' });
    expect(await acceptedWith(sandbox, '12300000006')).toHaveLength(1);
  });

  it('a missing template variable is the server INVALID_ARGUMENT naming the field (unsafe)', async () => {
    const err = await client.createSendRequest({ templateId, recipients: [{ ppnum: freshPpnum(), vars: {} }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ retry: 'unsafe' });
    expect((err as Error).message).toContain('vars.name');
  });

  it('an inactive template is FAILED_PRECONDITION (unsafe)', async () => {
    const inactive = await textTemplate(client, 'inactive');
    const response = await fetch(`${sandbox.httpUrl}/inspect/templates/${inactive}/deactivate`, { method: 'POST', headers: { authorization: `Bearer ${sandbox.inspectToken}` } });
    expect(response.ok).toBe(true);
    expect((await client.getTemplate(inactive)).isActive).toBe(false);
    const err = await client.createSendRequest({ templateId: inactive, recipients: [{ ppnum: freshPpnum(), vars: { name: 'x' } }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect(err).toMatchObject({ retry: 'unsafe' });
  });

  it('a stream is known to be open before its first event (response headers), and not while it cannot connect', async () => {
    const quiet = client.streamEvents({ afterEventId: '7ZZZZZZZZZZZZZZZZZZZZZZZZZ' }); // after every event there will ever be
    const iterator = quiet[Symbol.asyncIterator]();
    const first = iterator.next();
    const deadline = Date.now() + 5_000;
    while (quiet.liveSince === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(quiet.liveSince).toBeDefined();
    quiet.close();
    await first;

    const closedPort = await freePort();
    const nowhere = new PpoppoClient(makeClientConfig({ apiUrl: `http://127.0.0.1:${closedPort}`, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
    try {
      const stream = nowhere.streamEvents({ initialBackoffMs: 20, maxBackoffMs: 100 });
      const pending = stream[Symbol.asyncIterator]().next();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(stream.liveSince).toBeUndefined();
      stream.close();
      await pending;
    } finally {
      nowhere.close();
    }
  });

  it('a malformed stream cursor is INVALID_ARGUMENT and ends the stream', async () => {
    const stream = client.streamEvents({ afterEventId: 'not-a-ulid' });
    await expect(collect(stream, () => false)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('sandbox: test numbers', () => {
  it('each test number produces its event sequence and the status totals add up', async () => {
    const client = clientFor(sandbox);
    const templateId = await textTemplate(client, 'numbers');
    const ppnums = ['12300000001', '12300000002', '12300000003', '12300000004', '12300000005'];
    const receipt = await client.createSendRequest({ templateId, recipients: ppnums.map((ppnum) => ({ ppnum, vars: { name: ppnum.slice(-2) } })) });
    expect(receipt).toMatchObject({ totalRecipients: 5 });
    const events = await collect(client.streamEvents({ sendRequestId: receipt.sendRequestId }), completedOf([receipt.sendRequestId]));

    expect(sequencesByPpnum(events)).toEqual({
      '12300000001': ['RECIPIENT_DELIVERED'],
      '12300000002': ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED'],
      '12300000003': ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED'],
      '12300000004': ['RECIPIENT_FAILED'],
      '12300000005': ['RECIPIENT_PENDING_CONSENT', 'RECIPIENT_FAILED'],
    });
    expect(events.find((e) => e.ppnum === '12300000005' && e.type === 'RECIPIENT_FAILED')?.errorCode).toBe('CONSENT_EXPIRED');
    expect(events.find((e) => e.ppnum === '12300000001')?.messageId).toBeTruthy();
    expect(events.every((e) => e.sendRequestId === receipt.sendRequestId)).toBe(true);
    const completed = events.at(-1)!;
    expect(completed.type).toBe('REQUEST_COMPLETED');
    expect(completed.summary).toMatchObject({ totalRecipients: 5, delivered: 2, failed: 3, pendingConsent: 0, status: 'COMPLETED' });

    const status = await client.getSendRequestStatus(receipt.sendRequestId);
    expect(status.totals).toMatchObject({ sendRequestId: receipt.sendRequestId, status: 'COMPLETED', totalRecipients: 5, delivered: 2, pendingConsent: 0, failed: 3 });
    expect(Object.fromEntries(status.recipients.map((r) => [r.ppnum, r.status]))).toEqual({
      '12300000001': 'DELIVERED',
      '12300000002': 'DELIVERED',
      '12300000003': 'FAILED',
      '12300000004': 'FAILED',
      '12300000005': 'FAILED',
    });
  });
});

describe('sandbox: polls, alerts and quota', () => {
  it('poll results count the answers the stream reported', async () => {
    const client = clientFor(sandbox);
    const { id: templateId } = await client.createTemplate({ name: `poll-${unique++}`, components: [{ type: 'poll', question: 'Coming, {{name}}?', options: ['yes', 'no'] }] });
    const receipt = await client.createSendRequest({ templateId, recipients: [{ ppnum: '12300000001', vars: { name: 'a' } }], pollConfig: { expiresInHours: 24 } });
    const events = await collect(client.streamEvents({ sendRequestId: receipt.sendRequestId }), (seen) => seen.some((e) => e.type === 'POLL_RESPONSE_RECEIVED'));
    expect(events.map((e) => e.type)).toContain('RECIPIENT_DELIVERED');
    const results = await client.getPollResults(receipt.sendRequestId);
    expect(results).toMatchObject({ pollId: receipt.sendRequestId, question: 'Coming, {{name}}?', totalResponses: 1 });
    expect(results.results.map((r) => r.optionText)).toEqual(['yes', 'no']);
    expect(results.results.reduce((sum, r) => sum + r.count, 0)).toBe(1);
  });

  it('AlertSender creates its template once and delivers the text', async () => {
    const client = clientFor(sandbox);
    const name = `alerts-${unique++}`;
    const first = await new AlertSender(client, name).send({ ppnums: ['12300000001'], text: 'Disk full on db-1' });
    const second = await new AlertSender(clientFor(sandbox), name).send({ ppnums: ['12300000001'], text: 'Disk fine again' });
    expect(first.sendRequestId).not.toBe(second.sendRequestId);
    const page = await client.listTemplates({ limit: 1000 });
    expect(page.templates.filter((t) => t.name === name)).toHaveLength(1);
    const ledger = (await (await fetch(`${sandbox.httpUrl}/inspect/messages?send_request_id=${first.sendRequestId}`, { headers: { authorization: `Bearer ${sandbox.inspectToken}` } })).json()) as { messages: unknown[] };
    expect(JSON.stringify(ledger.messages)).toContain('Disk full on db-1');
  });

  it('a monthly quota refusal is RESOURCE_EXHAUSTED with isQuota and a retry-after-ms', async () => {
    const quota = await startSandbox({ monthlyQuota: 1 });
    try {
      const client = clientFor(quota);
      const templateId = await textTemplate(client, 'quota');
      await client.createSendRequest({ templateId, recipients: [{ ppnum: freshPpnum(), vars: { name: 'a' } }] });
      const err = await client.createSendRequest({ templateId, recipients: [{ ppnum: freshPpnum(), vars: { name: 'b' } }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResourceExhaustedError);
      expect(err).toMatchObject({ retry: 'safe', isQuota: true });
      expect((err as ResourceExhaustedError).retryAfterMs).toBeGreaterThan(0);
    } finally {
      await quota.close();
    }
  });
});

describe('sandbox: stream resumption', () => {
  it('after server-side cuts mid-request, the stream resumes without missing or repeating an event', async () => {
    // Every recipient goes through consent, so each request's events are spread over ~400 ms.
    const sb = await startSandbox({ outcomeMix: { delivered: 0, consentGranted: 1, consentDenied: 0, failed: 0, consentExpired: 0 }, deliveryDelayMs: 100, consentDecisionDelayMs: 300 });
    try {
      const client = clientFor(sb);
      const templateId = await textTemplate(client, 'cuts');
      const reconnects: ReconnectInfo[] = [];
      const stream = client.streamEvents({ initialBackoffMs: 20, maxBackoffMs: 200, onReconnect: (info) => reconnects.push(info) });
      const reader = stream[Symbol.asyncIterator]();
      const sent: string[] = [];
      const events: DeliveryEvent[] = [];
      for (let round = 0; round < 3; round++) {
        const target: { id?: string } = {}; // known once CreateSendRequest answers
        const reading = collect(reader, (seen) => target.id !== undefined && completedOf([target.id])(seen));
        const receipt = await client.createSendRequest({ templateId, recipients: [{ ppnum: freshPpnum(), vars: { name: 'x' } }, { ppnum: freshPpnum(), vars: { name: 'y' } }] });
        target.id = receipt.sendRequestId;
        sent.push(receipt.sendRequestId);
        await sleep(250); // between PENDING_CONSENT and CONSENT_GRANTED
        const cut = await injectFaults(sb, { cutStreamsNow: true });
        expect(cut.cutStreams).toBe(1); // our stream was open and got cut
        events.push(...(await reading));
      }
      stream.close();

      expect(reconnects.length).toBeGreaterThanOrEqual(3);
      const ids = events.map((e) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(ids);
      for (const id of sent) {
        const sequences = Object.values(sequencesByPpnum(events.filter((e) => e.sendRequestId === id)));
        expect(sequences).toEqual([
          ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED'],
          ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED'],
        ]);
        expect(events.filter((e) => e.sendRequestId === id && e.type === 'REQUEST_COMPLETED')).toHaveLength(1);
      }
      // The same events read in one go, without cuts: exactly the same list.
      const replay = await collect(client.streamEvents(), (seen) => seen.length >= ids.length);
      expect(replay.map((e) => e.eventId)).toEqual(ids);
    } finally {
      await sb.close();
    }
  });

  it('survives a sandbox restart on the same database file, missing and repeating nothing', async () => {
    const dbPath = join(dir, 'restart.sqlite');
    let first: Sandbox | undefined = await startSandbox({ dbPath });
    let second: Sandbox | undefined;
    try {
      const client = clientFor(first);
      const templateId = await textTemplate(client, 'restart');
      const stream = client.streamEvents({ initialBackoffMs: 50, maxBackoffMs: 500 });
      const reader = stream[Symbol.asyncIterator]();
      const one = await client.createSendRequest({ templateId, recipients: [{ ppnum: '12300000001', vars: { name: 'a' } }, { ppnum: '12300000004', vars: { name: 'b' } }] });
      const events = await collect(reader, completedOf([one.sendRequestId]));

      // The reader waits for more while the sandbox restarts on the same ports (the client keeps
      // its URLs) and the same database file.
      const target: { id?: string } = {};
      const reading = collect(reader, (seen) => target.id !== undefined && completedOf([target.id])(seen));
      const grpcPort = first.grpcPort;
      const httpPort = Number(new URL(first.httpUrl).port);
      await first.close();
      first = undefined;
      second = await startSandbox({ dbPath, grpcPort, httpPort });
      // Until the channel reconnects, calls fail fast with UNAVAILABLE "No connection established":
      // 'safe' (never sent), so retrying is what a caller does.
      const two = await retrySafe(() => client.createSendRequest({ templateId, recipients: [{ ppnum: '12300000001', vars: { name: 'c' } }, { ppnum: '12300000004', vars: { name: 'd' } }] }));
      target.id = two.sendRequestId;
      events.push(...(await reading));
      stream.close();

      expect(stream.reconnects).toBeGreaterThanOrEqual(1);
      const ids = events.map((e) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length);
      const replay = await collect(client.streamEvents(), (seen) => seen.length >= ids.length);
      expect(replay.map((e) => e.eventId)).toEqual(ids);
      for (const id of [one.sendRequestId, two.sendRequestId]) {
        expect(sequencesByPpnum(events.filter((e) => e.sendRequestId === id))).toEqual({ '12300000001': ['RECIPIENT_DELIVERED'], '12300000004': ['RECIPIENT_FAILED'] });
      }
    } finally {
      await first?.close();
      await second?.close();
    }
  });
});
