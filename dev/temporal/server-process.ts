// A Temporal server binary (the CLI's dev server, or the production server) as a child process:
// its output appended to a log file (or kept for error messages), waited for until it is usable,
// stopped gently. Shared by dev-server.ts and production-server.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/names';

export interface ServerProcess {
  /** For messages, e.g. "Temporal dev server (/path/to/temporal)". */
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  /** How it ended ("exited with code 1", "failed to start: …"), while it runs undefined. */
  exitInfo(): string | undefined;
  /** The last lines it printed, for error messages. */
  outputTail(): string;
}

const STOP_GRACE_MS = 10_000;

export function spawnServer(name: string, binary: string, args: string[], logFile?: string): ServerProcess {
  const logFd = logFile ? openSync(logFile, 'a') : undefined;
  const child = spawn(binary, args, { stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'] });
  if (logFd !== undefined) closeSync(logFd); // the child has its own copy

  const tail: string[] = [];
  let firstFailure: string | undefined;
  const keep = (chunk: Buffer) => {
    const lines = chunk.toString().split('\n').filter(Boolean);
    firstFailure ??= lines.find(isFailureLine);
    tail.push(...lines);
    tail.splice(0, Math.max(0, tail.length - 40));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const outputTail = () => (logFile ? fileTail(logFile) : withFailureFirst(firstFailure, tail));

  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = `exited with ${signal ?? `code ${code}`}`;
      resolve();
    });
    child.once('error', (err) => {
      exitInfo = `failed to start: ${err.message}`;
      resolve();
    });
  });
  return { name, child, exited, exitInfo: () => exitInfo, outputTail };
}

/** The server exited before it was usable (its message holds the reason and the server's last lines). */
export class ServerExitedError extends Error {}

/** Starts tried before a server that keeps exiting while it starts is reported. */
const START_ATTEMPTS = 3;

/**
 * Runs `start` again, up to START_ATTEMPTS times, while the server exits before it is usable: the
 * free ports it picks (and those the server picks for its own services) can be taken by another
 * process in between, as when stacks start side by side. `start` must pick fresh ports each time.
 */
export async function startRetryingExits<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof ServerExitedError) || attempt >= START_ATTEMPTS) throw err;
      console.warn(`${err.message.split('\n').slice(0, 2).join(': ')}; starting it again (attempt ${attempt + 1} of ${START_ATTEMPTS})`);
    }
  }
}

/** Polls `probe` until it holds; fails at once, with the server's last lines, if the server exits. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, server: ServerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = server.exitInfo();
    if (exit !== undefined) throw new ServerExitedError(`${server.name} ${exit} while waiting for ${what}\n${server.outputTail()}`);
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${server.name}: timed out after ${timeoutMs} ms waiting for ${what}\n${server.outputTail()}`);
    await sleep(200);
  }
}

/** SIGTERM, then SIGKILL if it has not exited after a grace period. */
export async function stopServer(server: ServerProcess): Promise<void> {
  const { child, exited } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** Runs `use` on a fresh client connection to `address`, closing it after. */
export async function withConnection<T>(address: string, use: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    return await use(connection);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** The frontend answers and our search attributes are registered in `namespace`. */
export function searchAttributesRegistered(address: string, namespace: string): Promise<boolean> {
  return withConnection(address, async (connection) => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return Object.keys(SEARCH_ATTRIBUTES).every((name) => customAttributes?.[name] !== undefined);
  }).catch(() => false);
}

function fileTail(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    return withFailureFirst(lines.find(isFailureLine), lines.slice(-10).map((line) => line.slice(0, 400)));
  } catch {
    return `(nothing in ${file})`;
  }
}

/** A line that says why a server stopped: a Go panic or fatal error, or a log line at ERROR or worse. */
function isFailureLine(line: string): boolean {
  return /^(panic:|fatal error:)|level=(ERROR|FATAL|DPANIC|PANIC)|"level":"(error|fatal|dpanic|panic)"/.test(line);
}

/** The last lines, led by the first failure line when they do not hold it (a panic's goroutine dump pushes its reason out of any tail). */
function withFailureFirst(failure: string | undefined, tail: string[]): string {
  return (failure === undefined || tail.includes(failure) ? tail : [failure.slice(0, 400), '…', ...tail]).join('\n');
}
