// Promise 7 end to end: nothing personal in cleartext in Temporal. A private dev server (its own
// SQLite file), the production worker and listener with payload encryption on, the sandbox and a
// signed webhook receiver. An inline and a file campaign with made-up recipients (ppnums, names,
// emails, a promo code) run to the end; then every history in the namespace (campaigns, chunks,
// the listener), read with the real `temporal workflow show`, the database file itself and the
// workers' log lines must hold none of those values, while our CLI's report still shows them.
// The attacks of issue 11 get a clear error each and send nothing: a file outside the roots, an
// internal fallback URL, a forbidden secretEnv, a placeholder link rendered to javascript:.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignSpec } from '../../src/campaign/spec';
import { CampaignClient, InvalidSpecError } from '../../src/client/campaigns';
import { CampaignFailedError } from '../../src/client/errors';
import { CAMPAIGN_WORKFLOW_TYPE, campaignWorkflowId } from '../../src/contracts/campaign';
import type { CampaignResult } from '../../src/contracts/campaign';
import type { RecipientRecord } from '../../src/contracts/chunk';
import { startDevServer, temporalCliPath, type DevServer } from '../../dev/temporal/dev-server';
import { installProcessLogger } from '../../src/logging';
import { verifyWebhook } from '../../src/webhooks/signature';
import { startWebhookReceiver, type WebhookReceiver } from '../../dev/receivers';
import { cleartextFound, isOutsideCodec, payloadsIn } from '../support/cleartext';
import { allowWebhookReceiver, startCampaignStack, type CampaignStack } from '../support/campaign-stack';
import { pollUntil } from '../support/temporal';
import { builtCommand } from '../../scripts/package-commands';

const run = randomUUID().slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), 'privacy-'));
const WEBHOOK_SECRET = `privacy-webhook-secret-${run}`;
const CANARY = `CANARY-${randomUUID()}`;

/** Made-up recipients; 12300000003 is denied (so it falls back), the others get the sandbox's mix. */
const INLINE = [
  { ppnum: '12300000003', vars: { name: 'Zelda Quixote', email: 'zelda.quixote@example.org', code: 'PROMO-ZQ7731' } },
  { ppnum: '57300000011', vars: { name: 'Yorick Umberfield', email: 'yorick.u@example.org', code: 'PROMO-YU4410' } },
  { ppnum: '57300000012', vars: { name: 'Wilhelmina Pratchett', email: 'w.pratchett@example.org', code: 'PROMO-WP0042' } },
];
const FILE = [
  { ppnum: '12300000003', vars: { name: 'Xanthe Oberlin', email: 'xanthe.oberlin@example.org', code: 'PROMO-XO5151' } },
  { ppnum: '58400000021', vars: { name: 'Valentin Quarrington', email: 'v.quarrington@example.org', code: 'PROMO-VQ9090' } },
  { ppnum: '58400000022', vars: { name: 'Ulrike Sandoval', email: 'ulrike.sandoval@example.org', code: 'PROMO-US2323' } },
];
const PERSONAL = [...INLINE, ...FILE].flatMap((r) => [r.ppnum, ...Object.values(r.vars)]);

let server: DevServer;
let stack: CampaignStack;
let campaigns: CampaignClient;
let receiver: WebhookReceiver;
/** The full SDK log of this process (workers, listener), written as production processes write theirs. */
const SDK_LOG = join(dir, 'sdk.log');
const inlineId = `privacy-inline-${run}`;
const fileId = `privacy-file-${run}`;

function spec(campaignId: string, recipients: CampaignSpec['recipients'], extra: Partial<CampaignSpec> = {}): CampaignSpec {
  return {
    campaignId,
    template: { name: `privacy-${run}`, components: [{ type: 'text', content: 'Hello {{name}}, your code is {{code}}' }] },
    recipients,
    consentWindow: '1m', // the minimum; the sandbox's own 3 s window decides first
    fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: receiver.url }, text: 'Hi {{name}} ({{email}}), code {{code}}' },
    limits: { chunkSize: 2, sendsPerChunk: 1 },
    ...extra,
  };
}

