// The campaign CLI's commands. Each gets its positional arguments and flags, prints (text, or JSON
// with --json) and returns an exit code; failures are thrown as CliError (see errors.ts).
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { PpoppoClient } from '../api/client';
import { clientConfigFromEnv } from '../api/config';
import type { CreateTemplateInput } from '../api/client';
import type { UsageStats } from '../api/types';
import { AlertSender } from '../alerts';
import { quotaCheck } from '../campaign/budget';
import type { QuotaCheck } from '../campaign/budget';
import { countRecipients } from '../campaign/outcomes';
import { connectClient, temporalConfigFromEnv, describeTemporalConfig } from '../temporal/config';
import { dataConverterFromEnv } from '../temporal/data-converter';
import { innermostMessage } from '../temporal/failures';
import { CampaignClient, InvalidSpecError } from '../client/campaigns';
import type { CampaignProgress, CampaignResult } from '../contracts/campaign';
import { CliError, EXIT } from './errors';
import type { ExitCode } from './errors';
import { REPORT_COLUMNS, csvLine, formatProgress, formatRecipient, formatResult, formatValidation, progressLine, reportRow } from './format';
import { readSpecFile, readTextFile } from './spec-file';
import { validateSpec } from './validate';

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
}

export interface CommandContext {
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

/** Waits for the result; a failed campaign becomes a CliError with the workflow's reason. */
async function awaitResult(client: CampaignClient, campaignId: string): Promise<CampaignResult> {
  try {
    return await client.result(campaignId);
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new CliError(`campaign ${campaignId} failed: ${innermostMessage(err)}`, EXIT.failure);
    throw err;
  }
}

/**
 * The app's limits and this month's use, from the API (GetUsageStats), or why they could not be
 * read (no credentials configured, API unreachable): commands say so and go on.
 */
async function readUsage(): Promise<UsageStats | string> {
  let api: PpoppoClient;
  try {
    api = new PpoppoClient(clientConfigFromEnv(), { readRetries: 0, onWarning: () => undefined });
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
async function campaignQuota(spec: unknown): Promise<QuotaCheck | string> {
  const usage = await readUsage();
  if (typeof usage === 'string') return usage;
  try {
    return quotaCheck(usage, (await validateSpec(spec)).valid);
  } catch (err) {
    return `cannot count the recipients here: ${(err as Error).message}`;
  }
}

export async function start(ctx: CommandContext): Promise<ExitCode> {
  const [specPath] = ctx.args;
  const spec = readSpecFile(specPath!, ctx.flags.recipients);
  const client = await ctx.campaigns();
  const quota = await campaignQuota(spec);
  let started;
  try {
    started = await client.startCampaign(spec);
  } catch (err) {
    if (err instanceof InvalidSpecError) throw new CliError(`${err.message}\nfix the spec (see \`campaign validate ${specPath}\`)`, EXIT.failure);
    throw err;
  }
  const quotaText = typeof quota === 'string' ? `quota: not checked (${quota})` : `${quota.fits ? 'quota' : 'QUOTA'}: ${quota.text}`;
  const quotaJson = typeof quota === 'string' ? { quotaNotChecked: quota } : { quota };
  if (!ctx.flags.wait) {
    if (ctx.flags.json) printJson(ctx, { ...started, ...quotaJson });
    else ctx.print(`started campaign ${started.campaignId} (workflow ${started.workflowId}, run ${started.runId})\n${quotaText}\nfollow it with: npm run campaign -- watch ${started.campaignId}`);
    return EXIT.ok;
  }
  if (!ctx.flags.json) ctx.print(quotaText);
  const result = await awaitResult(client, started.campaignId);
  if (ctx.flags.json) printJson(ctx, { ...started, ...quotaJson, result });
  else ctx.print(formatResult(result));
  return exitFor(result);
}

export async function validate(ctx: CommandContext): Promise<ExitCode> {
  const report = await validateSpec(readSpecFile(ctx.args[0]!, ctx.flags.recipients));
  if (report.valid > 0) {
    const usage = await readUsage();
    if (typeof usage === 'string') report.notes.push(`quota not checked: ${usage}`);
    else report.quota = quotaCheck(usage, report.valid);
  }
  if (ctx.flags.json) printJson(ctx, report);
  else ctx.print(formatValidation(report));
  return report.ok ? EXIT.ok : EXIT.failure;
}

export async function status(ctx: CommandContext): Promise<ExitCode> {
  const progress = await (await ctx.campaigns()).getProgress(ctx.args[0]!);
  const usage = await readUsage();
  if (ctx.flags.json) printJson(ctx, typeof usage === 'string' ? { ...progress, usageNotRead: usage } : { ...progress, usage });
  else ctx.print(formatProgress(progress, usage));
  return progress.status === 'failed' ? EXIT.failure : EXIT.ok;
}

/** Polls progress until the campaign ends; prints a line per change (JSON lines with --json). */
export async function watch(ctx: CommandContext): Promise<ExitCode> {
  const campaignId = ctx.args[0]!;
  const client = await ctx.campaigns();
  const intervalMs = Number(ctx.flags.interval ?? 1000);
  if (!Number.isFinite(intervalMs) || intervalMs < 50) throw new CliError('--interval must be a number of milliseconds, at least 50', EXIT.usage);
  const tty = !ctx.flags.json && process.stdout.isTTY;
  const startedAt = Date.now();
  let firstDone: number | undefined;
  let lastLine = '';
  for (;;) {
    const closed = await client.isClosed(campaignId);
    const progress: CampaignProgress = await client.getProgress(campaignId);
    const done = countRecipients(progress.counts);
    firstDone ??= done;
    const rate = (done - firstDone) / Math.max(1, Date.now() - startedAt);
    const eta = rate > 0 && done < progress.total ? (progress.total - done) / rate : undefined;
    const line = ctx.flags.json ? JSON.stringify({ type: 'progress', progress, etaMs: eta === undefined ? undefined : Math.round(eta) }) : progressLine(progress, eta);
    if (line !== lastLine) {
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else ctx.print(line);
      lastLine = line;
    }
    if (closed || FINAL_STATUSES.has(progress.status)) break;
    await sleep(intervalMs);
  }
  if (tty) process.stdout.write('\n');
  const result = await awaitResult(client, campaignId);
  if (ctx.flags.json) ctx.print(JSON.stringify({ type: 'result', result }));
  else ctx.print(formatResult(result));
  return exitFor(result);
}

export async function list(ctx: CommandContext): Promise<ExitCode> {
  const campaigns = await (await ctx.campaigns()).list();
  if (ctx.flags.json) printJson(ctx, campaigns);
  else if (campaigns.length === 0) ctx.print('no campaigns');
  else for (const c of campaigns) ctx.print(`${c.campaignId}\t${c.status}\tstarted ${c.startTime}${c.closeTime ? `\tclosed ${c.closeTime}` : ''}`);
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

export async function report(ctx: CommandContext): Promise<ExitCode> {
  const campaignId = ctx.args[0]!;
  const format = ctx.flags.format ?? (ctx.flags.json ? 'json' : 'csv');
  if (format !== 'csv' && format !== 'json') throw new CliError(`--format must be csv or json, got "${format}"`, EXIT.usage);
  const client = await ctx.campaigns();
  await client.getProgress(campaignId); // not found → exit 3 before an output file is created
  const out: Writable = ctx.flags.out ? createWriteStream(ctx.flags.out) : process.stdout;
  const write = (text: string) => out.write(`${text}\n`);
  let count = 0;
  if (format === 'csv') write(csvLine(REPORT_COLUMNS));
  else write('[');
  for await (const record of client.recipients(campaignId)) {
    if (format === 'csv') write(csvLine(reportRow(record)));
    else write(`${count > 0 ? ',' : ''}${JSON.stringify(record)}`);
    count += 1;
  }
  if (format === 'json') write(']');
  if (ctx.flags.out) {
    await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
    process.stderr.write(`wrote ${count} recipients to ${ctx.flags.out}\n`);
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

function ppoppoClient(): PpoppoClient {
  return new PpoppoClient(clientConfigFromEnv());
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
  const api = ppoppoClient();
  try {
    const template = await api.createTemplate(input);
    if (ctx.flags.json) printJson(ctx, template);
    else ctx.print(`created template ${template.id} (${template.name} v${template.version})`);
  } finally {
    api.close();
  }
  return EXIT.ok;
}

export async function alert(ctx: CommandContext): Promise<ExitCode> {
  if (!ctx.flags.text) throw new CliError('alert needs --text "message"', EXIT.usage);
  const api = ppoppoClient();
  try {
    const receipt = await new AlertSender(api).send({ ppnums: ctx.args, text: ctx.flags.text });
    if (ctx.flags.json) printJson(ctx, receipt);
    else ctx.print(`sent alert to ${receipt.totalRecipients} recipients: send request ${receipt.sendRequestId} (${receipt.status})`);
  } finally {
    api.close();
  }
  return EXIT.ok;
}

/** Connects lazily so commands that need no Temporal (validate, template, alert) never try. */
export function temporalConnector(flags: Flags): { get(): Promise<CampaignClient>; close(): Promise<void> } {
  let client: Client | undefined;
  return {
    async get() {
      const config = temporalConfigFromEnv();
      const dataConverter = dataConverterFromEnv(); // missing payload keys: a configuration error, not a connection one
      try {
        client ??= await connectClient(config, dataConverter);
      } catch (err) {
        throw new CliError(`cannot connect to Temporal at ${describeTemporalConfig(config)}: ${(err as Error).message}; start it (npm start) or set TEMPORAL_ADDRESS`, EXIT.cannotConnect);
      }
      return new CampaignClient(client, {
        taskQueue: flags['task-queue'] ?? process.env.CAMPAIGN_TASK_QUEUE,
        sendTaskQueue: flags['send-task-queue'] ?? process.env.CAMPAIGN_SEND_TASK_QUEUE,
      });
    },
    async close() {
      await client?.connection.close();
    },
  };
}
