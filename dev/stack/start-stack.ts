// The whole system as separate real processes, as it runs in production: a Temporal server (the
// dev server on its own SQLite file, or the production server on PostgreSQL), the Ppoppo sandbox
// (`npm run sandbox`), N workers (`npm run worker`) and M listeners (`npm run listener`). Each can
// be killed and started again on the same ports and files. Used by the fault campaign
// (scripts/chaos.ts), the benchmark (scripts/bench.ts) and their tests. Payloads are encrypted as
// in production: with the PAYLOAD_* environment when set, otherwise with a key file made for this
// stack in its directory; workers read recipient files only from that directory.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { CampaignClient } from '../../src/client/campaigns';
import { connectDrained } from './drained-connection';
import { DEFAULT_APP } from '../../src/sandbox/options';
import { ensureKeyFile } from '../../src/temporal/codec';
import { dataConverterFromEnv } from '../../src/temporal/data-converter';
import { SandboxInspector } from '../sandbox/inspector';
import { freePort } from '../ports';
import { startDevServer, type DevServer } from '../temporal/dev-server';
import { startProductionServer, type ProductionServer } from '../temporal/production-server';
import { ManagedProcess } from './managed-process';
import { writeWorkflowBundles } from '../temporal/workflow-bundles';
import { WORKFLOW_BUNDLE_DIR_ENV } from '../../src/temporal/workflow-code';
import { BUILD_DIR_ENV, builtCommandOf } from '../../scripts/package-commands';


export interface StackOptions {
  /** Directory for the SQLite files and process logs (`<name>.log`: what it printed; `<name>.sdk.log`: its full Temporal SDK log). */
  dir: string;
  /** `npm run sandbox` flags without the dashes, e.g. { 'rate-limit-rps': '20', 'consent-window': '8s' }. */
  sandboxFlags?: Record<string, string>;
  /** Worker processes (default 1). */
  workers?: number;
  /** Listener processes (default 1); one streams at a time, the others stand by. */
  listeners?: number;
  /** `production`: the real Temporal server on PostgreSQL (dev/temporal/production-server.ts) instead of the dev server. */
  server?: TemporalServerKind;
  /** Run each worker and listener in a working directory of its own (`<dir>/<name>/`): nothing shared on disk. */
  privateWorkDirs?: boolean;
  /** Extra environment for workers and the listener (e.g. SEND_RATE_PER_SECOND, RECONCILE_SETTLE_MS). */
  env?: NodeJS.ProcessEnv;
  /** Temporal dynamic config (e.g. a low continue-as-new suggestion). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Start the Web UI too (default headless). */
  ui?: boolean;
  /** Old-space cap of each worker, as `npm run worker` sets it (default WORKER_HEAP_MB). */
  workerHeapMb?: number;
  /**
   * Run the workers and listeners built, as production does: from the build PPOPPO_BUILD_DIR names
   * (the test setup makes one), otherwise from dist/ (`npm run build` first). A restart then loads the
   * prebuilt workflow bundle and no TypeScript is compiled at start. Default: built when
   * PPOPPO_BUILD_DIR is set.
   */
  built?: boolean;
}

/**
 * The heap cap in package.json's `worker` script. Temporal sizes its workflow cache from the heap
 * limit, and Node's default (~4 GB here) let the worker's RSS climb to 698 MB on a 1,000,000-recipient
 * campaign; capped, it stayed flat around 400 MB and ran 9 % faster (`npm run bench -- --scale`).
 */
export const WORKER_HEAP_MB = 256;

/** `dev`: `temporal server start-dev` on SQLite (the embedded default); `production`: the real server on PostgreSQL. */
export const TEMPORAL_SERVER_KINDS = ['dev', 'production'] as const;
export type TemporalServerKind = (typeof TEMPORAL_SERVER_KINDS)[number];

/** A script's `--server` flag, or an error that names it. */
export function temporalServerFlag(value: string): TemporalServerKind {
  const kind = TEMPORAL_SERVER_KINDS.find((known) => known === value);
  if (!kind) throw new Error(`--server: expected ${TEMPORAL_SERVER_KINDS.join(' or ')}, got "${value}"`);
  return kind;
}

/** What the faults and the bench use of either server. */
export type TemporalServer = Pick<DevServer, 'address' | 'pid' | 'stop' | 'restart' | 'metricsUrl'> & Partial<Pick<ProductionServer, 'postgres' | 'dumpDatabases'>>;

/** The entry points of `npm run sandbox`, `npm run worker` and `npm run listener`. */
export const SANDBOX_SCRIPT = 'dev/sandbox/main.ts';
export const WORKER_SCRIPT = 'src/worker.ts';
export const LISTENER_SCRIPT = 'src/listener.ts';