async function runToEnd(input: unknown): Promise<CampaignResult> {
  const started = await campaigns.startCampaign(input);
  return campaigns.result(started.campaignId);
}

/** The reason a campaign failed, as our client reads it (decoded), or a test failure if it did not fail. */
async function failureOf(campaignId: string): Promise<string> {
  const err = await campaigns.result(campaignId).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CampaignFailedError);
  return (err as CampaignFailedError).reasons.at(-1) ?? ''; // the innermost reason
}

function runCommand(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { TEMPORAL_CODEC_ENDPOINT: _e, TEMPORAL_CODEC_AUTH: _a, ...inherited } = process.env;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const temporal = (...args: string[]) => runCommand(temporalCliPath(), [...args, '--address', server.address]);
// The built command with plain node, as installed (the test setup builds it): tsx compiling the sources cost a CPU-second or two per run.
const campaignCli = (...args: string[]) => runCommand(process.execPath, [builtCommand('ppoppo-campaign'), ...args], { TEMPORAL_ADDRESS: server.address });

beforeAll(async () => {
  // Every SDK log line of this process (workflow logs through sinks, activity logs, failures with stacks), kept for the scan.
  installProcessLogger({ file: SDK_LOG, terminalLevel: 'OFF' });
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), logFile: join(dir, 'temporal.log') });
  receiver = await startWebhookReceiver();
  allowWebhookReceiver(receiver.url, WEBHOOK_SECRET);
  stack = await startCampaignStack('privacy', { temporalAddress: server.address, sandbox: { consentDecisionDelayMs: 200, consentWindowMs: 3_000 }, listener: { maxRunMs: 2_000 } });
  campaigns = new CampaignClient(stack.temporal, { taskQueue: stack.queues.campaigns, sendTaskQueue: stack.queues.send });

  const csvDir = join(dir, 'lists');
  mkdirSync(csvDir);
  const csv = join(csvDir, 'recipients.csv');
  writeFileSync(csv, `ppnum,name,email,code\n${FILE.map((r) => [r.ppnum, r.vars.name, r.vars.email, r.vars.code].join(',')).join('\n')}\n`);
  const [inline, file] = await Promise.all([runToEnd(spec(inlineId, { inline: INLINE })), runToEnd(spec(fileId, { file: csv, format: 'csv' }))]);
  expect(inline).toMatchObject({ status: 'completed', total: 3 });
  expect(file).toMatchObject({ status: 'completed', total: 3 });
  // A plain-JSON workflow nobody runs, started without the codec: its input is the one cleartext
  // payload in the database, so the scans below can be seen to read payloads.
  expect((await temporal('workflow', 'start', '--type', 'privacyCanary', '--task-queue', `nobody-${run}`, '--workflow-id', `canary-${run}`, '--input', JSON.stringify(CANARY))).code).toBe(0);
}, 240_000);

afterAll(async () => {
  await stack?.temporal.workflow.getHandle(`canary-${run}`).terminate('test finished').catch(() => undefined);
  await stack?.stop();
  await receiver?.close();
  await server?.stop();
}, 120_000);

