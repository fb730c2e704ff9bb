// One benchmark campaign on the whole stack as real processes (Temporal dev server, sandbox, worker,
// listener): starts the stack, runs the campaign from a recipients file, then reads what it cost.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import type { TemplateComponentSpec } from '../../src/api/types';
import type { CampaignSpec } from '../../src/campaign/spec';
import { countRecipients } from '../../src/campaign/outcomes';
import type { CampaignResult } from '../../src/contracts/campaign';
import {
  chunkStartsBySendRequest,
  cpuSeconds,
  postgresCpuSeconds,
  cpuUse,
  machineLoad,
  machineTicks,
  readTemporalCounters,
  temporalWork,
  firstCampaignFigures,
  historyCost,
  listCampaignWorkflows,
  listenerLatency,
  sendPhase,
  type CpuByProcess,
  type FirstCampaignFigures,
  type HistoryCost,
  type ListenerTiming,
  type Percentiles,
  type SendPhase,
  type TemporalWork,
} from './measure';
import type { WebhookReceiver } from '../receivers';
import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout } from '../script-helpers';
import { startStack, type Stack, type TemporalServerKind } from '../stack/start-stack';

export const BENCH_TEMPLATE: { name: string; components: TemplateComponentSpec[] } = {
  name: 'bench',
  components: [{ type: 'text', content: 'Hello {{name}}' }, { type: 'divider' }, { type: 'button', label: 'Open', url: 'https://ppoppo.com' }],
};

