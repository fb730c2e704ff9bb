// Starts a local Temporal dev server (`temporal server start-dev`) with our namespace and search
// attributes registered, for tests and for people (`npm run temporal:dev`). State lives in a SQLite
// file, so restart() keeps workflows. Not for production: use docker-compose.yml or a real cluster.
//
// Reads: TEMPORAL_CLI (path of the temporal binary; otherwise scripts/temporal.sh finds or builds one).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/names';
import { freePort } from '../ports';
import { searchAttributesRegistered, startRetryingExits, spawnServer, stopServer, waitUntil, type ServerProcess } from './server-process';

export interface DevServerOptions {
  /** SQLite state file. Default: a fresh file in a temp dir, removed by stop(). */
  dbFile?: string;
  /** Frontend gRPC port. Default: a random free port. */
  port?: number;
  /** Web UI port; the UI runs only when this is set or `ui` is true. */
  uiPort?: number;
  /** The Web UI decodes payloads through this codec server (`--ui-codec-endpoint`), e.g. CodecServer.uiEndpoint. */
  uiCodecEndpoint?: string;
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
  /** The server's Prometheus endpoint (the bench counts its requests and persistence writes there). */
  metricsUrl: string;
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
 * app's limit; with one, at 100 %. And fairness: campaigns share the send queue by weight.
 * deploy/temporal-dynamicconfig.yaml does the same for docker-compose.
 */
export const DEV_DYNAMIC_CONFIG: Record<string, number | boolean> = {
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
  'matching.useNewMatcher': true,
  'matching.enableFairness': true,
};

/**
 * SQLite in WAL mode, synced at checkpoints only: a killed or restarted server loses nothing (only a
 * crash of the machine may lose the last writes), and the server used about 20 % less CPU on a
 * chaos run than with SQLite's default rollback journal, which syncs every commit.
 */
const SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

const HOST = '127.0.0.1';
const NAMESPACE = 'default';

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = options.cliPath ?? temporalCliPath();
  const ownTempDir = options.dbFile ? undefined : mkdtempSync(join(tmpdir(), 'ppoppo-temporal-'));
  const dbFile = options.dbFile ?? join(ownTempDir as string, 'temporal.db');
  const withUi = options.ui === true || options.uiPort !== undefined;
  const dynamicConfig = { ...DEV_DYNAMIC_CONFIG, ...options.dynamicConfig };
  const logLevel = options.logLevel ?? 'warn';
  const started = await startRetryingExits(async () => {
    const port = options.port ?? (await freePort());
    const uiPort = withUi ? (options.uiPort ?? (await freePort())) : undefined;
    const metricsPort = await freePort();
    const args = serverArgs({ dbFile, port, uiPort, metricsPort, dynamicConfig, logLevel });
    if (uiPort !== undefined && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
    return { port, uiPort, metricsPort, args, proc: await launch(cli, args, `${HOST}:${port}`, options) };
  });
  const { uiPort, metricsPort, args } = started;
  const address = `${HOST}:${started.port}`;
  let proc = started.proc;
  const killOnExit = () => proc.child.kill('SIGKILL'); // never leave an orphan server behind
  process.on('exit', killOnExit);

  return {
    address,
    uiUrl: uiPort === undefined ? undefined : `http://${HOST}:${uiPort}`,
    metricsUrl: `http://${HOST}:${metricsPort}/metrics`,
    dbFile,
    get pid() {
      return proc.child.pid;
    },
    async stop() {
      process.off('exit', killOnExit);
      await stopServer(proc);
      if (ownTempDir) rmSync(ownTempDir, { recursive: true, force: true });
    },
    async restart() {
      await stopServer(proc);
      proc = await launch(cli, args, address, options);
    },
  };
}

function serverArgs(o: { dbFile: string; port: number; uiPort?: number; metricsPort: number; dynamicConfig?: Record<string, string | number | boolean>; logLevel: string }): string[] {
  const args = ['server', 'start-dev', '--ip', HOST, '--port', String(o.port), '--metrics-port', String(o.metricsPort), '--db-filename', o.dbFile, '--namespace', NAMESPACE, '--log-level', o.logLevel];
  args.push(...(o.uiPort === undefined ? ['--headless'] : ['--ui-port', String(o.uiPort)]));
  for (const pragma of SQLITE_PRAGMAS) args.push('--sqlite-pragma', pragma);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(o.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  return args;
}

/** Starts the server and waits until our search attributes are registered; stops it again if that fails. */
async function launch(cli: string, args: string[], address: string, options: DevServerOptions): Promise<ServerProcess> {
  const server = spawnServer(`Temporal dev server (${cli})`, cli, args, options.logFile);
  try {
    await waitUntil(`it to answer on ${address}`, () => searchAttributesRegistered(address, NAMESPACE), server, options.startTimeoutMs ?? 60_000);
    return server;
  } catch (err) {
    await stopServer(server);
    throw err;
  }
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
