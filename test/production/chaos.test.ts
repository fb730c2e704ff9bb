// The fault campaign (`npm run chaos`) on the production topology, as a user runs it: its own real
// Temporal server on PostgreSQL, two workers and two listeners each in a working directory of its
// own (nothing shared on disk), and 20,000 recipients that every worker reads from where it is:
// over http(s) from nginx, or from a PostgreSQL table. A worker and a listener are SIGKILLed while
// the campaign sends (and, in the URL run, the Temporal server restarts); every check of the
// chaos run must pass: nobody twice, nobody lost, outcomes as the API's ledger says, fallbacks once
// each, the rate limit held across both workers, no secret in the databases or the logs.
import { describe, expect, it } from 'vitest';
import { failedChecks, runChaos } from '../support/chaos-run';

const RECIPIENTS = 20_000;

/** Every kind in --kinds exactly once (--short), 8-20 s into the campaign: after planning, before 200 chunks at 10/s are all sent. */
const TOPOLOGY = ['--short', '--server', 'production', '--workers', '2', '--listeners', '2', '--recipients', String(RECIPIENTS), '--rate', '10', '--horizon', '20'];

describe.each([
  { source: 'url', kinds: ['worker-kill', 'listener-kill', 'temporal-restart'], seed: 41 }, // faults at 10.4, 12.9 and 17.1 s
  { source: 'postgres', kinds: ['worker-kill', 'listener-kill'], seed: 42 }, // faults at 9.2 and 12.2 s
])('a campaign of 20,000 from $source on the production topology', ({ source, kinds, seed }) => {
  it(`ends exact through ${kinds.join(', ')}`, async () => {
    const { code, report } = await runChaos([...TOPOLOGY, '--source', source, '--kinds', kinds.join(','), '--seed', String(seed), '--out', `test-results/production/chaos-${source}.json`]);
    expect(failedChecks(report)).toEqual([]);
    expect(code).toBe(0);
    expect(report.topology).toEqual({ server: 'production', workers: 2, listeners: 2, source });
    expect(report.result).toMatchObject({ status: 'completed', total: RECIPIENTS });
    expect(report.checks.map((c) => c.name)).toContain('nobody messaged twice');
    expect(report.faults.map((f) => f.kind).sort()).toEqual([...kinds].sort());
    // The kills hit a campaign that was still sending.
    for (const kill of report.faults.filter((f) => f.kind.endsWith('-kill'))) {
      expect(kill.campaign, `${kill.kind}: ${kill.detail}`).toMatchObject({ status: 'running' });
      expect(kill.campaign!.chunksSent, `${kill.kind}: ${kill.detail}`).toBeLessThan(kill.campaign!.chunksTotal);
    }
  }, 900_000);
});
