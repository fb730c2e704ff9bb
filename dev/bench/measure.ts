// The benchmark's measurements, read after a run from the sandbox (acceptance times, refusals, the
// delivery ledger) and from Temporal (chunk start times, history sizes, recipient histories).
// Used by scripts/bench.ts; no timing is asserted anywhere.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { CampaignClient } from '../../src/client/campaigns';
import type { SandboxInspector, SandboxStats, SendRequestEntry } from '../sandbox/inspector';
import { deliveryBatchSignal, deliveryBatchesSignal } from '../../src/contracts/chunk';
import type { WebhookReceiver } from '../receivers';
import { SEND_REQUEST_ID_KEY } from '../../src/temporal/names';
import { campaignWorkflowId, CAMPAIGN_WORKFLOW_TYPE } from '../../src/contracts/campaign';
import { CHUNK_WORKFLOW_TYPE } from '../../src/contracts/chunk';

export interface Percentiles {
  samples: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentiles of a list of milliseconds. */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { samples: 0, p50: null, p99: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { samples: sorted.length, p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1]! };
}

/** The send phase: from the first to the last send request the sandbox accepted. */
export interface SendPhase {
  requests: number;
  recipients: number;
  seconds: number;
  /** Requests after the first one, per second of the phase (the first one opens the phase). */
  requestsPerSecond: number;
  recipientsPerSecond: number;
  /** R × 1,000 when a rate limit R was set. */
  ceilingRecipientsPerSecond: number | null;
  ratioToCeiling: number | null;
  /** From a chunk's start (workflow start, or the script taking the chunk) to its request's acceptance. */
  chunkToAcceptedMs: Percentiles;
  /** CreateSendRequest calls refused with RESOURCE_EXHAUSTED (sandbox counters). */
  resourceExhausted: number;
  createSendRequestCalls: number;
}

export function sendPhase(requests: SendRequestEntry[], stats: SandboxStats, chunkStarts: Map<string, number>, rate: number | null): SendPhase {
  const accepted = requests
    .map((r) => ({ id: r.id, at: Date.parse(r.createdAt ?? ''), recipients: r.totalRecipients }))
    .filter((r) => Number.isFinite(r.at))
    .sort((a, b) => a.at - b.at);
  const first = accepted[0];
  const last = accepted[accepted.length - 1];
  const seconds = first && last ? (last.at - first.at) / 1000 : 0;
  const recipients = accepted.reduce((sum, r) => sum + r.recipients, 0);
  const perSecond = (n: number) => (seconds > 0 ? n / seconds : 0);
  const recipientsPerSecond = perSecond(recipients - (first?.recipients ?? 0));
  const ceiling = rate === null ? null : rate * 1000;
  const latencies: number[] = [];
  for (const request of accepted) {
    const started = chunkStarts.get(request.id);
    if (started !== undefined) latencies.push(request.at - started);
  }
  return {
    requests: accepted.length,
    recipients,
    seconds,
    requestsPerSecond: perSecond(accepted.length - 1),
    recipientsPerSecond,
    ceilingRecipientsPerSecond: ceiling,
    ratioToCeiling: ceiling === null ? null : recipientsPerSecond / ceiling,
    chunkToAcceptedMs: percentiles(latencies),
    resourceExhausted: stats.createSendRequest.refusals.RESOURCE_EXHAUSTED ?? stats.rateLimitRefusals,
    createSendRequestCalls: stats.createSendRequest.calls,
  };
}

/** Every workflow run of one campaign (campaign runs across continue-as-new, and its chunks). */
export interface CampaignWorkflows {
  campaignRuns: WorkflowExecutionInfo[];
  chunks: WorkflowExecutionInfo[];
}

/**
 * Lists the campaign's runs and chunks from visibility, waiting until it shows every chunk closed
 * (visibility is eventually consistent, and the last chunk closes just after the campaign's result).
 */
