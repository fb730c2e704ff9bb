// The bench's fairness mode on the whole stack as real processes (Temporal dev server with fairness
// and priority on, sandbox with an app rate limit R, worker, listener): for each pair of weights, a
// campaign A, then 10 s later a campaign B; for a fixed window from B's first send, each one's
// share of the send requests the sandbox accepted (its ledger), and alerts sent meanwhile with the
// time from the client's call to the sandbox's acceptance. Then both are stopped (their sizes only
// make sure neither runs out of sends inside the window).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CampaignSpec } from '../../src/campaign/spec';
import { campaignWorkflowId } from '../../src/contracts/campaign';
import { runningChunksQuery } from '../../src/contracts/chunk';
import type { SendRequestEntry } from '../sandbox/inspector';
import { withTimeout } from '../script-helpers';
import { startStack, type Stack, type TemporalServerKind } from '../stack/start-stack';
import { sharingText } from '../../src/cli/format';
import { percentiles, type Percentiles } from './measure';
import { BENCH_TEMPLATE, writeRecipientsFile } from './orchestrator';

export interface FairnessOptions {
  dir: string;
  /** The app's limit R (sandbox and SEND_RATE_PER_SECOND); the send queue is dispatched at 80 % of it. */
  rate: number;
  /** B starts this long after A (the 10 s). */
  staggerMs: number;
  /** How long both are measured sending, once both keep their chunks queued; then both are stopped. */
  windowMs: number;
  /** How long to wait, from B's first send, for both to have their chunks queued before measuring anyway. */
  backlogWaitMs: number;
  /** One alert this often while both send. */
  alertEveryMs: number;
  /** The weight pairs [A, B] to run, one after the other on the same stack. */
  weights: [number, number][];
  /** The Temporal server of the stack (default the dev server). */
  server?: TemporalServerKind;
  say: (line: string) => void;
}

export interface FairnessPair {
  weights: [number, number];
  /** A's expected share of the sends while both send: wA / (wA + wB). */
  expectedShareA: number;
  /**
   * Whether both had (nearly) all their chunks in flight queued when the window began: then the send
   * queue, not the workers, decided who went next. Campaigns start their chunks only so fast, and
   * on a busy machine slower than the queue is dispatched; until their backlogs build up, the
   * shares follow how fast each starts chunks, not the weights.
   */
  backlogged: boolean;
  /** Seconds from B's first send until the window began (waiting for the backlogs). */
  rampSeconds: number;
  windowSeconds: number;
  sendsInWindow: { a: number; b: number };
  shareA: number | null;
  shareB: number | null;
  /** Each campaign's accepted sends per second in the window, over R (both together: at most the dispatch share, 80 %). */
  ofRate: { a: number | null; b: number | null; both: number | null };
  /** A's share from B's first send to the window's end, the ramp included. */
  shareASinceBStarted: number | null;
  /** What `status` of A said at each alert while both sent: its "sharing the app limit with …" line, or "not sharing". */
  operatorViews: Record<string, number>;
  alertAcceptedMs: number[];
}

export interface FairnessRun {
  rate: number;
  dispatchPerSecond: number | null;
  recipientsPerSend: number;
  chunksInFlight: number;
  staggerMs: number;
  pairs: FairnessPair[];
  /** Client call → the sandbox accepted the alert's send request, over every pair's alerts. */
  alertAcceptedMs: Percentiles;
  /** Client call → the receipt back in the client (also waits for the alert workflow to complete). */
  alertRoundTripMs: Percentiles;
}

/** Recipients per send: small, so a campaign's sends are many and its share is counted in requests. */
const RECIPIENTS_PER_SEND = 10;
/**
 * Each campaign keeps this many chunks waiting to send, so both always have sends queued: on a
 * busy machine the campaign workflow may stall for seconds, and the queue must not run dry meanwhile.
 */
const CHUNKS_IN_FLIGHT = 30;
const ALERT_PPNUM = '12300000001';
const FIRST_PPNUM = 45_900_000_000;

