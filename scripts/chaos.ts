// The fault campaign (`npm run chaos`): runs one campaign on the whole stack as real processes while
// injecting faults at seeded random moments, then checks the campaign's report against the
// sandbox's delivery ledger and the fallback receiver. The seed reproduces the schedule.
//
//   npm run chaos                              random seed, 9 faults, 6,000 recipients
//   npm run chaos -- --seed 42 --faults 20 --recipients 20000
//   npm run chaos -- --short --json            the fixed-seed run the tests use (every kind once)
//   npm run chaos -- --first-campaign          every recipient new: consent decisions spread over the
//                                              (scaled) window race the faults
//   npm run chaos -- --server production --workers 2 --listeners 2 --source url
//                                              the production topology: the real Temporal server on
//                                              PostgreSQL, recipients from nginx (or --source postgres),
//                                              each worker and listener in a directory of its own
//
// Exit codes: 0 every check passed; 1 a check failed or the run broke; 2 bad flags.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack, temporalServerFlag, type TemporalServerKind } from '../dev/stack/start-stack';
import { BUILD_DIR_ENV } from './package-commands';
import type { Stack } from '../dev/stack/start-stack';
import { startWebhookReceiver } from '../dev/receivers';
import { checkCampaign, checkNoSecrets, type Check } from '../dev/chaos/checks';
import { FAULT_KINDS, injectFault, planFaults, type ConsentTiming, type FaultKind, type InjectedFault } from '../dev/chaos/faults';
import { seededRandom } from '../dev/chaos/random';
import { integerFlag, listenerTimingEnv, withTimeout } from '../dev/script-helpers';
import { RECIPIENT_SOURCES, serveRecipients, type RecipientSourceKind, type ServedRecipients } from '../dev/chaos/recipient-sources';
import { SEND_GAP_TARGETS_MS, SEND_GAP_WINDOW_MS, acceptanceTimes, longestPauseOutside, sendGapAfter } from '../dev/chaos/send-gaps';
import { scaledListenerTiming } from '../activities/held-events';
import type { CampaignSpec } from '../src/campaign/spec';
import { countRecipients } from '../src/campaign/outcomes';
import { CAMPAIGN_RUN_MAX_EVENTS, campaignWorkflowId } from '../src/contracts/campaign';
import { repairCampaign, type RepairFinding } from '../src/client/repair';
import { ChunkUnreadableError } from '../src/client/errors';
import { HistoryReplayer, explainHistory } from '../src/temporal/divergence';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

const USAGE = `usage: npm run chaos -- [--seed N] [--faults N] [--kinds a,b] [--recipients N] [--horizon SECONDS] [--rate RPS] [--short] [--first-campaign] [--json] [--out FILE] [--keep]
                     [--server dev|production] [--workers N] [--listeners N] [--source file|url|postgres] [--built]
fault kinds: ${FAULT_KINDS.join(', ')}`;

interface ChaosFlags {
  seed: number;
  faults: number;
  kinds: FaultKind[];
  recipients: number;
  horizonMs: number;
  /** The app's request rate: the sandbox enforces it, the send queue is configured with it. */
  rate: number;
  json: boolean;
  out: string;
  keep: boolean;
  /** Every kind exactly once, in seeded order (the short test run). */
  everyKindOnce: boolean;
  server: TemporalServerKind;
  workers: number;
  listeners: number;
  /** Where the workers read the recipients: a local file, nginx (URL) or a PostgreSQL table. */
  source: RecipientSourceKind;
  /** Run the workers and listeners from dist/ (built first), as in production: restarts load prebuilt workflow bundles. */
  built: boolean;
  /** Every recipient new to the app: asked for consent, decisions spread over the scaled window. */
  firstCampaign: boolean;
}

