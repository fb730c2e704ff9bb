// Workflow code that diverges from today's on purpose, each time with a timer today's code never
// sets: the campaign workflow once its history is past 30 events (a few chunks in), a chunk workflow
// once its send was accepted. A campaign it ran, continued by today's code, fails its workflow tasks
// (the campaign's and its running chunks') with a nondeterminism error: the situation
// `campaign repair` exists for (test/e2e/repair.e2e.test.ts). Test code only; never on a real worker.
import { condition, sleep, workflowInfo } from '@temporalio/workflow';
import type { CampaignSpec } from '../../src/campaign/spec';
import { SEND_REQUEST_ID_KEY } from '../../src/temporal/names';
import { campaignWorkflow as todaysCampaignWorkflow } from '../../workflows/campaign/workflow';
import type { CampaignCarry } from '../../workflows/campaign/state';
import { chunkWorkflow as todaysChunkWorkflow } from '../../workflows/chunk/workflow';

export { alertWorkflow, campaignScheduleWorkflow, listenerWorkflow } from '../../workflows/index';

/** History length after which the divergent campaign sets its timer. */
export const DIVERGES_AFTER_EVENTS = 30;

export function campaignWorkflow(spec: CampaignSpec, carry?: CampaignCarry): ReturnType<typeof todaysCampaignWorkflow> {
  void condition(() => workflowInfo().historyLength > DIVERGES_AFTER_EVENTS).then(() => sleep(1));
  return todaysCampaignWorkflow(spec, carry);
}

export function chunkWorkflow(...args: Parameters<typeof todaysChunkWorkflow>): ReturnType<typeof todaysChunkWorkflow> {
  // After the send: resetting the chunk to that point cannot send it again (repair checks).
  void condition(() => workflowInfo().typedSearchAttributes.get(SEND_REQUEST_ID_KEY) !== undefined).then(() => sleep(1));
  return todaysChunkWorkflow(...args);
}
