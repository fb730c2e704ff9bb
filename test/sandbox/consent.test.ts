// The guide's first campaign, over the wire: on the sandbox's defaults every recipient the app has
// never messaged is asked for consent first; decisions (grant, deny, none → expiry) come from the
// per-ppnum mix at times spread over the window; decisions are remembered per app; delivery can
// still fail after a grant; GrantConsent / DenyConsent decide for (ppnum, app) at once.
import { status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { SendRequestEventType as E, type CreateSendRequestResp, type SendRequestEvent, type Template } from '../../src/api/gen/ppoppo/external/v1/external';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import { DEFAULT_MIX } from '../../src/sandbox/options';
import { outcomeFor, type Outcome } from '../../src/sandbox/outcomes';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server';
import { completed, connect, failure, freshPpnum, readUntil, rpc, sequences, text, tokenFor, type Clients } from './helpers';

const running: Array<{ sandbox: RunningSandbox; clients: Clients }> = [];

async function open(options?: SandboxOptions) {
  const sandbox = await startSandbox(options);
  const clients = connect(sandbox);
  running.push({ sandbox, clients });
  const token = await tokenFor(sandbox);
  const templateId = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: 'consent', components: [text('hi')] }, token)).template.id;
  const send = (ppnums: string[]) => rpc<CreateSendRequestResp>(clients.message, 'createSendRequest', { templateId, recipients: ppnums.map((ppnum) => ({ ppnum })) }, token);
  return { sandbox, clients, token, send };
}

afterAll(async () => {
  for (const { sandbox, clients } of running) {
    clients.close();
    await sandbox.close();
  }
});

/** Fresh ppnums whose scripted path (default mix) is one of `paths`. */
function freshWithPath(count: number, ...paths: Outcome[]): string[] {
  const found: string[] = [];
  while (found.length < count) {
    const ppnum = freshPpnum();
    if (paths.includes(outcomeFor(ppnum, DEFAULT_MIX))) found.push(ppnum);
  }
  return found;
}

const time = (event: SendRequestEvent) => event.occurredAt!.getTime();

describe('on the defaults', () => {
  it('every never-seen ppnum’s first event is RECIPIENT_PENDING_CONSENT', async () => {
    const { clients, token, send } = await open();
    const ppnums = Array.from({ length: 400 }, () => freshPpnum());
    const receipt = await send(ppnums);
    const events = await readUntil(clients.message, { sendRequestId: receipt.id }, token, (seen) => seen.filter((e) => e.eventType === E.RECIPIENT_PENDING_CONSENT).length === ppnums.length);
    const first = new Map<string, string>();
    for (const event of events) if (event.recipient && !first.has(event.recipient.ppnum)) first.set(event.recipient.ppnum, E[event.eventType]);
    expect(first.size).toBe(ppnums.length);
    expect(new Set(first.values())).toEqual(new Set(['RECIPIENT_PENDING_CONSENT']));
  });
});

