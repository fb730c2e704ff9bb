// `npm run bench -- …` as a user runs it, in a child process: its exit code and what it printed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export async function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** The JSON report `--json` printed, or an error that shows what the run printed instead. */
export function benchReport(run: { code: number | null; stdout: string; stderr: string }): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    return JSON.parse(run.stdout) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  } catch {
    throw new Error(`bench printed no JSON report (exit ${run.code}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-3000)}`);
  }
}
