// A sandbox restarted on the same DB file keeps its state: templates, send requests, the signing
// key (old tokens still work), the event history, and pending consent work, which resumes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SendRequestStatus as S, SendRequestEventType as E, type CreateSendRequestResp, type GetSendRequestStatusResp, type Template } from '../../src/api/gen/ppoppo/external/v1/external';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server';
import { completed, connect, readUntil, rpc, sequences, text, tokenFor } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'sandbox-restart-'));
const running: RunningSandbox[] = [];

async function start(options: SandboxOptions): Promise<RunningSandbox> {
  const sandbox = await startSandbox(options);
  running.push(sandbox);
  return sandbox;
}

afterAll(async () => {
  for (const sandbox of running) await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('restart on the same database file', () => {
  it('resumes pending consent work and keeps state, tokens and event history', async () => {
    const options: SandboxOptions = { dbPath: join(dir, 'state.sqlite'), consentDecisionDelayMs: 1500, consentWindowMs: 4000, streamMaxEvents: 0 };
    const first = await start(options);
    const token = await tokenFor(first);
    let clients = connect(first);
    const templateId = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: 'restart', components: [text('Hi {{name}}')] }, token)).template.id;
    const ppnums = ['12300000001', '12300000002', '12300000003', '12300000005'];
    const receipt = await rpc<CreateSendRequestResp>(clients.message, 'createSendRequest', { templateId, recipients: ppnums.map((ppnum) => ({ ppnum, vars: { name: 'x' } })) }, token);
    const pendingCount = (events: { eventType: E }[]) => events.filter((e) => e.eventType === E.RECIPIENT_PENDING_CONSENT).length;
    const before = await readUntil(clients.message, { sendRequestId: receipt.id }, token, (seen) => pendingCount(seen) === 3 && seen.length === 4);
    const statusBefore = await rpc<GetSendRequestStatusResp>(clients.message, 'getSendRequestStatus', { id: receipt.id }, token);
    expect(statusBefore.request).toMatchObject({ status: S.SEND_REQUEST_STATUS_PROCESSING, delivered: 1, pendingConsent: 3 });
    clients.close();
    await first.close();

    const second = await start(options);
    clients = connect(second);
    try {
      // The token from before the restart still verifies (the signing key is in the DB).
      expect((await rpc<{ template: Template }>(clients.template, 'getTemplate', { id: templateId }, token)).template.name).toBe('restart');
      const after = await readUntil(clients.message, { sendRequestId: receipt.id, afterEventId: before.at(-1)!.eventId }, token, completed(receipt.id));
      const all = [...before, ...after];
      expect(sequences(all)).toEqual({
        '12300000001': ['RECIPIENT_DELIVERED'],
        '12300000002': ['RECIPIENT_PENDING_CONSENT', 'CONSENT_GRANTED', 'RECIPIENT_DELIVERED'],
        '12300000003': ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED'],
        '12300000005': ['RECIPIENT_PENDING_CONSENT', 'RECIPIENT_FAILED'],
      });
      const allIds = all.map((e) => e.eventId);
      expect([...allIds].sort()).toEqual(allIds);
      expect(new Set(allIds).size).toBe(allIds.length);
      // Replaying from the start on the restarted sandbox gives the same history.
      const replay = await readUntil(clients.message, { sendRequestId: receipt.id }, token, completed(receipt.id));
      expect(replay.map((e) => e.eventId)).toEqual(allIds);
      const statusAfter = await rpc<GetSendRequestStatusResp>(clients.message, 'getSendRequestStatus', { id: receipt.id }, token);
      expect(statusAfter.request).toMatchObject({ status: S.SEND_REQUEST_STATUS_COMPLETED, totalRecipients: 4, delivered: 2, pendingConsent: 0, failed: 2 });
    } finally {
      clients.close();
    }
  });
});
