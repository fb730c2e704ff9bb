// Resilience, end to end: `npm run chaos` as a user runs it (its own Temporal dev server, sandbox,
// worker and listener as real processes, a real webhook receiver). First a clean run of the campaign
// gives its result; then the same campaign under each fault alone must end with the very same
// result, checked against the sandbox's delivery ledger; then the fixed-seed short run throws every
// fault kind at one campaign.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../dev/chaos/faults';
import { failedChecks, runChaos } from '../support/chaos-run';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A small campaign sent slowly (6 chunks of 100 at 1 request/s), so a fault in the first 5 seconds
 * lands mid-send. (1,200 recipients at 2/s took the same time and a third more CPU.)
 */
const SINGLE_FAULT_RUN = ['--recipients', '600', '--rate', '1', '--horizon', '5', '--seed', '7'];

/** Every fault kind, the slowest single-fault runs first (as measured), so the last to start are quick. */
const SLOWEST = ['resource-exhausted-storm', 'bad-credentials', 'unavailable-burst', 'worker-kill', 'sandbox-restart'];
const rank = (kind: string) => (SLOWEST.includes(kind) ? SLOWEST.indexOf(kind) : SLOWEST.length);
const LONGEST_FIRST = [...FAULT_KINDS].sort((a, b) => rank(a) - rank(b));

// Every run has a stack of its own; three run at a time (the stacks project's maxConcurrency): a run
// mostly waits on its campaign's slow sends and consent window, about 0.6 of a core each. The two
// long runs start first, then the clean run the single-fault runs compare with.
describe.concurrent('npm run chaos', () => {
  /** The clean run, started once: each single-fault run compares its result with it. */
  let clean: ReturnType<typeof runChaos> | undefined;
  const cleanRun = () => (clean ??= runChaos([...SINGLE_FAULT_RUN, '--faults', '0']));

  it('the fixed-seed short run survives every fault kind in one campaign', async () => {
    const { code, report } = await runChaos(['--short', '--out', 'test-results/chaos-short.json']);
    expect(failedChecks(report)).toEqual([]);
    expect(new Set(report.faults.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    expect(code).toBe(0);
  }, 600_000);

  it('a first campaign (every recipient new, decisions spread over the window) survives every fault kind racing the decisions', async () => {
    const { code, report } = await runChaos(['--short', '--first-campaign', '--out', 'test-results/chaos-first-campaign.json']);
    expect(failedChecks(report)).toEqual([]);
    expect(report.checks.map((c) => c.name)).toContain('every recipient was asked for consent first');
    expect(new Set(report.faults.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    expect(report.result?.counts.denied).toBeGreaterThan(0);
    expect(code).toBe(0);
  }, 600_000);

  it('a clean run: every check passes without faults', async () => {
    const { code, report } = await cleanRun();
    expect(failedChecks(report)).toEqual([]);
    expect(code).toBe(0);
    expect(report.result?.status).toBe('completed');
    // The campaign covers every outcome the fallback policy cares about.
    expect(report.result?.counts.denied).toBeGreaterThan(0);
    expect(report.result?.counts.expired).toBeGreaterThan(0);
  }, 300_000);

  it.each(LONGEST_FIRST)('the same campaign survives %s alone, with the same exact result as the clean run', async (kind) => {
    const { code, report } = await runChaos([...SINGLE_FAULT_RUN, '--faults', '1', '--kinds', kind, '--out', `test-results/chaos-7-${kind}.json`]);
    expect(failedChecks(report)).toEqual([]);
    expect(report.faults.map((f) => f.kind)).toEqual([kind]);
    expect(code).toBe(0);
    const baseline = (await cleanRun()).report.result?.counts;
    expect(baseline).toBeDefined();
    expect(report.result?.counts).toEqual(baseline);
  }, 600_000);

  it('exits 2 and names the flag on bad input', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts', '--kinds', 'worker-kill,meteor-strike'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toContain('--kinds: unknown fault kind meteor-strike');
  }, 60_000);
});