function parseFlags(argv: string[]): ChaosFlags {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      faults: { type: 'string' },
      kinds: { type: 'string' },
      recipients: { type: 'string' },
      horizon: { type: 'string' },
      rate: { type: 'string' },
      short: { type: 'boolean', default: false },
      'first-campaign': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      server: { type: 'string', default: 'dev' },
      workers: { type: 'string' },
      listeners: { type: 'string' },
      source: { type: 'string', default: 'file' },
      built: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const kinds = (values.kinds?.split(',').map((k) => k.trim()) ?? [...FAULT_KINDS]) as FaultKind[];
  const unknown = kinds.filter((k) => !FAULT_KINDS.includes(k));
  if (unknown.length > 0) throw new Error(`--kinds: unknown fault kind ${unknown.join(', ')} (known: ${FAULT_KINDS.join(', ')})`);
  const server = temporalServerFlag(values.server);
  const source = values.source as ChaosFlags['source'];
  if (!RECIPIENT_SOURCES.includes(source)) throw new Error(`--source: expected ${RECIPIENT_SOURCES.join(', ')}, got ${source}`);
  const short = values.short;
  const seed = integerFlag('seed', values.seed, short ? 1 : Math.floor(Math.random() * 1_000_000), 0, 2 ** 31);
  return {
    seed,
    faults: integerFlag('faults', values.faults, short ? kinds.length : 9, 0, 1000),
    kinds,
    recipients: integerFlag('recipients', values.recipients, short ? 2_000 : 6_000, 7, 1_000_000),
    horizonMs: integerFlag('horizon', values.horizon, short ? 25 : 45, 1, 3600) * 1000,
    rate: integerFlag('rate', values.rate, 5, 1, 1000),
    json: values.json,
    out: values.out ?? `test-results/chaos-${seed}.json`,
    keep: values.keep,
    everyKindOnce: short,
    server,
    workers: integerFlag('workers', values.workers, 1, 1, 8),
    listeners: integerFlag('listeners', values.listeners, 1, 1, 4),
    source,
    built: values.built,
    firstCampaign: values['first-campaign'],
  };
}

/**
 * Test numbers first (every outcome and the API's own failure modes), then derived ppnums. A first
 * campaign has no test numbers: they skip the consent step, and every recipient there is new.
 */
function writeRecipients(path: string, count: number, firstCampaign: boolean): string[] {
  const ppnums: string[] = [];
  const testNumbers = firstCampaign ? 0 : 7;
  for (let i = 1; i <= testNumbers; i++) ppnums.push(`1230000000${i}`);
  for (let i = testNumbers; i < count; i++) ppnums.push(String(45_700_000_000 + i));
  writeFileSync(path, `ppnum,name\n${ppnums.map((p, i) => `${p},${personName(i)}`).join('\n')}\n`);
  return ppnums;
}

const personName = (index: number) => `Person ${index + 1}`;

/** A fault as injected: when (ms since the epoch), the campaign's progress just before, and how long sending stalled after it. */
interface ReportedFault extends InjectedFault {
  injectedAt: number;
  campaign?: { status: string; final: number; total: number; chunksSent: number; chunksTotal: number };
  /** Longest pause between accepted sends in the SEND_GAP_WINDOW_MS after the fault; absent when the campaign was not sending then. */
  sendGapMs?: number;
}

interface ChaosReport {
  seed: number;
  topology: { server: ChaosFlags['server']; workers: number; listeners: number; source: ChaosFlags['source'] };
  recipients: number;
  seconds: number;
  /** Each with the campaign's progress just before it was injected. */
  faults: ReportedFault[];
  /** Per fault kind: the longest send gap after any fault of that kind, and the target if there is one. */
  sendGaps: Record<string, { worstMs: number; targetMs?: number }>;
  /** Longest pause between sends away from every fault: how long sending pauses on its own at this load. */
  unfaultedPauseMs?: number;
  checks: Check[];
  ok: boolean;
  result?: unknown;
  dir: string;
}

/**
 * The sandbox's consent timing; the campaign waits a little longer so every sandbox decision is seen.
 * Default: quick fixed decisions. First campaign: 24 h scaled to 30 s, decisions spread over it.
 */
const CONSENT: ConsentTiming = { consentWindowMs: 8_000, consentDecisionDelayMs: 1_500 };
/** At the campaign's 1-minute minimum, so longer than the sandbox's window in both modes. */
const CAMPAIGN_CONSENT_WINDOW = '1m';
const FIRST_CAMPAIGN_CONSENT: ConsentTiming = { consentWindowMs: 30_000, consentDecisionDelayMs: null };
/** The webhook's HMAC key: only the worker's environment holds it; the final check looks for leaks. */
const WEBHOOK_SECRET = 'chaos-hmac-key-5f1d2c';