export async function listCampaignWorkflows(client: Client, campaignId: string, chunks: number, timeoutMs = 120_000): Promise<CampaignWorkflows> {
  const prefix = campaignWorkflowId(campaignId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const campaignRuns: WorkflowExecutionInfo[] = [];
    const chunkRuns: WorkflowExecutionInfo[] = [];
    for await (const info of client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}"` })) {
      if (info.type === CHUNK_WORKFLOW_TYPE) chunkRuns.push(info);
      else if (info.type === CAMPAIGN_WORKFLOW_TYPE) campaignRuns.push(info);
    }
    const closed = [...campaignRuns, ...chunkRuns].every((info) => info.status.name !== 'RUNNING');
    if ((chunkRuns.length >= chunks && closed) || Date.now() > deadline) return { campaignRuns, chunks: chunkRuns };
    await sleep(1000);
  }
}

/** Chunk workflow start time (its first run's, when it continued as new) by the send request it adopted. */
export function chunkStartsBySendRequest(chunks: WorkflowExecutionInfo[]): Map<string, number> {
  const starts = new Map<string, number>();
  for (const info of chunks) {
    const id = info.typedSearchAttributes.get(SEND_REQUEST_ID_KEY);
    const start = info.startTime.getTime();
    if (id && start < (starts.get(id) ?? Infinity)) starts.set(id, start);
  }
  return starts;
}

export interface HistoryCost {
  workflows: number;
  campaignRuns: number;
  /** Events of the campaign's runs and of the average chunk (one chunk = up to 1,000 recipients). */
  campaignEvents: number;
  chunkEventsAverage: number;
  /** Bytes of the average chunk history (much of it the listener's deliveryBatch signal payloads). */
  chunkBytesAverage: number;
  events: number;
  bytes: number;
  eventsPer1000Recipients: number;
  bytesPer1000Recipients: number;
  /** The longest history (events) and the heaviest one (bytes); often not the same workflow. */
  largestEvents: { workflowId: string; events: number };
  largestBytes: { workflowId: string; bytes: number };
  /** Largest histories as a share of Temporal's limits (51,200 events, 50 MB). */
  largestShareOfLimit: { events: number; bytes: number };
}

export const TEMPORAL_HISTORY_LIMITS = { events: 51_200, bytes: 50 * 1024 * 1024 };

export function historyCost(workflows: CampaignWorkflows, recipients: number): HistoryCost {
  const all = [...workflows.campaignRuns, ...workflows.chunks];
  let events = 0;
  let bytes = 0;
  let largestEvents = { workflowId: '', events: 0 };
  let largestBytes = { workflowId: '', bytes: 0 };
  for (const info of all) {
    const size = info.historySize ?? 0;
    events += info.historyLength;
    bytes += size;
    if (info.historyLength > largestEvents.events) largestEvents = { workflowId: info.workflowId, events: info.historyLength };
    if (size > largestBytes.bytes) largestBytes = { workflowId: info.workflowId, bytes: size };
  }
  const thousands = recipients / 1000;
  const sum = (infos: WorkflowExecutionInfo[], of: (info: WorkflowExecutionInfo) => number) => infos.reduce((total, info) => total + of(info), 0);
  const chunkCount = Math.max(1, workflows.chunks.length);
  return {
    workflows: all.length,
    campaignRuns: workflows.campaignRuns.length,
    campaignEvents: sum(workflows.campaignRuns, (info) => info.historyLength),
    chunkEventsAverage: sum(workflows.chunks, (info) => info.historyLength) / chunkCount,
    chunkBytesAverage: sum(workflows.chunks, (info) => info.historySize ?? 0) / chunkCount,
    events,
    bytes,
    eventsPer1000Recipients: thousands > 0 ? events / thousands : 0,
    bytesPer1000Recipients: thousands > 0 ? bytes / thousands : 0,
    largestEvents,
    largestBytes,
    largestShareOfLimit: { events: largestEvents.events / TEMPORAL_HISTORY_LIMITS.events, bytes: largestBytes.bytes / TEMPORAL_HISTORY_LIMITS.bytes },
  };
}

/** Names of history entries that apply an API event carrying a recipient's final status. */
const FINAL_EVENTS = new Set(['RECIPIENT_DELIVERED', 'RECIPIENT_FAILED', 'CONSENT_DENIED']);

