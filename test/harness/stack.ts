// The whole system as separate real processes, as it runs in production: a Temporal dev server on
// its own SQLite file, the Ppoppo sandbox (`npm run sandbox`), N workers (`npm run worker`) and the
// listener (`npm run listener`). Each can be killed and started again on the same ports and files.
// Used by the fault campaign (scripts/chaos.ts), the benchmark (scripts/bench.ts) and their tests.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { CampaignClient } from '../../src/client/campaigns';
import { DEFAULT_APP } from '../../src/sandbox/options';
import { SandboxInspector } from '../../src/sandbox/inspector';
import { freePort, startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { ManagedProcess } from './process';

export interface StackOptions {
  /** Directory for the SQLite files and process logs. */
  dir: string;
  /** `npm run sandbox` flags without the dashes, e.g. { 'rate-limit-rps': '20', 'consent-window': '8s' }. */
  sandboxFlags?: Record<string, string>;
  /** Worker processes (default 1). */
  workers?: number;
  /** Extra environment for workers and the listener (e.g. SEND_RATE_PER_SECOND, RECONCILE_SETTLE_MS). */
  env?: NodeJS.ProcessEnv;
  /** Temporal dynamic config (e.g. a low continue-as-new suggestion). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Start the Web UI too (default headless). */
  ui?: boolean;
  /** Old-space cap of each worker, as `npm run worker` sets it (default WORKER_HEAP_MB). */
  workerHeapMb?: number;
  /**
   * Run the worker and listener from dist/ (`npm run build` first) as production does: a restart
   * then loads the prebuilt workflow bundle instead of bundling the sources again.
   */
  built?: boolean;
}

/**
 * The heap cap in package.json's `worker` script. Temporal sizes its workflow cache from the heap
 * limit, and Node's default (~4 GB here) let the worker's RSS climb to 698 MB on a 1,000,000-recipient
 * campaign; capped, it stayed flat around 400 MB and ran 9 % faster (`npm run bench -- --scale`).
 */
export const WORKER_HEAP_MB = 256;

export interface Stack {
  temporal: DevServer;
  sandbox: ManagedProcess;
  workers: ManagedProcess[];
  listener: ManagedProcess;
  inspector: SandboxInspector;
  client: Client;
  campaigns: CampaignClient;
  /** The environment our processes run with (TEMPORAL_ADDRESS, PCS_*, PAS_*). */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  mkdirSync(options.dir, { recursive: true });
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  try {
    const temporal = await startDevServer({ dbFile: join(options.dir, 'temporal.db'), logFile: join(options.dir, 'temporal.log'), dynamicConfig: options.dynamicConfig, ui: options.ui });
    stops.push(() => temporal.stop());

    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const sandboxFlags = { db: join(options.dir, 'sandbox.sqlite'), 'grpc-port': String(grpcPort), 'http-port': String(httpPort), ...options.sandboxFlags };
    const sandbox = new ManagedProcess({
      name: 'sandbox',
      script: 'src/sandbox/main.ts',
      args: Object.entries(sandboxFlags).flatMap(([flag, value]) => [`--${flag}`, value]),
      env: process.env,
      readyText: 'Point a client at it',
      logFile: join(options.dir, 'sandbox.log'),
    });
    await sandbox.start();
    stops.push(() => sandbox.kill());

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      PCS_API_URL: `http://127.0.0.1:${grpcPort}`,
      PAS_TOKEN_URL: `http://127.0.0.1:${httpPort}/oauth/token`,
      PAS_PCS_CLIENT_ID: DEFAULT_APP.clientId,
      PAS_PCS_CLIENT_SECRET: DEFAULT_APP.clientSecret,
      ...options.env,
    };
    const workers = Array.from({ length: options.workers ?? 1 }, (_, i) =>
      new ManagedProcess({ name: `worker-${i + 1}`, script: options.built ? 'dist/bin/ppoppo-worker.js' : 'src/worker.ts', nodeArgs: [`--max-old-space-size=${options.workerHeapMb ?? WORKER_HEAP_MB}`], env, readyText: 'workers running', logFile: join(options.dir, `worker-${i + 1}.log`) }),
    );
    for (const worker of workers) {
      await worker.start();
      stops.push(() => worker.kill());
    }
    const listener = new ManagedProcess({ name: 'listener', script: options.built ? 'dist/bin/ppoppo-listener.js' : 'src/listener.ts', env, readyText: 'listener running', logFile: join(options.dir, 'listener.log') });
    await listener.start();
    stops.push(() => listener.kill());

    const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
    stops.push(() => client.connection.close());
    return {
      temporal,
      sandbox,
      workers,
      listener,
      inspector: new SandboxInspector(`http://127.0.0.1:${httpPort}`),
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
