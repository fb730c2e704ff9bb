// The singleton listener workflow's contract: its id, input, the cursor query (for operators:
// `temporal workflow query --workflow-id ppoppo-listener --name cursor`), and the routes: which chunk
// workflow owns which send request, told by the send path as soon as a request is accepted.
// PURE: no I/O; workflow code imports this module.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { FallbackTrigger } from '../campaign/outcomes';

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

/** The events that may call for a fallback: the listener hands them to their chunk promptly. */
export const PROMPT_EVENT_TYPES = ['CONSENT_DENIED', 'RECIPIENT_FAILED'] as const;
export type PromptEventType = (typeof PROMPT_EVENT_TYPES)[number];

/** Where a send request's events go, and which of them its chunk acts on at once. */
export interface RouteTarget {
  workflowId: string;
  /**
   * The event types the chunk's fallback policy acts on: the listener hands them over within its
   * short hold, the rest with the next batch. Absent (a route told before this field, or found
   * through visibility): both types, the safe side.
   */
  prompt?: PromptEventType[];
}

/** Send request → the chunk workflow that owns it. */
export interface ChunkRoute extends RouteTarget {
  sendRequestId: string;
}

/** The event types a chunk with these fallback triggers acts on at once ('expired' is the chunk's own timer). */
export function promptEventsFor(triggers: FallbackTrigger[]): PromptEventType[] {
  const prompt: PromptEventType[] = [];
  if (triggers.includes('denied')) prompt.push('CONSENT_DENIED');
  if (triggers.includes('failed')) prompt.push('RECIPIENT_FAILED');
  return prompt;
}

/** Routes the listener workflow keeps (newest); older requests fall back to the visibility lookup. */
export const MAX_ROUTES = 5_000;

/** Sent by the send path (createSendRequest, reconcileSend) the moment it knows a request's id. */
export const chunkRouteSignal = defineSignal<[ChunkRoute]>('chunkRoute');
/** The routes of the given send requests, as far as the listener workflow knows them (absent: unknown). */
export const listenerRouteTargetsQuery = defineQuery<Record<string, RouteTarget>, [string[]]>('routeTargets');
/** The owners alone: what listener activities before routeTargets ask (kept for a rolling upgrade). */
export const listenerRoutesQuery = defineQuery<Record<string, string>, [string[]]>('routes');

/**
 * The committed cursor as of the last finished consumeEvents run (it lags the live activity by up
 * to one run). Sends do not ask it: their pre-send cursor comes from the clock (activities/send.ts).
 */
export const listenerCursorQuery = defineQuery<string | null>('cursor');
