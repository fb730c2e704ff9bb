// Send activities against the real sandbox over real gRPC, through the real PpoppoClient.
// Faults are injected with POST /inspect/faults; the ledger is read from /inspect/send-requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import type { FaultRequest } from '../../src/sandbox/faults';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import { startSandbox } from '../../src/sandbox/server';
import { createSendActivities } from '../../activities/send';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import { CONFIGURATION_FAULT, SEND_FAILURE_TYPES } from '../../src/contracts/chunk';
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { connectTestClient, decodePayload, uniqueTaskQueue } from '../support/temporal';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

let sandbox: Sandbox;
let client: PpoppoClient;
let activities: ReturnType<typeof createSendActivities>;
let templateId: string;

function clientFor(sb: Sandbox, clientSecret = sb.clientSecret): PpoppoClient {
  return new PpoppoClient(makeClientConfig({ apiUrl: sb.grpcUrl, tokenUrl: sb.tokenUrl, clientId: sb.clientId, clientSecret }));
}

async function injectFaults(faults: FaultRequest): Promise<void> {
  await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).faults(faults);
}

/** Send requests the sandbox accepted whose recipients include `ppnum`. */
async function acceptedWith(ppnum: string): Promise<string[]> {
  return (await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).sendRequests({ ppnum })).map((request) => request.id);
}

const inline = (...ppnums: string[]): ChunkSource => ({ kind: 'inline', recipients: ppnums.map((ppnum) => ({ ppnum, vars: { name: `n${ppnum.slice(-3)}` } })) });

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

let unique = 0;
/** Fresh ppnums per test so sandbox state (consent, ledger) never mixes between tests. */
const freshPpnum = () => `4${String(Date.now() % 1e9).padStart(9, '0')}${String(unique++).padStart(3, '0')}`;

