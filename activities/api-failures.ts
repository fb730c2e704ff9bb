// Turns Ppoppo API errors into Temporal ApplicationFailures the workflows can act on.
// PpoppoApiError messages are already scrubbed of secrets; anything else is scrubbed here, and
// ppnums an error text may quote are redacted (failure texts also reach worker logs).
import { ApplicationFailure } from '@temporalio/common';
import { TokenEndpointError } from '../src/api/auth';
import { PpoppoApiError, ResourceExhaustedError, isUnreachable, scrubSecrets } from '../src/api/errors';
import { redactPpnums } from '../src/api/validation';
import type { ConfigurationFaultReason } from '../src/contracts/campaign';
import { CONFIGURATION_FAULT, SEND_FAILURE_TYPES } from '../src/contracts/chunk';
import type { ConfigurationFaultDetails, SendErrorDetails, SendRefusedDetails } from '../src/contracts/chunk';

function scrub(message: string): string {
  return redactPpnums(scrubSecrets(message));
}

/**
 * The configuration fault behind an API error, if it is one: a refusal that is about our set-up,
 * not about a recipient and not transient. Wrong credentials (the client already dropped its token
 * and tried once more), missing permission or an unapproved app, a missing or inactive template,
 * an API or token host that cannot be reached.
 */
export function configurationFault(err: unknown): ConfigurationFaultDetails | undefined {
  if (!(err instanceof PpoppoApiError)) return undefined;
  const fault = (reason: ConfigurationFaultReason): ConfigurationFaultDetails => ({ reason, codeName: err.codeName, message: scrub(err.message) });
  if (err instanceof TokenEndpointError) {
    if (err.retry === 'unsafe') return fault('credentials');
    return err.httpStatus === undefined ? fault('unreachable') : undefined; // a 5xx or 429 is transient
  }
  switch (err.codeName) {
    case 'UNAUTHENTICATED':
      return fault('credentials');
    case 'PERMISSION_DENIED':
      return fault('permission');
    case 'NOT_FOUND':
      return /template/i.test(err.details) ? fault('template') : undefined;
    case 'FAILED_PRECONDITION':
      return fault(/template/i.test(err.details) ? 'template' : 'permission'); // "template inactive" or "app not approved"
    case 'UNAVAILABLE':
      return isUnreachable(err) ? fault('unreachable') : undefined;
    default:
      return undefined;
  }
}

/**
 * A ConfigurationFault failure; `holdWorkflow`: non-retryable, so the workflow sees it, parks and
 * tries again itself. `more` details follow the fault's (a fallback batch's finished items).
 */
export function configurationFailure(fault: ConfigurationFaultDetails, holdWorkflow: boolean, ...more: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: CONFIGURATION_FAULT,
    message: fault.message,
    details: [fault, ...more],
    nonRetryable: holdWorkflow,
    nextRetryDelay: holdWorkflow ? undefined : (fault.retryAfterMs ?? undefined),
  });
}

/** CreateSendRequest failed: say whether anything may have been accepted. Never retried by Temporal. */
export function sendFailure(err: unknown): ApplicationFailure {
  const fault = configurationFault(err);
  if (fault) return configurationFailure(fault, true);
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
    // 'unsafe' includes a request over the server's size limit: refused before processing, never ambiguous.
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
 * non-retryable; the rest stay retryable, honouring the server's retry-after hint. Configuration
 * faults stay retryable (Temporal tries again with backoff; `status` shows the attempt and the
 * reason), unless `faults: 'report'`: then the workflow gets them at once, to park and show why.
 */
export function apiFailure(err: unknown, what: string, options: { faults?: 'retry' | 'report' } = {}): Error {
  if (!(err instanceof PpoppoApiError)) return err instanceof Error ? new Error(`${what}: ${scrub(err.message)}`) : new Error(what);
  const message = `${what}: ${scrub(err.message)}`;
  const fault = configurationFault(err);
  if (fault) return configurationFailure({ ...fault, message }, options.faults === 'report');
  if (err.retry === 'unsafe') return ApplicationFailure.create({ type: err.codeName, message, nonRetryable: true });
  return ApplicationFailure.create({ type: err.codeName, message, nextRetryDelay: err.retryAfterMs ?? undefined });
}
