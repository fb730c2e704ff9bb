// The singleton listener workflow (id LISTENER_WORKFLOW_ID): keeps one `consumeEvents` activity
// reading the app-wide event stream, and carries the committed cursor across activity runs and
// continue-as-new. Temporal gives it restart (activity retry from the heartbeated cursor) and
// single-instance (one workflow id) for free.
//
// It also keeps the routes: the send path signals "send request X belongs to chunk workflow W" the
// moment a request is accepted (a chunk's several requests together, with its last), and the activity asks (a query) for the owners of requests it meets.
// Routes are durable (signals in this history, carried through continue-as-new), so the hot path
// needs no visibility query; the newest MAX_ROUTES are kept. Each is also handed to the process the
// workflow runs in (a sink), so an activity running beside it needs no query either.
import { allHandlersFinished, condition, continueAsNew, proxyActivities, proxySinks, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ListenerActivities } from '../../activities/listener';
import { LISTENER_MAX_RUN_MS, RouteBook, chunkRouteSignal, chunkRoutesSignal, listenerCursorQuery, listenerRouteTargetsQuery, listenerRoutesQuery, packRoutes, routesOfInput } from '../../src/contracts/listener';
import type { ChunkRoute, ListenerSinks, ListenerWorkflowInput } from '../../src/contracts/listener';

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
  /** sendRequestId → its chunk workflow (and what that chunk acts on at once), oldest first. */
  const routes = new RouteBook(routesOfInput(input));
  setHandler(listenerCursorQuery, () => cursor);
  const sinks = proxySinks<ListenerSinks>();
  const learn = (route: ChunkRoute) => {
    routes.remember(route);
    sinks.routes.learned(route); // no command: recorded histories replay unchanged
  };
  setHandler(chunkRouteSignal, learn);
  setHandler(chunkRoutesSignal, ({ routes: told }) => told.forEach(learn));
  setHandler(listenerRouteTargetsQuery, (sendRequestIds) => routes.known(sendRequestIds));
  setHandler(listenerRoutesQuery, (sendRequestIds) => Object.fromEntries(Object.entries(routes.known(sendRequestIds)).map(([id, target]) => [id, target.workflowId])));
  for (let run = 0; run < RUNS_BEFORE_CONTINUE_AS_NEW && !workflowInfo().continueAsNewSuggested; run++) {
    sinks.routes.hosting(); // no command either
    const result = await consumeEvents({ cursor, maxRunMs });
    cursor = result.cursor ?? cursor;
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof listenerWorkflow>({
    cursor,
    maxRunMs: input.maxRunMs,
    packedRoutes: packRoutes(routes.entries()),
  });
}
