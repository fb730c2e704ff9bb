// examples/verify-webhook.ts as a user runs it (a real process), fed by our real webhook channel:
// a genuine delivery is processed once; a replay, a rewritten timestamp and a modified body are not.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FallbackMessage } from '../../activities/fallback/channel';
import { createWebhookChannel } from '../../activities/fallback/webhook';
import { verifyWebhook } from '../../src/webhooks/signature';
import { startWebhookReceiver, type ReceivedRequest } from '../../dev/receivers';

const SECRET = `whsec_${Buffer.from('a 32-byte key for the verifier!!').toString('base64')}`;
const message: FallbackMessage = { campaignId: 'spring', ppnum: '12300000003', outcome: 'denied', idempotencyKey: 'spring:12300000003', text: 'Hello Ana', vars: { name: 'Ana' } };

let verifier: ChildProcess;
let url: string;
const output: string[] = [];
let captured: ReceivedRequest;

/** Sends a request as received (headers and raw body), with changes, to the verifier. */
async function replay(request: ReceivedRequest, change: { headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'idempotency-key', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[name] = String(request.headers[name]);
  const response = await fetch(url, { method: 'POST', headers: { ...headers, ...change.headers }, body: change.body ?? request.body });
  return { status: response.status, text: await response.text() };
}

beforeAll(async () => {
  // node itself (not npx, whose child would outlive a kill), with tsx as the loader: what `npx tsx` runs.
  verifier = spawn(process.execPath, ['--import', 'tsx', 'examples/verify-webhook.ts', '0'], { env: { ...process.env, WEBHOOK_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'inherit'] });
  verifier.stdout!.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean)));
  while (!output.some((line) => line.startsWith('verifying webhooks on '))) await Promise.race([once(verifier.stdout!, 'data'), once(verifier, 'exit').then(() => { throw new Error(`verifier exited: ${output.join('\n')}`); })]);
  url = /on (\S+)/.exec(output[0]!)![1]!;

  // A real delivery from our channel, captured on the wire.
  const capture = await startWebhookReceiver();
  await createWebhookChannel({ type: 'webhook', url: capture.url }, { env: { FALLBACK_SECRET_WEBHOOK: SECRET, FALLBACK_ALLOWED_HOSTS: new URL(capture.url).host } }).send(message);
  captured = capture.requests[0]!;
  await capture.close();
});

afterAll(() => {
  verifier?.kill();
});

describe('examples/verify-webhook.ts', () => {
  it('accepts a genuine delivery, then acknowledges its replay without processing it again', async () => {
    expect(await replay(captured)).toEqual({ status: 200, text: 'ok' });
    expect(await replay(captured)).toEqual({ status: 200, text: 'duplicate' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(output.filter((line) => line.startsWith('accepted'))).toEqual(['accepted spring:12300000003 (denied)']);
    expect(output).toContain('duplicate spring:12300000003: already processed');
  });

  it('refuses a replay whose timestamp was rewritten to look fresh, and a modified body', async () => {
    const fresh = String(Number(captured.headers['webhook-timestamp']) + 1);
    expect(await replay(captured, { headers: { 'webhook-timestamp': fresh } })).toEqual({ status: 401, text: JSON.stringify({ error: 'no signature matches: the body, id or timestamp was changed, or the secret differs' }) });
    const modified = captured.body.replace('"denied"', '"expired"');
    expect(modified).not.toBe(captured.body);
    expect((await replay(captured, { body: modified, headers: { 'webhook-id': 'spring:other' } })).status).toBe(401);
    expect((await replay(captured, { headers: { 'webhook-signature': 'v1,' + Buffer.alloc(32).toString('base64') } })).status).toBe(401);
    expect(output.filter((line) => line.startsWith('accepted'))).toHaveLength(1);
  });

  it('refuses the captured delivery once it is older than the tolerance (checked with the verifier function)', () => {
    const signedAt = Number(captured.headers['webhook-timestamp']) * 1000;
    expect(verifyWebhook({ headers: captured.headers, body: captured.body, secret: SECRET, now: signedAt + 4 * 60_000 }).ok).toBe(true);
    expect(verifyWebhook({ headers: captured.headers, body: captured.body, secret: SECRET, now: signedAt + 6 * 60_000 })).toEqual({ ok: false, reason: 'webhook-timestamp is 360 s old (tolerance 300 s): a replay, or a clock far off' });
  });
});
