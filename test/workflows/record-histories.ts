// Records the histories of a finished campaign and its chunks as JSON fixtures for the replay
// test (test/workflows/replay.test.ts). Run `npm run record-histories` after an intended change to
// workflow code; a change that breaks determinism then shows up as a replay failure instead.
//
// Uses TEMPORAL_ADDRESS when set; otherwise starts a throwaway dev server (dev/temporal/dev-server.ts).
// Records with payload encryption off: the fixtures are cleartext test data (made-up recipients),
// so the replay test needs no key, and it shows that cleartext histories still decode.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { EventType } from '../../src/api/types';
import type { CampaignSpec } from '../../src/campaign/spec';
import { isMainModule } from '../../src/run-helpers';
import { startDevServer } from '../../dev/temporal/dev-server';
import { campaignWorkflowId, pauseUpdate, resumeUpdate, CAMPAIGN_WORKFLOW_TYPE } from '../../src/contracts/campaign';
import { chunkWorkflowId } from '../../src/contracts/chunk';
import { StubWorld, ambiguous, recipients, refused } from './stub-worker';

const HISTORIES_DIR = fileURLToPath(new URL('./histories/', import.meta.url));

async function main(): Promise<void> {
  process.env.PAYLOAD_ENCRYPTION = 'off';
  const server = process.env.TEMPORAL_ADDRESS ? undefined : await startDevServer();
  const world = new StubWorld();
  await world.start(server?.address ?? process.env.TEMPORAL_ADDRESS!);
  try {
    await record(world);
  } finally {
    await world.stop();
    await server?.stop();
  }
}

/** Three chunks that walk every branch: refused → retry, ambiguous → adopt, plain; denied, expired, delivered; fallback. */
async function record(world: StubWorld): Promise<void> {
  const list = recipients(6);
  const attempts = new Map<string, number>();
  const chunkOf = (workflowId: string) => Number(workflowId.split('/').at(-1));
  const { templateId } = world.scenario({
    send: (call) => {
      const attempt = (attempts.get(call.workflowId) ?? 0) + 1;
      attempts.set(call.workflowId, attempt);
      const chunk = chunkOf(call.workflowId);
      if (chunk === 0 && attempt === 1) throw refused(500);
      if (chunk === 1) throw ambiguous();
      return `sr-fixture-${chunk}-${attempt}`;
    },
    reconcile: (call) => `sr-fixture-${chunkOf(call.workflowId)}-adopted`,
    eventsFor: (ppnum): EventType[] => {
      if (ppnum === list[1]!.ppnum) return ['RECIPIENT_PENDING_CONSENT', 'CONSENT_DENIED'];
      if (ppnum === list[3]!.ppnum) return ['RECIPIENT_PENDING_CONSENT'];
      return ['RECIPIENT_DELIVERED'];
    },
    placeholders: ['name'],
  });
  const spec: CampaignSpec = {
    campaignId: templateId,
    template: { templateId },
    recipients: { inline: list },
    consentWindow: '1m',
    fallback: { on: ['denied', 'expired'], channel: { type: 'webhook', url: 'http://127.0.0.1:1/unused' } },
    limits: { chunkSize: 2, sendsPerChunk: 1, chunksInFlight: 2 },
  };
  const handle = await world.client.workflow.start(CAMPAIGN_WORKFLOW_TYPE, {
    workflowId: campaignWorkflowId(templateId),
    taskQueue: world.taskQueue,
    args: [spec],
    memo: world.memo,
  });
  await handle.executeUpdate(pauseUpdate);
  await handle.executeUpdate(resumeUpdate);
  const result = await handle.result();
  console.log('campaign result', JSON.stringify(result));

  mkdirSync(HISTORIES_DIR, { recursive: true });
  // Replay needs each history's workflow id (the campaign checks its own id), kept in index.json.
  const index: { file: string; workflowId: string }[] = [];
  const save = saver(world, index);
  await save('campaign', handle.workflowId);
  for (let chunk = 0; chunk < 3; chunk++) await save(`chunk-${chunk}`, chunkWorkflowId(templateId, chunk));
  await recordRestart(world, spec, save);
  writeFileSync(`${HISTORIES_DIR}index.json`, JSON.stringify(index, null, 2) + '\n');
}

type Save = (name: string, workflowId: string) => Promise<void>;

/** Writes the latest run's history of a workflow id as a fixture and lists it in `index`. */
export function saver(world: StubWorld, index: { file: string; workflowId: string }[]): Save {
  return async (name, workflowId) => {
    const history = await world.client.workflow.getHandle(workflowId).fetchHistory();
    writeFileSync(`${HISTORIES_DIR}${name}.json`, historyToJSON(history));
    index.push({ file: `${name}.json`, workflowId });
    console.log(`wrote ${name}.json (${history.events?.length} events)`);
  };
}

/** The finished campaign started again under its id: every chunk id is taken, so it adopts their results. */
export async function recordRestart(world: StubWorld, spec: CampaignSpec, save: Save): Promise<void> {
  const handle = await world.client.workflow.start(CAMPAIGN_WORKFLOW_TYPE, {
    workflowId: campaignWorkflowId(spec.campaignId),
    taskQueue: world.taskQueue,
    args: [spec],
    memo: world.memo,
  });
  console.log('restarted campaign result', JSON.stringify(await handle.result()));
  await save('campaign-restarted', handle.workflowId);
}

if (isMainModule(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
