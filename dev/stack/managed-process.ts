// One of our own processes (sandbox, worker, listener) run as a real child process, so the bench
// and the fault campaign can SIGKILL it, start it again with the same settings, and read its
// memory from /proc. Output goes to a log file; start() waits for the line that says it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ProcessSpec {
  name: string;
  /** Script path, absolute or relative to the project root: TypeScript runs with `node --import tsx`, JavaScript (a build) with plain node. */
  script: string;
  /** Node flags before the script (e.g. a heap cap). */
  nodeArgs?: string[];
  args?: string[];
  env: NodeJS.ProcessEnv;
  /** Text on stdout/stderr that means the process is ready. */
  readyText: string;
  logFile: string;
  readyTimeoutMs?: number;
  /** Working directory (default the project root): a private one shows the process needs no shared files. */
  cwd?: string;
}

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private output = '';
  private sampler: NodeJS.Timeout | undefined;
  /** Highest resident set size seen across every life of this process, in bytes. */
  peakRssBytes = 0;
  /** How many times the process was started. */
  starts = 0;

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    const log = openSync(this.spec.logFile, 'a');
    let logOpen = true;
    this.output = '';
    // From another directory, `--import tsx` and the script are named by absolute location.
    const script = resolve(ROOT, this.spec.script);
    const loader = script.endsWith('.ts') ? ['--import', this.spec.cwd ? import.meta.resolve('tsx') : 'tsx'] : [];
    // STACK_NODE_ARGS: node flags for every process a stack starts, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (NODE_OPTIONS refuses those).
    const child = spawn(process.execPath, [...(this.spec.nodeArgs ?? []), ...(process.env.STACK_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...loader, script, ...(this.spec.args ?? [])], {
      cwd: this.spec.cwd ?? ROOT,
      env: this.spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    const write = (data: Buffer) => {
      this.output = (this.output + data.toString()).slice(-20_000);
      if (logOpen) writeSync(log, data);
    };
    child.stdout?.on('data', write);
    child.stderr?.on('data', write);
    child.once('close', () => {
      logOpen = false;
      closeSync(log);
    });
    this.sampler = setInterval(() => this.sampleRss(), 250);
    child.once('exit', () => clearInterval(this.sampler));

    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 90_000);
    while (!this.output.includes(this.spec.readyText)) {
      if (!this.running) throw new Error(`${this.spec.name} exited before it was ready:\n${this.output.slice(-3000)}`);
      if (Date.now() > deadline) {
        await this.kill('SIGKILL');
        throw new Error(`${this.spec.name} was not ready after ${this.spec.readyTimeoutMs ?? 90_000} ms:\n${this.output.slice(-3000)}`);
      }
      await sleep(100);
    }
  }

  /** Sends the signal and waits for the exit (SIGKILL after 15 s if a gentler signal is ignored). */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const force = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    if (force) clearTimeout(force);
  }

  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill(signal);
    await this.start();
  }

  /** The last lines the process printed (for error messages). */
  tail(chars = 3000): string {
    return this.output.slice(-chars);
  }

  /** Reads VmRSS of the live process (Linux /proc); keeps the maximum. */
  sampleRss(): number {
    if (!this.running || this.pid === undefined) return 0;
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      this.peakRssBytes = Math.max(this.peakRssBytes, kb * 1024);
      return kb * 1024;
    } catch {
      return 0;
    }
  }
}
