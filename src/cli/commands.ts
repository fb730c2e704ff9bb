// The campaign CLI's commands. Each gets its positional arguments and flags, prints (text, or JSON
// with --json) and returns an exit code; failures are thrown as CliError (see errors.ts).
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { PpoppoClient } from '../api/client';
import { clientConfigFromEnv } from '../api/config';
import type { CreateTemplateInput } from '../api/client';
import type { UsageStats } from '../api/types';
import { quotaCheck } from '../campaign/budget';
import type { QuotaCheck } from '../campaign/budget';
import { RETRY_OUTCOMES, countRecipients, isRetryOutcome } from '../campaign/outcomes';
import { THROTTLE_RULE, isThrottle } from '../campaign/spec';
import { connectClient, temporalConfigFromEnv, describeTemporalConfig } from '../temporal/config';
import { dataConverterFromEnv } from '../temporal/data-converter';
import { CampaignClient } from '../client/campaigns';
import type { StartedCampaign, StuckActivity } from '../client/campaigns';
import type { CampaignResult } from '../contracts/campaign';
import type { RecipientRecord } from '../contracts/chunk';
import { thousands } from '../text';
import { CliError, EXIT } from './errors';
import type { ExitCode } from './errors';
import { REPORT_COLUMNS, csvLine, formatList, formatSchedule, formatRecipient, formatRepair, formatResult, formatStatus, formatValidation, progressLine, reportRow } from './format';
import { formatPreview, previewSpec } from './preview';
import { readSpecFile, readTextFile } from './spec-file';
import { validateSpec } from './validate';
import type { OverlapPolicy } from '../client/schedules';

export interface Flags {
  json?: boolean;
  wait?: boolean;
  recipients?: string;
  format?: string;
  out?: string;
  text?: string;
  'task-queue'?: string;
  'send-task-queue'?: string;
  interval?: string;
  'force-new-run'?: boolean;
  outcome?: string;
  status?: string;
  row?: string;
  cron?: string;
  every?: string;
  'time-zone'?: string;
  overlap?: string;
  'dry-run'?: boolean;
}

/** Where a command line writes, and the environment it reads (the process's own, for the `ppoppo-campaign` command). */
export interface CliIo {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable;
  /**
   * Temporal, the API, payload keys, task queues, and validate's file roots and outbound allow-list.
   * Recipient sources read their own settings (URL allow-list, database) from process.env, as in a worker.
   */
  env: Record<string, string | undefined>;
}

export interface CommandContext extends CliIo {
  args: string[];
  flags: Flags;
  print(text: string): void;
  /** A CampaignClient on a fresh connection (closed by main). */
  campaigns(): Promise<CampaignClient>;
}

const FINAL_STATUSES = new Set(['completed', 'cancelled', 'failed']);

function printJson(ctx: CommandContext, value: unknown): void {
  ctx.print(JSON.stringify(value, null, ctx.flags.json ? 2 : undefined));
}

function exitFor(result: CampaignResult): ExitCode {
  return result.status === 'completed' ? EXIT.ok : EXIT.failure;
}

const STARTED_TEXT: Record<StartedCampaign['outcome'], string> = {
  started: 'started campaign',
  restarted: 'restarted campaign (it takes over what its chunks did; nobody is sent anything twice)',
  alreadyRunning: 'already running, nothing started: campaign',
  alreadyFinished: 'already finished, nothing started: campaign',
};

/**
 * What `start` and `retry` print and return: 0 started, 5 already running, 6 already finished.
 * A campaign that starts is shown against the remaining quota (`quota`, when checked). With --wait,
 * follows the campaign (as `watch`) and exits by its result.
 */
