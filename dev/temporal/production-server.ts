// The Temporal server as production runs it, for the production-topology lane: the real server
// binary (scripts/temporal-server.sh builds the version the pinned CLI embeds) on PostgreSQL in a
// scratch cluster, schemas applied with the server's own SQL tool, our dynamic config
// (deploy/temporal-dynamicconfig.yaml) and our search attributes. Unlike `temporal server
// start-dev`, a new namespace is not usable at once: setup retries until the server knows it.
//
// Reads: TEMPORAL_SERVER_DIR (a build of the server; otherwise scripts/temporal-server.sh finds or builds one).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { msToTs } from '@temporalio/common/lib/time';
import { stringify } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/names';
import { freePort, portInUse } from '../ports';
import { postgresBinDir, startScratchPostgres, type ScratchPostgres } from '../scratch-postgres';
import { searchAttributesRegistered, spawnServer, startRetryingExits, stopServer, waitUntil, withConnection, type ServerProcess } from './server-process';

export const NAMESPACE = 'default';
const HOST = '127.0.0.1';
const DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;
const DYNAMIC_CONFIG = fileURLToPath(new URL('../../deploy/temporal-dynamicconfig.yaml', import.meta.url));
/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: SEARCH_ATTRIBUTES are all Keyword. */
const INDEXED_VALUE_TYPE_KEYWORD = 2;
/** Namespace retention: long enough for any test run to read its histories afterwards. */
const RETENTION = '3 days';

export interface ProductionServerOptions {
  /** Directory for the PostgreSQL cluster and the server's config. */
  dir: string;
  /** Where the server's output goes (default `<dir>/temporal.log`). */
  logFile?: string;
  /** How long to wait for the server, and then for the namespace, to be usable (default 120 s). */
  startTimeoutMs?: number;
  /** Server log level (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Register the namespace and our search attributes (default true); false leaves a bare server, as auto-setup does at SERVING. */
  setupNamespace?: boolean;
}

export interface ProductionServer {
  /** host:port of the frontend, for TEMPORAL_ADDRESS. */
  address: string;
  postgres: ScratchPostgres;
  /** The server's Prometheus endpoint (the bench counts its requests and persistence writes there, as on the dev server). */
  metricsUrl: string;
  /** Current server process id (changes on restart). */
  readonly pid: number | undefined;
  /** How long the first start took, by phase (ms). */
  timings: { postgres: number; schema: number; server: number; namespace: number };
  /** SIGTERM (SIGKILL after a grace period), then the PostgreSQL cluster. */
  stop(): Promise<void>;
  /** Stop and start the server again on the same ports and database: state survives. */
  restart(): Promise<void>;
  /**
   * Writes every row of both databases to `file` as PostgreSQL's COPY text, byte strings in
   * escape format (printable bytes as themselves): what a scan for leaked secrets reads, since the
   * data files themselves may hold values compressed.
   */
  dumpDatabases(file: string): void;
}

