// Temporal connection settings from the environment, and the two kinds of connection we need:
// a Client (starting/signalling/querying workflows) and a NativeConnection (workers).
// Node only (reads TLS files, opens connections); names.ts beside it is the pure half workflows import.
//
// Reads: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE (default "default"),
// TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (paths, mTLS), TEMPORAL_TLS_CA (path, optional server CA),
// TEMPORAL_TLS_SERVER_NAME (optional SNI override), TEMPORAL_API_KEY (implies TLS),
// TEMPORAL_CONNECT_TIMEOUT (client connect deadline: milliseconds or "2s"; default 10 s).
import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

export interface TemporalConfig {
  address: string;
  namespace: string;
  /** undefined = plaintext (local dev server). */
  tls?: TLSConfig;
  /** Sent as a bearer token; never logged (see describeTemporalConfig). */
  apiKey?: string;
  /** How long a Client waits for the server to answer when connecting; undefined = SDK default (10 s). */
  connectTimeoutMs?: number;
}

type Env = Record<string, string | undefined>;

export function temporalConfigFromEnv(env: Env = process.env): TemporalConfig {
  const address = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const namespace = env.TEMPORAL_NAMESPACE || 'default';
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  const certPath = env.TEMPORAL_TLS_CERT || undefined;
  const keyPath = env.TEMPORAL_TLS_KEY || undefined;
  if (Boolean(certPath) !== Boolean(keyPath)) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
  }

  let tls: TLSConfig | undefined;
  if (certPath && keyPath) {
    tls = { clientCertPair: { crt: readFileSync(certPath), key: readFileSync(keyPath) } };
  } else if (apiKey) {
    tls = {}; // API keys are only accepted over TLS
  }
  if (tls && env.TEMPORAL_TLS_CA) tls.serverRootCACertificate = readFileSync(env.TEMPORAL_TLS_CA);
  if (tls && env.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = env.TEMPORAL_TLS_SERVER_NAME;

  const connectTimeoutMs = env.TEMPORAL_CONNECT_TIMEOUT ? parseTimeoutMs(env.TEMPORAL_CONNECT_TIMEOUT) : undefined;
  return { address, namespace, tls, apiKey, connectTimeoutMs };
}

/** "1500" (ms), "1500ms", "2s" or "1m". */
function parseTimeoutMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(value.trim());
  if (!match) throw new Error(`TEMPORAL_CONNECT_TIMEOUT must be milliseconds or a duration like "2s", got "${value}"`);
  const unit = { ms: 1, s: 1_000, m: 60_000 }[match[2] ?? 'ms'] ?? 1;
  return Number(match[1]) * unit;
}

/** A log-safe one-liner: address, namespace and auth mode, never the key or cert contents. */
export function describeTemporalConfig(config: TemporalConfig): string {
  const auth = config.apiKey ? 'api key' : config.tls?.clientCertPair ? 'mTLS' : config.tls ? 'TLS' : 'plaintext';
  return `${config.address} namespace=${config.namespace} (${auth})`;
}

/** Client on its own Connection; close it with `client.connection.close()`. */
export async function connectClient(config: TemporalConfig = temporalConfigFromEnv()): Promise<Client> {
  const connection = await Connection.connect({ address: config.address, tls: config.tls, apiKey: config.apiKey, connectTimeout: config.connectTimeoutMs });
  return new Client({ connection, namespace: config.namespace });
}

/** Connection for Workers; the namespace goes on the Worker options (config.namespace). */
export async function connectWorkerConnection(config: TemporalConfig = temporalConfigFromEnv()): Promise<NativeConnection> {
  return NativeConnection.connect({ address: config.address, tls: config.tls, apiKey: config.apiKey });
}
