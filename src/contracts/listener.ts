// The singleton listener workflow's contract: its id, input, the cursor query (for operators:
// `temporal workflow query --workflow-id ppoppo-listener --name cursor`), and the routes: which chunk
// workflow owns which send request, told by the send path as soon as a request is accepted.
// PURE: no I/O; workflow code imports this module.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SignalDefinition, Sinks } from '@temporalio/workflow';
import type { FallbackTrigger } from '../campaign/outcomes';

export const LISTENER_WORKFLOW_TYPE = 'listenerWorkflow';
/** One listener per namespace: the id makes it a singleton. */
export const LISTENER_WORKFLOW_ID = 'ppoppo-listener';

export interface ListenerWorkflowInput {
  /** Last event id every event up to which was delivered; null = from the start of the stream. */
  cursor: string | null;
  /** Length of one activity run (default LISTENER_MAX_RUN_MS); tests use shorter runs. */
  maxRunMs?: number;
  /** Routes carried across continue-as-new, oldest first, as runs before packedRoutes carried them. */
  routes?: ChunkRoute[];
  /** Routes carried across continue-as-new, oldest first (packRoutes: a quarter of the size). */
  packedRoutes?: PackedRoutes;
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
  /**
   * A chunk sent as several requests: this request is part `index` of `count`, and the chunk takes
   * several requests' events in one signal (deliveryBatchesSignal). The listener then hands a
   * finished part's events over with the chunk's last part, in one workflow task instead of one per
   * request. Absent (one request, or a chunk from before): each request's events go by themselves.
   */
  part?: RoutePart;
}

export interface RoutePart {
  index: number;
  count: number;
}

/**
 * How long a request's route may wait to be told with a later request of its chunk. The listener
 * holds a chunk's earlier requests' deliveries for its last one anyway (LISTENER_PARTS_MAX_DELAY_MS,
 * 30 s); a request it has no route for goes to visibility only after its route grace
 * (ChunkDirectory's ROUTE_GRACE_MS), which is longer than this.
 */
export const ROUTE_WAIT_MAX_MS = 30_000;

/** A chunk's accepted request whose route waits to be told with a later request's (SendChunkInput.routesWithLast). */
export interface UntoldRoute {
  sendRequestId: string;
  /** Its place among the chunk's requests (RoutePart.index). */
  index: number;
  /** When it was accepted (ms, the chunk's clock). */
  acceptedAt: number;
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

/**
 * Routes as a continue-as-new carries them. One route as JSON objects costs ~130 bytes, so
 * MAX_ROUTES of them came to ~0.66 MB, over Temporal's 512 KB payload warning; packed, the
 * owners' shared part (`campaign/<id>/chunk/`) is written once, and the prompt types as bits.
 */
export interface PackedRoutes {
  /** Workflow ids up to and including their last '/'. */
  prefixes: string[];
  /** [sendRequestId, index into prefixes, the rest of the workflow id, prompt bits or -1 when absent, the part as [index, count] if any], oldest first. */
  rows: Array<[string, number, string, number, [number, number]?]>;
}

const promptBits = (prompt: PromptEventType[] | undefined): number =>
  prompt === undefined ? -1 : PROMPT_EVENT_TYPES.reduce((bits, type, i) => (prompt.includes(type) ? bits | (1 << i) : bits), 0);
const promptOfBits = (bits: number): PromptEventType[] | undefined => (bits < 0 ? undefined : PROMPT_EVENT_TYPES.filter((_, i) => (bits & (1 << i)) !== 0));

export function packRoutes(routes: Iterable<[string, RouteTarget]>): PackedRoutes {
  const packed: PackedRoutes = { prefixes: [], rows: [] };
  const prefixIndex = new Map<string, number>();
  for (const [sendRequestId, { workflowId, prompt, part }] of routes) {
    const cut = workflowId.lastIndexOf('/') + 1;
    const prefix = workflowId.slice(0, cut);
    let index = prefixIndex.get(prefix);
    if (index === undefined) {
      index = packed.prefixes.push(prefix) - 1;
      prefixIndex.set(prefix, index);
    }
    const row: PackedRoutes['rows'][number] = [sendRequestId, index, workflowId.slice(cut), promptBits(prompt)];
    if (part) row.push([part.index, part.count]);
    packed.rows.push(row);
  }
  return packed;
}

/** The routes a listener run starts with, oldest first, from either form of its input. */
export function routesOfInput(input: ListenerWorkflowInput): Array<[string, RouteTarget]> {
  const old = (input.routes ?? []).map(({ sendRequestId, ...target }): [string, RouteTarget] => [sendRequestId, target]);
  const packed = input.packedRoutes;
  if (!packed) return old;
  return [
    ...old,
    ...packed.rows.map(([sendRequestId, prefix, rest, bits, part]): [string, RouteTarget] => {
      const prompt = promptOfBits(bits);
      return [sendRequestId, { workflowId: `${packed.prefixes[prefix]}${rest}`, ...(prompt ? { prompt } : {}), ...(part ? { part: { index: part[0], count: part[1] } } : {}) }];
    }),
  ];
}

/** Routes the listener workflow keeps (newest); older requests fall back to the visibility lookup. */
export const MAX_ROUTES = 5_000;

/**
 * Send request → its chunk, the newest MAX_ROUTES, oldest first: what the listener workflow keeps,
 * and what its process learns from it (activities/chunk-directory.ts, LearnedRoutes).
 */
export class RouteBook {
  readonly #routes: Map<string, RouteTarget>;