async function runChaos(flags: ChaosFlags, say: (line: string) => void): Promise<ChaosReport> {
  const dir = mkdtempSync(join(tmpdir(), `ppoppo-chaos-${flags.seed}-`));
  const random = seededRandom(flags.seed);
  const receiver = await startWebhookReceiver();
  let stack: Stack | undefined;
  let failed = false;
  let served: ServedRecipients | undefined;
  const started = Date.now();
  const faults: ChaosReport['faults'] = [];
  const topology = { server: flags.server, workers: flags.workers, listeners: flags.listeners, source: flags.source };
  const consent = flags.firstCampaign ? FIRST_CAMPAIGN_CONSENT : CONSENT;
  const listenerTiming = flags.firstCampaign ? scaledListenerTiming(consent.consentWindowMs) : { maxRunMs: 5_000, batchMaxDelayMs: 100, actionableMaxDelayMs: 100, partsMaxDelayMs: 100 };
  try {
    say(`chaos seed ${flags.seed}: ${flags.firstCampaign ? 'a first campaign, ' : ''}${flags.recipients} recipients, ${flags.faults} faults of ${flags.kinds.join(', ')} (state in ${dir})`);
    const file = join(dir, 'recipients.csv');
    const ppnums = writeRecipients(file, flags.recipients, flags.firstCampaign);
    served = await serveRecipients(flags.source, file, dir);
    say(`recipients from ${served.description}`);
    // A build PPOPPO_BUILD_DIR names (the tests make one) is used as it is.
    if (flags.built && !process.env[BUILD_DIR_ENV]) {
      say('building dist/ (npm run build)');
      execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { stdio: flags.json ? 'ignore' : 'inherit' });
    }
    stack = await startStack({
      ...(flags.built ? { built: true } : {}),
      dir,
      server: flags.server,
      workers: flags.workers,
      listeners: flags.listeners,
      // With a URL or a table, a worker needs nothing on disk: each runs in a directory of its own.
      privateWorkDirs: flags.source !== 'file',
      sandboxFlags: {
        'consent-window': `${consent.consentWindowMs}ms`,
        'delivery-delay': '200ms',
        'rate-limit-rps': String(flags.rate),
        'rate-limit-burst': String(flags.rate),
        // A first campaign takes the sandbox's default mix (everyone new) and decision spread.
        ...(flags.firstCampaign ? {} : { 'consent-decision-delay': `${consent.consentDecisionDelayMs}ms`, 'outcome-mix': '70/10/8/7/5' }),
      },
      // The receiver is on loopback: the workers may reach it only because it is listed.
      env: {
        FALLBACK_SECRET_WEBHOOK: WEBHOOK_SECRET,
        FALLBACK_ALLOWED_HOSTS: new URL(receiver.url).host,
        SEND_RATE_PER_SECOND: String(flags.rate),
        RECONCILE_SETTLE_MS: '2000',
        ...listenerTimingEnv(listenerTiming),
        ...served.env,
      },
    });
    say(`stack up: Temporal ${flags.server === 'production' ? 'server on PostgreSQL' : 'dev server'} ${stack.temporal.address}, sandbox ${stack.env.PCS_API_URL}, ${flags.workers} worker(s), ${flags.listeners} listener(s)`);

    const campaignId = `chaos-${flags.seed}`;
    const spec: CampaignSpec = {
      campaignId,
      template: { name: `chaos-${flags.seed}`, components: [{ type: 'text', content: 'Hello {{name}}' }, { type: 'divider' }, { type: 'button', label: 'Open', url: 'https://ppoppo.com' }] },
      recipients: served.recipients,
      consentWindow: CAMPAIGN_CONSENT_WINDOW,
      fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: receiver.url }, text: 'Hello {{name}}, we could not reach you on Ppoppo.' },
      limits: { chunkSize: 100, chunksInFlight: 8 },
    };
    await stack.campaigns.startCampaign(spec);
    // The fault schedule counts from here, so faults land in the campaign, not in the stack's start.
    const campaignStarted = Date.now();
    say(`campaign started ${((campaignStarted - started) / 1000).toFixed(1)} s into the run`);

    const plan = planFaults(random, { count: flags.faults, kinds: flags.kinds, horizonMs: flags.horizonMs, everyKindOnce: flags.everyKindOnce });
    const resultPromise = stack.campaigns.result(campaignId);
    let done = false;
    void resultPromise.finally(() => (done = true)).catch(() => undefined);
    // One progress query at a time: a query retrying across a server restart must not pile up, and
    // the last one is awaited before the client closes (a retry firing later would crash the process).
    let progressQuery: Promise<unknown> | undefined;
    // The operator's part: a workflow stuck on a nondeterminism error is repaired as the README says, and reported.
    const repairs: RepairFinding[] = [];
    let watching = true;
    const repairing = repairWhileRunning(stack.client, campaignId, () => done || !watching, (finding) => {
      repairs.push(finding);
      say(`  ${finding.where} stuck on a nondeterminism error (${finding.failing.message ?? 'no message'}): ${finding.action}, ${finding.reason}`);
    });
    const ticker = setInterval(() => {
      if (progressQuery) return;
      progressQuery = stack!.campaigns.getProgress(campaignId).then(
        (p) => say(`  ${((Date.now() - started) / 1000).toFixed(0)}s ${p.status}: ${countRecipients(p.counts)}/${p.total} final, ${p.chunksSent}/${p.chunksTotal} chunks sent`),
        () => undefined,
      ).finally(() => (progressQuery = undefined));
    }, 5_000);
    try {
      for (const planned of plan) {
        const wait = campaignStarted + planned.atMs - Date.now();
        if (wait > 0) await sleep(wait);
        if (done) say(`  (campaign already finished; injecting ${planned.kind} anyway)`);
        const progress = await withTimeout(stack.campaigns.getProgress(campaignId), 10_000, 'progress query hung').catch(() => undefined);
        const campaign = progress && { status: progress.status, final: countRecipients(progress.counts), total: progress.total, chunksSent: progress.chunksSent, chunksTotal: progress.chunksTotal };
        const injectedAt = Date.now();
        const fault: ReportedFault = { ...(await injectFault(stack, planned, random, consent)), injectedAt, campaign };
        faults.push(fault);
        say(`  fault ${faults.length}/${plan.length} at ${(fault.atMs / 1000).toFixed(1)}s${progressNote(fault.campaign)}: ${fault.kind} — ${fault.detail} (recovered in ${fault.recoveryMs} ms)`);
      }
      say('faults done; waiting for the campaign to finish');
      const result = await withTimeout(resultPromise, 15 * 60_000, 'the campaign did not finish within 15 minutes');
      const vars = new Map(ppnums.map((ppnum, i) => [ppnum, { name: personName(i) }]));
      const checks = await checkCampaign({ stack, campaignId, ppnums, fallbackOn: spec.fallback!.on, receiver, result, faults, rateLimit: { requestsPerSecond: flags.rate, burst: flags.rate }, vars });
      stack.temporal.dumpDatabases?.(join(dir, 'temporal.pgdump'));
      checks.push(checkNoSecrets(dir, [stack.env.PAS_PCS_CLIENT_SECRET!, WEBHOOK_SECRET], ppnums.slice(0, 50), campaignId, served.notLogged));
      if (flags.firstCampaign) {
        const asked = result.consent?.asked ?? 0;
        checks.push({ name: 'every recipient was asked for consent first', ok: asked === flags.recipients, detail: `${asked} of ${flags.recipients} asked` });
      }
      checks.push(await checkRunLengths(stack.client, campaignWorkflowId(campaignId)));
      await repairing;
      checks.push({
        name: 'every workflow stuck on a nondeterminism error was repaired',
        ok: repairs.every((finding) => finding.action === 'reset'),
        detail: repairs.length === 0 ? 'none was stuck' : repairs.map((finding) => `${finding.where}: ${finding.action} (${finding.reason})`).join('; '),
      });
      const sentAt = acceptanceTimes(await stack.inspector.sendRequests());
      const sendGaps = measureSendGaps(faults, sentAt);
      const unfaultedPauseMs = longestPauseOutside(sentAt, faults.map((fault) => fault.injectedAt));
      const report = { seed: flags.seed, topology, recipients: flags.recipients, seconds: (Date.now() - started) / 1000, faults, sendGaps, unfaultedPauseMs, checks, ok: checks.every((c) => c.ok), result, dir };
      failed = !report.ok;
      return report;
    } finally {
      clearInterval(ticker);
      watching = false;
      if (progressQuery) await withTimeout(progressQuery, 60_000, 'progress query hung').catch(() => undefined);
    }
  } catch (err) {
    failed = true;
    let message = (err as Error).stack ?? String(err);
    if (err instanceof ChunkUnreadableError && stack) message = `${err.message}\n${await explainUnreadableChunk(stack.client, err.workflowId, dir).catch((e: unknown) => `(its history could not be examined: ${String(e)})`)}`;
    return {
      seed: flags.seed,
      topology,
      recipients: flags.recipients,
      seconds: (Date.now() - started) / 1000,
      faults,
      sendGaps: {},
      checks: [{ name: 'run completed', ok: false, detail: message }],
      ok: false,
      dir,
    };
  } finally {
    // A failed run (or --keep) keeps its directory (logs, databases, payload key) and the campaign's histories,
    // so a nondeterminism or a wrong count can be replayed and examined afterwards.
    if ((failed || flags.keep) && stack) await saveHistories(stack.client, campaignWorkflowId(`chaos-${flags.seed}`), dir).catch(() => undefined);
    await stack?.stop();
    await served?.stop();
    await receiver.close();
    if (flags.keep || failed) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Every run of the campaign stopped starting chunks once it saw CAMPAIGN_RUN_MAX_EVENTS events, and
 * continued as new (or ended) once those in flight had started: short runs are what keep the replay
 * after a worker kill, and so the send gap, near a second. Events still arrive while it waits for the
 * last starts (chunk signals; more when a worker is killed then, up to 1,347 seen), so a run's length
 * is bounded loosely (twice the cap, about a second of replay) and the rule itself exactly.
 */
/** How often the fault run looks for a workflow stuck on a nondeterminism error. */
const REPAIR_POLL_MS = 10_000;

/** Until the campaign is done: `campaign repair` whenever one of its workflows is stuck on a nondeterminism error. */
async function repairWhileRunning(client: Client, campaignId: string, isDone: () => boolean, found: (finding: RepairFinding) => void): Promise<void> {
  let lookAt = Date.now() + REPAIR_POLL_MS;
  while (!isDone()) {
    await sleep(500); // ends within half a second of the campaign
    if (Date.now() < lookAt) continue;
    lookAt = Date.now() + REPAIR_POLL_MS;
    // Temporal restarting: look again next time. A task failing for another reason (a killed worker's timeout) heals by itself.
    const report = await repairCampaign(client, campaignId).catch(() => undefined);
    for (const finding of report?.findings ?? []) if (finding.failing.cause === 'nondeterminism') found(finding);
  }
}

async function checkRunLengths(client: Client, workflowId: string): Promise<Check> {
  const runs = [undefined, ...(await earlierRunIds(client, workflowId))];
  let longest = 0;
  let startedPastCap = 0;
  for (const runId of runs) {
    const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    longest = Math.max(longest, events.length);
    // Event ids count from 1 in order (index i has id i + 1). The first task that saw more than the
    // cap: a task's workflow sees the history up to its started event.
    const sawCap = events.findIndex((event, i) => i + 1 > CAMPAIGN_RUN_MAX_EVENTS && event.workflowTaskStartedEventAttributes);
    if (sawCap === -1) continue;
    const itsCommands = events.findIndex((event, i) => i > sawCap && event.workflowTaskCompletedEventAttributes);
    if (itsCommands === -1) continue;
    startedPastCap += events.filter((event, i) => i >= itsCommands && event.startChildWorkflowExecutionInitiatedEventAttributes).length;
  }
  const limit = 2 * CAMPAIGN_RUN_MAX_EVENTS;
  return {
    name: `every campaign run started no chunk past ${CAMPAIGN_RUN_MAX_EVENTS.toLocaleString('en-US')} events and stayed under ${limit.toLocaleString('en-US')}`,
    ok: startedPastCap === 0 && longest <= limit,
    detail: `${runs.length} run${runs.length === 1 ? '' : 's'}, longest ${longest} events, ${startedPastCap} chunks started past the cap`,
  };
}

/** The runs of the workflow that continued as new (all but the current one). */
async function earlierRunIds(client: Client, workflowId: string): Promise<string[]> {
  const runIds: string[] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}' AND ExecutionStatus = 'ContinuedAsNew'` })) runIds.push(run.runId);
  return runIds;
}