/** `count` distinct ordinary ppnums (no sandbox test numbers) from `firstPpnum`, with a name column. */
export function writeRecipientsFile(path: string, count: number, firstPpnum = 45_700_000_000): void {
  const lines = ['ppnum,name'];
  for (let i = 0; i < count; i++) lines.push(`${firstPpnum + i},Person ${i + 1}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
}

export interface OrchestratorOptions {
  name: string;
  dir: string;
  file: string;
  recipients: number;
  sandboxFlags: Record<string, string>;
  /** The app's request rate (sandbox limit and send queue), or null for none. */
  rate: number | null;
  chunksInFlight: number;
  /** Recipients per send request (default 1,000, the API's most). */
  chunkSize?: number;
  /** Send requests per chunk workflow (default: the spec's default, limits.sendsPerChunk). */
  sendsPerChunk?: number;
  /** Which Temporal server the stack runs (default the dev server on SQLite; `production`: the server on PostgreSQL). */
  server?: TemporalServerKind;
  /** Temporal dynamic config for the dev server (experiments; the bench uses the defaults). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Extra environment of the worker and listener processes (e.g. the listener's timing). */
  env?: NodeJS.ProcessEnv;
  /** The workers' heap cap (default: the stack's, as `npm run worker`). */
  workerHeapMb?: number;
  consentWindow?: string;
  /** A first campaign: fallback to this receiver on denied and expired, and measure consent latencies with the listener timing used. */
  firstCampaign?: { receiver: WebhookReceiver; timing: ListenerTiming; consentWindowMs: number };
  /** Read every recipient's history and the ledger for the listener latency (skip for huge runs). */
  measureListener: boolean;
  /** How often to print progress and sample RSS. */
  tickMs?: number;
  timeoutMs: number;
  say: (line: string) => void;
}

/**
 * The stack's idle CPU before a campaign: each process's median rate over IDLE_WINDOWS windows of
 * IDLE_WINDOW_MS. A single 5 s window moved the figure by up to 30 ms per 1,000 between runs of the
 * same code: a stray burst (a process settling after its start, a GC) counted as idle all campaign long.
 */
const IDLE_WINDOWS = 5;
const IDLE_WINDOW_MS = 3_000;
/** How long after the campaign Temporal's counters are read (its metrics are reported every second). */
const COUNTERS_SETTLE_MS = 2_500;

export interface RssSample {
  second: number;
  workerMb: number;
  listenerMb: number;
}

export interface OrchestratorRun {
  campaignSeconds: number;
  result: CampaignResult;
  send: SendPhase;
  listenerLatencyMs: Percentiles | null;
  cost: HistoryCost;
  /** Highest RSS from the process's start (workflow bundling included) to the campaign's end. */
  workerPeakRssBytes: number;
  listenerPeakRssBytes: number;
  rss: RssSample[];
  /** CPU used by each process from the campaign's start to its result (where the time goes). */
  cpu: ReturnType<typeof cpuUse>;
  /** The whole machine over the campaign: busy (the stack and anything else) and stolen shares of all cores. */
  machine: ReturnType<typeof machineLoad>;
  /** CPU of Temporal, worker, listener and sandbox together, per 1,000 recipients. */
  cpuMsPer1000Recipients: number;
  /**
   * The same without what the four use idle over the campaign's time (each one's median idle rate
   * over IDLE_WINDOWS windows before it): the campaign's own work, so a run a busy machine stretches
   * out is not charged for the stack's idle timers and polls.
   */
  cpuMsPer1000RecipientsOverIdle: number;
  /** The same for each of the four. */
  cpuMsPer1000OverIdleByProcess: Omit<CpuByProcess, 'total'>;
  /** CPU seconds per second each process used idle, before the campaign. */
  idleCpuPerSecond: Record<string, number>;
  /** On the production server: the CPU seconds PostgreSQL used over the campaign (part of Temporal's). */
  temporalDatabaseCpuSeconds?: number;
  /** Temporal's work over the campaign, per 1,000 recipients, from the server's own metrics. */
  temporalWork?: TemporalWork;
  firstCampaign?: FirstCampaignFigures;
  /** Seconds spent reading the measurements after the campaign (not part of any figure). */
  measureSeconds: number;
}

export async function runOrchestrator(options: OrchestratorOptions): Promise<OrchestratorRun> {
  const { say } = options;
  // The recipients file is shared by the runs, beside their stack directories: the workers may read its directory.
  // A first campaign's fallbacks go to a loopback receiver: listed, and signed with a bench secret.
  const receiverEnv = options.firstCampaign ? { FALLBACK_ALLOWED_HOSTS: new URL(options.firstCampaign.receiver.url).host, FALLBACK_SECRET_WEBHOOK: 'bench-webhook-signing-secret' } : {};
  const env: NodeJS.ProcessEnv = { RECIPIENT_FILE_ROOTS: dirname(options.file), ...receiverEnv, ...(options.rate === null ? {} : { SEND_RATE_PER_SECOND: String(options.rate) }), ...options.env };
  const stack: Stack = await startStack({ dir: join(options.dir, options.name), sandboxFlags: options.sandboxFlags, env, server: options.server, dynamicConfig: options.dynamicConfig, workerHeapMb: options.workerHeapMb });
  try {
    const campaignId = `bench-${options.name}`;
    const spec: CampaignSpec = {
      campaignId,
      template: BENCH_TEMPLATE,
      recipients: { file: options.file, format: 'csv' },
      consentWindow: options.consentWindow,
      limits: { chunkSize: options.chunkSize ?? 1000, chunksInFlight: options.chunksInFlight, ...(options.sendsPerChunk ? { sendsPerChunk: options.sendsPerChunk } : {}) },
      ...(options.firstCampaign ? { fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: options.firstCampaign.receiver.url }, text: 'Hello {{name}}, by another way' } } : {}),
    };
    const worker = stack.workers[0]!;
    // Temporal's CPU is its persistence's too: the dev server holds SQLite in its process; the production server's PostgreSQL runs beside it.
    const database = stack.temporal.postgres?.dataDir;
    const databaseCpu = () => (database ? postgresCpuSeconds(database) : 0);
    const temporalCpu = () => cpuSeconds(stack.temporal.pid) + databaseCpu();
    const cpuNow = (): Omit<CpuByProcess, 'total'> => ({ temporal: temporalCpu(), worker: cpuSeconds(worker.pid), listener: cpuSeconds(stack.listener.pid), sandbox: cpuSeconds(stack.sandbox.pid) });
    const idleSamples = [cpuNow()];
    for (let window = 0; window < IDLE_WINDOWS; window++) {
      await sleep(IDLE_WINDOW_MS);
      idleSamples.push(cpuNow());
    }
    const metricsUrl = stack.temporal.metricsUrl;
    const countersBefore = metricsUrl ? await readTemporalCounters(metricsUrl) : undefined;
    const cpuBefore = cpuNow();
    const databaseBefore = databaseCpu();
    const machineBefore = machineTicks();
    const idleCpuPerSecond = Object.fromEntries(Object.keys(cpuBefore).map((name) => [name, medianRate(idleSamples.map((sample) => sample[name as keyof typeof sample]), IDLE_WINDOW_MS)]));
    const started = Date.now();
    const rss: RssSample[] = [];
    const tick = async () => {
      const sample = { second: Math.round((Date.now() - started) / 1000), workerMb: mb(worker.sampleRss()), listenerMb: mb(stack.listener.sampleRss()) };
      rss.push(sample);
      const p = await stack.campaigns.getProgress(campaignId).catch(() => undefined);
      if (p) say(`  ${options.name} ${sample.second}s ${p.status}: ${p.chunksSent}/${p.chunksTotal} chunks sent, ${countRecipients(p.counts)}/${p.total} final · worker ${sample.workerMb} MB, listener ${sample.listenerMb} MB`);
    };
    // One tick at a time, and the last one awaited before the stack (and its client) stops.
    let ticking: Promise<void> | undefined;
    const ticker = setInterval(() => {
      ticking ??= tick().finally(() => (ticking = undefined));
    }, options.tickMs ?? 5_000);
    let result: CampaignResult;
    try {
      await stack.campaigns.startCampaign(spec);
      result = await withTimeout(stack.campaigns.result(campaignId), options.timeoutMs, `campaign ${campaignId} did not finish in ${options.timeoutMs / 1000} s`);
    } finally {
      clearInterval(ticker);
      await ticking?.catch(() => undefined);
    }
    const campaignSeconds = (Date.now() - started) / 1000;
    // Peaks up to the campaign's end: reading the measurements (queries replay closed chunks) is not the campaign.
    const [workerPeakRssBytes, listenerPeakRssBytes] = [worker.peakRssBytes, stack.listener.peakRssBytes];
    const cpu = cpuUse(cpuBefore, cpuNow(), campaignSeconds, cpus().length);
    const temporalDatabaseCpuSeconds = database ? databaseCpu() - databaseBefore : undefined;
    const machine = machineLoad(machineBefore, machineTicks());
    // The server publishes its counters about once a second: let the campaign's last ones arrive.
    const countersAfter = metricsUrl ? await sleep(COUNTERS_SETTLE_MS).then(() => readTemporalCounters(metricsUrl)) : undefined;
    say(`  ${options.name}: campaign ${result.status} in ${campaignSeconds.toFixed(1)} s; reading measurements`);

    const measureStarted = Date.now();
    const workflows = await listCampaignWorkflows(stack.client, campaignId, result.chunks);
    const [requests, stats] = [await stack.inspector.sendRequests(), await stack.inspector.stats()];
    const send = sendPhase(requests, stats, chunkStartsBySendRequest(workflows.chunks), options.rate);
    const latency = options.measureListener ? await listenerLatency(stack.campaigns, stack.inspector, campaignId) : null;
    const first = options.firstCampaign;
    const firstCampaign = first ? await firstCampaignFigures({ client: stack.client, campaigns: stack.campaigns, inspector: stack.inspector, campaignId, workflows, ...first }) : undefined;
    const cpuTotal = Object.values(cpu.seconds).reduce((sum, seconds) => sum + seconds, 0);
    const idleTotal = Object.values(idleCpuPerSecond).reduce((sum, perSecond) => sum + perSecond, 0) * campaignSeconds;
    const per1000 = (seconds: number) => (options.recipients > 0 ? (seconds * 1000) / (options.recipients / 1000) : 0);
    const overIdle = (name: keyof typeof cpuBefore) => per1000(Math.max(0, (cpu.seconds[name] ?? 0) - (idleCpuPerSecond[name] ?? 0) * campaignSeconds));
    return {
      campaignSeconds,
      result,
      send,
      listenerLatencyMs: latency,
      cost: historyCost(workflows, options.recipients),
      workerPeakRssBytes,
      listenerPeakRssBytes,
      rss,
      cpu,
      machine,
      cpuMsPer1000Recipients: per1000(cpuTotal),
      cpuMsPer1000RecipientsOverIdle: per1000(Math.max(0, cpuTotal - idleTotal)),
      cpuMsPer1000OverIdleByProcess: { temporal: overIdle('temporal'), worker: overIdle('worker'), listener: overIdle('listener'), sandbox: overIdle('sandbox') },
      idleCpuPerSecond,
      ...(temporalDatabaseCpuSeconds === undefined ? {} : { temporalDatabaseCpuSeconds }),
      ...(countersBefore && countersAfter ? { temporalWork: temporalWork(countersBefore, countersAfter, options.recipients) } : {}),
      ...(firstCampaign ? { firstCampaign } : {}),
      measureSeconds: (Date.now() - measureStarted) / 1000,
    };
  } finally {
    await stack.stop();
  }
}

/** The median CPU rate (seconds per second) over consecutive windows of `windowMs`, from cumulative CPU seconds at their edges. */
export function medianRate(cumulative: number[], windowMs: number): number {
  const rates = cumulative.slice(1).map((seconds, i) => (seconds - cumulative[i]!) / (windowMs / 1000)).sort((a, b) => a - b);
  if (rates.length === 0) return 0;
  const middle = Math.floor(rates.length / 2);
  return rates.length % 2 === 1 ? rates[middle]! : (rates[middle - 1]! + rates[middle]!) / 2;
}

function mb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
