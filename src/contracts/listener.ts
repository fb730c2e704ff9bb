// The singleton listener workflow's contract: its id, input and the cursor query (for operators:
// `temporal workflow query --workflow-id ppoppo-listener --name cursor`). PURE: no I/O; workflow code imports this module.
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
 * The committed cursor as of the last finished consumeEvents run (it lags the live activity by up
 * to one run). Sends do not ask it: their pre-send cursor comes from the clock (activities/send.ts).
 */
export const listenerCursorQuery = defineQuery<string | null>('cursor');
