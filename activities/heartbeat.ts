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

/** Heartbeats when running as a (regular) activity; a no-op otherwise: local activities do not heartbeat. */
export function heartbeat(details?: unknown): void {
  const context = activityContext();
  if (context && !context.info.isLocal) context.heartbeat(details);
}

/**
 * The activity `fn`, kept alive while it runs (withKeepAlive): for quick calls that can still wait
 * (a slow API, a slow source's first row), so the heartbeat timeout finds a dead worker in seconds
 * instead of the start-to-close timeout in minutes.
 */
export function keptAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) => withKeepAlive(() => fn(...args));
}

/**
 * Runs `work` while heartbeating every `everyMs` with the latest `details()`, so a worker that dies
 * is noticed after the activity's heartbeatTimeout, not its much longer startToCloseTimeout, even
 * while the work itself is quietly waiting (a settle period, a webhook's retry backoff).
 */
export async function withKeepAlive<T>(work: () => Promise<T>, details: () => unknown = () => undefined, everyMs = 5_000): Promise<T> {
  const context = activityContext();
  if (!context || context.info.isLocal) return work();
  const timer = setInterval(() => context.heartbeat(details()), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
