// `npm run chaos -- --json …` as a user runs it, in a child process: its exit code and its report.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

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
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts', '--json', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  try {
    return { code, report: JSON.parse(stdout) as ChaosReport };
  } catch {
    throw new Error(`chaos printed no JSON report (exit ${code}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
  }
}

/** "name: detail" of every failed check (an empty list when all passed). */
export const failedChecks = (report: ChaosReport) => report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? ''}`);