export async function runFairness(options: FairnessOptions): Promise<FairnessRun> {
  const rateText = String(options.rate);
  const stack = await startStack({
    dir: join(options.dir, 'fairness'),
    sandboxFlags: { 'outcome-mix': '100/0/0/0/0', 'rate-limit-rps': rateText, 'rate-limit-burst': rateText, 'monthly-quota': 'off' },
    env: { SEND_RATE_PER_SECOND: rateText },
    server: options.server,
  });
  try {
    const pairs: FairnessPair[] = [];
    const roundTrips: number[] = [];
    for (const [index, weights] of options.weights.entries()) pairs.push(await runPair(stack, options, index, weights, roundTrips));
    // The worker prints what it dispatches the send queue at ("dispatched at 1.6/s") when it starts:
    // read from its whole log, as the lines it prints while sending can push it out of any tail.
    const dispatch = /dispatched at ([\d.]+)\/s/.exec(readFileSync(stack.workers[0]!.spec.logFile, 'utf8'))?.[1];
    return {
      rate: options.rate,
      dispatchPerSecond: dispatch === undefined ? null : Number(dispatch),
      recipientsPerSend: RECIPIENTS_PER_SEND,
      chunksInFlight: CHUNKS_IN_FLIGHT,
      staggerMs: options.staggerMs,
      pairs,
      alertAcceptedMs: percentiles(pairs.flatMap((pair) => pair.alertAcceptedMs)),
      alertRoundTripMs: percentiles(roundTrips),
    };
  } finally {
    await stack.stop();
  }
}

async function runPair(stack: Stack, options: FairnessOptions, index: number, weights: [number, number], roundTrips: number[]): Promise<FairnessPair> {
  const { say } = options;
  // More than either could send before the window ends: neither runs out while both are measured.
  const sends = Math.ceil((options.rate * (options.staggerMs + options.windowMs + 20_000)) / 1000);
  const recipients = sends * RECIPIENTS_PER_SEND;
  const campaign = (name: 'a' | 'b', weight: number) => {
    const firstPpnum = FIRST_PPNUM + (index * 2 + (name === 'a' ? 0 : 1)) * 1_000_000;
    const file = join(stack.env.RECIPIENT_FILE_ROOTS!, `fairness-${index}-${name}.csv`);
    writeRecipientsFile(file, recipients, firstPpnum);
    const spec: CampaignSpec = {
      campaignId: `bench-fairness-${index + 1}-${name}`,
      template: BENCH_TEMPLATE,
      recipients: { file, format: 'csv' },
      consentWindow: '1m',
      weight,
      limits: { chunkSize: RECIPIENTS_PER_SEND, chunksInFlight: CHUNKS_IN_FLIGHT },
    };
    return { spec, firstPpnum };
  };
  const [a, b] = [campaign('a', weights[0]), campaign('b', weights[1])];
  say(`fairness ${weights[0]}:${weights[1]}: ${a.spec.campaignId} now, ${b.spec.campaignId} in ${options.staggerMs / 1000} s, measured for ${options.windowMs / 1000} s once both have sends queued, then stopped; app limit ${options.rate}/s`);

  await stack.campaigns.startCampaign(a.spec);
  await sleep(options.staggerMs);
  await stack.campaigns.startCampaign(b.spec);
  const firstOfB = await withTimeout(firstSend(stack, b.firstPpnum, recipients), 120_000, `${b.spec.campaignId} sent nothing in 2 minutes`);
  const backlogged = await bothBacklogged(stack, [a.spec.campaignId, b.spec.campaignId], firstOfB + options.backlogWaitMs);
  const windowStart = Date.now();
  const windowEnd = windowStart + options.windowMs;
  say(`  ${backlogged ? 'both keep their chunks queued' : 'NOT both backlogged (the workers start chunks slower than the queue sends them)'} ${((windowStart - firstOfB) / 1000).toFixed(1)} s after B's first send: measuring ${options.windowMs / 1000} s`);

  // While both send: alerts at a steady pace, and after each a look at what `status` of A says.
  const alerts: { startedAt: number; sendRequestId: string }[] = [];
  const operatorViews: Record<string, number> = {};
  while (Date.now() < windowEnd - options.alertEveryMs / 2) {
    const startedAt = Date.now();
    const receipt = await stack.campaigns.alerts.send({ ppnums: [ALERT_PPNUM], text: `bench alert ${alerts.length + 1}` });
    roundTrips.push(Date.now() - startedAt);
    alerts.push({ startedAt, sendRequestId: receipt.sendRequestId });
    const report = await stack.campaigns.status(a.spec.campaignId);
    const view = report.sharingWith?.length ? sharingText(report.sharingWith) : 'not sharing';
    operatorViews[view] = (operatorViews[view] ?? 0) + 1;
    await sleep(Math.max(0, Math.min(windowEnd, startedAt + options.alertEveryMs) - Date.now()));
  }
  await sleep(Math.max(0, windowEnd - Date.now()));
  // Stopped, not cancelled: a cancel lets every send already queued go out first (a minute of them), and only the ledger counts here.
  for (const { spec } of [a, b]) await terminateCampaign(stack, spec.campaignId);

  const requests = await stack.inspector.sendRequests();
  const byId = new Map(requests.map((r) => [r.id, r]));
  const sendsOf = (firstPpnum: number, from: number) => requests.filter((r) => ownedBy(r, firstPpnum, recipients) && acceptedAt(r) >= from && acceptedAt(r) < windowEnd).length;
  const [inA, inB] = [sendsOf(a.firstPpnum, windowStart), sendsOf(b.firstPpnum, windowStart)];
  const [sinceA, sinceB] = [sendsOf(a.firstPpnum, firstOfB), sendsOf(b.firstPpnum, firstOfB)];
  const seconds = options.windowMs / 1000;
  const ofRate = (n: number) => n / seconds / options.rate;
  const pair: FairnessPair = {
    weights,
    expectedShareA: weights[0] / (weights[0] + weights[1]),
    backlogged,
    rampSeconds: (windowStart - firstOfB) / 1000,
    windowSeconds: seconds,
    sendsInWindow: { a: inA, b: inB },
    shareA: inA + inB > 0 ? inA / (inA + inB) : null,
    shareB: inA + inB > 0 ? inB / (inA + inB) : null,
    ofRate: { a: ofRate(inA), b: ofRate(inB), both: ofRate(inA + inB) },
    shareASinceBStarted: sinceA + sinceB > 0 ? sinceA / (sinceA + sinceB) : null,
    operatorViews,
    alertAcceptedMs: alerts.map((alert) => acceptedAt(byId.get(alert.sendRequestId)!) - alert.startedAt),
  };
  say(`  ${alerts.length} alerts sent meanwhile; while both sent (${seconds} s): A ${pct(pair.shareA)}, B ${pct(pair.shareB)} of ${inA + inB} sends (expected A ${pct(pair.expectedShareA)}); alerts accepted in ${pair.alertAcceptedMs.join(', ')} ms`);
  return pair;
}

