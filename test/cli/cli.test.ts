// The campaign CLI as a user runs it: each command is a real process of the built command
// (ppoppo-campaign, as installed; the test setup builds it) against the shared Temporal test server, with the production worker and listener running here on
// unique task queues and the Ppoppo sandbox behind them. Also runs examples/start-campaign.ts.
//
// Exit codes checked: 0 ok, 1 validation failure (also a spec that parses but is invalid),
// 2 usage error (unknown command/flag, missing file, spec file that is not valid JSON/YAML), 3 not found,
// 4 cannot connect (TEMPORAL_ADDRESS on a closed port, with a short TEMPORAL_CONNECT_TIMEOUT).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import { runListener } from '../../src/listener';
import type { RunningListener } from '../../src/listener';
import { startSandbox } from '../../src/sandbox/server';
import { freePort } from '../../dev/ports';
import { runWorkers } from '../../src/worker';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import { startWebhookReceiver } from '../../dev/receivers';
import type { RunningWorkers } from '../../src/worker';
import type { CampaignProgress, CampaignResult } from '../../src/contracts/campaign';
import type { RecipientRecord } from '../../src/contracts/chunk';
import { connectTestClient, connectTestWorkerConnection, testTemporalAddress } from '../support/temporal';
import { quietTemporalLogs } from '../support/quiet-logs';
import { builtCommand } from '../../scripts/package-commands';