async function reportStart(ctx: CommandContext, client: CampaignClient, started: StartedCampaign, quota?: QuotaCheck | string): Promise<ExitCode> {
  const starts = started.outcome === 'started' || started.outcome === 'restarted';
  const quotaLines = starts && quota !== undefined ? [typeof quota === 'string' ? `quota: not checked (${quota})` : `${quota.fits ? 'quota' : 'QUOTA'}: ${quota.text}`] : [];
  const quotaJson = !starts || quota === undefined ? {} : typeof quota === 'string' ? { quotaNotChecked: quota } : { quota };
  const line = [`${STARTED_TEXT[started.outcome]} ${started.campaignId} (workflow ${started.workflowId}, run ${started.runId})`, ...quotaLines].join('\n');
  if (started.outcome === 'alreadyFinished') {
    const result = await client.result(started.campaignId);
    if (ctx.flags.json) printJson(ctx, { ...started, result });
    else ctx.print(`${line}\n${formatResult(result)}`);
    return EXIT.finished;
  }
  if (ctx.flags.wait) {
    // JSON lines with --json: this start (with the quota), then follow's progress and result lines.
    ctx.print(ctx.flags.json ? JSON.stringify({ type: 'started', ...started, ...quotaJson }) : line);
    return follow(ctx, client, started.campaignId);
  }
  if (ctx.flags.json) printJson(ctx, { ...started, ...quotaJson });
  else ctx.print(`${line}\nfollow it with: npm run campaign -- watch ${started.campaignId}`);
  return started.outcome === 'alreadyRunning' ? EXIT.alreadyRunning : EXIT.ok;
}

/**
 * The app's limits and this month's use, from the API (GetUsageStats), or why they could not be
 * read (no credentials configured, API unreachable): commands say so and go on.
 */
async function readUsage(env: CliIo['env']): Promise<UsageStats | string> {
  let api: PpoppoClient;
  try {
    api = new PpoppoClient(clientConfigFromEnv(env), { readRetries: 0, onWarning: () => undefined });
  } catch (err) {
    return (err as Error).message;
  }
  try {
    return await api.getUsageStats({ deadlineMs: 5_000 });
  } catch (err) {
    return (err as Error).message;
  } finally {
    api.close();
  }
}

/** How many messages the spec's campaign needs against the remaining quota, or why it cannot be said. */
async function campaignQuota(spec: unknown, env: CliIo['env']): Promise<QuotaCheck | string> {
  const usage = await readUsage(env);
  if (typeof usage === 'string') return usage;
  try {
    const { valid, notes } = await validateSpec(spec, env);
    // A follow-up's recipients, or none valid: nothing to count here (the notes say why).
    return valid > 0 ? quotaCheck(usage, valid) : (notes[0] ?? 'no valid recipients');
  } catch (err) {
    return `cannot count the recipients here: ${(err as Error).message}`;
  }
}

export async function start(ctx: CommandContext): Promise<ExitCode> {
  const spec = readSpecFile(ctx.args[0]!, ctx.flags.recipients);
  const client = await ctx.campaigns();
  const quota = await campaignQuota(spec, ctx.env);
  return reportStart(ctx, client, await client.startCampaign(spec, { forceNewRun: ctx.flags['force-new-run'] }), quota);
}

/** A follow-up campaign for the recipients of one outcome of a finished campaign. */
export async function retry(ctx: CommandContext): Promise<ExitCode> {
  const outcome = ctx.flags.outcome;
  if (!isRetryOutcome(outcome)) throw new CliError(`retry needs --outcome ${RETRY_OUTCOMES.join('|')}`, EXIT.usage);
  const client = await ctx.campaigns();
  return reportStart(ctx, client, await client.retry(ctx.args[0]!, outcome, { forceNewRun: ctx.flags['force-new-run'] }));
}

export async function validate(ctx: CommandContext): Promise<ExitCode> {
  const report = await validateSpec(readSpecFile(ctx.args[0]!, ctx.flags.recipients), ctx.env);
  if (report.valid > 0) {
    const usage = await readUsage(ctx.env);
    if (typeof usage === 'string') report.notes.push(`quota not checked: ${usage}`);
    else report.quota = quotaCheck(usage, report.valid);
  }
  if (ctx.flags.json) printJson(ctx, report);
  else ctx.print(formatValidation(report));
  return report.ok ? EXIT.ok : EXIT.failure;
}

export async function preview(ctx: CommandContext): Promise<ExitCode> {
  const row = Number(ctx.flags.row ?? 1);
  if (!Number.isInteger(row) || row < 1) throw new CliError(`--row must be a recipient row number from 1, got "${ctx.flags.row}"`, EXIT.usage);
  const spec = readSpecFile(ctx.args[0]!, ctx.flags.recipients);
  let api: PpoppoClient | undefined;
  try {
    const result = await previewSpec(spec, row, async (templateId) => {
      api ??= ppoppoClient(ctx.env);
      return (await api.getTemplate(templateId)).components;
    });
    if (ctx.flags.json) printJson(ctx, result);
    else ctx.print(formatPreview(result));
    return result.problem ? EXIT.failure : EXIT.ok;
  } finally {
    (api as PpoppoClient | undefined)?.close();
  }
}