describe('nothing personal in cleartext in Temporal', () => {
  it('holds no ppnum, name, email or variable value in any history shown by `temporal workflow show` (campaigns, chunks, listener)', async () => {
    const listed = await temporal('workflow', 'list', '--output', 'json');
    expect(listed.code, listed.stderr).toBe(0);
    const ids = [...new Set((JSON.parse(listed.stdout) as { execution: { workflowId: string } }[]).map((w) => w.execution.workflowId))];
    expect(ids).toEqual(expect.arrayContaining([campaignWorkflowId(inlineId), `${campaignWorkflowId(inlineId)}/chunk/000001`, `${campaignWorkflowId(fileId)}/chunk/000000`, stack.listenerWorkflowId]));

    let encrypted = 0;
    for (const id of ids.filter((id) => id !== `canary-${run}`)) {
      const shown = await temporal('workflow', 'show', '--workflow-id', id, '--output', 'json');
      expect(shown.code, shown.stderr).toBe(0);
      const payloads = payloadsIn(JSON.parse(shown.stdout));
      expect(payloads.filter((p) => !isOutsideCodec(p) && p.encoding !== 'binary/encrypted').map((p) => `${id} ${p.path}: ${p.encoding} ${p.data.toString()}`)).toEqual([]);
      encrypted += payloads.length;
      expect(cleartextFound([shown.stdout], PERSONAL), id).toEqual([]);
    }
    expect(encrypted).toBeGreaterThan(50);
    const canary = await temporal('workflow', 'show', '--workflow-id', `canary-${run}`, '--output', 'json');
    expect(cleartextFound([canary.stdout], [CANARY])).toEqual([CANARY]); // the scan does see a cleartext payload
  });

  it('holds none of them anywhere in the Temporal database file (histories, visibility, memos), where the canary is readable', () => {
    const files = readdirSync(dir).filter((name) => name.startsWith('temporal.db'));
    const bytes = files.map((name) => readFileSync(join(dir, name)));
    expect(cleartextFound(bytes, [CANARY, inlineId])).toEqual([CANARY, inlineId]);
    expect(cleartextFound(bytes, PERSONAL)).toEqual([]);
  });

  it('keeps them out of the worker and listener log lines', () => {
    const log = readFileSync(SDK_LOG, 'utf8');
    // The scan reads the lines of both workers of the stack (not an empty or foreign file).
    for (const queue of [stack.queues.campaigns, stack.queues.send]) expect(log).toContain(`"taskQueue":"${queue}"`);
    expect(cleartextFound([log], PERSONAL)).toEqual([]);
  });

  it('still shows them to people with the keys: our CLI report, and the fallbacks that went out', async () => {
    const report = await campaignCli('report', inlineId, '--format', 'json');
    expect(report.code, report.stderr).toBe(0);
    const records = JSON.parse(report.stdout) as RecipientRecord[];
    expect(records.map((r) => r.ppnum).sort()).toEqual(INLINE.map((r) => r.ppnum).sort());
    expect(records.find((r) => r.ppnum === '12300000003')).toMatchObject({ outcome: 'denied', fallback: 'sent' });
    const status = await campaignCli('status', fileId);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('completed');

    const fallbacks = receiver.requests.map((request) => JSON.parse(request.body) as { campaignId: string; text: string });
    expect(fallbacks.map((f) => f.text)).toEqual(expect.arrayContaining(['Hi Zelda Quixote (zelda.quixote@example.org), code PROMO-ZQ7731', 'Hi Xanthe Oberlin (xanthe.oberlin@example.org), code PROMO-XO5151']));
    for (const request of receiver.requests) expect(verifyWebhook({ headers: request.headers, body: request.body, secret: WEBHOOK_SECRET }).ok).toBe(true);
  });
});