const run = randomUUID().slice(0, 8);
const queues = { campaigns: `cli-campaigns-${run}`, send: `cli-send-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'campaign-cli-'));

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
let ppoppo: PpoppoClient;
let temporal: Client;
let connection: NativeConnection;
let workers: RunningWorkers;
let listener: RunningListener;
let env: Record<string, string>;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProcess(args: string[], extraEnv: Record<string, string> = {}, asIs = false): Promise<Ran> {
  return new Promise((resolve) => {
    // TypeScript through `node --import tsx` (npx and tsx's own CLI cost a second of CPU per command).
    const [command, ...rest] = asIs ? args : [process.execPath, ...(args[0]!.endsWith('.ts') ? ['--import', 'tsx'] : []), ...args];
    const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const CAMPAIGN = builtCommand('ppoppo-campaign');
const cli = (...args: string[]) => runProcess([CAMPAIGN, ...args]);

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const TEMPLATE = { name: `cli-${run}`, components: [{ type: 'text', content: 'Hello {{name}}' }] };

/** Runs `status --json` until its progress passes `done` (30 s at most). */
async function pollUntilCli(command: () => Promise<Ran>, done: (progress: CampaignProgress) => boolean): Promise<CampaignProgress> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ran = await command();
    const progress = ran.code === 0 ? (JSON.parse(ran.stdout) as { progress: CampaignProgress }).progress : undefined;
    if (progress && done(progress)) return progress;
    if (Date.now() > deadline) throw new Error(`timed out; last output: ${ran.stdout}${ran.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

beforeAll(async () => {
  quietTemporalLogs();
  // Consent decisions within 200 ms; an undecided consent (…05) expires after 45 s, which gives
  // the cancel test time to pause, resume, list and cancel while its one chunk is still open.
  sandbox = await startSandbox({ consentDecisionDelayMs: 200, consentWindowMs: 45_000 });
  ppoppo = new PpoppoClient(makeClientConfig({ apiUrl: sandbox.grpcUrl, tokenUrl: sandbox.tokenUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }));
  temporal = await connectTestClient();
  connection = await connectTestWorkerConnection();
  workers = await runWorkers({ connection, temporalClient: temporal, ppoppoClient: ppoppo, taskQueues: queues, listenerWorkflowId: `cli-listener-${run}` });
  listener = await runListener({
    connection,
    temporalClient: temporal,
    ppoppoClient: ppoppo,
    taskQueue: `cli-listener-${run}`,
    workflowId: `cli-listener-${run}`,
    maxRunMs: 2_000,
    batchMaxDelayMs: 100,
    actionableMaxDelayMs: 100,
  });
  env = {
    TEMPORAL_ADDRESS: testTemporalAddress(),
    CAMPAIGN_TASK_QUEUE: queues.campaigns,
    CAMPAIGN_SEND_TASK_QUEUE: queues.send,
    PCS_API_URL: sandbox.grpcUrl,
    PAS_TOKEN_URL: sandbox.tokenUrl,
    PAS_PCS_CLIENT_ID: sandbox.clientId,
    PAS_PCS_CLIENT_SECRET: sandbox.clientSecret,
  };
}, 120_000);

afterAll(async () => {
  for await (const info of temporal.workflow.list({ query: `TaskQueue = "${queues.campaigns}" AND ExecutionStatus = "Running"` })) {
    await temporal.workflow.getHandle(info.workflowId).terminate('test finished').catch(() => undefined);
  }
  await temporal?.workflow.getHandle(`cli-listener-${run}`).terminate('test finished').catch(() => undefined);
  await listener?.shutdown();
  await workers?.shutdown();
  await connection?.close();
  await temporal?.connection.close();
  await sandbox?.close();
});

// Each test reads and writes its own files: they run side by side (each is a CPU-bound CLI process or two).
describe.concurrent('campaign CLI: validate (local, nothing sent)', () => {
  it('names every bad row by line and field and exits 1', async () => {
    write('bad.csv', 'ppnum,name\n12300000001,Ada\n123,Bob\n12300000002,\n');
    const spec = write('bad.json', JSON.stringify({ campaignId: `bad-${run}`, template: TEMPLATE, recipients: { file: 'bad.csv' } }));
    const text = await cli('validate', spec);
    expect(text.code, text.stderr).toBe(1);
    expect(text.stdout).toMatch(/line 3: ppnum: ppnum is not valid/); // the invalid value itself is not repeated
    expect(text.stdout).toMatch(/line 4 \(12300000002\): vars\.name:/);

    const json = await cli('validate', spec, '--json');
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; valid: number; rowIssues: { line: number; field: string }[] };
    expect(report).toMatchObject({ ok: false, valid: 1 });
    expect(report.rowIssues.map((issue) => [issue.line, issue.field])).toEqual([
      [3, 'ppnum'],
      [4, 'vars.name'],
    ]);
  });

  it('accepts a clean YAML spec with --recipients overriding its source (exit 0)', async () => {
    const csv = write('good.csv', 'ppnum,name\n12300000001,Ada\n');
    const spec = write('good.yaml', `campaignId: good-${run}\ntemplate:\n  name: t\n  components:\n    - type: text\n      content: "Hi {{name}}"\nrecipients:\n  inline: []\n`);
    const ran = await cli('validate', spec, '--recipients', csv);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    expect(ran.stdout).toContain('1 valid, 0 invalid');
    // The budget, read through GetUsageStats: the sandbox's default quota of 1,000,000 a month.
    expect(ran.stdout).toMatch(/quota: the campaign needs 1 message; [\d,]+ of 1,000,000 left this month \(resets \d{4}-\d\d-01T00:00:00\.000Z\)/);
    const offline = await runProcess([CAMPAIGN, 'validate', spec, '--recipients', csv], { PAS_PCS_CLIENT_ID: '' });
    expect(offline.code, offline.stdout + offline.stderr).toBe(0); // validating needs no API; the note says why the quota was not read
    expect(offline.stdout).toContain('note: quota not checked: PAS_PCS_CLIENT_ID is not set');
  });

  it('applies the workers\' file roots and outbound allow-list when they are set here too', async () => {
    const spec = (recipients: object, fallback?: object) =>
      write(`limits-${randomUUID()}.json`, JSON.stringify({ campaignId: `limits-${run}`, template: TEMPLATE, recipients, ...(fallback ? { fallback } : {}) }));
    const passwd = await runProcess([CAMPAIGN, 'validate', spec({ file: '/etc/passwd', format: 'csv' })], { RECIPIENT_FILE_ROOTS: '' });
    expect(passwd.code).toBe(1); // locally the user's own files are read (not confined), and still never quoted
    expect(passwd.stdout).toContain('line 1: ppnum: the header row has no "ppnum" column');
    expect(passwd.stdout).not.toContain('root:');
    const confined = await runProcess([CAMPAIGN, 'validate', spec({ file: '/etc/passwd', format: 'csv' })], { RECIPIENT_FILE_ROOTS: dir });
    expect(confined.code).toBe(1);
    expect(confined.stdout).toContain(`recipients.file: recipient file /etc/passwd is refused: it is outside the allowed directories; workers read recipient files only under RECIPIENT_FILE_ROOTS (${dir})`);
    expect(confined.stdout).not.toContain('root:');

    const hook = { on: ['denied'], channel: { type: 'webhook', url: 'http://169.254.169.254/latest/meta-data' } };
    const inline = { inline: [{ ppnum: '12300000001', vars: { name: 'Ada' } }] };
    expect((await cli('validate', spec(inline, hook))).code).toBe(0);
    const refused = await runProcess([CAMPAIGN, 'validate', spec(inline, hook)], { FALLBACK_ALLOWED_HOSTS: 'hooks.example.com' });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('fallback.channel.url: 169.254.169.254:80 is not in FALLBACK_ALLOWED_HOSTS');
  });

  it('exits 2 with a plain configuration message when payload keys are missing', async () => {
    const ran = await runProcess([CAMPAIGN, 'list'], { PAYLOAD_KEYS: '', PAYLOAD_KEY_FILE: '' });
    expect(ran.code, ran.stderr).toBe(2);
    expect(ran.stderr.trim()).toMatch(/^configuration: payload encryption needs keys: set PAYLOAD_KEY_FILE/);
    expect(ran.stderr).not.toContain('    at ');
  });

  it('exits 2 for a missing file, naming it', async () => {
    const ran = await cli('validate', join(dir, 'nope.json'));
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain('nope.json: not found');
  });

  it('exits 2 for a spec that is not valid JSON, and 1 for a spec with invalid fields', async () => {
    const syntax = await cli('validate', write('syntax.json', '{"campaignId": '));
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain('cannot parse spec file');
    const fields = await cli('validate', write('fields.json', JSON.stringify({ campaignId: 'x', template: TEMPLATE, recipients: { inline: [] }, consentWindow: 'soon' })));
    expect(fields.code).toBe(1);
    expect(fields.stdout).toContain('consentWindow:');
  });

  it('exits 2 for an unknown command or flag', async () => {
    expect((await cli('launch')).code).toBe(2);
    const help = await runProcess(['src/cli/main.ts', '--help']); // `npm run campaign`: the sources, through tsx
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('exit codes:');
    const flag = await cli('status', 'x', '--bogus');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--bogus');
    const throttle = await cli('throttle', 'x', 'fast');
    expect(throttle.code).toBe(2);
    expect(throttle.stderr).toContain('throttle must be a whole number of recipients per minute from 1 to 1,000,000, or "off" (got "fast")');
  });
});

describe('campaign CLI without a Temporal server', () => {
  it('exits 4 with a message naming the address and TEMPORAL_ADDRESS', async () => {
    const closedPort = await freePort(); // free a moment ago: nothing listens there
    const ran = await runProcess([CAMPAIGN, 'status', `any-${run}`], { TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}`, TEMPORAL_CONNECT_TIMEOUT: '1s' });
    expect(ran.code, ran.stdout + ran.stderr).toBe(4);
    expect(ran.stderr).toContain(`cannot connect to Temporal at 127.0.0.1:${closedPort}`);
    expect(ran.stderr).toContain('TEMPORAL_ADDRESS');
  });
});

describe('campaign CLI on the real stack', () => {
  const campaignId = `cli-${run}`;
  const EXPECTED: Record<string, string> = { '12300000001': 'delivered', '12300000002': 'delivered', '12300000003': 'denied', '12300000004': 'failed' };

  it('starts a campaign twice concurrently and both attach to one run', async () => {
    const csv = write('run.csv', `ppnum,name\n${Object.keys(EXPECTED).map((ppnum, i) => `${ppnum},Name ${i}`).join('\n')}\n`);
    const spec = write('run.json', JSON.stringify({ campaignId, template: TEMPLATE, recipients: { inline: [] }, consentWindow: '1m', limits: { chunkSize: 2 } }));
    const [first, second] = await Promise.all([cli('start', spec, '--recipients', csv, '--json'), cli('start', spec, '--recipients', csv, '--json')]);
    // One starts it (0); the other starts it too or finds it running (5): one run either way.
    expect([first.code, second.code].sort(), first.stderr + second.stderr).toContain(0);
    expect([0, 5]).toContain(first.code);
    expect([0, 5]).toContain(second.code);
    const [a, b] = [JSON.parse(first.stdout) as { runId: string }, JSON.parse(second.stdout) as { runId: string }];
    expect(a.runId).toBeTruthy();
    expect(b.runId).toBe(a.runId);
  });

  it('watch --json prints progress lines and ends with the completed result', async () => {
    const ran = await cli('watch', campaignId, '--json', '--interval', '300');
    expect(ran.code, ran.stderr).toBe(0);
    const lines = ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; progress?: CampaignProgress; result?: CampaignResult });
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.slice(0, -1).every((line) => line.type === 'progress' && line.progress?.campaignId === campaignId)).toBe(true);
    const last = lines.at(-1)!;
    expect(last.type).toBe('result');
    expect(last.result).toMatchObject({ status: 'completed', total: 4, counts: { delivered: 2, denied: 1, failed: 1 } });
  });

  it('status, report and recipient describe the finished campaign', async () => {
    const status = await cli('status', campaignId, '--json');
    expect(status.code, status.stderr).toBe(0);
    const statusJson = JSON.parse(status.stdout) as { progress: CampaignProgress; usage: unknown };
    expect(statusJson.progress).toMatchObject({
      status: 'completed',
      total: 4,
      chunksTotal: 2,
      // …02 and …03 were asked (granted, denied); …01 and …04 are scripted without a consent step.
      consent: { asked: 2, granted: 1, denied: 1, expired: 0, alreadyConsented: 2 },
    });
    expect(statusJson.usage).toMatchObject({ monthlyMessageLimit: 1_000_000, rateLimitPerMin: 600 });
    const statusText = await cli('status', campaignId);
    expect(statusText.stdout).toContain('consent: asked 2 · granted 1 · denied 1 · expired 0 · already consented 2 · time to decision p50 ≤');
    expect(statusText.stdout).toMatch(/quota: [\d,]+ of 1,000,000 messages used this month, [\d,]+ left, resets .*; rate limit 600\/min/);

    const csvOut = join(dir, 'report.csv');
    const csv = await cli('report', campaignId, '--out', csvOut);
    expect(csv.code, csv.stderr).toBe(0);
    const rows = readFileSync(csvOut, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('ppnum,state,outcome,fallback,errorCode,responded,consent,consentDecisionMs,lastEventAt,lastEvent');
    expect(Object.fromEntries(rows.slice(1).map((row) => row.split(',').slice(0, 2)))).toEqual(EXPECTED);
    expect(Object.fromEntries(rows.slice(1).map((row) => [row.split(',')[0], row.split(',')[6]]))).toEqual({ '12300000001': 'already-consented', '12300000002': 'granted', '12300000003': 'denied', '12300000004': 'already-consented' });

    const json = await cli('report', campaignId, '--format', 'json');
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as RecipientRecord[]).map((r) => [r.ppnum, r.state])).toEqual(Object.entries(EXPECTED));

    const one = await cli('recipient', campaignId, '12300000003', '--json');
    expect(one.code, one.stderr).toBe(0);
    const record = JSON.parse(one.stdout) as RecipientRecord;
    expect(record).toMatchObject({ ppnum: '12300000003', state: 'denied', outcome: 'denied' });
    expect(record.history.length).toBeGreaterThan(0);

    // Starting a finished campaign again sends nothing: it reports the finished run, with an exit code that says so.
    const again = await cli('start', join(dir, 'run.json'), '--recipients', join(dir, 'run.csv'), '--json');
    expect(again.code, again.stderr).toBe(6);
    expect(JSON.parse(again.stdout)).toMatchObject({ campaignId, outcome: 'alreadyFinished', alreadyFinished: true, result: { status: 'completed' } });
    const waited = await cli('start', join(dir, 'run.json'), '--recipients', join(dir, 'run.csv'), '--wait');
    expect(waited.code).toBe(6);
    expect(waited.stdout).toContain(`already finished, nothing started: campaign ${campaignId}`);

    // The same id with a different spec: refused, naming what differs; nothing started.
    const changed = write('run-changed.json', JSON.stringify({ campaignId, template: { ...TEMPLATE, name: `cli-other-${run}` }, recipients: { inline: [] }, consentWindow: '1m', limits: { chunkSize: 2 } }));
    const different = await cli('start', changed, '--recipients', join(dir, 'run.csv'));
    expect(different.code).toBe(2);
    expect(different.stderr).toContain(`campaign ${campaignId} already exists (completed) with a different spec: it differs in template`);
    expect(different.stderr).toContain('it already sent 2 chunk(s) under this id');
    expect((await cli('start', changed, '--recipients', join(dir, 'run.csv'), '--force-new-run')).code).toBe(2); // it sent: its id stays its own

    // Controls on a finished campaign say it has finished (not "not found").
    const pause = await cli('pause', campaignId);
    expect(pause.code).toBe(6);
    expect(pause.stderr.trim()).toBe(`cannot pause campaign ${campaignId}: it has finished (completed)`);

    const denied = await cli('report', campaignId, '--outcome', 'denied');
    expect(denied.code, denied.stderr).toBe(0);
    expect(denied.stdout.trim().split('\n').slice(1).map((row) => row.split(',')[0])).toEqual(['12300000003']);
    expect((await cli('report', campaignId, '--outcome', 'bounced')).code).toBe(2);

    const text = await cli('recipient', campaignId, '12300000003');
    expect(text.stdout).toMatch(/^12300000003: denied/);
    expect((await cli('recipient', campaignId, '12399999999')).code).toBe(3);
  }, 180_000);

  it('lists, pauses, resumes and cancels a running campaign; watch then exits 1', async () => {
    const id = `cli-cancel-${run}`;
    // Its one send is refused with retry-after-ms 55 s (a wait too short to park): the campaign runs,
    // its chunk unsent, for 55 s; if it got through later, 12300000005 would still wait 45 s for the
    // sandbox to expire its consent. Cancel stops an unsent chunk at once (a sent one still ends).
    await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).faults({ resourceExhaustedNext: 1, retryAfterMs: 55_000 });
    const spec = write('cancel.json', JSON.stringify({ campaignId: id, template: TEMPLATE, recipients: { inline: [{ ppnum: '12300000005', vars: { name: 'Eve' } }] }, consentWindow: '10m' }));
    expect((await cli('start', spec)).code).toBe(0);
    const pause = await cli('pause', id, '--json');
    expect(pause.code, pause.stderr).toBe(0);
    expect((JSON.parse(pause.stdout) as CampaignProgress).status).toBe('paused');
    const resume = await cli('resume', id, '--json');
    expect(resume.code, resume.stderr).toBe(0);
    expect((JSON.parse(resume.stdout) as CampaignProgress).status).not.toBe('paused');
    const throttle = await cli('throttle', id, '120');
    expect(throttle.code, throttle.stderr).toBe(0);
    expect(throttle.stdout).toContain(`throttle: campaign ${id} is running, throttled to 120 recipients/min`);
    // A control the state does not allow: the campaign's own reason, not "Workflow Update failed".
    const again = await cli('resume', id);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`cannot resume campaign ${id}: it is running`);
    // The same spec while it runs: nothing started, and the exit code says so.
    const twice = await cli('start', spec);
    expect(twice.code).toBe(5);
    expect(twice.stdout).toContain(`already running, nothing started: campaign ${id}`);
    // A report of a running campaign says it is partial (on stderr: the CSV stays clean).
    const partial = await cli('report', id);
    expect(partial.code).toBe(0);
    expect(partial.stderr).toContain(`note: campaign ${id} is running: this report is partial`);

    // Visibility is eventually consistent: list until the campaign shows up.
    let listed: { campaignId: string }[] = [];
    for (let attempt = 0; attempt < 10 && !listed.some((c) => c.campaignId === id); attempt++) {
      const list = await cli('list', '--json');
      expect(list.code, list.stderr).toBe(0);
      listed = JSON.parse(list.stdout) as { campaignId: string }[];
    }
    expect(listed.map((c) => c.campaignId)).toContain(id);
    const running = await cli('list', '--status', 'running');
    expect(running.code, running.stderr).toBe(0);
    expect(running.stdout).toMatch(new RegExp(`^${id}\\trunning\\t0/1 final\\t`, 'm'));
    expect(running.stdout).not.toContain(`cli-${run}\t`); // completed: filtered out

    const cancel = await cli('cancel', id);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/^cancel: campaign .* is now (cancelling|cancelled)/);
    const watch = await cli('watch', id, '--interval', '200');
    expect(watch.code, watch.stdout + watch.stderr).toBe(1);
    expect(watch.stdout).toContain(`campaign ${id} cancelled`);
  }, 360_000);

  it('a campaign that does not fit the quota: validate and start say so, and it parks at the quota, visibly', async () => {
    const id = `cli-quota-${run}`;
    const used = (await ppoppo.getUsageStats()).currentMonthUsage;
    await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).config({ monthlyQuota: used + 1 });
    try {
      const recipients = ['12300000001', '12300000004', '12300000006'].map((ppnum) => ({ ppnum, vars: { name: 'Q' } }));
      const spec = write('quota.json', JSON.stringify({ campaignId: id, template: TEMPLATE, recipients: { inline: recipients }, consentWindow: '1m', limits: { chunkSize: 1, chunksInFlight: 3 } }));
      const check = await cli('validate', spec);
      expect(check.code).toBe(0); // not an error in the rows: a warning about the month
      expect(check.stdout).toMatch(/QUOTA: the campaign needs 3 messages but only 1 of [\d,]+ left this month \(resets .*\): it will send what fits, then park at the quota/);
      const started = await cli('start', spec, '--json');
      expect(started.code, started.stderr).toBe(0);
      expect(JSON.parse(started.stdout)).toMatchObject({ campaignId: id, quota: { needed: 3, remaining: 1, fits: false } });
      const parked = await pollUntilCli(() => cli('status', id, '--json'), (progress) => progress.status === 'parked');
      expect(parked).toMatchObject({ status: 'parked', parkedReason: 'quota' });
      expect(Date.parse(parked.parkedUntil!)).toBeGreaterThan(Date.now() + 60_000);
      expect((await cli('status', id)).stdout).toMatch(/parked until \S+: monthly quota/);
    } finally {
      await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).config({ monthlyQuota: 1_000_000 });
      await cli('cancel', id);
    }
  });

  it('creates, lists, pauses and deletes a recurring campaign on a Temporal Schedule, naming a bad flag', async () => {
    const id = `cli-weekly-${run}`;
    const spec = write('weekly.json', JSON.stringify({ campaignId: id, template: TEMPLATE, recipients: { inline: [{ ppnum: '12300000001', vars: { name: 'Ada' } }] } }));
    const badZone = await cli('schedule', 'create', spec, '--cron', '0 9 * * MON', '--time-zone', 'Seoul');
    expect(badZone.code).toBe(2);
    expect(badZone.stderr).toContain('--time-zone "Seoul" is not an IANA time zone');
    const created = await cli('schedule', 'create', spec, '--cron', '0 9 * * MON', '--time-zone', 'Asia/Seoul', '--json');
    expect(created.code, created.stderr).toBe(0);
    const summary = JSON.parse(created.stdout) as { scheduleId: string; nextRuns: { at: string; campaignId: string }[] };
    expect(summary.scheduleId).toBe(id);
    // Mondays 09:00 in Seoul are Mondays 00:00 UTC; each run is a campaign named after its time.
    expect(new Date(summary.nextRuns[0]!.at).getUTCDay()).toBe(1);
    expect(summary.nextRuns[0]!.at).toMatch(/T00:00:00\.000Z$/);
    expect(summary.nextRuns[0]!.campaignId).toMatch(new RegExp(`^${id}\\.\\d{8}T000000Z$`));
    expect((await cli('schedule', 'create', spec, '--cron', '0 9 * * MON')).code).toBe(5);
    expect((await cli('schedule', 'list')).stdout).toContain(`${id}\tactive`);
    expect((await cli('schedule', 'pause', id)).stdout).toContain(`${id}\tpaused`);
    const deleted = await cli('schedule', 'delete', id);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await cli('schedule', 'delete', id)).code).toBe(3);
  });

  it('exits 3 for an unknown campaign id, saying how to find ids', async () => {
    const ran = await cli('status', `no-such-${run}`);
    expect(ran.code).toBe(3);
    expect(ran.stderr).toContain(`no campaign "no-such-${run}"`);
  });

  it('creates a template and sends an alert through the API', async () => {
    const template = await cli('template', 'create', write('template.json', JSON.stringify({ name: `cli-tpl-${run}`, components: [{ type: 'text', content: 'Hi {{name}}' }] })), '--json');
    expect(template.code, template.stderr).toBe(0);
    expect((JSON.parse(template.stdout) as { id: string }).id).toBeTruthy();
    const alert = await cli('alert', '12300000001', '--text', 'maintenance tonight', '--json');
    expect(alert.code, alert.stderr).toBe(0);
    expect(JSON.parse(alert.stdout)).toMatchObject({ totalRecipients: 1 });
  });
});

describe('campaign CLI: reasons, retries and previews', () => {
  it('shows why a campaign failed: the cause, not "Activity task failed"', async () => {
    const name = `cli-conflict-${run}`;
    expect((await cli('template', 'create', write('conflict.json', JSON.stringify({ name, components: [{ type: 'text', content: 'One' }] })))).code).toBe(0);
    const spec = write('conflict-spec.json', JSON.stringify({ campaignId: name, template: { name, components: [{ type: 'text', content: 'Two' }] }, recipients: { inline: [{ ppnum: '12300000001' }] }, consentWindow: '1m' }));
    const started = await cli('start', spec, '--wait');
    expect(started.code).toBe(1);
    expect(started.stderr).toContain(`campaign ${name} failed: a template named "${name}" already exists`);
    const status = await cli('status', name);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain(`failed: a template named "${name}" already exists`);
    expect(status.stdout).not.toContain('Activity task failed');
    // Fixed (another template name): the failed campaign sent nothing, so --force-new-run may reuse its id.
    const fixed = write('conflict-fixed.json', JSON.stringify({ campaignId: name, template: { name: `${name}-2`, components: [{ type: 'text', content: 'Two' }] }, recipients: { inline: [{ ppnum: '12300000001' }] }, consentWindow: '1m' }));
    const refused = await cli('start', fixed);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--force-new-run');
    const forced = await cli('start', fixed, '--force-new-run', '--wait');
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`campaign ${name} completed`);
  }, 120_000);

  it('retries exactly the recipients of one outcome in a linked follow-up, once, and fallbacks that failed', async () => {
    let fallbackUp = false;
    const receiver = await startWebhookReceiver(() => ({ status: fallbackUp ? 200 : 400 }));
    // The worker (in this process) signs webhooks and may reach this loopback receiver only because it is listed.
    const workerEnv = { FALLBACK_SECRET_WEBHOOK: process.env.FALLBACK_SECRET_WEBHOOK, FALLBACK_ALLOWED_HOSTS: process.env.FALLBACK_ALLOWED_HOSTS };
    process.env.FALLBACK_SECRET_WEBHOOK = 'cli-webhook-signing-secret-0123456789';
    process.env.FALLBACK_ALLOWED_HOSTS = new URL(receiver.url).host;
    try {
      const id = `cli-retry-${run}`;
      const ppnums = ['12300000001', '12300000003', '12300000004']; // delivered, denied (fallback refused: 400), failed
      const spec = write('retry.json', JSON.stringify({
        campaignId: id,
        template: TEMPLATE,
        recipients: { inline: ppnums.map((ppnum) => ({ ppnum, vars: { name: `N${ppnum.slice(-1)}` } })) },
        consentWindow: '1m',
        fallback: { on: ['denied'], channel: { type: 'webhook', url: receiver.url }, text: 'Hi {{name}}' },
      }));
      const first = await cli('start', spec, '--wait', '--json');
      expect(first.code, first.stderr).toBe(0);
      const ledgerBefore = await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).messages();

      const retried = await cli('retry', id, '--outcome', 'failed', '--wait');
      // Its one recipient fails again at the API: a follow-up that reached nobody ends failed, saying so.
      expect(retried.code, retried.stdout + retried.stderr).toBe(1);
      expect(retried.stdout).toContain(`started campaign ${id}.retry-failed`);
      expect(retried.stdout).toContain('no recipient was delivered or reached by a fallback (failed 1)');
      const ledgerAfter = await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).messages();
      const added = ledgerAfter.slice(ledgerBefore.length).map((entry) => entry.ppnum);
      expect(added).toEqual(['12300000004']); // only the failed one, once

      fallbackUp = true;
      const fallbacks = await cli('retry', id, '--outcome', 'fallback-failed', '--wait');
      expect(fallbacks.code, fallbacks.stdout + fallbacks.stderr).toBe(0);
      expect((await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).messages()).length).toBe(ledgerAfter.length); // fallbacks only: no message on Ppoppo
      const bodies = receiver.requests.map((request) => JSON.parse(request.body) as { ppnum: string; idempotencyKey: string });
      expect(bodies.map((body) => body.ppnum)).toEqual(['12300000003', '12300000003']);
      expect(bodies[1]!.idempotencyKey).toBe(`${id}:12300000003`); // the original campaign's key: receivers can tell

      const twice = await cli('retry', id, '--outcome', 'failed');
      expect(twice.code).toBe(6);
      const status = await cli('status', id);
      expect(status.stdout).toContain(`follow-ups: ${id}.retry-failed (failed, failed), ${id}.retry-fallback-failed (fallback-failed, completed)`);
      const report = await cli('report', `${id}.retry-failed`);
      expect(report.stderr).toContain(`note: this campaign retries the failed recipients of campaign ${id}`);
      expect(report.stdout.trim().split('\n').slice(1).map((row) => row.split(',')[0])).toEqual(['12300000004']);
    } finally {
      for (const [name, value] of Object.entries(workerEnv)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await receiver.close();
    }
  }, 240_000);

  it('previews one row\'s message and fallback, sending nothing', async () => {
    write('preview.csv', 'ppnum,name,email\n12300000001,Ada,ada@example.com\n12300000002,,bob@example.com\n');
    const spec = write('preview.json', JSON.stringify({
      campaignId: `preview-${run}`,
      template: { name: 'p', components: [{ type: 'text', content: 'Hello {{name}}' }, { type: 'button', label: 'Open', url: 'https://ppoppo.com' }] },
      recipients: { file: 'preview.csv' },
      fallback: { on: ['denied'], channel: { type: 'email', host: '127.0.0.1', port: 25, from: 'c@example.com', addressColumn: 'email', subject: 'For {{name}}' }, text: 'Hi {{name}}, by email' },
    }));
    const first = await cli('preview', spec);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(
      [
        `campaign preview-${run}, row 1 (line 2), ppnum 12300000001: nothing is sent`,
        'message:',
        '  Hello Ada',
        '  [Open](https://ppoppo.com)',
        'fallback by email (on denied):',
        '  to: ada@example.com',
        '  subject: For Ada',
        '  Hi Ada, by email',
        '',
      ].join('\n'),
    );
    const second = await cli('preview', spec, '--row', '2', '--json');
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout)).toMatchObject({ row: 2, line: 3, ppnum: '12300000002', message: 'Hello \n[Open](https://ppoppo.com)', problem: 'no value for "name": this row would be invalid' });
    expect((await cli('preview', spec, '--row', '9')).stderr).toContain('--row 9: ');
  });

  it('report | (a reader that stops early) ends quietly, without an EPIPE stack', async () => {
    const ran = await runProcess(['bash', '-c', `set -o pipefail; node ${CAMPAIGN} report cli-${run} | true`], {}, true);
    expect(ran.stderr).not.toMatch(/EPIPE|Error:| {4}at /);
    expect(ran.code).toBe(0);
  });
});

describe('examples/start-campaign.ts', () => {
  it('runs a campaign through CampaignClient and prints its result', async () => {
    const ran = await runProcess(['examples/start-campaign.ts', `example-${run}`]);
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout.trim().split('\n').at(-1)!) as CampaignResult;
    expect(result).toMatchObject({ campaignId: `example-${run}`, status: 'completed', total: 2, counts: { delivered: 1, failed: 1 } });
    expect(ran.stderr).toContain('12300000004: failed');
  });
});
