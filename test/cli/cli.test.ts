// The campaign CLI (test/cli/cli-stack.ts: its main in this process, and the built command as a user
// runs it where the process itself matters, against the shared Temporal test server, with the
// production worker and listener running here on unique task queues and the Ppoppo sandbox behind
// them): validation, exit codes, and the commands on a real campaign. Real processes: validate,
// an unknown command, two concurrent starts, status. Reasons, retries, previews, a reader that
// stops early and examples/start-campaign.ts are in cli-follow-ups.test.ts.
//
// Exit codes checked: 0 ok, 1 validation failure (also a spec that parses but is invalid),
// 2 usage error (unknown command/flag, missing file, spec file that is not valid JSON/YAML), 3 not found,
// 4 cannot connect (TEMPORAL_ADDRESS on a closed port, with a short TEMPORAL_CONNECT_TIMEOUT).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../dev/ports';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import type { CampaignProgress, CampaignResult } from '../../src/contracts/campaign';
import type { RecipientRecord } from '../../src/contracts/chunk';
import { TEMPLATE, cli, cliProcess, dir, pollUntilCli, ppoppo, run, runHere, sandbox, useCliStack, write } from './cli-stack';

useCliStack();

// Each test reads and writes its own files: they run side by side.
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
    const ran = await cliProcess('validate', spec, '--recipients', csv); // the built command, as a user runs it
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    expect(ran.stdout).toContain('1 valid, 0 invalid');
    // The budget, read through GetUsageStats: the sandbox's default quota of 1,000,000 a month.
    expect(ran.stdout).toMatch(/quota: the campaign needs 1 message; [\d,]+ of 1,000,000 left this month \(resets \d{4}-\d\d-01T00:00:00\.000Z\)/);
    const offline = await runHere(['validate', spec, '--recipients', csv], { PAS_PCS_CLIENT_ID: '' });
    expect(offline.code, offline.stdout + offline.stderr).toBe(0); // validating needs no API; the note says why the quota was not read
    expect(offline.stdout).toContain('note: quota not checked: PAS_PCS_CLIENT_ID is not set');
  });

  it('applies the workers\' file roots and outbound allow-list when they are set here too', async () => {
    const spec = (recipients: object, fallback?: object) =>
      write(`limits-${randomUUID()}.json`, JSON.stringify({ campaignId: `limits-${run}`, template: TEMPLATE, recipients, ...(fallback ? { fallback } : {}) }));
    const passwd = await runHere(['validate', spec({ file: '/etc/passwd', format: 'csv' })], { RECIPIENT_FILE_ROOTS: '' });
    expect(passwd.code).toBe(1); // locally the user's own files are read (not confined), and still never quoted
    expect(passwd.stdout).toContain('line 1: ppnum: the header row has no "ppnum" column');
    expect(passwd.stdout).not.toContain('root:');
    const confined = await runHere(['validate', spec({ file: '/etc/passwd', format: 'csv' })], { RECIPIENT_FILE_ROOTS: dir });
    expect(confined.code).toBe(1);
    expect(confined.stdout).toContain(`recipients.file: recipient file /etc/passwd is refused: it is outside the allowed directories; workers read recipient files only under RECIPIENT_FILE_ROOTS (${dir})`);
    expect(confined.stdout).not.toContain('root:');

    const hook = { on: ['denied'], channel: { type: 'webhook', url: 'http://169.254.169.254/latest/meta-data' } };
    const inline = { inline: [{ ppnum: '12300000001', vars: { name: 'Ada' } }] };
    expect((await cli('validate', spec(inline, hook))).code).toBe(0);
    const refused = await runHere(['validate', spec(inline, hook)], { FALLBACK_ALLOWED_HOSTS: 'hooks.example.com' });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('fallback.channel.url: 169.254.169.254:80 is not in FALLBACK_ALLOWED_HOSTS');
  });

  it('exits 2 with a plain configuration message when payload keys are missing', async () => {
    const ran = await runHere(['list'], { PAYLOAD_KEYS: '', PAYLOAD_KEY_FILE: '' });
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
    expect((await cliProcess('launch')).code).toBe(2); // the built command's exit code
    const help = await cli('--help'); // (the sources' entry through tsx, `npm run campaign`: test/dotenv.test.ts)
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
    const ran = await runHere(['status', `any-${run}`], { TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}`, TEMPORAL_CONNECT_TIMEOUT: '1s' });
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
    const spec = write('run.json', JSON.stringify({ campaignId, template: TEMPLATE, recipients: { inline: [] }, consentWindow: '1m', limits: { chunkSize: 2, sendsPerChunk: 1 } }));
    const [first, second] = await Promise.all([cliProcess('start', spec, '--recipients', csv, '--json'), cliProcess('start', spec, '--recipients', csv, '--json')]);
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
    const status = await cliProcess('status', campaignId, '--json');
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
    const repair = await cli('repair', campaignId);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stdout).toMatch(new RegExp(`^campaign ${campaignId}: nothing to repair \\(\\d+ workflow\\(s\\) checked, no workflow task failing\\)`));
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
    const changed = write('run-changed.json', JSON.stringify({ campaignId, template: { ...TEMPLATE, name: `cli-other-${run}` }, recipients: { inline: [] }, consentWindow: '1m', limits: { chunkSize: 2, sendsPerChunk: 1 } }));
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
    // Running: checked and planned (a loaded machine can still be validating a moment after the start).
    await pollUntilCli(() => cli('status', id, '--json'), (progress) => progress.status === 'running');
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
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 1_000)); // a process took about that long
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
      const spec = write('quota.json', JSON.stringify({ campaignId: id, template: TEMPLATE, recipients: { inline: recipients }, consentWindow: '1m', limits: { chunkSize: 1, sendsPerChunk: 1, chunksInFlight: 3 } }));
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
    const repair = await cli('repair', `no-such-${run}`, '--dry-run');
    expect(repair.code).toBe(3);
    expect(repair.stderr).toContain(`no campaign "no-such-${run}"`);
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