  constructor(routes: Iterable<[string, RouteTarget]> = []) {
    this.#routes = new Map(routes);
  }

  /** A route told again moves to the newest; past MAX_ROUTES the oldest goes. */
  remember({ sendRequestId, ...target }: ChunkRoute): void {
    this.#routes.delete(sendRequestId);
    this.#routes.set(sendRequestId, target);
    if (this.#routes.size > MAX_ROUTES) this.#routes.delete(this.#routes.keys().next().value!);
  }

  /** The routes of those ids this book holds; the others are absent. */
  known(sendRequestIds: string[]): Record<string, RouteTarget> {
    const found: Record<string, RouteTarget> = {};
    for (const id of sendRequestIds) {
      const target = this.#routes.get(id);
      if (target !== undefined) found[id] = target;
    }
    return found;
  }

  entries(): IterableIterator<[string, RouteTarget]> {
    return this.#routes.entries();
  }
}

/** Sent by the send path (createSendRequest, reconcileSend) the moment it knows a request's id. */
export const chunkRouteSignal = defineSignal<[ChunkRoute]>('chunkRoute');

/**
 * Several routes in one signal: a chunk's requests told together, by its last request's send (or by
 * the chunk when it stops or waits before that). One workflow task on the listener workflow instead
 * of one per request.
 */
export const chunkRoutesSignal = defineSignal<[ChunkRoutesPayload]>('chunkRoutes');
export interface ChunkRoutesPayload {
  routes: ChunkRoute[];
}

/** Sends `signal` to the listener workflow by whatever handle the caller has (a client's, or a workflow's external one). */
export type SignalListener = <T>(signal: SignalDefinition<[T]>, payload: T) => Promise<void>;

/**
 * Tells the listener workflow some routes: one as chunkRoute (what histories recorded before
 * chunkRoutes hold, so they replay), several as one chunkRoutes.
 */
export function tellRoutes(routes: ChunkRoute[], signal: SignalListener): Promise<void> {
  return routes.length === 1 ? signal(chunkRouteSignal, routes[0]!) : signal(chunkRoutesSignal, { routes });
}

/**
 * What the listener workflow tells the process it runs in: each route as it learns it (replays
 * included). The consumeEvents activity in that process then routes without asking the workflow;
 * one in another listener process still asks (listenerRouteTargetsQuery).
 */
export interface ListenerSinks extends Sinks {
  /** `hosting`: the workflow runs in this process now (each activity run's start): its routes come here. */
  routes: { learned(route: ChunkRoute): void; hosting(): void };
}

/** The routes of the given send requests, as far as the listener workflow knows them (absent: unknown). */
export const listenerRouteTargetsQuery = defineQuery<Record<string, RouteTarget>, [string[]]>('routeTargets');
/** The owners alone: what listener activities before routeTargets ask (kept for a rolling upgrade). */
export const listenerRoutesQuery = defineQuery<Record<string, string>, [string[]]>('routes');

/**
 * The committed cursor as of the last finished consumeEvents run (it lags the live activity by up
 * to one run). Sends do not ask it: their pre-send cursor comes from the clock (activities/send.ts).
 */
export const listenerCursorQuery = defineQuery<string | null>('cursor');
