// The Worker options our two processes take from the environment (.env.example): how many workflows
// each keeps cached, how long SIGTERM lets in-flight tasks finish before it cancels them, and how
// soon a workflow task meant for a dead worker's sticky queue goes to another worker instead.
import type { WorkerOptions } from '@temporalio/worker';
import { envNumber } from '../run-helpers';

export type WorkerSettings = Required<Pick<WorkerOptions, 'maxCachedWorkflows' | 'shutdownGraceTime' | 'shutdownForceTime' | 'stickyQueueScheduleToStartTimeout'>>;

/**
 * Temporal's default sticky timeout is 10 s: after a worker is killed, every workflow it had cached
 * (the campaign, the chunks in its window) would wait that long for it before going elsewhere. A
 * live worker takes its sticky tasks within milliseconds, so 2 s only fires for a dead or
 * stalled one (and then costs a replay of the workflow's history on another worker).
 */
const STICKY_QUEUE_TIMEOUT_MS = 2_000;
/** After the grace period a stuck shutdown is forced, so SIGTERM always ends the process. */
const SHUTDOWN_FORCE_AFTER_GRACE_MS = 5_000;

/**
 * Defaults: the worker caches 60 workflows (what Temporal chose from its 256 MB heap before this was
 * explicit) and gives in-flight sends, reconciliations and fallbacks 10 s to finish; the listener
 * runs one workflow and hands its stream over at once (see consumeEvents), so 10 and 5 s.
 */
const DEFAULTS = {
  worker: { maxCachedWorkflows: 60, shutdownGraceMs: 10_000 },
  listener: { maxCachedWorkflows: 10, shutdownGraceMs: 5_000 },
} as const;

/** Reads WORKER_* or LISTENER_* (MAX_CACHED_WORKFLOWS, SHUTDOWN_GRACE_MS) and STICKY_QUEUE_TIMEOUT_MS. */
export function workerSettingsFromEnv(process: keyof typeof DEFAULTS): WorkerSettings {
  const defaults = DEFAULTS[process];
  const maxCachedWorkflows = envNumber(process === 'worker' ? 'WORKER_MAX_CACHED_WORKFLOWS' : 'LISTENER_MAX_CACHED_WORKFLOWS') ?? defaults.maxCachedWorkflows;
  const shutdownGraceMs = envNumber(process === 'worker' ? 'WORKER_SHUTDOWN_GRACE_MS' : 'LISTENER_SHUTDOWN_GRACE_MS') ?? defaults.shutdownGraceMs;
  return {
    maxCachedWorkflows: Math.floor(maxCachedWorkflows),
    shutdownGraceTime: shutdownGraceMs,
    shutdownForceTime: shutdownGraceMs + SHUTDOWN_FORCE_AFTER_GRACE_MS,
    stickyQueueScheduleToStartTimeout: envNumber('STICKY_QUEUE_TIMEOUT_MS') ?? STICKY_QUEUE_TIMEOUT_MS,
  };
}
