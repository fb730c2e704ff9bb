// One-off alerts through the send queue: `alerts.send({ ppnums, text })` starts alertWorkflow
// (workflows/alert/workflow.ts), whose send runs on the rate-limited send queue at a higher
// task-queue priority than the campaigns' sends, and waits for the API's receipt. So an alert goes
// ahead of bulk sends queued for the same app limit instead of racing them at the API.
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';
import type { SendReceipt } from '../api/types';
import { isValidPpnum } from '../api/validation';
import { ALERT_WAIT, ALERT_WORKFLOW_TYPE, alertWorkflowId } from '../contracts/alert';
import type { AlertWorkflowInput } from '../contracts/alert';
import { CAMPAIGN_MEMO, PARK_REASON_TEXT } from '../contracts/campaign';
import { decodeConfigurationFault, decodeSendFailure } from '../contracts/chunk';
import { innermostMessage } from '../temporal/failures';
import { TASK_QUEUES } from '../temporal/names';
import { livePollers } from '../temporal/task-queues';
import type { alertWorkflow } from '../../workflows/alert/workflow';

export interface AlertReceipt extends SendReceipt {
  /** The alert's workflow (`temporal workflow show --workflow-id …`). */
  workflowId: string;
}

/**
 * Why an alert did not go out. `invalid`: bad input (nothing started); `noWorker`: no worker to run
 * it; `unreachable`: the API could not be reached; `refused`: the API refused it (rate limit after
 * retries, quota, credentials, permission, the recipients); `unknown`: it may have been sent (the
 * answer was lost, the worker died mid-call, the alert timed out): check before sending it again.
 */
export type AlertFailureKind = 'invalid' | 'noWorker' | 'unreachable' | 'refused' | 'unknown';

export class AlertFailedError extends Error {
  constructor(
    readonly kind: AlertFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'AlertFailedError';
  }

  /** Whether the API may have accepted it after all. */
  get maybeSent(): boolean {
    return this.kind === 'unknown';
  }
}

export class CampaignAlerts {
  constructor(
    private readonly client: Client,
    private readonly options: { taskQueue?: string; sendTaskQueue?: string } = {},
  ) {}

  async send(input: AlertWorkflowInput): Promise<AlertReceipt> {
    const invalid = input.ppnums.map((ppnum, i) => (isValidPpnum(ppnum) ? undefined : `ppnum ${i + 1}`)).filter((found) => found !== undefined);
    if (input.ppnums.length === 0) throw new AlertFailedError('invalid', 'an alert needs at least one ppnum');
    if (invalid.length > 0) throw new AlertFailedError('invalid', `not a valid ppnum: ${invalid.join(', ')} (ASCII digits, at least 11, e.g. 12300000001); nothing was sent`);
    if (input.text.trim() === '') throw new AlertFailedError('invalid', 'the alert text is empty; nothing was sent');
    const taskQueue = this.options.taskQueue ?? TASK_QUEUES.campaigns;
    const sendTaskQueue = this.options.sendTaskQueue ?? TASK_QUEUES.send;
    await this.#needWorker(taskQueue, 'workflow');
    await this.#needWorker(sendTaskQueue, 'activity');

    const workflowId = alertWorkflowId(new Date(), randomBytes(4).toString('hex'));
    const handle = await this.client.workflow.start<typeof alertWorkflow>(ALERT_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [{ ppnums: input.ppnums, text: input.text }],
      workflowExecutionTimeout: ALERT_WAIT.totalMs,
      ...(this.options.sendTaskQueue ? { memo: { [CAMPAIGN_MEMO.sendTaskQueue]: this.options.sendTaskQueue } } : {}),
    });
    try {
      return { ...(await handle.result()), workflowId };
    } catch (err) {
      throw err instanceof WorkflowFailedError ? alertFailure(err, workflowId) : err;
    }
  }

  async #needWorker(queue: string, kind: 'workflow' | 'activity'): Promise<void> {
    if ((await livePollers(this.client, queue, kind)) > 0) return;
    throw new AlertFailedError('noWorker', `no worker polls task queue ${queue} (${kind === 'workflow' ? 'alert workflows' : 'sends'}); start one (npm run worker); nothing was sent`);
  }
}

/** The failed alert in words: what went wrong, and whether it may have been sent. */
function alertFailure(err: WorkflowFailedError, workflowId: string): AlertFailedError {
  const cause = err.cause;
  const inner = cause instanceof ActivityFailure ? cause.cause : undefined;
  const see = `(alert ${workflowId})`;
  if (inner instanceof TimeoutFailure && inner.timeoutType === TimeoutType.SCHEDULE_TO_START) {
    return new AlertFailedError('noWorker', `no send worker took the alert within ${ALERT_WAIT.pickUpMs / 1000} s; is the worker running (npm run worker)? nothing was sent ${see}`);
  }
  if (inner instanceof ApplicationFailure) {
    const fault = decodeConfigurationFault(inner.type, inner.details?.[0], inner.message);
    if (fault) return new AlertFailedError(fault.reason === 'unreachable' ? 'unreachable' : 'refused', `${PARK_REASON_TEXT[fault.reason]}: ${fault.message}; nothing was sent ${see}`);
    const failure = decodeSendFailure(inner.type, inner.details?.[0], inner.message);
    if (failure.kind === 'refused') return new AlertFailedError('refused', `the Ppoppo API refused the alert (${failure.quota ? 'monthly quota' : 'rate limit, after retries'}): ${inner.message}; nothing was sent ${see}`);
    if (failure.kind === 'rejected') return new AlertFailedError('refused', `the Ppoppo API refused the alert: ${failure.message}; nothing was sent ${see}`);
  }
  return new AlertFailedError('unknown', `the alert may have been sent, its answer was lost: ${innermostMessage(err)}; check the app's send requests before sending it again ${see}`);
}
