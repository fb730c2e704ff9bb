// The singleton listener workflow (id LISTENER_WORKFLOW_ID): keeps one `consumeEvents` activity
// reading the app-wide event stream, and carries the committed cursor across activity runs and
// continue-as-new. Temporal gives it restart (activity retry from the heartbeated cursor) and
// single-instance (one workflow id) for free.
import { continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ListenerActivities } from '../../activities/listener';
import { LISTENER_MAX_RUN_MS, listenerCursorQuery } from '../../src/contracts/listener';
import type { ListenerWorkflowInput } from '../../src/contracts/listener';

/** Activity runs per workflow run before continue-as-new (3 history events each). */
const RUNS_BEFORE_CONTINUE_AS_NEW = 200;

export async function listenerWorkflow(input: ListenerWorkflowInput): Promise<void> {
  const maxRunMs = input.maxRunMs ?? LISTENER_MAX_RUN_MS;
  const { consumeEvents } = proxyActivities<ListenerActivities>({
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
