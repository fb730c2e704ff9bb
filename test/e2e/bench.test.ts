// `npm run bench` as a user runs it, tiny (--quick): its own stacks of real processes, the baseline on
// its own sandbox. Checks that the JSON report holds every figure with a sane type and that the
// runs really happened (all recipients accepted, histories read) — never how fast anything was.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SENDS_PER_CHUNK } from '../../src/campaign/spec';
import { benchReport, runBench as bench } from '../support/script-run';

const outDir = mkdtempSync(join(tmpdir(), 'bench-test-'));

const number = expect.any(Number);
/** The quick run's 6,000 recipients in chunks of the spec's default size (requests of 1,000). */
const CHUNKS = Math.ceil(6000 / (1000 * DEFAULT_SENDS_PER_CHUNK));
const percentiles = { samples: number, p50: number, p99: number, max: number };
const sendPhase = {
  requests: number,
  recipients: number,
  seconds: number,
  requestsPerSecond: number,
  recipientsPerSecond: number,
  chunkToAcceptedMs: percentiles,
  resourceExhausted: number,
  createSendRequestCalls: number,
};
const orchestratorRun = {
  campaignSeconds: number,
  send: sendPhase,
  listenerLatencyMs: percentiles,
  cost: expect.objectContaining({ events: number, bytes: number, eventsPer1000Recipients: number, bytesPer1000Recipients: number, largestShareOfLimit: { events: number, bytes: number } }),
  workerPeakRssBytes: number,
  listenerPeakRssBytes: number,
  machine: { busyShare: number, stealShare: number },
};

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('npm run bench', () => {
  it('--quick --json: a report with every figure, also written to --out', async () => {
    const out = join(outDir, 'bench.json');
    const run = await bench(['--quick', '--repeat', '2', '--json', '--out', out]);
    const { code, stderr } = run;
    const report = benchReport(run);
    expect(report.error).toBeUndefined();
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report);
    expect(stderr).toContain('baseline'); // progress lines go to stderr with --json
    expect(report.flags.server).toBe('dev'); // the embedded default
    expect(report.noLimit.orchestrator.temporalDatabaseCpuSeconds).toBeUndefined(); // SQLite is inside the dev server's own CPU

    for (const mode of ['rateLimited', 'noLimit'] as const) {
      const s = report[mode];
      expect(s, mode).toMatchObject({ recipients: 6000, orchestrator: orchestratorRun, baseline: sendPhase, orchestratorToBaseline: number });
      // Every recipient was accepted exactly once by each side, in requests of 1,000 (the orchestrator's chunks send several).
      expect(s.orchestrator.send.recipients).toBe(6000);
      expect(s.baseline.recipients).toBe(6000);
      expect(s.orchestrator.send.requests).toBe(6);
      expect(s.orchestrator.send.chunkToAcceptedMs.samples).toBe(CHUNKS); // a chunk's start to its first request's acceptance
      expect(s.baseline.chunkToAcceptedMs.samples).toBe(6);
      expect(s.orchestrator.result.counts.delivered).toBe(6000);
      expect(s.orchestrator.listenerLatencyMs.samples).toBe(6000);
      expect(s.orchestrator.cost.workflows).toBeGreaterThanOrEqual(1 + CHUNKS); // the campaign and its chunks
      expect(s.orchestrator.workerPeakRssBytes).toBeGreaterThan(0);
      // Temporal's own counts: every chunk's send was an activity task, and its workflow tasks wrote history.
      expect(s.orchestrator.temporalWork).toMatchObject({ workflowTasks: number, activityTasks: number, signals: number, queries: number, historyWrites: number });
      expect(s.orchestrator.temporalWork.activityTasks).toBeGreaterThanOrEqual(1);
      expect(s.orchestrator.temporalWork.historyWrites).toBeGreaterThan(s.orchestrator.temporalWork.workflowTasks);
    }
    expect(report.rateLimited.rate).toBe(2);
    expect(report.rateLimited.orchestrator.send.ceilingRecipientsPerSecond).toBe(2000);
    expect(report.rateLimited.orchestrator.send.ratioToCeiling).toEqual(number);
    expect(report.noLimit.rate).toBeNull();
    // --repeat 2: both runs' CPU figures of each mode; the report's run and the target are the higher (never the flattering one).
    for (const [mode, runs, label] of [['noLimit', 'noLimitRuns', 'no-limit'], ['rateLimited', 'rateLimitedRuns', 'rate-limited']] as const) {
      const cpuRuns = report[runs].cpuMsPer1000RecipientsOverIdle as number[];
      expect(cpuRuns).toHaveLength(2);
      expect(report[runs]).toMatchObject({ median: Math.max(...cpuRuns), min: Math.min(...cpuRuns), max: Math.max(...cpuRuns) });
      expect(report[mode].orchestrator.cpuMsPer1000RecipientsOverIdle).toBe(Math.max(...cpuRuns));
      expect(report.targets.find((t: { name: string }) => t.name === `CPU ms per 1,000 recipients over idle, ${label} (all delivered)`).value).toBe(Math.max(...cpuRuns));
    }
    expect(report.noLimit.orchestrator.send.ratioToCeiling).toBeNull();

    expect(report.consentHeavy).toMatchObject({ recipients: 2000, orchestrator: orchestratorRun });
    expect(report.consentHeavy.orchestrator.result.counts.denied).toBeGreaterThan(0);

    // The first campaign: every recipient asked, decisions over a minute, the listener scaled with it.
    const first = report.firstCampaign;
    expect(first).toMatchObject({ recipients: 2000, windowMs: 60_000, orchestrator: { ...orchestratorRun, cpuMsPer1000Recipients: number, cpuMsPer1000RecipientsOverIdle: number } });
    expect(first.orchestrator.result.consent).toMatchObject({ asked: 2000, alreadyConsented: 0 });
    const figures = first.orchestrator.firstCampaign;
    expect(figures).toMatchObject({
      scale: 60_000 / 86_400_000,
      chunks: Math.ceil(2000 / (1000 * DEFAULT_SENDS_PER_CHUNK)),
      largestChunkRunEvents: number,
      signalsPerChunk: { average: number, max: number },
      decisionToAppliedMs: { granted: percentiles, denied: percentiles },
      denialToFallbackMs: percentiles,
      realTimeMs: { grantedApplied: { p50: number, p99: number }, deniedApplied: { p50: number, p99: number }, denialToFallback: { p50: number, p99: number } },
    });
    // Every denial was measured to its fallback; each grant and denial to where its chunk applied it.
    expect(figures.denialToFallbackMs.samples).toBe(first.orchestrator.result.counts.denied);
    expect(figures.decisionToAppliedMs.denied.samples).toBe(first.orchestrator.result.counts.denied);
    expect(figures.decisionToAppliedMs.granted.samples).toBe(first.orchestrator.result.consent.granted);
    expect(figures.signalsPerChunk.max).toBeGreaterThan(1);
    // The real-day bound is at least the real hold (30 s for a denial).
    expect(figures.realTimeMs.denialToFallback.p50).toBeGreaterThanOrEqual(30_000);

    // Two campaigns on one app limit (quick: weights 3:1 only), alerts while both sent.
    const fairness = report.fairness;
    expect(fairness).toMatchObject({ rate: 2, dispatchPerSecond: 1.6, alertAcceptedMs: percentiles, alertRoundTripMs: percentiles });
    expect(fairness.pairs).toHaveLength(1);
    const pair = fairness.pairs[0];
    expect(pair).toMatchObject({ weights: [3, 1], expectedShareA: 0.75, backlogged: expect.any(Boolean), windowSeconds: 8, shareA: number, shareB: number, ofRate: { a: number, b: number, both: number } });
    expect(pair.sendsInWindow.a + pair.sendsInWindow.b).toBeGreaterThan(0);
    expect(pair.shareA + pair.shareB).toBeCloseTo(1);
    expect(pair.alertAcceptedMs.length).toBeGreaterThan(0);
    expect(fairness.alertAcceptedMs.samples).toBe(pair.alertAcceptedMs.length);
    // What `status` said while both sent: the operator view was asked at every alert.
    expect(Object.values(pair.operatorViews as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(pair.alertAcceptedMs.length);

    expect(report.targets.map((t: { name: string }) => t.name)).toHaveLength(18);
    // Every campaign the quick run measured completed (the all-delivered ones with everyone delivered): its figures measure a working stack.
    const completion = report.targets.filter((t: { name: string }) => / campaign completed/.test(t.name));
    expect(completion.map((t: { name: string }) => t.name)).toEqual([
      'rate-limited: share of recipients delivered, campaign completed',
      'no-limit: share of recipients delivered, campaign completed',
      'consent-heavy: campaign completed (1 = yes)',
      'first campaign: campaign completed (1 = yes)',
    ]);
    for (const target of completion) expect(target, target.name).toMatchObject({ value: 1, pass: true });
    for (const target of report.targets) expect(target).toMatchObject({ name: expect.any(String), target: expect.any(String), value: number, pass: expect.any(Boolean) });
  }, 900_000);

  it('--only chunk-cost: the same campaign in chunks of 1,000 and of 500, and what one chunk workflow costs', async () => {
    const out = join(outDir, 'chunk-cost.json');
    const run = await bench(['--quick', '--only', 'chunk-cost', '--json', '--out', out]);
    const { code, stderr } = run;
    const report = benchReport(run);
    expect(report.error, stderr.slice(-3000)).toBeUndefined();
    expect(code).toBe(0);
    expect(report.noLimit).toBeUndefined(); // only the mode asked for
    const cost = report.chunkCost;
    const byProcess = { temporal: number, worker: number, listener: number, sandbox: number, total: number };
    expect(cost).toMatchObject({ recipients: 6000, bySize: { '1000': byProcess, '500': byProcess }, perChunkMs: byProcess, per1000RecipientsMs: byProcess });
    // The chunk size took effect: 6 send requests, then 12.
    expect(cost.sendRequests).toEqual({ '1000': 6, '500': 12 });
    expect(cost.runs['1000']).toEqual([cost.bySize['1000'].total]);
    expect(cost.runs['500']).toEqual([cost.bySize['500'].total]);
    // Each figure is the split of the two runs: f = c(500) − c(1000), r = c(1000) − f.
    for (const k of ['temporal', 'worker', 'listener', 'sandbox', 'total']) {
      expect(cost.perChunkMs[k]).toBeCloseTo(cost.bySize['500'][k] - cost.bySize['1000'][k], 6);
      expect(cost.per1000RecipientsMs[k]).toBeCloseTo(2 * cost.bySize['1000'][k] - cost.bySize['500'][k], 6);
    }
    expect(cost.bySize['1000'].total).toBeGreaterThan(0);
    expect(report.targets).toEqual([]); // a diagnosis, no target
    const text = await bench(['--quick', '--only', 'chunk-cost', '--out', join(outDir, 'chunk-cost-text.json')]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('per chunk workflow, fixed');
  }, 600_000);

  it('exits 2 on a bad flag, with the usage', async () => {
    const { code, stderr } = await bench(['--rate', 'fast']);
    expect(code).toBe(2);
    expect(stderr).toContain('usage: npm run bench');
    const server = await bench(['--server', 'staging']);
    expect(server.code).toBe(2);
    expect(server.stderr).toContain('--server: expected dev or production, got "staging"');
    const partitions = await bench(['--server', 'production', '--default-partitions']);
    expect(partitions.code).toBe(2);
    expect(partitions.stderr).toContain('--default-partitions: only with --server dev');
  }, 60_000);
});
