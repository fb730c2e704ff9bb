// Small helpers shared by the worker and listener processes.
import { existsSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { PpoppoClient } from './api/client';
import { clientConfigFromEnv } from './api/config';
import { connectClient, temporalConfigFromEnv } from './temporal/config';
import { connectWorkerConnection } from './temporal/worker-connection';

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
}

/**
 * The connections a worker process needs: the ones passed in, or new ones from the environment.
 * `closeOwned` closes only those opened here, newest first.
 */
export async function openProcessDeps(options: ProcessDepsOptions) {
  const temporalConfig = temporalConfigFromEnv();
  const namespace = options.namespace ?? temporalConfig.namespace;
  const owned: Array<() => Promise<void> | void> = [];
  const connection = options.connection ?? (await connectWorkerConnection(temporalConfig));
  if (!options.connection) owned.push(() => connection.close());
  const temporalClient = options.temporalClient ?? (await connectClient({ ...temporalConfig, namespace }));
  if (!options.temporalClient) owned.push(() => temporalClient.connection.close());
  const ppoppoClient = options.ppoppoClient ?? new PpoppoClient(clientConfigFromEnv());
  if (!options.ppoppoClient) owned.push(() => ppoppoClient.close());
  const closeOwned = async () => {
    for (const close of owned.reverse()) await close();
  };
  return { namespace, connection, temporalClient, ppoppoClient, closeOwned };
}

/** A positive number from the environment, or undefined when unset; anything else is an error naming the variable. */
export function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}