export interface Stack {
  temporal: TemporalServer;
  sandbox: ManagedProcess;
  workers: ManagedProcess[];
  /** listeners[0], the one the bench measures. */
  listener: ManagedProcess;
  listeners: ManagedProcess[];
  inspector: SandboxInspector;
  client: Client;
  campaigns: CampaignClient;
  /** The environment our processes run with (TEMPORAL_ADDRESS, PCS_*, PAS_*). */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** `npm run sandbox` flags as `--flag=value`: a random token may start with "-", which as an argument of its own reads as a flag. */
export function sandboxArgs(flags: Record<string, string>): string[] {
  return Object.entries(flags).map(([flag, value]) => `--${flag}=${value}`);
}

/**
 * `npm run sandbox` as a managed process on fresh free ports, its SQLite file (`<name>.sqlite`) and
 * log (`<name>.log`) in `dir`. `flags` are the script's flags without dashes.
 */
export async function startSandboxProcess(dir: string, name: string, flags: Record<string, string>): Promise<{ sandbox: ManagedProcess; grpcPort: number; httpPort: number; inspectToken: string }> {
  mkdirSync(dir, { recursive: true });
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const inspectToken = randomBytes(18).toString('base64url');
  const all = { db: join(dir, `${name}.sqlite`), 'grpc-port': String(grpcPort), 'http-port': String(httpPort), 'inspect-token': inspectToken, ...flags };
  const sandbox = new ManagedProcess({
    name,
    script: SANDBOX_SCRIPT,
    args: sandboxArgs(all),
    env: process.env,
    readyText: 'Point a client at it',
    logFile: join(dir, `${name}.log`),
  });
  await sandbox.start();
  return { sandbox, grpcPort, httpPort, inspectToken };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  mkdirSync(options.dir, { recursive: true });
  const built = options.built ?? process.env[BUILD_DIR_ENV] !== undefined;
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  // Processes run from the sources load workflow code bundled once (also on every restart), while the servers start.
  const bundleDir = join(options.dir, 'workflow-bundles');
  const bundling: Promise<NodeJS.ProcessEnv> =
    built || process.env[WORKFLOW_BUNDLE_DIR_ENV] ? Promise.resolve({}) : writeWorkflowBundles(bundleDir).then(() => ({ [WORKFLOW_BUNDLE_DIR_ENV]: bundleDir }));
  bundling.catch(() => undefined); // awaited below; a server failing first must not leave it unhandled
  try {
    const temporal: TemporalServer =
      options.server === 'production'
        ? await startProductionServer({ dir: join(options.dir, 'temporal'), logFile: join(options.dir, 'temporal.log') })
        : await startDevServer({ dbFile: join(options.dir, 'temporal.db'), logFile: join(options.dir, 'temporal.log'), dynamicConfig: options.dynamicConfig, ui: options.ui });
    stops.push(() => temporal.stop());

    const { sandbox, grpcPort, httpPort, inspectToken } = await startSandboxProcess(options.dir, 'sandbox', options.sandboxFlags ?? {});
    stops.push(() => sandbox.kill());

    const keys: NodeJS.ProcessEnv = {};
    if (!process.env.PAYLOAD_KEYS && !process.env.PAYLOAD_KEY_FILE && process.env.PAYLOAD_ENCRYPTION !== 'off') {
      keys.PAYLOAD_KEY_FILE = join(options.dir, 'payload-keys');
      ensureKeyFile(keys.PAYLOAD_KEY_FILE);
    }
    const bundles = await bundling;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...keys,
      ...bundles,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      PCS_API_URL: `http://127.0.0.1:${grpcPort}`,
      PAS_TOKEN_URL: `http://127.0.0.1:${httpPort}/oauth/token`,
      PAS_PCS_CLIENT_ID: DEFAULT_APP.clientId,
      PAS_PCS_CLIENT_SECRET: DEFAULT_APP.clientSecret,
      // The stack's recipient files (chaos, bench) live in its directory.
      RECIPIENT_FILE_ROOTS: options.dir,
      ...options.env,
    };
    const workDir = (name: string) => {
      if (!options.privateWorkDirs) return {};
      const cwd = join(options.dir, name);
      mkdirSync(cwd, { recursive: true });
      return { cwd };
    };
    const workers = Array.from({ length: options.workers ?? 1 }, (_, i) =>
      new ManagedProcess({
        name: `worker-${i + 1}`,
        script: built ? builtCommandOf(WORKER_SCRIPT) : WORKER_SCRIPT,
        nodeArgs: [`--max-old-space-size=${options.workerHeapMb ?? WORKER_HEAP_MB}`],
        args: ['--log-file', join(options.dir, `worker-${i + 1}.sdk.log`)],
        env,
        readyText: 'workers running',
        logFile: join(options.dir, `worker-${i + 1}.log`),
        ...workDir(`worker-${i + 1}`),
      }),
    );
    const listeners = Array.from({ length: options.listeners ?? 1 }, (_, i) => {
      const name = i === 0 ? 'listener' : `listener-${i + 1}`;
      return new ManagedProcess({
        name,
        script: built ? builtCommandOf(LISTENER_SCRIPT) : LISTENER_SCRIPT,
        args: ['--log-file', join(options.dir, `${name}.sdk.log`)],
        env,
        readyText: 'listener running',
        logFile: join(options.dir, `${name}.log`),
        ...workDir(name),
      });
    });
    // Started together: each waits mostly on its own imports and connections.
    const children = [...workers, ...listeners];
    for (const child of children) stops.push(() => child.kill());
    await Promise.all(children.map((child) => child.start()));

    const { connection, close } = await connectDrained(temporal.address);
    const client = new Client({ connection, dataConverter: dataConverterFromEnv(env) });
    stops.push(close);
    return {
      temporal,
      sandbox,
      workers,
      listener: listeners[0]!,
      listeners,
      inspector: new SandboxInspector(`http://127.0.0.1:${httpPort}`, inspectToken),
      client,
      campaigns: new CampaignClient(client),
      env,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
