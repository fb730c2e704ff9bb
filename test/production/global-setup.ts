// Vitest global setup of the production-topology lane (`npm run test:production`): instead of the
// dev server, ONE real Temporal server (the pinned release, built by scripts/temporal-server.sh) on
// PostgreSQL in a scratch cluster, with our dynamic config and search attributes. Tests reach it
// exactly as they reach the dev server in `npm test` (inject('temporalAddress'), TEMPORAL_ADDRESS),
// so the end-to-end files run unchanged on it. State and logs: test-results/production/.
import { mkdirSync, rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startProductionServer } from '../../dev/temporal/production-server';

export const LANE_DIR = 'test-results/production';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  rmSync(LANE_DIR, { recursive: true, force: true });
  mkdirSync(LANE_DIR, { recursive: true });
  const started = Date.now();
  const server = await startProductionServer({ dir: `${LANE_DIR}/temporal` });
  const { postgres, schema, server: serving, namespace } = server.timings;
  console.log(`Temporal server on PostgreSQL at ${server.address} in ${Date.now() - started} ms (cluster ${postgres} ms, schemas ${schema} ms, server ${serving} ms, namespace ${namespace} ms)`);
  project.provide('temporalAddress', server.address);
  process.env.TEMPORAL_ADDRESS = server.address;
  return () => server.stop();
}
