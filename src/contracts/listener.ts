// The singleton listener workflow's contract: its id, input, the cursor query (for operators:
// `temporal workflow query --workflow-id ppoppo-listener --name cursor`), and the routes: which chunk
// workflow owns which send request, told by the send path as soon as a request is accepted.
// PURE: no I/O; workflow code imports this module.
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const LISTENER_WORKFLOW_TYPE = 'listenerWorkflow';
/** One listener per namespace: the id makes it a singleton. */
export const LISTENER_WORKFLOW_ID = 'ppoppo-listener';

export interface ListenerWorkflowInput {
  /** Last event id every event up to which was delivered; null = from the start of the stream. */
  cursor: string | null;
  /** Length of one activity run (default LISTENER_MAX_RUN_MS); tests use shorter runs. */
  maxRunMs?: number;
  /** Routes carried across continue-as-new, oldest first. */
  routes?: ChunkRoute[];
}

/**
 * How long one consumeEvents run reads before it hands everything it holds to the chunks and
 * returns its cursor to the workflow: the longest an event can wait in the listener (see
 * activities/listener.ts), so it matches the default batchMaxDelayMs.
 */
export const LISTENER_MAX_RUN_MS = 10 * 60_000;

/** Send request → the chunk workflow that owns it. */
export interface ChunkRoute {
  sendRequestId: string;
  workflowId: string;
}

/** Routes the listener workflow keeps (newest); older requests fall back to the visibility lookup. */
export const MAX_ROUTES = 5_000;

/** Sent by the send path (createSendRequest, reconcileSend) the moment it knows a request's id. */
export const chunkRouteSignal = defineSignal<[ChunkRoute]>('chunkRoute');
/** The owners of the given send requests, as far as routes know them (absent: unknown). */
export const listenerRoutesQuery = defineQuery<Record<string, string>, [string[]]>('routes');

/**
 * The committed cursor as of the last finished consumeEvents run (it lags the live activity by up
 * to one run). Sends do not ask it: their pre-send cursor comes from the clock (activities/send.ts).
 */
export const listenerCursorQuery = defineQuery<string | null>('cursor');
