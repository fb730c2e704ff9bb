// One alert: the sendAlert activity on the send queue at a higher task-queue priority than the bulk
// sends, so it is dispatched next whatever the campaigns have queued (the queue's rate limit still
// holds: the alert takes one of its slots). Refusals by the rate limit are retried after the API's
// hint; anything else ends the alert with the reason (the activity says whether anything was sent).
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities/index';
import type { SendReceipt } from '../../src/api/types';
import { ALERT_WAIT, type AlertWorkflowInput } from '../../src/contracts/alert';
import { sendTaskQueueFromMemo } from '../../src/contracts/campaign';
import { ALERT_PRIORITY, TASK_QUEUES } from '../../src/temporal/names';

export async function alertWorkflow(input: AlertWorkflowInput): Promise<SendReceipt> {
  const { sendAlert } = proxyActivities<Activities>({
    taskQueue: sendTaskQueueFromMemo(workflowInfo().memo) ?? TASK_QUEUES.send,
    priority: ALERT_PRIORITY,
    scheduleToStartTimeout: ALERT_WAIT.pickUpMs,
    startToCloseTimeout: '30 seconds',
    heartbeatTimeout: '5 seconds',
    // Only a rate-limit refusal is retryable (activities/alert.ts): nothing was accepted.
    retry: { initialInterval: '1 second', maximumAttempts: 5 },
  });
  return sendAlert(input);
}
