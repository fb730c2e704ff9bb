// CreateSendRequest and what follows: validation, every test number's exact event sequence and the
// final totals, consent memory, the sandbox-only numbers …06/…07, injected faults, and the ledger.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RecipientDeliveryStatus as R,
  SendRequestStatus as S,
  SendRequestEventType as E,
  type CreateSendRequestResp,
  type GetSendRequestStatusResp,
  type Template,
} from '../../src/api/gen/ppoppo/external/v1/external';
import { DEFAULT_MIX } from '../../src/sandbox/options';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { completed, connect, failure, freshPpnum, inspect, readUntil, rpc, sequences, text, tokenFor, uniqueName, type Clients } from './helpers';

let sandbox: RunningSandbox;
let clients: Clients;
let token: string;
let templateId: string;

const send = (recipients: object[], template = templateId) => rpc<CreateSendRequestResp>(clients.message, 'createSendRequest', { templateId: template, recipients }, token);
const to = (...ppnums: string[]) => ppnums.map((ppnum) => ({ ppnum, vars: { name: `n${ppnum.slice(-2)}` } }));
const statusOf = (id: string) => rpc<GetSendRequestStatusResp>(clients.message, 'getSendRequestStatus', { id }, token);
const eventsUntilCompleted = (id: string) => readUntil(clients.message, { sendRequestId: id }, token, completed(id));

interface LedgerEntry { sendRequestId: string; ppnum: string; templateId: string; text: string; status: string }
const ledger = async (query: string) => (await inspect<{ messages: LedgerEntry[] }>(sandbox, `/inspect/messages?${query}`)).messages;
const acceptedWith = async (ppnum: string) => (await ledger(`ppnum=${ppnum}`)).map((m) => m.sendRequestId);

beforeAll(async () => {
  sandbox = await startSandbox({ consentWindowMs: 1500, consentDecisionDelayMs: 200, streamMaxEvents: 0, streamMaxMs: 0 });
  clients = connect(sandbox);
  token = await tokenFor(sandbox);
  templateId = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: 'hello', components: [text('Hello {{name}}')] }, token)).template.id;
});

afterAll(async () => {
  clients?.close();
  await sandbox?.close();
});