describe('decisions', () => {
  it('are dated when they were due, also when a busy sandbox gets to them late (one batch, not one time)', async () => {
    const windowMs = 3_000;
    const { clients, token, send } = await open({ consentWindowMs: windowMs });
    const ppnums = freshWithPath(40, 'consent_grant', 'consent_deny');
    const receipt = await send(ppnums);
    await readUntil(clients.message, { sendRequestId: receipt.id }, token, (seen) => seen.filter((e) => e.eventType === E.RECIPIENT_PENDING_CONSENT).length === ppnums.length);
    // The sandbox runs in this process: hold its event loop for most of the window, so the timer
    // finds the decisions due meanwhile all at once, as it does on a loaded machine.
    const blockedUntil = Date.now() + 0.8 * windowMs;
    while (Date.now() < blockedUntil) {
      // busy: no timer fires
    }
    const events = await readUntil(clients.message, { sendRequestId: receipt.id }, token, (seen) => seen.filter((e) => e.eventType === E.CONSENT_GRANTED || e.eventType === E.CONSENT_DENIED).length === ppnums.length);
    const decidedAt = events.filter((e) => e.eventType === E.CONSENT_GRANTED || e.eventType === E.CONSENT_DENIED).map(time);
    expect(new Set(decidedAt).size).toBeGreaterThan(ppnums.length / 2);
    expect(Math.min(...decidedAt)).toBeLessThan(blockedUntil - windowMs / 4); // dated inside the block, not when it ended
  });

  it('follow the mix, spread over the (shortened) window, and are remembered per app', async () => {
    const windowMs = 6_000;
    const { sandbox, clients, token, send } = await open({ consentWindowMs: windowMs, streamMaxEvents: 0, streamMaxMs: 0 });
    const ppnums = Array.from({ length: 300 }, () => freshPpnum());
    const first = await send(ppnums);
    const events = await readUntil(clients.message, { sendRequestId: first.id }, token, completed(first.id));
    // The inspection endpoint lists the same events, with the same times.
    const inspected = await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).events({ sendRequestId: first.id });
    expect(inspected.map((e) => [e.eventId, e.type, e.ppnum ?? undefined, Date.parse(e.occurredAt)])).toEqual(events.map((e) => [e.eventId, E[e.eventType], e.recipient?.ppnum, time(e)]));
    const paths = sequences(events);
    const byPath = (path: string[]) => ppnums.filter((p) => JSON.stringify(paths[p]) === JSON.stringify(path));
    const granted = byPath(['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED']);
    const grantedThenFailed = byPath(['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_FAILED']);
    const denied = byPath(['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED']);
    const expired = byPath(['RECIPIENT_PENDING_CONSENT', 'RECIPIENT_FAILED']);
    expect(granted.length + grantedThenFailed.length + denied.length + expired.length).toBe(ppnums.length);
    // Default weights 70 / 5 / 15 / 10 (granted, granted then failed, denied, expired).
    expect(granted.length).toBeGreaterThan(170);
    expect(denied.length).toBeGreaterThan(20);
    expect(expired.length).toBeGreaterThan(10);
    expect(grantedThenFailed.length).toBeGreaterThan(3);
    for (const event of events.filter((e) => e.eventType === E.RECIPIENT_FAILED)) {
      expect(event.recipient?.errorCode).toBe(expired.includes(event.recipient!.ppnum) ? 'CONSENT_EXPIRED' : 'DELIVERY_FAILED');
    }

    // When: from the pending event, half within about a twelfth of the window, none after 95 %.
    const pendingAt = new Map(events.filter((e) => e.eventType === E.RECIPIENT_PENDING_CONSENT).map((e) => [e.recipient!.ppnum, time(e)]));
    const decided = events.filter((e) => e.eventType === E.CONSENT_GRANTED || e.eventType === E.CONSENT_DENIED).map((e) => time(e) - pendingAt.get(e.recipient!.ppnum)!);
    decided.sort((a, b) => a - b);
    const median = decided[Math.floor(decided.length / 2)]!;
    expect(median).toBeGreaterThan(windowMs / 12 / 2);
    expect(median).toBeLessThan(windowMs / 12 * 2);
    expect(decided.at(-1)!).toBeLessThanOrEqual(0.95 * windowMs + 100);
    expect(decided.at(-1)! - decided[0]!).toBeGreaterThan(windowMs / 4); // spread, not a burst
    const expiredAfter = events.filter((e) => e.eventType === E.RECIPIENT_FAILED && expired.includes(e.recipient!.ppnum)).map((e) => time(e) - pendingAt.get(e.recipient!.ppnum)!);
    for (const ms of expiredAfter) expect(Math.abs(ms - windowMs)).toBeLessThan(200);

    // Remembered: granted → delivered (or failed) directly, denied → denied at once, expired → asked again.
    const second = await send(ppnums);
    const again = sequences(await readUntil(clients.message, { sendRequestId: second.id }, token, (seen) => seen.filter((e) => e.recipient).length >= ppnums.length));
    for (const p of granted) expect(again[p]).toEqual(['RECIPIENT_DELIVERED']);
    for (const p of grantedThenFailed) expect(again[p]).toEqual(['RECIPIENT_FAILED']);
    for (const p of denied) expect(again[p]).toEqual(['CONSENT_DENIED']);
    for (const p of expired) expect(again[p]).toEqual(['RECIPIENT_PENDING_CONSENT']);
  });
});

describe('GrantConsent / DenyConsent', () => {
  it('decide the app’s waiting messages for that recipient at once, and later sends follow the decision', async () => {
    const { sandbox, clients, token, send } = await open({ streamMaxEvents: 0, streamMaxMs: 0 }); // 24 h window: nobody decides by themselves
    const [toGrant, toDeny, waiting] = freshWithPath(3, 'consent_grant', 'consent_expire');
    const receipt = await send([toGrant!, toDeny!, waiting!]);
    await readUntil(clients.message, { sendRequestId: receipt.id }, token, (seen) => seen.filter((e) => e.eventType === E.RECIPIENT_PENDING_CONSENT).length === 3);
    const appId = 'app_sandbox';
    expect(await rpc(clients.message, 'grantConsent', { ppnumId: toGrant, appId }, token)).toEqual({ success: true });
    expect(await rpc(clients.message, 'denyConsent', { ppnumId: toDeny, appId }, token)).toEqual({ success: true });
    const events = await readUntil(clients.message, { sendRequestId: receipt.id }, token, (seen) => seen.some((e) => e.eventType === E.RECIPIENT_DELIVERED) && seen.some((e) => e.eventType === E.CONSENT_DENIED));
    expect(sequences(events)).toEqual({
      [toGrant!]: ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED'],
      [toDeny!]: ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED'],
      [waiting!]: ['RECIPIENT_PENDING_CONSENT'],
    });

    // A decision given before any send is on file for the next one.
    const [decidedEarly] = freshWithPath(1, 'consent_expire');
    await rpc(clients.message, 'grantConsent', { ppnumId: decidedEarly, appId }, token);
    const later = await send([decidedEarly!]);
    expect(sequences(await readUntil(clients.message, { sendRequestId: later.id }, token, completed(later.id)))).toEqual({ [decidedEarly!]: ['RECIPIENT_DELIVERED'] });

    expect((await failure(rpc(clients.message, 'grantConsent', { ppnumId: waiting, appId: 'app_other' }, token))).code).toBe(status.PERMISSION_DENIED);
    expect((await failure(rpc(clients.message, 'denyConsent', { ppnumId: waiting, appId: '' }, token))).code).toBe(status.INVALID_ARGUMENT);
    expect((await failure(rpc(clients.message, 'grantConsent', { ppnumId: 'ppn_01ABC', appId }, token))).details).toMatch(/ppnum_id is invalid/);
    expect(sandbox.clientId).toBe('sandbox-client');
  });
});
