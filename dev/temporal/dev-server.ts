// Starts a local Temporal dev server (`temporal server start-dev`) with our namespace and search
// attributes registered, for tests and for people (`npm run temporal:dev`). State lives in a SQLite
// file, so restart() keeps workflows. Not for production: use docker-compose.yml or a real cluster.
//
// Reads: TEMPORAL_CLI (path of the temporal binary; otherwise scripts/temporal.sh finds or builds one).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/names';
import { freePort } from '../ports';

export interface DevServerOptions {
  /** SQLite state file. Default: a fresh file in a temp dir, removed by stop(). */
  dbFile?: string;
  /** Frontend gRPC port. Default: a random free port. */
  port?: number;
  /** Web UI port; the UI runs only when this is set or `ui` is true. */
  uiPort?: number;
  ui?: boolean;
  /** Extra dynamic config, e.g. { 'limit.historyCount.suggestContinueAsNew': 200 }, over DEV_DYNAMIC_CONFIG. Values are JSON-encoded. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Append the server's stdout/stderr here; otherwise the last lines are kept for error messages. */
  logFile?: string;
  /** Server log level (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
  /** How long to wait for the frontend to answer (default 60 s). */
  startTimeoutMs?: number;
  /** Path of the temporal CLI; default TEMPORAL_CLI or scripts/temporal.sh. */
  cliPath?: string;
}

export interface DevServer {
  /** host:port of the frontend, for TEMPORAL_ADDRESS. */
  address: string;
  /** Web UI URL, or undefined when headless. */
  uiUrl: string | undefined;
  dbFile: string;
  /** Current server process id (changes on restart). */
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL if it has not exited after a grace period. */
  stop(): Promise<void>;
  /** Stop and start again on the same ports and the same SQLite file: state survives. */
  restart(): Promise<void>;
}

/**
 * One partition per task queue. The send queue's rate limit (maxTaskQueueActivitiesPerSecond) is
 * applied per partition: with the default 4, `npm run bench` measured the send phase at 53 % of the
 * app's limit; with one, at 100 %. deploy/temporal-dynamicconfig.yaml does the same for docker-compose.
 */
export const DEV_DYNAMIC_CONFIG: Record<string, number> = { 'matching.numTaskqueueReadPartitions': 1, 'matching.numTaskqueueWritePartitions': 1 };

const HOST = '127.0.0.1';
const NAMESPACE = 'default';
const STOP_GRACE_MS = 10_000;

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = options.cliPath ?? temporalCliPath();
  const ownTempDir = options.dbFile ? undefined : mkdtempSync(join(tmpdir(), 'ppoppo-temporal-'));
  const dbFile = options.dbFile ?? join(ownTempDir as string, 'temporal.db');
  const port = options.port ?? (await freePort());
  const withUi = options.ui === true || options.uiPort !== undefined;
  const uiPort = withUi ? (options.uiPort ?? (await freePort())) : undefined;
  const address = `${HOST}:${port}`;
  const args = serverArgs({ dbFile, port, uiPort, dynamicConfig: { ...DEV_DYNAMIC_CONFIG, ...options.dynamicConfig }, logLevel: options.logLevel ?? 'warn' });

  let proc = await launch(cli, args, address, options);
  const killOnExit = () => proc.child.kill('SIGKILL'); // never leave an orphan server behind
  process.on('exit', killOnExit);

  return {
    address,
    uiUrl: uiPort === undefined ? undefined : `http://${HOST}:${uiPort}`,
    dbFile,
    get pid() {
      return proc.child.pid;
    },
    async stop() {
      process.off('exit', killOnExit);
      await terminate(proc);
      if (ownTempDir) rmSync(ownTempDir, { recursive: true, force: true });
    },
    async restart() {
      await terminate(proc);
      proc = await launch(cli, args, address, options);
    },
  };
}

function serverArgs(o: { dbFile: string; port: number; uiPort?: number; dynamicConfig?: Record<string, string | number | boolean>; logLevel: string }): string[] {
  const args = ['server', 'start-dev', '--ip', HOST, '--port', String(o.port), '--db-filename', o.dbFile, '--namespace', NAMESPACE, '--log-level', o.logLevel];
  args.push(...(o.uiPort === undefined ? ['--headless'] : ['--ui-port', String(o.uiPort)]));
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(o.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  return args;
}

interface RunningServer {
  child: ChildProcess;
  exited: Promise<void>;
  outputTail: () => string;
}

async function launch(cli: string, args: string[], address: string, options: DevServerOptions): Promise<RunningServer> {
  const logFd = options.logFile ? openSync(options.logFile, 'a') : undefined;
  const child = spawn(cli, args, { stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'] });
  if (logFd !== undefined) closeSync(logFd); // the child has its own copy

  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString().split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 40));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const outputTail = () => (options.logFile ? `see ${options.logFile}` : tail.join('\n'));

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
  const running: RunningServer = { child, exited, outputTail };

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (exitInfo === undefined) {
    if (await isReady(address)) return running;
    if (Date.now() > deadline) {
      await terminate(running);
      throw new Error(`Temporal dev server on ${address} did not become ready in time\n${outputTail()}`);
    }
    await sleep(200);
  }
  throw new Error(`Temporal dev server (${cli}) ${exitInfo}\n${outputTail()}`);
}

/** Ready = the frontend answers and our search attributes are registered in the namespace. */
async function isReady(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1_000 });
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: NAMESPACE });
    return Object.keys(SEARCH_ATTRIBUTES).every((name) => customAttributes?.[name] !== undefined);
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function terminate(server: RunningServer): Promise<void> {
  const { child, exited } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

let cachedCli: string | undefined;

/** TEMPORAL_CLI, or whatever scripts/temporal.sh finds (PATH, .tools/bin) or builds. */
export function temporalCliPath(): string {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  if (!cachedCli) {
    const script = fileURLToPath(new URL('../../scripts/temporal.sh', import.meta.url));
    cachedCli = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  }
  return cachedCli;
}