/** Ends the campaign workflow and its running chunks at once (the bench's own clean-up; a user cancels). */
async function terminateCampaign(stack: Stack, campaignId: string): Promise<void> {
  const reason = 'bench: fairness window over';
  await stack.client.workflow.getHandle(campaignWorkflowId(campaignId)).terminate(reason);
  for await (const info of stack.client.workflow.list({ query: runningChunksQuery(campaignId) })) {
    await stack.client.workflow.getHandle(info.workflowId).terminate(reason).catch(() => undefined); // it may have just finished
  }
}

/** Waits until both campaigns have at least 80 % of their chunks in flight (started, not sent: queued), or `until`. */
async function bothBacklogged(stack: Stack, campaignIds: string[], until: number): Promise<boolean> {
  for (;;) {
    // A query can fail for a moment (the campaign's first task not yet done, a busy worker): that sample only.
    const progress = await Promise.all(campaignIds.map((id) => stack.campaigns.getProgress(id).catch(() => undefined)));
    if (progress.every((p) => p !== undefined && p.inFlight >= CHUNKS_IN_FLIGHT * 0.8)) return true;
    if (Date.now() >= until) return false;
    await sleep(500);
  }
}

/** When the sandbox accepted the first send of the campaign whose recipients start at `firstPpnum`. */
async function firstSend(stack: Stack, firstPpnum: number, count: number): Promise<number> {
  for (;;) {
    const first = (await stack.inspector.sendRequests()).find((r) => ownedBy(r, firstPpnum, count));
    if (first) return acceptedAt(first);
    await sleep(200);
  }
}

function ownedBy(request: SendRequestEntry, firstPpnum: number, count: number): boolean {
  const ppnum = Number(request.ppnums[0]);
  return ppnum >= firstPpnum && ppnum < firstPpnum + count;
}

function acceptedAt(request: SendRequestEntry): number {
  return Date.parse(request.createdAt ?? '');
}

function pct(share: number | null): string {
  return share === null ? '—' : `${(share * 100).toFixed(1)} %`;
}
