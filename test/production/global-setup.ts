// Vitest global setup of the production-topology lane (`npm run test:production`): instead of the
// dev server, ONE real Temporal server (the pinned release, built by scripts/temporal-server.sh) on
// PostgreSQL in a scratch cluster, with our dynamic config and search attributes. Tests reach it
// exactly as they reach the dev server in `npm test` (inject('temporalAddress'), TEMPORAL_ADDRESS),
// so the end-to-end files run unchanged on it. Its log and the lane's reports: test-results/production/;
// its PostgreSQL cluster: a temp dir (as root, the cluster belongs to the postgres user, who must reach it).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startProductionServer } from '../../dev/temporal/production-server';
import { shareWorkflowBundles } from '../../dev/temporal/workflow-bundles';
import { prepareTestEnvironment } from '../support/test-env';

export const LANE_DIR = 'test-results/production';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  prepareTestEnvironment(); // payload keys and recipient file roots, as in npm test
  rmSync(LANE_DIR, { recursive: true, force: true });
  mkdirSync(LANE_DIR, { recursive: true });
  await shareWorkflowBundles(resolve(LANE_DIR, 'workflow-bundles'));
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'ppoppo-production-lane-'));
  const server = await startProductionServer({ dir, logFile: join(LANE_DIR, 'temporal.log') });
  const { postgres, schema, server: serving, namespace } = server.timings;
  console.log(`Temporal server on PostgreSQL at ${server.address} in ${Date.now() - started} ms (cluster ${postgres} ms, schemas ${schema} ms, server ${serving} ms, namespace ${namespace} ms)`);
  project.provide('temporalAddress', server.address);
  process.env.TEMPORAL_ADDRESS = server.address;
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
