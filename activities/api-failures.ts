// Turns Ppoppo API errors into Temporal ApplicationFailures the workflows can act on.
// PpoppoApiError messages are already scrubbed of secrets; anything else is scrubbed here.
import { ApplicationFailure } from '@temporalio/common';
import { PpoppoApiError, ResourceExhaustedError, scrubSecrets as scrub } from '../src/api/errors';
import { SEND_FAILURE_TYPES } from '../src/contracts/chunk';
import type { SendErrorDetails, SendRefusedDetails } from '../src/contracts/chunk';

/** CreateSendRequest failed: say whether anything may have been accepted. Never retried by Temporal. */
export function sendFailure(err: unknown): ApplicationFailure {
  if (err instanceof PpoppoApiError) {
    const message = scrub(err.message);
    if (err.retry === 'safe') {
      const details: SendRefusedDetails = {
        retryAfterMs: err.retryAfterMs ?? null,
        quota: err instanceof ResourceExhaustedError && err.isQuota === true,
        codeName: err.codeName,
      };
      return ApplicationFailure.create({ type: SEND_FAILURE_TYPES.refused, message, details: [details], nonRetryable: true });
    }
    const type = err.retry === 'unsafe' ? SEND_FAILURE_TYPES.rejected : SEND_FAILURE_TYPES.ambiguous;
    const details: SendErrorDetails = { codeName: err.codeName, message };
    return ApplicationFailure.create({ type, message, details: [details], nonRetryable: true });
  }
  // Not an API status (e.g. a bug or a transport surprise): we cannot know whether it was accepted.
  const message = scrub(err instanceof Error ? err.message : String(err));
  const details: SendErrorDetails = { codeName: 'UNKNOWN', message };
  return ApplicationFailure.create({ type: SEND_FAILURE_TYPES.ambiguous, message, details: [details], nonRetryable: true });
}

/**
 * Any other API call (templates, status, polls): refusals that will not change become
 * non-retryable; the rest stay retryable, honouring the server's retry-after hint.
 */
export function apiFailure(err: unknown, what: string): Error {
  if (!(err instanceof PpoppoApiError)) return err instanceof Error ? new Error(`${what}: ${scrub(err.message)}`) : new Error(what);
  const message = `${what}: ${scrub(err.message)}`;
  if (err.retry === 'unsafe') return ApplicationFailure.create({ type: err.codeName, message, nonRetryable: true });
  return ApplicationFailure.create({ type: err.codeName, message, nextRetryDelay: err.retryAfterMs ?? undefined });
}