beforeAll(async () => {
  sandbox = await startSandbox({});
  client = clientFor(sandbox);
  activities = createSendActivities({ client, reconcileSettleMs: 1_500, reconcileMaxScanMs: 30_000 });
  templateId = (await activities.ensureTemplate({ name: 'send-test', components: [{ type: 'text', content: 'Hello {{name}}' }] })).templateId;
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

describe('ensureTemplate', () => {
  it('is idempotent by name and refuses a different template under the same name', async () => {
    const again = await activities.ensureTemplate({ name: 'send-test', components: [{ type: 'text', content: 'Hello {{name}}' }] });
    expect(again).toEqual({ templateId, placeholders: ['name'], urlTemplates: [], isPoll: false });
    const withLink = await activities.ensureTemplate({ name: `send-test-link-${Date.now()}`, components: [{ type: 'text', content: 'Hi' }, { type: 'button', label: 'Open', url: '{{link}}' }] });
    expect(withLink).toMatchObject({ placeholders: ['link'], urlTemplates: ['{{link}}'] }); // every row's rendered link is checked
    const byId = await activities.ensureTemplate({ templateId });
    expect(byId.templateId).toBe(templateId);
    const conflict = await failureOf(activities.ensureTemplate({ name: 'send-test', components: [{ type: 'text', content: 'Bye {{name}}' }] }));
    expect(conflict).toMatchObject({ type: 'TemplateConflict', nonRetryable: true });
  });

  it('reports an unknown template id as a configuration fault, at once (the campaign parks)', async () => {
    const failure = await failureOf(activities.ensureTemplate({ templateId: 'does-not-exist' }));
    expect(failure).toMatchObject({ type: CONFIGURATION_FAULT, nonRetryable: true, details: [{ reason: 'template', codeName: 'NOT_FOUND' }] });
  });
});

describe('createSendRequest', () => {
  it('returns the receipt of an accepted request', async () => {
    const receipt = await activities.createSendRequest({ templateId, source: inline(freshPpnum(), freshPpnum()) });
    expect(receipt.sendRequestId).toBeTruthy();
    expect(receipt.totalRecipients).toBe(2);
  });

  describe('telling the campaign', () => {
    let temporal: Client;
    beforeAll(async () => {
      temporal = await connectTestClient();
    });
    afterAll(async () => {
      await temporal?.connection.close();
    });

    it('signals chunkSent to the campaign itself and says so in the receipt (the chunk then sends no signal)', async () => {
      // A stand-in campaign: a workflow no worker runs still takes signals into its history.
      const campaign = await temporal.workflow.start('stand-in-campaign', { workflowId: `campaign-${randomUUID()}`, taskQueue: uniqueTaskQueue('no-worker') });
      try {
        const told = createSendActivities({ client, temporalClient: temporal, listenerWorkflowId: `no-listener-${randomUUID()}` });
        const receipt = await told.createSendRequest({ templateId, source: inline(freshPpnum(), freshPpnum()), campaign: { workflowId: campaign.workflowId, chunkIndex: 4, recipients: 2 } });
        expect(receipt.campaignTold).toBe(true);
        const signals = ((await campaign.fetchHistory()).events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes] : []));
        expect(signals.map((a) => a.signalName)).toEqual(['chunkSent']);
        expect(await decodePayload(signals[0]!.input!.payloads![0] as Payload)).toEqual({ chunkIndex: 4, sendRequestId: receipt.sendRequestId, recipients: 2 });
      } finally {
        await campaign.terminate('test finished');
      }
    });

    it('leaves it to the chunk when the campaign cannot be told; the send stands', async () => {
      const told = createSendActivities({ client, temporalClient: temporal, listenerWorkflowId: `no-listener-${randomUUID()}` });
      const ppnum = freshPpnum();
      const receipt = await told.createSendRequest({ templateId, source: inline(ppnum), campaign: { workflowId: `no-such-campaign-${randomUUID()}`, chunkIndex: 0, recipients: 1 } });
      expect(receipt.campaignTold).toBe(false);
      expect(await acceptedWith(ppnum)).toEqual([receipt.sendRequestId]);
    });
  });

  it('maps RESOURCE_EXHAUSTED to SendRefused with the retry-after hint', async () => {
    const ppnum = freshPpnum();
    await injectFaults({ resourceExhaustedNext: 1, retryAfterMs: 1234 });
    const failure = await failureOf(activities.createSendRequest({ templateId, source: inline(ppnum) }));
    expect(failure).toMatchObject({ type: SEND_FAILURE_TYPES.refused, nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ retryAfterMs: 1234, quota: false, codeName: 'RESOURCE_EXHAUSTED' });
    expect(await acceptedWith(ppnum)).toEqual([]);
  });

  it('maps UNAVAILABLE to SendRefused without a hint', async () => {
    await injectFaults({ unavailableNext: 1 });
    const failure = await failureOf(activities.createSendRequest({ templateId, source: inline(freshPpnum()) }));
    expect(failure.type).toBe(SEND_FAILURE_TYPES.refused);
    expect(failure.details?.[0]).toMatchObject({ retryAfterMs: null, codeName: 'UNAVAILABLE' });
  });

  it('maps an unknown template to a configuration fault the chunk holds for, never a rejection of its recipients', async () => {
    const failure = await failureOf(activities.createSendRequest({ templateId: 'no-such-template', source: inline(freshPpnum()) }));
    expect(failure).toMatchObject({ type: CONFIGURATION_FAULT, nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ reason: 'template', codeName: 'NOT_FOUND' });
  });

  it('maps a request over the server\'s 4 MB message limit to SendRejected, never ambiguous', async () => {
    const failure = await failureOf(activities.createSendRequest({ templateId, source: { kind: 'inline', recipients: [{ ppnum: freshPpnum(), vars: { note: 'x'.repeat(5_000_000) } }] } }));
    expect(failure).toMatchObject({ type: SEND_FAILURE_TYPES.rejected, nonRetryable: true });
    expect(failure.message).toContain('the API takes at most 4,194,304 per message');
  });

  it('maps an answer lost after acceptance to SendAmbiguous', async () => {
    await injectFaults({ ambiguousNext: 1 });
    const failure = await failureOf(activities.createSendRequest({ templateId, source: inline(freshPpnum()) }));
    expect(failure).toMatchObject({ type: SEND_FAILURE_TYPES.ambiguous, nonRetryable: true });
  });

  it('never puts the client secret in a failure', async () => {
    const secret = 'wrong-secret-value-7f3a9c';
    const badClient = clientFor(sandbox, secret);
    try {
      const bad = createSendActivities({ client: badClient });
      const err = await bad.createSendRequest({ templateId, source: inline(freshPpnum()) }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(secret);
      expect(String((err as Error).stack)).not.toContain(secret);
    } finally {
      badClient.close();
    }
  });
});

describe('reconcileSend', () => {
  it('finds the request accepted behind an ambiguous failure, and not a request with other recipients', async () => {
    const [p1, p2] = [freshPpnum(), freshPpnum()];
    const { cursorBefore } = await activities.beginSend();
    const other = await activities.createSendRequest({ templateId, source: inline(p1, p2) }); // overlaps, different set
    await injectFaults({ ambiguousNext: 1 });
    await failureOf(activities.createSendRequest({ templateId, source: inline(p1) }));
    const accepted = (await acceptedWith(p1)).filter((id) => id !== other.sendRequestId);
    expect(accepted).toHaveLength(1);

    const result = await activities.reconcileSend({ cursorBefore, ppnums: [p1], templateId });
    expect(result).toEqual({ sendRequestId: accepted[0] });
  });

  it('finds it from a pre-send cursor taken from the clock with no margin at all: ids minted after it sort after it', async () => {
    const strict = createSendActivities({ client, presendCursorMarginMs: 0, reconcileSettleMs: 1_500, reconcileMaxScanMs: 30_000 });
    const ppnum = freshPpnum();
    const { cursorBefore } = await strict.beginSend();
    await injectFaults({ ambiguousNext: 1 });
    await failureOf(strict.createSendRequest({ templateId, source: inline(ppnum) }));
    const accepted = await acceptedWith(ppnum);
    expect(accepted).toHaveLength(1);
    expect(await strict.reconcileSend({ cursorBefore, ppnums: [ppnum], templateId })).toEqual({ sendRequestId: accepted[0] });
  });

  it('answers null when nothing was accepted', async () => {
    const ppnum = freshPpnum();
    const { cursorBefore } = await activities.beginSend();
    await injectFaults({ unavailableNext: 1 });
    await failureOf(activities.createSendRequest({ templateId, source: inline(ppnum) }));
    expect(await activities.reconcileSend({ cursorBefore, ppnums: [ppnum], templateId })).toEqual({ sendRequestId: null });
    expect(await acceptedWith(ppnum)).toEqual([]);
  });
});
