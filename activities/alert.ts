// The alert workflow's one activity, on the rate-limited send queue: the alert's CreateSendRequest
// (and, once per worker, finding or creating the alert template), spaced by the worker's pacer like
// every send, but ahead of the bulk sends waiting in it. Failures are the send activity's
// (activities/api-failures.ts), so the client can say whether anything may have been sent; only a
// rate-limit refusal is left to Temporal to retry.
import { ApplicationFailure } from '@temporalio/common';
import { AlertSender } from '../src/alerts';
import type { PpoppoClient } from '../src/api/client';
import type { SendReceipt } from '../src/api/types';
import type { AlertWorkflowInput } from '../src/contracts/alert';
import { SEND_FAILURE_TYPES, decodeSendFailure } from '../src/contracts/chunk';
import { sendFailure } from './api-failures';
import { withKeepAlive } from './heartbeat';
import type { SendPacer } from './send-pacer';

export function createAlertActivities(deps: { client: PpoppoClient; pacer?: SendPacer }) {
  const sender = new AlertSender(deps.client);

  async function sendAlert(input: AlertWorkflowInput): Promise<SendReceipt> {
    try {
      return await withKeepAlive(async () => {
        await sender.templateId(); // before the pacer's slot: a first alert's template lookup must not spend it
        await deps.pacer?.slot({ ahead: true });
        return sender.send({ ppnums: input.ppnums, text: input.text });
      }, undefined, 1_000);
    } catch (err) {
      throw alertFailure(err);
    }
  }

  return { sendAlert };
}

/** The send activity's failure; a refusal by the rate limit (not the monthly quota) becomes retryable after the API's hint. */
function alertFailure(err: unknown): ApplicationFailure {
  const failure = sendFailure(err);
  const decoded = decodeSendFailure(failure.type, failure.details?.[0], failure.message);
  if (decoded.kind !== 'refused' || decoded.quota) return failure;
  return ApplicationFailure.create({ type: SEND_FAILURE_TYPES.refused, message: failure.message, details: failure.details ? [...failure.details] : [], nextRetryDelay: decoded.retryAfterMs ?? undefined });
}