/**
 * Listener latency: from the creation of a recipient's final event in the sandbox (the ledger's
 * updatedAt is that event's occurred_at) to the chunk workflow applying it (history `at`, the
 * workflow task's time). Recipients settled otherwise (snapshot, window end) are not counted.
 */
export async function listenerLatency(campaigns: CampaignClient, inspector: SandboxInspector, campaignId: string): Promise<Percentiles> {
  const createdAt = new Map<string, number>();
  for (const entry of await inspector.messages()) {
    if (entry.updatedAt) createdAt.set(entry.ppnum, Date.parse(entry.updatedAt));
  }
  const latencies: number[] = [];
  for await (const record of campaigns.recipients(campaignId)) {
    const applied = record.history.findLast((h) => FINAL_EVENTS.has(h.event));
    const created = createdAt.get(record.ppnum);
    if (applied && created !== undefined) latencies.push(Date.parse(applied.at) - created);
  }
  return percentiles(latencies);
}

/** CPU time (user + system) a live process has used so far, in seconds (Linux /proc; 0 if gone). */
export function cpuSeconds(pid: number | undefined): number {
  const stat = pid === undefined ? undefined : procStat(pid);
  return stat ? (stat.utime + stat.stime) / 100 : 0;
}

/**
 * CPU time of a PostgreSQL cluster so far, in seconds: the postmaster, the backends it runs now, and
 * the ones that ended (the postmaster reaped them, so their time is in its children's count).
 */
export function postgresCpuSeconds(dataDir: string): number {
  let postmaster: number;
  try {
    postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  } catch {
    return 0;
  }
  const own = procStat(postmaster);
  if (!own) return 0;
  let seconds = (own.utime + own.stime + own.cutime + own.cstime) / 100;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat?.ppid === postmaster) seconds += (stat.utime + stat.stime) / 100;
  }
  return seconds;
}

/** A process's parent and CPU clock ticks (100/s): its own, and its reaped children's. */
function procStat(pid: number): { ppid: number; utime: number; stime: number; cutime: number; cstime: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name "(...)": state is field 3, ppid 4, utime 14, stime 15, cutime 16, cstime 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return { ppid: f[1]!, utime: f[11]!, stime: f[12]!, cutime: f[13]!, cstime: f[14]! };
  } catch {
    return undefined;
  }
}

/** The whole machine's CPU ticks so far (/proc/stat): busy (anything but idle and I/O wait), stolen by the hypervisor, and all. */
export interface MachineTicks {
  busy: number;
  steal: number;
  total: number;
}

export function machineTicks(): MachineTicks {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq!;
    return { busy, steal: steal!, total: busy + idle! + iowait! + steal! };
  } catch {
    return { busy: 0, steal: 0, total: 0 };
  }
}

/**
 * Over a run, the machine's busy and stolen shares of all its cores. The same campaign measures up to
 * a third cheaper per recipient on a machine busy with other work (events arrive in bigger batches),
 * so a CPU figure means something only beside the load it was measured under.
 */
export function machineLoad(before: MachineTicks, after: MachineTicks): { busyShare: number; stealShare: number } {
  const total = after.total - before.total;
  if (total <= 0) return { busyShare: 0, stealShare: 0 };
  return { busyShare: (after.busy - before.busy) / total, stealShare: (after.steal - before.steal) / total };
}

/** CPU seconds per process between two readings, and as a share of the machine over `seconds`. */
export function cpuUse(before: Record<string, number>, after: Record<string, number>, seconds: number, cores: number): { seconds: Record<string, number>; shareOfMachine: Record<string, number> } {
  const used: Record<string, number> = {};
  const share: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) {
    used[name] = Math.max(0, value - (before[name] ?? 0));
    share[name] = seconds > 0 ? used[name] / (seconds * cores) : 0;
  }
  return { seconds: used, shareOfMachine: share };
}

/** CPU ms per 1,000 recipients over idle, by stack process and in all. */
export type CpuByProcess = Record<'temporal' | 'worker' | 'listener' | 'sandbox' | 'total', number>;