export async function status(ctx: CommandContext): Promise<ExitCode> {
  const report = await (await ctx.campaigns()).status(ctx.args[0]!, { chunks: true });
  const usage = await readUsage(ctx.env);
  if (ctx.flags.json) printJson(ctx, typeof usage === 'string' ? { ...report, usageNotRead: usage } : { ...report, usage });
  else ctx.print(formatStatus(report, usage));
  return report.progress.status === 'failed' || report.failure ? EXIT.failure : EXIT.ok;
}

/** Resets a campaign (or chunk) stuck on a nondeterminism error to where it diverged; exit 1 when something is left failing. */
export async function repair(ctx: CommandContext): Promise<ExitCode> {
  const report = await (await ctx.campaigns()).repair(ctx.args[0]!, { dryRun: ctx.flags['dry-run'] });
  if (ctx.flags.json) printJson(ctx, report);
  else ctx.print(formatRepair(report));
  return report.findings.some((finding) => finding.action === 'left') ? EXIT.failure : EXIT.ok;
}

export async function watch(ctx: CommandContext): Promise<ExitCode> {
  return follow(ctx, await ctx.campaigns(), ctx.args[0]!);
}

/** Refresh the retries in progress (a describe per running chunk) every this many polls. */
const RETRIES_EVERY = 5;

/**
 * Polls progress until the campaign ends; prints a line per change (JSON lines with --json), with
 * the reason it is parked and the retry in progress; then the result, or why it failed.
 */
async function follow(ctx: CommandContext, client: CampaignClient, campaignId: string): Promise<ExitCode> {
  const intervalMs = Number(ctx.flags.interval ?? 1000);
  if (!Number.isFinite(intervalMs) || intervalMs < 50) throw new CliError('--interval must be a number of milliseconds, at least 50', EXIT.usage);
  const tty = !ctx.flags.json && ctx.stdout.isTTY;
  const startedAt = Date.now();
  let firstDone: number | undefined;
  let lastLine = '';
  let retrying: StuckActivity | undefined;
  let sharingWith: string[] | undefined;
  for (let poll = 0; ; poll++) {
    const closed = await client.isClosed(campaignId);
    const progress = await client.getProgress(campaignId);
    if (poll % RETRIES_EVERY === 0 && !closed) {
      const report = await client.status(campaignId, { chunks: true }).catch(() => undefined);
      [retrying, sharingWith] = [report?.retries[0], report?.sharingWith];
    }
    const done = countRecipients(progress.counts);
    firstDone ??= done;
    const rate = (done - firstDone) / Math.max(1, Date.now() - startedAt);
    const eta = rate > 0 && done < progress.total ? (progress.total - done) / rate : undefined;
    const line = ctx.flags.json
      ? JSON.stringify({ type: 'progress', progress, ...(retrying ? { retrying } : {}), ...(sharingWith?.length ? { sharingWith } : {}), etaMs: eta === undefined ? undefined : Math.round(eta) })
      : progressLine(progress, { etaMs: eta, retrying, sharingWith, width: tty ? ctx.stdout.columns : undefined });
    if (line !== lastLine) {
      if (tty) ctx.stdout.write(`\r\x1b[2K${line}`);
      else ctx.print(line);
      lastLine = line;
    }
    if (closed || FINAL_STATUSES.has(progress.status)) break;
    await sleep(intervalMs);
  }
  if (tty) ctx.stdout.write('\n');
  const result = await client.result(campaignId);
  if (ctx.flags.json) ctx.print(JSON.stringify({ type: 'result', result }));
  else ctx.print(formatResult(result));
  return exitFor(result);
}

export async function list(ctx: CommandContext): Promise<ExitCode> {
  const campaigns = await (await ctx.campaigns()).list({ status: ctx.flags.status, counts: true });
  if (ctx.flags.json) printJson(ctx, campaigns);
  else ctx.print(campaigns.length === 0 && ctx.flags.status ? `no campaigns with status ${ctx.flags.status}` : formatList(campaigns));
  return EXIT.ok;
}

export function control(action: 'pause' | 'resume' | 'cancel') {
  return async (ctx: CommandContext): Promise<ExitCode> => {
    const client = await ctx.campaigns();
    const progress = await client[action](ctx.args[0]!);
    if (ctx.flags.json) printJson(ctx, progress);
    else ctx.print(`${action}: campaign ${progress.campaignId} is now ${progress.status}`);
    return EXIT.ok;
  };
}

