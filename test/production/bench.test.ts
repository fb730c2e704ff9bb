// `npm run bench -- --server production` as a user runs it, tiny (--quick): the same modes on the
// production topology, the real Temporal server on PostgreSQL. Checks that every figure is there,
// Temporal's counts included (read from the production server's own metrics), and that the runs
// really happened; never how fast anything was.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { benchReport, runBench } from '../support/script-run';

const outDir = mkdtempSync(join(tmpdir(), 'bench-production-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const number = expect.any(Number);

describe('npm run bench -- --server production', () => {
  it('runs the rate-limited and no-limit modes on the real server on PostgreSQL, with every figure', async () => {
    const run = await runBench(['--quick', '--server', 'production', '--only', 'rate-limited,no-limit', '--json', '--out', join(outDir, 'bench.json')]);
    const report = benchReport(run);
    expect(report.error, run.stderr.slice(-3000)).toBeUndefined();
    expect(run.code).toBe(0);
    expect(report.flags.server).toBe('production');
    for (const mode of ['rateLimited', 'noLimit'] as const) {
      const orchestrator = report[mode].orchestrator;
      expect(orchestrator.result.counts.delivered, mode).toBe(6000);
      expect(orchestrator.send.requests, mode).toBe(6);
      // Temporal's CPU is the server's and its PostgreSQL's; the server's metrics give its counts as the dev server's do.
      expect(orchestrator.cpu.seconds.temporal, mode).toBeGreaterThan(0);
      expect(orchestrator.temporalDatabaseCpuSeconds, mode).toBeGreaterThan(0);
      expect(orchestrator.temporalDatabaseCpuSeconds, mode).toBeLessThan(orchestrator.cpu.seconds.temporal);
      expect(orchestrator.cpuMsPer1000OverIdleByProcess, mode).toMatchObject({ temporal: number, worker: number, listener: number, sandbox: number });
      expect(orchestrator.temporalWork, mode).toMatchObject({ workflowTasks: number, activityTasks: number, signals: number, queries: number, historyWrites: number });
      expect(orchestrator.temporalWork.activityTasks, mode).toBeGreaterThanOrEqual(1);
      expect(orchestrator.temporalWork.historyWrites, mode).toBeGreaterThan(orchestrator.temporalWork.workflowTasks);
    }
    const text = await runBench(['--quick', '--server', 'production', '--only', 'no-limit', '--out', join(outDir, 'text.json')]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Temporal: the production server on PostgreSQL');
    expect(text.stdout).toMatch(/PostgreSQL's part of Temporal's CPU: no limit, all delivered \d+ %/);
    // Temporal's CPU per workflow task: the run's Temporal CPU over idle divided by the server's own task count.
    const lines = text.stdout.split('\n');
    const header = lines.findIndex((line) => line.includes('Temporal CPU ms per workflow task'));
    expect(header).toBeGreaterThan(0);
    const row = lines.slice(header).find((line) => line.startsWith('| no limit, all delivered'))!;
    const { orchestrator } = JSON.parse(readFileSync(join(outDir, 'text.json'), 'utf8')).noLimit;
    const perTask = Number(row.split('|').at(-2)!.trim());
    expect(perTask).toBeCloseTo(orchestrator.cpuMsPer1000OverIdleByProcess.temporal / orchestrator.temporalWork.workflowTasks, 0);
  }, 900_000);
});