export interface ChunkCostSplit {
  /** CPU ms one chunk workflow costs beyond its recipients' own work. */
  perChunkMs: CpuByProcess;
  /** CPU ms per 1,000 recipients beyond their chunks' fixed cost. */
  per1000RecipientsMs: CpuByProcess;
}

/**
 * A run costs r + f × (1,000 / chunk size) per 1,000 recipients (r: the recipients' own work, f: one
 * chunk workflow's fixed work), so runs in chunks of 1,000 and of 500 give f = c(500) − c(1000) and
 * r = c(1000) − f, for each process and the total.
 */
export function chunkCostSplit(chunksOf1000: CpuByProcess, chunksOf500: CpuByProcess): ChunkCostSplit {
  const keys = Object.keys(chunksOf1000) as (keyof CpuByProcess)[];
  const perChunkMs = Object.fromEntries(keys.map((k) => [k, chunksOf500[k] - chunksOf1000[k]])) as CpuByProcess;
  const per1000RecipientsMs = Object.fromEntries(keys.map((k) => [k, chunksOf1000[k] - perChunkMs[k]])) as CpuByProcess;
  return { perChunkMs, per1000RecipientsMs };
}

/** Counters of the Temporal server's Prometheus endpoint: `<metric>|<operation>|<service>` → value. */
export type TemporalCounters = Map<string, number>;

/** Reads the counters the bench compares (requests and persistence calls per operation and service). */
export async function readTemporalCounters(metricsUrl: string): Promise<TemporalCounters> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
  const counters: TemporalCounters = new Map();
  for (const line of text.split('\n')) {
    const match = /^(service_requests|persistence_requests)\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
    if (!match) continue;
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(match[2]!)?.[1] ?? '';
    const key = `${match[1]}|${label('operation')}|${label('service_name')}`;
    counters.set(key, (counters.get(key) ?? 0) + Number(match[3]));
  }
  return counters;
}

/**
 * What the campaign asked of Temporal, per 1,000 recipients: counts, so a change in the work shows
 * without the noise of CPU time. Workflow and activity tasks completed, signals and queries
 * handled, and history writes (a workflow's state created or updated in the database).
 */
export interface TemporalWork {
  workflowTasks: number;
  activityTasks: number;
  signals: number;
  queries: number;
  historyWrites: number;
}

export function temporalWork(before: TemporalCounters, after: TemporalCounters, recipients: number): TemporalWork {
  const delta = (metric: string, operation: string, service: string) => {
    const key = `${metric}|${operation}|${service}`;
    return Math.max(0, (after.get(key) ?? 0) - (before.get(key) ?? 0));
  };
  const per1000 = (n: number) => (recipients > 0 ? n / (recipients / 1000) : 0);
  return {
    workflowTasks: per1000(delta('service_requests', 'RespondWorkflowTaskCompleted', 'frontend')),
    activityTasks: per1000(delta('service_requests', 'RespondActivityTaskCompleted', 'frontend')),
    // Every signal reaches the history service: from clients (the listener, activities) and from workflows.
    signals: per1000(delta('service_requests', 'SignalWorkflowExecution', 'history')),
    queries: per1000(delta('service_requests', 'QueryWorkflow', 'frontend')),
    historyWrites: per1000(delta('persistence_requests', 'UpdateWorkflowExecution', 'history') + delta('persistence_requests', 'CreateWorkflowExecution', 'history')),
  };
}

/** The listener's hold limits of a run (ms). */
export interface ListenerTiming {
  actionableMaxDelayMs: number;
  batchMaxDelayMs: number;
}

export interface RealTime {
  p50: number | null;
  p99: number | null;
}