describe('CreateSendRequest validation', () => {
  it.each([
    ['an empty list', [], 'recipients must not be empty'],
    ['1001 recipients', Array.from({ length: 1001 }, (_, i) => ({ ppnum: String(20000000000 + i), vars: { name: 'x' } })), 'recipients exceeds 1000'],
    ['a short ppnum', to('12300000001', '12300000004', '12300000001', '1234'), 'recipients[3].ppnum is invalid (must be 11 or more digits)'],
    ['a hyphenated ppnum', to('123-0000-0001'), 'recipients[0].ppnum is invalid (must be 11 or more digits)'],
    ['a missing var', [...to('12300000001'), { ppnum: '12300000004', vars: { other: 'x' } }], 'recipients[1].vars.name is required by the template'],
  ])('rejects %s with INVALID_ARGUMENT naming the field, storing nothing', async (_, recipients, message) => {
    const before = (await inspect<{ sendRequests: number }>(sandbox, '/inspect/stats')).sendRequests;
    const err = await failure(send(recipients));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(message);
    expect((await inspect<{ sendRequests: number }>(sandbox, '/inspect/stats')).sendRequests).toBe(before);
  });

  it('an unknown template is NOT_FOUND "Template not found"', async () => {
    const err = await failure(send(to(freshPpnum()), 'tpl_01ZZZZZZZZZZZZZZZZZZZZZZZZ'));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toBe('Template not found');
  });

  it('an unknown send request is NOT_FOUND', async () => {
    expect((await failure(statusOf('sr_01ZZZZZZZZZZZZZZZZZZZZZZZZ'))).code).toBe(status.NOT_FOUND);
  });

  it('keeps the first of repeated ppnums and renders each recipient’s vars', async () => {
    const ppnum = freshPpnum();
    const receipt = await send([{ ppnum, vars: { name: 'First' } }, { ppnum, vars: { name: 'Second' } }]);
    expect(receipt).toMatchObject({ status: S.SEND_REQUEST_STATUS_QUEUED, totalRecipients: 1 });
    expect(receipt.id).toMatch(/^sr_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(await ledger(`send_request_id=${receipt.id}`)).toEqual([expect.objectContaining({ ppnum, templateId, text: 'Hello First' })]);
  });
});

describe('test numbers', () => {
  it('each number produces its exact event sequence and the totals agree with the events', async () => {
    const ppnums = ['12300000001', '12300000002', '12300000003', '12300000004', '12300000005'];
    const receipt = await send(to(...ppnums));
    expect(receipt.totalRecipients).toBe(5);
    const events = await eventsUntilCompleted(receipt.id);

    expect(sequences(events)).toEqual({
      '12300000001': ['RECIPIENT_DELIVERED'],
      '12300000002': ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED'],
      '12300000003': ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED'],
      '12300000004': ['RECIPIENT_FAILED'],
      '12300000005': ['RECIPIENT_PENDING_CONSENT', 'RECIPIENT_FAILED'],
    });
    const find = (ppnum: string, type: E) => events.find((e) => e.recipient?.ppnum === ppnum && e.eventType === type)?.recipient;
    expect(find('12300000001', E.RECIPIENT_DELIVERED)?.messageId).toMatch(/^msg_/);
    expect(find('12300000002', E.RECIPIENT_DELIVERED)?.messageId).toMatch(/^msg_/);
    expect(find('12300000004', E.RECIPIENT_FAILED)?.errorCode).toBe('DELIVERY_FAILED');
    expect(find('12300000005', E.RECIPIENT_FAILED)?.errorCode).toBe('CONSENT_EXPIRED');
    expect(find('12300000003', E.CONSENT_DENIED)?.errorCode).toBe('CONSENT_DENIED');

    const ids = events.map((e) => e.eventId);
    expect([...ids].sort()).toEqual(ids);
    const last = events.at(-1)!;
    expect(last.eventType).toBe(E.REQUEST_COMPLETED);
    expect(last.summary).toMatchObject({ id: receipt.id, status: S.SEND_REQUEST_STATUS_COMPLETED, totalRecipients: 5, delivered: 2, pendingConsent: 0, failed: 3 });

    const { request, recipients } = await statusOf(receipt.id);
    expect(request).toMatchObject({ status: S.SEND_REQUEST_STATUS_COMPLETED, totalRecipients: 5, delivered: 2, pendingConsent: 0, failed: 3 });
    expect(request?.completedAt).toBeInstanceOf(Date);
    expect(Object.fromEntries(recipients.map((r) => [r.ppnum, r.status]))).toEqual({
      '12300000001': R.RECIPIENT_DELIVERY_STATUS_DELIVERED,
      '12300000002': R.RECIPIENT_DELIVERY_STATUS_DELIVERED,
      '12300000003': R.RECIPIENT_DELIVERY_STATUS_FAILED,
      '12300000004': R.RECIPIENT_DELIVERY_STATUS_FAILED,
      '12300000005': R.RECIPIENT_DELIVERY_STATUS_FAILED,
    });
  });

  it('totals agree with the events at every moment, also while consent is pending', async () => {
    const receipt = await send(to('12300000005'));
    await readUntil(clients.message, { sendRequestId: receipt.id }, token, (events) => events.some((e) => e.eventType === E.RECIPIENT_PENDING_CONSENT));
    const { request, recipients } = await statusOf(receipt.id);
    expect(request).toMatchObject({ status: S.SEND_REQUEST_STATUS_PROCESSING, pendingConsent: 1, delivered: 0, failed: 0 });
    expect(recipients[0]?.status).toBe(R.RECIPIENT_DELIVERY_STATUS_PENDING_CONSENT);
    await eventsUntilCompleted(receipt.id);
  });

  it('test numbers behave the same on every send (no consent memory for them)', async () => {
    const receipt = await send(to('12300000002', '12300000003'));
    expect(sequences(await eventsUntilCompleted(receipt.id))).toEqual({
      '12300000002': ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED'],
      '12300000003': ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED'],
    });
  });

  it('…06: the request is stored and delivered, but the answer is INTERNAL "response lost"', async () => {
    const before = await acceptedWith('12300000006');
    const err = await failure(send(to('12300000006')));
    expect(err.code).toBe(status.INTERNAL);
    expect(err.details).toBe('response lost');
    const after = await acceptedWith('12300000006');
    expect(after).toHaveLength(before.length + 1);
    const id = after.at(-1)!;
    expect(sequences(await eventsUntilCompleted(id))).toEqual({ '12300000006': ['RECIPIENT_DELIVERED'] });
  });

  it('…07: the first two requests containing it are UNAVAILABLE and store nothing, then it is accepted', async () => {
    const other = freshPpnum();
    for (let attempt = 0; attempt < 2; attempt++) {
      const err = await failure(send(to('12300000007', other)));
      expect(err.code).toBe(status.UNAVAILABLE);
    }
    expect(await acceptedWith('12300000007')).toEqual([]);
    expect(await acceptedWith(other)).toEqual([]);
    const receipt = await send(to('12300000007', other));
    expect(await acceptedWith('12300000007')).toEqual([receipt.id]);
    expect(sequences(await eventsUntilCompleted(receipt.id))['12300000007']).toEqual(['RECIPIENT_DELIVERED']);
  });
});

describe('other ppnums', () => {
  it('get a deterministic outcome from the mix; consent is remembered per app', async () => {
    // Only consent outcomes, so the first send pends and the decision is remembered.
    await inspect(sandbox, '/inspect/config', { outcomeMix: { delivered: 0, consentGranted: 1, consentDenied: 1, failed: 0, consentExpired: 0 } });
    try {
      const ppnums = Array.from({ length: 12 }, () => freshPpnum());
      const first = await send(to(...ppnums));
      const firstSeq = sequences(await eventsUntilCompleted(first.id));
      const granted = ppnums.filter((p) => firstSeq[p]?.includes('CONSENT_GRANTED'));
      const denied = ppnums.filter((p) => firstSeq[p]?.includes('CONSENT_DENIED'));
      expect(granted.length + denied.length).toBe(ppnums.length);
      for (const p of granted) expect(firstSeq[p]).toEqual(['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED']);

      const second = await send(to(...ppnums));
      const secondSeq = sequences(await eventsUntilCompleted(second.id));
      for (const p of granted) expect(secondSeq[p]).toEqual(['RECIPIENT_DELIVERED']);
      for (const p of denied) expect(secondSeq[p]).toEqual(['CONSENT_DENIED']);
      expect((await statusOf(second.id)).request).toMatchObject({ delivered: granted.length, failed: denied.length, pendingConsent: 0 });
    } finally {
      await inspect(sandbox, '/inspect/config', { outcomeMix: DEFAULT_MIX });
    }
  });
});

describe('injected faults', () => {
  it('unavailableNext refuses with UNAVAILABLE and stores nothing', async () => {
    const ppnum = freshPpnum();
    await inspect(sandbox, '/inspect/faults', { unavailableNext: 1 });
    expect((await failure(send(to(ppnum)))).code).toBe(status.UNAVAILABLE);
    expect(await acceptedWith(ppnum)).toEqual([]);
    await send(to(ppnum));
    expect(await acceptedWith(ppnum)).toHaveLength(1);
  });

  it('ambiguousNext accepts, then answers INTERNAL', async () => {
    const ppnum = freshPpnum();
    await inspect(sandbox, '/inspect/faults', { ambiguousNext: 1 });
    expect((await failure(send(to(ppnum)))).code).toBe(status.INTERNAL);
    expect(await acceptedWith(ppnum)).toHaveLength(1);
  });

  it('resourceExhaustedNext refuses with retry-after-ms in headers and trailers', async () => {
    const ppnum = freshPpnum();
    await inspect(sandbox, '/inspect/faults', { resourceExhaustedNext: 1, retryAfterMs: 1234 });
    const err = await failure(send(to(ppnum)));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe('rate limit exceeded');
    expect(err.metadata.get('retry-after-ms')).toEqual(['1234']);
    expect(err.headers?.get('retry-after-ms')).toEqual(['1234']);
    expect(err.metadata.get('retry-after')).toEqual(['2']); // whole seconds, rounded up
    expect(err.headers?.get('retry-after')).toEqual(['2']);
    expect(await acceptedWith(ppnum)).toEqual([]);
  });
});

describe('ledger', () => {
  it('has one row per (send request, ppnum); duplicates lists ppnums messaged twice with one template', async () => {
    const once = freshPpnum();
    const twice = freshPpnum();
    const tpl = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: uniqueName('ledger'), components: [text('Hi {{name}}')] }, token)).template.id;
    await send(to(once, twice), tpl);
    await send(to(twice), tpl);
    expect(await ledger(`ppnum=${once}`)).toHaveLength(1);
    expect(await ledger(`ppnum=${twice}`)).toHaveLength(2);
    const { duplicates } = await inspect<{ duplicates: Array<{ ppnum: string; templateId: string; times: number }> }>(sandbox, '/inspect/duplicates');
    expect(duplicates.filter((d) => d.templateId === tpl)).toEqual([expect.objectContaining({ ppnum: twice, times: 2 })]);

    const ndjson = await (await fetch(`${sandbox.httpUrl}/inspect/messages?format=ndjson&ppnum=${twice}`, { headers: { authorization: `Bearer ${sandbox.inspectToken}` } })).text();
    expect(ndjson.trim().split('\n').map((line) => (JSON.parse(line) as LedgerEntry).ppnum)).toEqual([twice, twice]);
  });
});
