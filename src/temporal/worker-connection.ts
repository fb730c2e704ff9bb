// The connection Workers use (NativeConnection, from the SDK's native runtime), from the same
// TEMPORAL_* settings as the Client (config.ts). Only the worker and listener processes load it.
import { NativeConnection } from '@temporalio/worker';
import { temporalConfigFromEnv } from './config';
import type { TemporalConfig } from './config';

/** Connection for Workers; the namespace goes on the Worker options (config.namespace). */
export async function connectWorkerConnection(config: TemporalConfig = temporalConfigFromEnv()): Promise<NativeConnection> {
  return NativeConnection.connect({ address: config.address, tls: config.tls, apiKey: config.apiKey });
}
