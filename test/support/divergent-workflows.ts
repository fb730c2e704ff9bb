// Workflow code that diverges from today's on purpose: its campaign workflow, once the history is
// past 30 events (a few chunks in), sets a timer today's code never sets. A campaign it ran, continued
// by today's code, fails every workflow task with a nondeterminism error: the situation
// `campaign repair` exists for (test/e2e/repair.e2e.test.ts). Test code only; never on a real worker.
import { condition, sleep, workflowInfo } from '@temporalio/workflow';
import type { CampaignSpec } from '../../src/campaign/spec';
import { campaignWorkflow as todaysCampaignWorkflow } from '../../workflows/campaign/workflow';
import type { CampaignCarry } from '../../workflows/campaign/state';

export { alertWorkflow, campaignScheduleWorkflow, chunkWorkflow, listenerWorkflow } from '../../workflows/index';

/** History length after which the divergent timer is set. */
export const DIVERGES_AFTER_EVENTS = 30;

export function campaignWorkflow(spec: CampaignSpec, carry?: CampaignCarry): ReturnType<typeof todaysCampaignWorkflow> {
  void condition(() => workflowInfo().historyLength > DIVERGES_AFTER_EVENTS).then(() => sleep(1));
  return todaysCampaignWorkflow(spec, carry);
}
