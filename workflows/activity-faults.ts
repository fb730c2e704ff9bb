// Reading an activity's configuration fault in workflow code, and the waits between tries: shared
// by the campaign (its own activities) and the chunks (their send and fallbacks).
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { decodeConfigurationFault } from '../src/contracts/chunk';
import type { ConfigurationFaultDetails } from '../src/contracts/chunk';

/**
 * The activity's own ApplicationFailure: the cause of an ActivityFailure (regular activities), or
 * the error itself (a local activity's failure reaches the workflow unwrapped).
 */
function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ActivityFailure) return err.cause instanceof ApplicationFailure ? err.cause : undefined;
  return err instanceof ApplicationFailure ? err : undefined;
}

/** The ConfigurationFault an activity failed with, if that is what it failed with. */
export function configurationFaultOf(err: unknown): ConfigurationFaultDetails | undefined {
  const failure = applicationFailureOf(err);
  return failure && decodeConfigurationFault(failure.type, failure.details?.[0], failure.message);
}

/** The details entry after the fault's own (a fallback batch's finished items), if any. */
export function faultExtra(err: unknown): unknown {
  return applicationFailureOf(err)?.details?.[1];
}

/** first, 2×first, 4×first … capped at `maxMs`: how long to wait before try `attempt` + 1. */
export function backoff(attempt: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, attempt - 1));
}