/**
 * A chunk that cannot answer a query cannot replay its own history: keep that history beside the run
 * and say, in the report (CI keeps only the log), where today's code first parts from it.
 */
async function explainUnreadableChunk(client: Client, workflowId: string, dir: string): Promise<string> {
  const file = join(dir, `${workflowId.replaceAll('/', '_')}.history.json`);
  const history = await saveHistory(client, file, workflowId);
  return `its history is saved as ${file}; ${await explainHistory(new HistoryReplayer(client.options.dataConverter), history, workflowId)}`;
}

/** One run's history as JSON (payloads as stored: encrypted with the run's key) in `file`. */
async function saveHistory(client: Client, file: string, workflowId: string, runId?: string) {
  const history = await withTimeout(client.workflow.getHandle(workflowId, runId).fetchHistory(), 30_000, 'fetching the history hung');
  writeFileSync(file, historyToJSON(history));
  return history;
}

/**
 * The campaign's histories as JSON (payloads as stored: encrypted with the run's key, kept beside
 * them): the current run as campaign-history.json, earlier runs as campaign-history-<runId>.json.
 */
async function saveHistories(client: Client, workflowId: string, dir: string): Promise<void> {
  const save = (file: string, runId?: string) => saveHistory(client, join(dir, file), workflowId, runId);
  await save('campaign-history.json');
  for (const runId of await earlierRunIds(client, workflowId)) await save(`campaign-history-${runId}.json`, runId);
}

