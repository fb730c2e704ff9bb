// Small helpers shared by the worker and listener processes.
import { existsSync, realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { NativeConnection } from '@temporalio/worker';
import { PpoppoClient } from './api/client';
import { clientConfigFromEnv } from './api/config';
import { installProcessLogger } from './logging';
import { metricsExporterFromEnv } from './metrics/runtime';
import { describeTemporalConfig, temporalConfigFromEnv } from './temporal/config';
import { dataConverterFromEnv } from './temporal/data-converter';
import { connectWorkerConnection } from './temporal/worker-connection';
import { loadDotEnv } from './dotenv';
import { tuneHeapGrowth } from './heap-growth';

/** Exit codes of the worker and listener processes (the same meanings as the campaign CLI's). */
export const PROCESS_EXIT = { failure: 1, usage: 2, cannotConnect: 4 } as const;

/** An error the process prints as one line before exiting with `code`. */
export class ProcessError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'ProcessError';
  }
}

/** The options every process entry point takes; the usage text also lists its environment. */
export const PROCESS_FLAGS_USAGE = `  --log-file PATH   also append the full SDK log (with stack traces) to PATH
  --help            this text`;

/**
 * Runs a process entry point (`npm run worker`, `npm run listener`): --help prints `usage` and exits 0,
 * an unknown flag exits 2 naming it; the Temporal SDK logs one plain line per entry (INFO and up)
 * on the terminal; a failure is one line on stderr and a meaningful exit code, never a stack trace.
 */
export function runProcess(name: string, usage: string, main: () => Promise<void>): void {
  let values: { help?: boolean; 'log-file'?: string };
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options: { help: { type: 'boolean' }, 'log-file': { type: 'string' } }, strict: true }));
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}\n${usage}`);
    process.exit(PROCESS_EXIT.usage);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  tuneHeapGrowth();
  try {
    loadDotEnv(); // .env in the working directory (or ENV_FILE); variables already set win
    // The runtime's Prometheus exporter (METRICS_PORT) is installed with the logger: one Runtime per process.
    installProcessLogger({ file: values['log-file'], terminalLevel: 'INFO', metrics: metricsExporterFromEnv() });
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`);
    process.exit(PROCESS_EXIT.usage);
  }
  main().catch((err: unknown) => {
    console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(err instanceof ProcessError ? err.code : PROCESS_EXIT.failure);
  });
}

/**
 * True when the module with this import.meta.url is the script node/tsx was started with, also
 * through a symlink (npm links a package's `bin` commands into node_modules/.bin).
 */
export function isMainModule(metaUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  const real = existsSync(script) ? realpathSync(script) : script;
  return metaUrl === pathToFileURL(real).href;
}

export interface ProcessDepsOptions {
  connection?: NativeConnection;
  temporalClient?: Client;
  ppoppoClient?: PpoppoClient;
  namespace?: string;
  /** Payload encryption for the Workers and the Client opened here; default from the PAYLOAD_* environment. */
  dataConverter?: DataConverter;
}

/**
 * The connections a worker process needs: the ones passed in, or new ones from the environment,
 * and the data converter its Workers must use. `closeOwned` closes only those opened here, newest first.
 */
export async function openProcessDeps(options: ProcessDepsOptions) {
  const temporalConfig = temporalConfigFromEnv();
  const dataConverter = options.dataConverter ?? dataConverterFromEnv();
  const namespace = options.namespace ?? temporalConfig.namespace;
  const owned: Array<() => Promise<void> | void> = [];
  const connection = options.connection ?? (await connectWorkerConnection(temporalConfig).catch((err: unknown) => {
    throw new ProcessError(`cannot connect to Temporal at ${describeTemporalConfig(temporalConfig)}: ${(err as Error).message}; start it (npm run temporal:dev) or set TEMPORAL_ADDRESS`, PROCESS_EXIT.cannotConnect);
  }));
  if (!options.connection) owned.push(() => connection.close());
  // The process's Client (signals, queries, lookups from activities) rides the worker's native
  // connection: one connection per process, and each call costs Rust instead of grpc-js in Node
  // (the benchmark's worker and listener used about 8 ms less CPU per 1,000 recipients).
  const temporalClient = options.temporalClient ?? new Client({ connection, namespace, dataConverter });
  const ppoppoClient = options.ppoppoClient ?? new PpoppoClient(clientConfigFromEnv());
  if (!options.ppoppoClient) owned.push(() => ppoppoClient.close());
  const closeOwned = async () => {
    for (const close of owned.reverse()) await close();
  };
  return { namespace, connection, temporalClient, ppoppoClient, dataConverter, closeOwned };
}

/** A positive number from the environment, or undefined when unset; anything else is an error naming the variable. */
export function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}
