// The campaign CLI (test/cli/cli-stack.ts: its main in this process), on a stack of this file's own:
// why a campaign failed, linked follow-ups that retry one outcome, previews, a reader that stops
// early (the built command in a real process, piped), and examples/start-campaign.ts (a process of
// its own). Beside cli.test.ts, which holds the rest.
import { describe, expect, it } from 'vitest';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import { startWebhookReceiver } from '../../dev/receivers';
import { CAMPAIGN_WORKFLOW_TYPE, campaignWorkflowId } from '../../src/contracts/campaign';
import type { CampaignResult } from '../../src/contracts/campaign';
import { CAMPAIGN, TEMPLATE, cli, run, runProcess, sandbox, temporal, useCliStack, write } from './cli-stack';

useCliStack();

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

  it('says no worker polls the campaign\'s task queue, at once, instead of a query that fails after 30 s unexplained', async () => {
    // A campaign on a queue nobody polls (its worker is down): status and progress read it through a worker.
    const campaignId = `no-worker-${run}`;
    const taskQueue = `nobody-${run}`;
    const handle = await temporal.workflow.start(CAMPAIGN_WORKFLOW_TYPE, { workflowId: campaignWorkflowId(campaignId), taskQueue, args: [] });
    try {
      const started = Date.now();
      const status = await cli('status', campaignId);
      expect(status.code, status.stderr).toBe(4);
      expect(status.stderr.trim()).toBe(`no worker polls task queue ${taskQueue}, so nobody can answer for campaign ${campaignId} (a worker replays it to tell its progress); start one (npm run worker)`);
      expect(Date.now() - started).toBeLessThan(10_000); // asked before the query, which would wait about 30 s
      const watch = await cli('watch', campaignId); // polls progress each second: asked only after its query failed
      expect(watch.code, watch.stderr).toBe(4);
      expect(watch.stderr).toContain(`no worker polls task queue ${taskQueue}`);
    } finally {
      await handle.terminate('test over');
    }
  }, 120_000);

  it('report | (a reader that stops early) ends quietly, without an EPIPE stack', async () => {
    const ran = await runProcess(['bash', '-c', `set -o pipefail; node ${CAMPAIGN} report cli-conflict-${run} | true`], {}, true);
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