describe('the attacks of issue 11: a clear error each, and nothing sent', () => {
  /** Runs `attack`, then checks that the sandbox accepted no message and the receiver got no webhook meanwhile. */
  async function sendsNothing(attack: () => Promise<void>): Promise<void> {
    const [messages, webhooks] = [(await stack.inspector.messages()).length, receiver.requests.length];
    await attack();
    expect((await stack.inspector.messages()).length).toBe(messages);
    expect(receiver.requests.length).toBe(webhooks);
  }

  it('refuses a recipient file outside RECIPIENT_FILE_ROOTS and quotes nothing of it', async () => {
    await sendsNothing(async () => {
      const id = `privacy-passwd-${run}`;
      await campaigns.startCampaign(spec(id, { file: '/etc/passwd', format: 'ndjson' }));
      const reason = await failureOf(id);
      expect(reason).toMatch(/^recipient file \/etc\/passwd is refused: it is outside the allowed directories; workers read recipient files only under RECIPIENT_FILE_ROOTS/);
      expect(reason).not.toContain('root:');
      // The failure message itself is stored encoded: without the codec, Temporal shows "Encoded failure".
      const shown = await temporal('workflow', 'show', '--workflow-id', campaignWorkflowId(id), '--output', 'json');
      expect(shown.stdout).toContain('Encoded failure');
      expect(cleartextFound([shown.stdout], ['/etc/passwd is refused', 'root:'])).toEqual([]);
    });
  });

  it('parks a campaign whose fallback points at an internal URL (the sandbox\'s /inspect), saying why, before anything is sent', async () => {
    await sendsNothing(async () => {
      const id = `privacy-ssrf-${run}`;
      const internal = `${stack.sandbox.httpUrl}/inspect/config`;
      await campaigns.startCampaign(spec(id, { inline: INLINE }, { fallback: { on: ['denied'], channel: { type: 'webhook', url: internal } } }));
      // The worker's operator must act (list the host, or fix the spec): the campaign parks saying why, and sends nothing meanwhile.
      const parked = await pollUntil('parked on the fallback channel', () => campaigns.getProgress(id), (p) => p.status === 'parked', 30_000);
      expect(parked).toMatchObject({ parkedReason: 'fallback', parkedMessage: `fallback channel: ${new URL(internal).host} is not in FALLBACK_ALLOWED_HOSTS (the hosts the workers' operator allows fallbacks to reach)` });
      await campaigns.cancel(id);
      const result = await campaigns.result(id);
      expect(result.status).toBe('cancelled');
      expect(result.counts.delivered).toBe(0);
    });
  });

  it('refuses a secretEnv outside FALLBACK_SECRET_*, in our client and in the workflow itself', async () => {
    await sendsNothing(async () => {
      const stolen = spec(`privacy-secret-${run}`, { inline: INLINE }, { fallback: { on: ['denied'], channel: { type: 'webhook', url: receiver.url, secretEnv: 'PAS_PCS_CLIENT_SECRET' } } });
      const refused = await campaigns.startCampaign(stolen).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(InvalidSpecError);
      expect((refused as Error).message).toContain('fallback.channel.secretEnv must name an environment variable starting with FALLBACK_SECRET_');
      // Started past our client (Web UI, temporal CLI): the workflow refuses it before any activity.
      await stack.temporal.workflow.start(CAMPAIGN_WORKFLOW_TYPE, { workflowId: campaignWorkflowId(stolen.campaignId), taskQueue: stack.queues.campaigns, args: [stolen] });
      expect(await failureOf(stolen.campaignId)).toContain('fallback.channel.secretEnv must name an environment variable starting with FALLBACK_SECRET_');
    });
  });

  it('refuses a row whose placeholder link renders to javascript:, naming the entry and variable, quoting nothing', async () => {
    await sendsNothing(async () => {
      const id = `privacy-link-${run}`;
      await campaigns.startCampaign({
        ...spec(id, { inline: [{ ppnum: '57300000031', vars: { link: 'https://shop.example/a' } }, { ppnum: '57300000032', vars: { link: 'javascript:alert(document.cookie)' } }] }),
        template: { name: `privacy-link-${run}`, components: [{ type: 'text', content: 'Look' }, { type: 'button', label: 'Open', url: '{{link}}' }] },
        fallback: undefined,
      });
      const reason = await failureOf(id);
      expect(reason).toContain('1 recipient(s) are invalid');
      expect(reason).toContain('recipients.inline[1].vars.link: a link of the template is "{{link}}": with this row\'s "link" it is not an http:// or https:// address');
      expect(reason).not.toContain('javascript');
    });
  });
});
