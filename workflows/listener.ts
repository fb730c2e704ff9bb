// The singleton listener workflow (id LISTENER_WORKFLOW_ID): keeps one `consumeEvents` activity
// reading the app-wide event stream, and carries the committed cursor across activity runs and
// continue-as-new. Temporal gives it restart (activity retry from the heartbeated cursor) and
// single-instance (one workflow id) for free.
import { continueAsNew, defineQuery, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { createListenerActivities } from '../activities/listener';

export interface ListenerWorkflowInput {
  /** Last event id every event up to which was delivered; null = from the start of the stream. */
  cursor: string | null;
  /** Length of one activity run (default LISTENER_MAX_RUN_MS); tests use shorter runs. */
  maxRunMs?: number;
}

/**
 * The committed cursor as of the last finished `consumeEvents` run. It lags the live activity by
 * up to one run (LISTENER_MAX_RUN_MS), which is fine for its one user: `beginSend` needs a cursor
 * taken *before* a send, and any committed cursor is.
 */
export const listenerCursorQuery = defineQuery<string | null>('cursor');

/** How long one activity run reads before it returns its cursor to the workflow. */
export const LISTENER_MAX_RUN_MS = 60_000;
/** Activity runs per workflow run before continue-as-new (3 history events each). */
const RUNS_BEFORE_CONTINUE_AS_NEW = 200;

export async function listenerWorkflow(input: ListenerWorkflowInput): Promise<void> {
  const maxRunMs = input.maxRunMs ?? LISTENER_MAX_RUN_MS;
  const { consumeEvents } = proxyActivities<ReturnType<typeof createListenerActivities>>({
    // No taskQueue: the activity runs on the workflow's own queue (TASK_QUEUES.listener).
    startToCloseTimeout: maxRunMs + 60_000,
    heartbeatTimeout: 15_000,
    retry: { initialInterval: 500, backoffCoefficient: 2, maximumInterval: 10_000 }, // unlimited attempts
  });
  let cursor = input.cursor;
  setHandler(listenerCursorQuery, () => cursor);
  for (let run = 0; run < RUNS_BEFORE_CONTINUE_AS_NEW && !workflowInfo().continueAsNewSuggested; run++) {
    const result = await consumeEvents({ cursor, maxRunMs });
    cursor = result.cursor ?? cursor;
  }
  await continueAsNew<typeof listenerWorkflow>({ cursor, maxRunMs: input.maxRunMs });
}
