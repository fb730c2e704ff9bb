// `npm run bench -- …` and `npm run chaos -- …` as a user runs them, in a child process: the exit
// code and what the script printed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/<name>.ts with `args` from the repository's root. */
export async function runScript(name: 'bench' | 'chaos', args: string[]): Promise<ScriptRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${name}.ts`, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

export const runBench = (args: string[]): Promise<ScriptRun> => runScript('bench', args);

/** The JSON report `--json` printed, or an error that shows what the run printed instead. */
export function benchReport(run: ScriptRun): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    return JSON.parse(run.stdout) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  } catch {
    throw new Error(`bench printed no JSON report (exit ${run.code}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-3000)}`);
  }
}