/** `throttle <campaignId> <N|off>`: recipients per minute for this campaign from now on. */
export async function throttle(ctx: CommandContext): Promise<ExitCode> {
  const [campaignId, value] = [ctx.args[0]!, ctx.args[1]!];
  const perMinute = value === 'off' ? null : Number(value);
  if (perMinute !== null && !isThrottle(perMinute)) throw new CliError(`${THROTTLE_RULE}, or "off" (got "${value}")`, EXIT.usage);
  const progress = await (await ctx.campaigns()).throttle(campaignId, perMinute);
  if (ctx.flags.json) printJson(ctx, progress);
  else ctx.print(`throttle: campaign ${progress.campaignId} is ${progress.status}, ${progress.throttle === undefined ? 'without a throttle of its own (the app limit only)' : `throttled to ${progress.throttle} recipients/min`}`);
  return EXIT.ok;
}

/** `schedule create <spec> --cron "…" | --every 1h [--time-zone Asia/Seoul] [--overlap skip|buffer-one|allow-all]`. */
export async function scheduleCreate(ctx: CommandContext): Promise<ExitCode> {
  const spec = readSpecFile(ctx.args[0]!, ctx.flags.recipients);
  const { cron, every, overlap } = ctx.flags;
  const created = await (await ctx.campaigns()).schedules.create(spec, { cron, every, timeZone: ctx.flags['time-zone'], overlap: overlap as OverlapPolicy | undefined });
  if (ctx.flags.json) printJson(ctx, created);
  else ctx.print(`created schedule ${created.scheduleId}
${formatSchedule(created)}`);
  return EXIT.ok;
}

export async function scheduleList(ctx: CommandContext): Promise<ExitCode> {
  const schedules = await (await ctx.campaigns()).schedules.list();
  if (ctx.flags.json) printJson(ctx, schedules);
  else ctx.print(schedules.length === 0 ? 'no campaign schedules' : schedules.map(formatSchedule).join('\n'));
  return EXIT.ok;
}

export function scheduleControl(action: 'pause' | 'resume' | 'delete') {
  return async (ctx: CommandContext): Promise<ExitCode> => {
    const schedules = (await ctx.campaigns()).schedules;
    const scheduleId = ctx.args[0]!;
    if (action === 'delete') {
      await schedules.delete(scheduleId);
      if (ctx.flags.json) printJson(ctx, { scheduleId, deleted: true });
      else ctx.print(`deleted schedule ${scheduleId} (campaigns it started go on to their end)`);
      return EXIT.ok;
    }
    const summary = await schedules[action](scheduleId);
    if (ctx.flags.json) printJson(ctx, summary);
    else ctx.print(formatSchedule(summary));
    return EXIT.ok;
  };
}

/** Report filters: an outcome, 'fallback-failed', or 'pending' (no outcome yet). */
const REPORT_FILTERS = ['delivered', 'failed', 'denied', 'expired', 'invalid', 'cancelled', 'deadline', 'fallback-failed', 'pending'];

function matchesFilter(record: RecipientRecord, filter: string | undefined): boolean {
  if (filter === undefined) return true;
  if (filter === 'fallback-failed') return record.fallback === 'failed';
  if (filter === 'pending') return record.outcome === undefined;
  return record.outcome === filter;
}

