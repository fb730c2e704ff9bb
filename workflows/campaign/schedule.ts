// One run of a recurring campaign: a Temporal Schedule starts this workflow at each run time, and it
// runs that time's campaign as its child, under an id made of the schedule id and the run's nominal
// time (a retried or replayed start finds the same id, so a run never sends twice). It waits for the
// campaign, so the Schedule's overlap policy applies to whole campaign runs.
import { ParentClosePolicy, WorkflowIdReusePolicy, executeChild, log, workflowInfo } from '@temporalio/workflow';
import { SearchAttributeType, WorkflowExecutionAlreadyStartedError, defineSearchAttributeKey } from '@temporalio/common';
import { CAMPAIGN_MEMO, CAMPAIGN_WORKFLOW_TYPE, campaignWorkflowId, scheduledCampaignId, sendTaskQueueFromMemo } from '../../src/contracts/campaign';
import type { CampaignResult, CampaignScheduleInput } from '../../src/contracts/campaign';
import { WORKFLOW_TASK_TIMEOUT_MS } from '../../src/temporal/names';
import type { campaignWorkflow } from './workflow';

/** Set by the server on every workflow a Schedule starts: the run's nominal time. */
const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

export async function campaignScheduleWorkflow(input: CampaignScheduleInput): Promise<CampaignResult | undefined> {
  const info = workflowInfo();
  const runTime = info.typedSearchAttributes.get(SCHEDULED_START_TIME) ?? info.startTime;
  const campaignId = scheduledCampaignId(input.spec.campaignId, runTime);
  const sendTaskQueue = sendTaskQueueFromMemo(info.memo);
  try {
    return await executeChild<typeof campaignWorkflow>(CAMPAIGN_WORKFLOW_TYPE, {
      workflowId: campaignWorkflowId(campaignId),
      args: [{ ...input.spec, campaignId }],
      memo: sendTaskQueue ? { [CAMPAIGN_MEMO.sendTaskQueue]: sendTaskQueue } : undefined,
      // Deleting the schedule or ending this run never stops a campaign halfway.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT_MS,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    log.info('this run\'s campaign was already started', { campaignId });
    return undefined;
  }
}