export async function startProductionServer(options: ProductionServerOptions): Promise<ProductionServer> {
  mkdirSync(options.dir, { recursive: true });
  const serverDir = temporalServerDir();
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const logFile = options.logFile ?? join(options.dir, 'temporal.log');
  const timings = { postgres: 0, schema: 0, server: 0, namespace: 0 };
  let phase = Date.now();
  const lap = (name: keyof typeof timings) => {
    timings[name] = Date.now() - phase;
    phase = Date.now();
  };

  const postgres = await startScratchPostgres({ dir: join(options.dir, 'postgres') });
  lap('postgres');
  let server: ServerProcess | undefined;
  try {
    applySchemas(serverDir, postgres);
    lap('schema');
    const configDir = join(options.dir, 'config');
    mkdirSync(configDir, { recursive: true });
    const launch = () => spawnServer(`Temporal server (${serverDir})`, join(serverDir, 'bin', 'temporal-server'), ['--root', options.dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'], logFile);
    // Fresh ports, so a fresh config, on each start: one taken meanwhile makes the server exit (e.g. ringpop's bind).
    const { address, ports, proc: started } = await startRetryingExits(async () => {
      const ports = { frontend: await freePort(), frontendHttp: await freePort(), history: await freePort(), matching: await freePort(), worker: await freePort(), metrics: await freePort() };
      const membership = { frontend: await membershipPort(), history: await membershipPort(), matching: await membershipPort(), worker: await membershipPort() };
      const address = `${HOST}:${ports.frontend}`;
      writeFileSync(join(configDir, 'development.yaml'), stringify(serverConfig({ postgres, ports, membership, address, logLevel: options.logLevel ?? 'warn' })));
      const proc = launch();
      server = proc;
      await waitUntil(`its frontend on ${address}`, () => frontendAnswers(address), proc, timeoutMs);
      return { address, ports, proc };
    });
    lap('server');
    if (options.setupNamespace !== false) await registerNamespace(address, started, timeoutMs);
    lap('namespace');

    const killOnExit = () => server?.child.kill('SIGKILL'); // never leave an orphan server behind
    process.on('exit', killOnExit);
    return {
      address,
      postgres,
      metricsUrl: `http://${HOST}:${ports.metrics}/metrics`,
      timings,
      get pid() {
        return server?.child.pid;
      },
      async stop() {
        process.off('exit', killOnExit);
        if (server) await stopServer(server);
        postgres.stop();
      },
      dumpDatabases: (file) => dumpDatabases(postgres, file),
      async restart() {
        if (server) await stopServer(server);
        server = launch();
        const ready = options.setupNamespace === false ? () => frontendAnswers(address) : () => searchAttributesRegistered(address, NAMESPACE);
        await waitUntil(`its frontend on ${address}`, ready, server, timeoutMs);
      },
    };
  } catch (err) {
    if (server) await stopServer(server);
    postgres.stop();
    throw err;
  }
}

/** TEMPORAL_SERVER_DIR, or what scripts/temporal-server.sh finds in .tools or builds there. */
export function temporalServerDir(): string {
  if (process.env.TEMPORAL_SERVER_DIR) return process.env.TEMPORAL_SERVER_DIR;
  const script = fileURLToPath(new URL('../../scripts/temporal-server.sh', import.meta.url));
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

function dumpDatabases(postgres: ScratchPostgres, file: string): void {
  const out = openSync(file, 'w');
  try {
    for (const database of Object.values(DATABASES)) {
      for (const table of postgres.psql(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").split('\n').filter(Boolean)) {
        const copy = spawnSync(join(postgresBinDir(), 'psql'), ['-X', '-q', '-d', postgres.url(database), '-c', `COPY (SELECT * FROM "${table}") TO STDOUT`], {
          stdio: ['ignore', out, 'pipe'],
          env: { ...process.env, PGOPTIONS: '-c bytea_output=escape' },
        });
        if (copy.status !== 0) throw new Error(`dumping ${database}.${table} failed: ${copy.stderr.toString().trim()}`);
      }
    }
  } finally {
    closeSync(out);
  }
}

/** Both databases, created and brought to the server's schema version by its own SQL tool. */
function applySchemas(serverDir: string, postgres: ScratchPostgres): void {
  const tool = join(serverDir, 'bin', 'temporal-sql-tool');
  for (const [schema, database] of Object.entries(DATABASES)) {
    const connection = ['--plugin', 'postgres12', '--endpoint', postgres.host, '--port', String(postgres.port), '--user', postgres.user, '--database', database];
    const run = (...command: string[]) => {
      try {
        execFileSync(tool, [...connection, ...command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        const { stderr, stdout } = err as { stderr?: string; stdout?: string };
        throw new Error(`temporal-sql-tool ${command[0]} on ${database} failed: ${(stderr || stdout || String(err)).trim().split('\n').slice(-5).join('\n')}`);
      }
    };
    run('create-database');
    run('setup-schema', '--version', '0.0');
    run('update-schema', '--schema-dir', join(serverDir, 'schema', 'postgresql', 'v12', schema, 'versioned'));
  }
}

interface ServerConfigInput {
  postgres: ScratchPostgres;
  ports: Record<'frontend' | 'frontendHttp' | 'history' | 'matching' | 'worker' | 'metrics', number>;
  membership: Record<'frontend' | 'history' | 'matching' | 'worker', number>;
  address: string;
  logLevel: string;
}

/** The server's YAML config: every service in one process, both stores on the scratch cluster. */
function serverConfig(c: ServerConfigInput): unknown {
  // The pgx driver: it keeps each connection's statements prepared, where lib/pq (`postgres12`) has
  // every statement parsed again; PostgreSQL then used about half the CPU (README, "On the production topology").
  const store = (databaseName: string, maxConns: number) => ({
    sql: { pluginName: 'postgres12_pgx', databaseName, connectAddr: `${c.postgres.host}:${c.postgres.port}`, connectProtocol: 'tcp', user: c.postgres.user, password: '', maxConns, maxIdleConns: maxConns, maxConnLifetime: '1h' },
  });
  const service = (name: keyof ServerConfigInput['membership']) => ({
    rpc: { grpcPort: c.ports[name], membershipPort: c.membership[name], bindOnLocalHost: true, ...(name === 'frontend' ? { httpPort: c.ports.frontendHttp } : {}) },
  });
  return {
    log: { stdout: true, level: c.logLevel },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      // What temporalio/auto-setup uses for small setups.
      numHistoryShards: 4,
      datastores: { 'postgres-default': store(DATABASES.temporal, 20), 'postgres-visibility': store(DATABASES.visibility, 10) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: HOST },
      // The metrics the dev server serves too (same names): what the bench counts.
      metrics: { prometheus: { framework: 'tally', listenAddress: `${HOST}:${c.ports.metrics}`, timerType: 'histogram' } },
    },
    services: { frontend: service('frontend'), history: service('history'), matching: service('matching'), worker: service('worker') },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: c.address } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    publicClient: { hostPort: c.address },
    dynamicConfigClient: { filepath: DYNAMIC_CONFIG, pollInterval: '10s' },
  };
}

/**
 * A free port below 32768 for a membership (ringpop) port: the server stores them in a smallint
 * column, and the OS hands out ephemeral ports above that.
 */
async function membershipPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!(await portInUse(port))) return port;
  }
}

async function frontendAnswers(address: string): Promise<boolean> {
  return withConnection(address, async (connection) => {
    await connection.workflowService.getSystemInfo({});
    return true;
  }).catch(() => false);
}

/**
 * Registers the namespace, then our search attributes. The server answers "Namespace default is
 * not found" for several seconds after the namespace was created (its namespace cache refreshes
 * on a timer), so registering the search attributes is retried until it is accepted.
 */
async function registerNamespace(address: string, server: ServerProcess, timeoutMs: number): Promise<void> {
  await withConnection(address, async (connection) => {
    try {
      await connection.workflowService.registerNamespace({ namespace: NAMESPACE, workflowExecutionRetentionPeriod: msToTs(RETENTION) });
    } catch (err) {
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
  });
  const searchAttributes = Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((name) => [name, INDEXED_VALUE_TYPE_KEYWORD]));
  await waitUntil(
    `namespace "${NAMESPACE}" to accept our search attributes`,
    () =>
      withConnection(address, async (connection) => {
        await connection.operatorService.addSearchAttributes({ namespace: NAMESPACE, searchAttributes });
        return true;
      }).catch((err: Error) => /already exists/i.test(err.message)),
    server,
    timeoutMs,
  );
  await waitUntil(`our search attributes in namespace "${NAMESPACE}"`, () => searchAttributesRegistered(address, NAMESPACE), server, timeoutMs);
}
