// Activity context helpers that also work when an activity function is called directly (unit tests).
import { Context } from '@temporalio/activity';

/** The running activity's context, or undefined outside an activity. */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Heartbeats when running as an activity; a no-op otherwise. */
export function heartbeat(details?: unknown): void {
  activityContext()?.heartbeat(details);
}