/** Sets each fault's send gap and returns the worst per kind. */
function measureSendGaps(faults: ReportedFault[], sentAt: number[]): ChaosReport['sendGaps'] {
  const gaps: ChaosReport['sendGaps'] = {};
  for (const fault of faults) {
    const nextFaultAt = Math.min(...faults.map((other) => other.injectedAt).filter((at) => at > fault.injectedAt));
    const gap = sendGapAfter(sentAt, fault.injectedAt, undefined, nextFaultAt);
    if (gap === undefined) continue;
    fault.sendGapMs = gap;
    const targetMs = SEND_GAP_TARGETS_MS[fault.kind];
    gaps[fault.kind] = { worstMs: Math.max(gap, gaps[fault.kind]?.worstMs ?? 0), ...(targetMs !== undefined ? { targetMs } : {}) };
  }
  return gaps;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function progressNote(campaign: ChaosReport['faults'][number]['campaign']): string {
  return campaign ? ` (campaign ${campaign.status}: ${campaign.chunksSent}/${campaign.chunksTotal} chunks sent, ${campaign.final}/${campaign.total} final)` : '';
}

async function main(): Promise<number> {
  let flags: ChaosFlags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const say = (line: string) => {
    if (!flags.json) console.log(line);
  };
  const report = await runChaos(flags, say);
  mkdirSync(dirname(resolve(flags.out)), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`);
  if (flags.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`\nseed ${report.seed} · ${report.recipients} recipients · ${report.seconds.toFixed(1)} s · ${report.faults.length} faults`);
    for (const fault of report.faults) {
      const gap = fault.sendGapMs === undefined ? 'not sending then' : `sends paused ${seconds(fault.sendGapMs)}`;
      console.log(`  ${(fault.atMs / 1000).toFixed(1).padStart(6)}s  ${fault.kind.padEnd(26)} ${fault.detail}${progressNote(fault.campaign)} · ${gap}`);
    }
    console.log(`  longest pause in sending within ${SEND_GAP_WINDOW_MS / 1000} s of a fault (accepted CreateSendRequest calls, sandbox ledger):`);
    for (const [kind, gap] of Object.entries(report.sendGaps)) {
      const target = gap.targetMs === undefined ? '' : ` (target ≤ ${seconds(gap.targetMs)}${gap.worstMs <= gap.targetMs ? '' : ', MISSED'})`;
      console.log(`    ${kind.padEnd(26)} ${seconds(gap.worstMs)}${target}`);
    }
    if (report.unfaultedPauseMs !== undefined) console.log(`    ${'away from any fault'.padEnd(26)} ${seconds(report.unfaultedPauseMs)}`);
    for (const check of report.checks) console.log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}${check.detail ? ` — ${check.detail}` : ''}`);
    console.log(`${report.ok ? 'all checks passed' : `FAILED — reproduce with: npm run chaos -- --seed ${report.seed}`}; report in ${flags.out}`);
  }
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