export interface FirstCampaignFigures {
  /** The consent window as a share of a real day (the scale every interval was run at). */
  scale: number;
  timing: ListenerTiming;
  chunks: number;
  chunkRuns: number;
  largestChunkRunEvents: number;
  signalsPerChunk: { average: number; max: number };
  /** From the API's decision (its event time) to the chunk applying it, measured in the scaled run. */
  decisionToAppliedMs: { granted: Percentiles; denied: Percentiles };
  /** From the API's denial to the fallback webhook receiving it. */
  denialToFallbackMs: Percentiles;
  /**
   * The same at a real day's timing, as an upper bound: the only interval on these paths that was
   * scaled is the listener's hold, so each sample's measured processing (what exceeds the scaled
   * hold limit) is added to the real hold limit (30 s for denials, 10 min for the rest).
   */
  realTimeMs: { grantedApplied: RealTime; deniedApplied: RealTime; denialToFallback: RealTime };
}

/** Consent latencies, signals and chunk runs of a first campaign, read after it finished. */
export async function firstCampaignFigures(run: {
  client: Client;
  campaigns: CampaignClient;
  inspector: SandboxInspector;
  campaignId: string;
  workflows: CampaignWorkflows;
  receiver: WebhookReceiver;
  timing: ListenerTiming;
  consentWindowMs: number;
}): Promise<FirstCampaignFigures> {
  const { timing } = run;
  const scale = run.consentWindowMs / 86_400_000;
  const signals = new Map<string, number>();
  for (const info of run.workflows.chunks) {
    const history = await run.client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
    const listenerSignals = new Set([deliveryBatchSignal.name, deliveryBatchesSignal.name]);
    const count = (history.events ?? []).filter((event) => listenerSignals.has(event.workflowExecutionSignaledEventAttributes?.signalName ?? '')).length;
    signals.set(info.workflowId, (signals.get(info.workflowId) ?? 0) + count);
  }
  const decidedAt = new Map<string, { type: string; at: number }>();
  for (const event of await run.inspector.events()) {
    if (event.ppnum && (event.type === 'CONSENT_GRANTED' || event.type === 'CONSENT_DENIED')) decidedAt.set(event.ppnum, { type: event.type, at: Date.parse(event.occurredAt) });
  }
  const granted: number[] = [];
  const denied: number[] = [];
  for await (const record of run.campaigns.recipients(run.campaignId)) {
    const decision = decidedAt.get(record.ppnum);
    const applied = decision && record.history.find((entry) => entry.event === decision.type);
    if (decision && applied) (decision.type === 'CONSENT_DENIED' ? denied : granted).push(Date.parse(applied.at) - decision.at);
  }
  const fallbackAt = new Map<string, number>();
  for (const request of run.receiver.requests) {
    const body = JSON.parse(request.body) as { campaignId: string; ppnum: string };
    if (body.campaignId === run.campaignId && !fallbackAt.has(body.ppnum)) fallbackAt.set(body.ppnum, request.at);
  }
  const toFallback: number[] = [];
  for (const [ppnum, decision] of decidedAt) {
    const at = fallbackAt.get(ppnum);
    if (decision.type === 'CONSENT_DENIED' && at !== undefined) toFallback.push(at - decision.at);
  }
  /** Real hold limit plus what each sample took beyond the scaled one. */
  const real = (samples: number[], holdMs: number): RealTime => {
    const bounded = percentiles(samples.map((ms) => holdMs + Math.max(0, ms - holdMs * scale)));
    return { p50: bounded.p50, p99: bounded.p99 };
  };
  const realHold = { actionable: timing.actionableMaxDelayMs / scale, other: timing.batchMaxDelayMs / scale };
  const perChunk = [...signals.values()];
  return {
    scale,
    timing,
    chunks: signals.size,
    chunkRuns: run.workflows.chunks.length,
    largestChunkRunEvents: Math.max(0, ...run.workflows.chunks.map((info) => info.historyLength)),
    signalsPerChunk: { average: perChunk.reduce((a, b) => a + b, 0) / Math.max(1, perChunk.length), max: Math.max(0, ...perChunk) },
    decisionToAppliedMs: { granted: percentiles(granted), denied: percentiles(denied) },
    denialToFallbackMs: percentiles(toFallback),
    realTimeMs: { grantedApplied: real(granted, realHold.other), deniedApplied: real(denied, realHold.actionable), denialToFallback: real(toFallback, realHold.actionable) },
  };
}
