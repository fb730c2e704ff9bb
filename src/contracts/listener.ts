// The singleton listener workflow's contract: its id, input and the cursor query the send path
// asks before every send. PURE: no I/O; workflow code imports this module.
import { defineQuery } from '@temporalio/workflow';

export const LISTENER_WORKFLOW_TYPE = 'listenerWorkflow';
/** One listener per namespace: the id makes it a singleton. */
export const LISTENER_WORKFLOW_ID = 'ppoppo-listener';

export interface ListenerWorkflowInput {
  /** Last event id every event up to which was delivered; null = from the start of the stream. */
  cursor: string | null;
  /** Length of one activity run (default LISTENER_MAX_RUN_MS); tests use shorter runs. */
  maxRunMs?: number;
}

/** How long one consumeEvents run reads before it returns its cursor to the workflow. */
export const LISTENER_MAX_RUN_MS = 60_000;

/**
 * The committed cursor as of the last finished consumeEvents run. It lags the live activity by up
 * to one run, which is fine for its one user: beginSend needs a cursor taken *before* a send, and
 * any committed cursor is.
 */
export const listenerCursorQuery = defineQuery<string | null>('cursor');