export async function report(ctx: CommandContext): Promise<ExitCode> {
  const campaignId = ctx.args[0]!;
  const format = ctx.flags.format ?? (ctx.flags.json ? 'json' : 'csv');
  if (format !== 'csv' && format !== 'json') throw new CliError(`--format must be csv or json, got "${format}"`, EXIT.usage);
  const filter = ctx.flags.outcome;
  if (filter !== undefined && !REPORT_FILTERS.includes(filter)) throw new CliError(`--outcome must be one of ${REPORT_FILTERS.join(', ')}, got "${filter}"`, EXIT.usage);
  const client = await ctx.campaigns();
  const { progress, followUps } = await client.status(campaignId); // not found → exit 3 before an output file is created
  // Notes go to stderr: the report itself stays a clean CSV or JSON document.
  const note = (text: string) => ctx.stderr.write(`${text}\n`);
  if (!FINAL_STATUSES.has(progress.status)) {
    note(`note: campaign ${campaignId} is ${progress.status}: this report is partial (${thousands(countRecipients(progress.counts))} of ${thousands(progress.total)} recipients have a final outcome; unstarted chunks are not listed)`);
  }
  if (progress.retryOf) note(`note: this campaign retries the ${progress.retryOf.outcome} recipients of campaign ${progress.retryOf.campaignId}`);
  for (const followUp of followUps) note(`note: its ${followUp.outcome} recipients are retried by campaign ${followUp.campaignId} (${followUp.status})`);
  const out: Writable = ctx.flags.out ? createWriteStream(ctx.flags.out) : ctx.stdout;
  const write = (text: string) => out.write(`${text}\n`);
  let count = 0;
  if (format === 'csv') write(csvLine(REPORT_COLUMNS));
  else write('[');
  for await (const record of client.recipients(campaignId)) {
    if (!matchesFilter(record, filter)) continue;
    if (format === 'csv') write(csvLine(reportRow(record)));
    else write(`${count > 0 ? ',' : ''}${JSON.stringify(record)}`);
    count += 1;
  }
  if (format === 'json') write(']');
  if (ctx.flags.out) {
    await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
    note(`wrote ${count} recipients to ${ctx.flags.out}`);
  }
  return EXIT.ok;
}

export async function recipient(ctx: CommandContext): Promise<ExitCode> {
  const [campaignId, ppnum] = ctx.args;
  const record = await (await ctx.campaigns()).recipient(campaignId!, ppnum!);
  if (!record) throw new CliError(`ppnum ${ppnum} is not a recipient of campaign ${campaignId} (or its chunk has not started yet)`, EXIT.notFound);
  if (ctx.flags.json) printJson(ctx, record);
  else ctx.print(formatRecipient(record));
  return EXIT.ok;
}

function ppoppoClient(env: CliIo['env']): PpoppoClient {
  return new PpoppoClient(clientConfigFromEnv(env));
}

export async function templateCreate(ctx: CommandContext): Promise<ExitCode> {
  const path = ctx.args[0]!;
  let input: CreateTemplateInput;
  try {
    input = JSON.parse(readTextFile(path, 'template file')) as CreateTemplateInput;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot parse template file ${path}: ${(err as Error).message}; it must be JSON like {"name": "...", "components": [{"type": "text", "content": "Hi {{name}}"}]}`, EXIT.usage);
  }
  const api = ppoppoClient(ctx.env);
  try {
    const template = await api.createTemplate(input);
    if (ctx.flags.json) printJson(ctx, template);
    else ctx.print(`created template ${template.id} (${template.name} v${template.version})`);
  } finally {
    api.close();
  }
  return EXIT.ok;
}

/** `alert <ppnum...> --text "…"`: through the send queue, ahead of the campaigns' queued sends (needs a worker). */
export async function alert(ctx: CommandContext): Promise<ExitCode> {
  if (!ctx.flags.text) throw new CliError('alert needs --text "message"', EXIT.usage);
  const receipt = await (await ctx.campaigns()).alerts.send({ ppnums: ctx.args, text: ctx.flags.text });
  if (ctx.flags.json) printJson(ctx, receipt);
  else ctx.print(`sent alert to ${receipt.totalRecipients} recipients: send request ${receipt.sendRequestId} (${receipt.status}), ahead of queued campaign sends`);
  return EXIT.ok;
}

/** Connects lazily so commands that need no Temporal (validate, preview, template) never try. */
export function temporalConnector(flags: Flags, env: CliIo['env']): { get(): Promise<CampaignClient>; close(): Promise<void> } {
  let client: Client | undefined;
  return {
    async get() {
      const config = temporalConfigFromEnv(env);
      const dataConverter = dataConverterFromEnv(env); // missing payload keys: a configuration error, not a connection one
      try {
        client ??= await connectClient(config, dataConverter);
      } catch (err) {
        throw new CliError(`cannot connect to Temporal at ${describeTemporalConfig(config)}: ${(err as Error).message}; start it (npm start) or set TEMPORAL_ADDRESS`, EXIT.cannotConnect);
      }
      return new CampaignClient(client, {
        taskQueue: flags['task-queue'] || env.CAMPAIGN_TASK_QUEUE || undefined,
        sendTaskQueue: flags['send-task-queue'] || env.CAMPAIGN_SEND_TASK_QUEUE || undefined,
      });
    },
    async close() {
      await client?.connection.close();
    },
  };
}
