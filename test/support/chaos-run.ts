// `npm run chaos -- --json …` as a user runs it, in a child process: its exit code and its report.
import { runScript } from './script-run';

/** The parts of scripts/chaos.ts's JSON report the tests read. */
export interface ChaosReport {
  seed: number;
  ok: boolean;
  topology: { server: string; workers: number; listeners: number; source: string };
  faults: { kind: string; detail: string; campaign?: { status: string; chunksSent: number; chunksTotal: number; final: number; total: number } }[];
  checks: { name: string; ok: boolean; detail?: string }[];
  result?: { status: string; total: number; counts: Record<string, number> };
}

export async function runChaos(args: string[]): Promise<{ code: number | null; report: ChaosReport }> {
  const { code, stdout, stderr } = await runScript('chaos', ['--json', ...args]);
  try {
    return { code, report: JSON.parse(stdout) as ChaosReport };
  } catch {
    throw new Error(`chaos printed no JSON report (exit ${code}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
  }
}

/** "name: detail" of every failed check (an empty list when all passed). */
export const failedChecks = (report: ChaosReport) => report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? ''}`);
