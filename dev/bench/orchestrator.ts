// One benchmark campaign on the whole stack as real processes (Temporal dev server, sandbox, worker,
// listener): starts the stack, runs the campaign from a recipients file, then reads what it cost.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { TemplateComponentSpec } from '../../src/api/types';
import type { CampaignSpec } from '../../src/campaign/spec';
import { countRecipients } from '../../src/campaign/outcomes';
import type { CampaignResult } from '../../src/contracts/campaign';
import {
  chunkStartsBySendRequest,
  cpuSeconds,
  cpuUse,
  historyCost,
  listCampaignWorkflows,
  listenerLatency,
  sendPhase,
  type HistoryCost,
  type Percentiles,
  type SendPhase,
} from './measure';
import { withTimeout } from '../script-helpers';
import { startStack, type Stack } from '../stack/start-stack';

export const BENCH_TEMPLATE: { name: string; components: TemplateComponentSpec[] } = {
  name: 'bench',
  components: [{ type: 'text', content: 'Hello {{name}}' }, { type: 'divider' }, { type: 'button', label: 'Open', url: 'https://ppoppo.com' }],
};

/** `count` distinct ordinary ppnums (no sandbox test numbers), with a name column. */
export function writeRecipientsFile(path: string, count: number): void {
  const lines = ['ppnum,name'];
  for (let i = 0; i < count; i++) lines.push(`${45_700_000_000 + i},Person ${i + 1}`);
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
  /** Temporal dynamic config for the dev server (experiments; the bench uses the defaults). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Extra environment of the worker and listener processes (e.g. NODE_OPTIONS). */
  /** The workers' heap cap (default: the stack's, as `npm run worker`). */
  workerHeapMb?: number;
  consentWindow?: string;
  /** Read every recipient's history and the ledger for the listener latency (skip for huge runs). */
  measureListener: boolean;
  /** How often to print progress and sample RSS. */
  tickMs?: number;
  timeoutMs: number;
  say: (line: string) => void;
}

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
  /** Seconds spent reading the measurements after the campaign (not part of any figure). */
  measureSeconds: number;
}

export async function runOrchestrator(options: OrchestratorOptions): Promise<OrchestratorRun> {
  const { say } = options;
  const env: NodeJS.ProcessEnv = options.rate === null ? {} : { SEND_RATE_PER_SECOND: String(options.rate) };
  const stack: Stack = await startStack({ dir: join(options.dir, options.name), sandboxFlags: options.sandboxFlags, env, dynamicConfig: options.dynamicConfig, workerHeapMb: options.workerHeapMb });
  try {
    const campaignId = `bench-${options.name}`;
    const spec: CampaignSpec = {
      campaignId,
      template: BENCH_TEMPLATE,
      recipients: { file: options.file, format: 'csv' },
      consentWindow: options.consentWindow,
      limits: { chunkSize: 1000, chunksInFlight: options.chunksInFlight },
    };
    const worker = stack.workers[0]!;
    const cpuNow = () => ({ temporal: cpuSeconds(stack.temporal.pid), worker: cpuSeconds(worker.pid), listener: cpuSeconds(stack.listener.pid), sandbox: cpuSeconds(stack.sandbox.pid) });
    const cpuBefore = cpuNow();
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
    say(`  ${options.name}: campaign ${result.status} in ${campaignSeconds.toFixed(1)} s; reading measurements`);

    const measureStarted = Date.now();
    const workflows = await listCampaignWorkflows(stack.client, campaignId, result.chunks);
    const [requests, stats] = [await stack.inspector.sendRequests(), await stack.inspector.stats()];
    const send = sendPhase(requests, stats, chunkStartsBySendRequest(workflows.chunks), options.rate);
    const latency = options.measureListener ? await listenerLatency(stack.campaigns, stack.inspector, campaignId) : null;
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
      measureSeconds: (Date.now() - measureStarted) / 1000,
    };
  } finally {
    await stack.stop();
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
