// Finds the chunk workflow that owns a send request. First from the routes the send path gave the
// listener workflow (handed to this process when that workflow runs here, else a query: cheap, no
// visibility); only for requests the routes do not know after a grace (their route may still be on
// its way, or wait for the chunk's last request: ROUTE_WAIT_MAX_MS) through the PpoppoSendRequestId
// search attribute, a visibility query. Production Temporal allows about 10 visibility list calls per
// second per namespace, so those are the fallback (requests of other tools, routes lost), retried
// with a growing interval. Found mappings are cached (LRU-bounded).
import type { Client } from '@temporalio/client';
import { ROUTE_WAIT_MAX_MS, RouteBook } from '../src/contracts/listener';
import type { ChunkRoute, RouteTarget } from '../src/contracts/listener';
import { SEND_REQUEST_ID_KEY } from '../src/temporal/names';
const IDS_PER_QUERY = 50;
/** A route that has not come this long after its request's first event is looked up in visibility: longer than a route may wait for its chunk's last request. */
export const ROUTE_GRACE_MS = ROUTE_WAIT_MAX_MS + 15_000;
/** In its grace, a request is asked of the routes query after 250 ms, 500 ms, 1 s … at most every 4 s (the routes this process learned: every time). */
const FIRST_ROUTE_ASK_MS = 250;
const MAX_ROUTE_ASK_MS = 4_000;
/** A process that heard from a listener workflow this recently (a route, a run started) runs it: that workflow's routes query would tell it nothing more. */
const HOSTED_WITHIN_MS = 60_000;

export interface ChunkDirectoryOptions {
  maxCached?: number;
  /** The routes of the given send requests (the listener workflow's routeTargets query). */
  routes?: (sendRequestIds: string[]) => Promise<Record<string, RouteTarget>>;
  /** Routes this process already knows (LearnedRoutes): `routes` is asked only about the others. */
  learned?: (sendRequestIds: string[]) => Record<string, RouteTarget>;
  /** Whether the listener workflow runs in this process (LearnedRoutes.hosts): then `learned` is all `routes` would say, and it is not asked. */
  hosted?: () => boolean;
  /** How long a request must be unknown to the routes before visibility is asked (default ROUTE_GRACE_MS). */
  routeGraceMs?: number;
  /** First visibility retry for an id not found, doubling up to maxRetryLookupMs (default 500 ms, 30 s). */
  retryLookupMs?: number;
  maxRetryLookupMs?: number;
}

interface Unknown {
  firstSeen: number;
  /** Route queries made for it so far. */
  asks: number;
  /** Visibility lookups made for it so far. */
  lookups: number;
  /** When it may be asked of the routes query, or of visibility, again. */
  nextAskAt: number;
}

export class ChunkDirectory {
  /** Visibility list calls made so far (the hot path should make none). */
  visibilityLookups = 0;
  /** Calls of `routes` so far (none for requests `learned` knows). */
  routeQueries = 0;
  private readonly found = new Map<string, RouteTarget>(); // sendRequestId → its chunk, oldest first
  private readonly unknown = new Map<string, Unknown>();
  private readonly options: Required<Omit<ChunkDirectoryOptions, 'routes' | 'learned' | 'hosted'>> & Pick<ChunkDirectoryOptions, 'routes' | 'learned' | 'hosted'>;

  constructor(
    private readonly client: Client,
    options: ChunkDirectoryOptions = {},
  ) {
    this.options = {
      maxCached: options.maxCached ?? 10_000,
      routes: options.routes,
      learned: options.learned,
      hosted: options.hosted,
      routeGraceMs: options.routes || options.learned ? (options.routeGraceMs ?? ROUTE_GRACE_MS) : 0,
      retryLookupMs: options.retryLookupMs ?? 500,
      maxRetryLookupMs: options.maxRetryLookupMs ?? 30_000,
    };
  }

  /** The chunks of the given send request ids (a visibility find has no `prompt`); ids not known (yet) are absent. */
  async resolve(sendRequestIds: Iterable<string>, now = Date.now()): Promise<Map<string, RouteTarget>> {
    const result = new Map<string, RouteTarget>();
    const missing: string[] = [];
    for (const id of new Set(sendRequestIds)) {
      const target = this.found.get(id);
      if (target === undefined) {
        if (isQueryableId(id)) missing.push(id);
        continue;
      }
      this.found.delete(id); // re-insert: most recently used goes last
      this.found.set(id, target);
      result.set(id, target);
    }
    if (missing.length === 0) return result;

    // What this process learned: every time. The routes query and visibility: each id at its own times.
    const learned = this.options.learned?.(missing) ?? {};
    const due: string[] = [];
    for (const id of missing) {
      const target = learned[id];
      if (target !== undefined) {
        result.set(id, target);
        this.remember(id, target);
        continue;
      }
      const entry = this.unknown.get(id);
      if (entry === undefined) this.unknown.set(id, { firstSeen: now, asks: 0, lookups: 0, nextAskAt: now });
      if (entry === undefined || now >= entry.nextAskAt) due.push(id);
    }
    if (due.length === 0) return result;

    const ask = this.options.routes !== undefined && !(this.options.hosted?.() ?? false);
    if (ask) this.routeQueries += 1;
    const routed = ask ? await this.options.routes!(due) : {};
    const toLookUp: string[] = [];
    for (const id of due) {
      const routedTarget = routed[id];
      if (routedTarget !== undefined) {
        result.set(id, routedTarget);
        this.remember(id, routedTarget);
        continue;
      }
      const entry = this.unknown.get(id)!;
      const graceEnds = entry.firstSeen + this.options.routeGraceMs;
      if (now < graceEnds) {
        entry.nextAskAt = Math.min(graceEnds, now + Math.min(MAX_ROUTE_ASK_MS, FIRST_ROUTE_ASK_MS * 2 ** entry.asks));
        entry.asks += 1;
        continue;
      }
      entry.nextAskAt = now + Math.min(this.options.maxRetryLookupMs, this.options.retryLookupMs * 2 ** entry.lookups);
      entry.lookups += 1;
      toLookUp.push(id);
    }
    for (let i = 0; i < toLookUp.length; i += IDS_PER_QUERY) {
      const ids = toLookUp.slice(i, i + IDS_PER_QUERY);
      const query = `${SEND_REQUEST_ID_KEY.name} IN (${ids.map((id) => `"${id}"`).join(', ')})`;
      this.visibilityLookups += 1;
      for await (const info of this.client.workflow.list({ query })) {
        const id = info.typedSearchAttributes.get(SEND_REQUEST_ID_KEY);
        if (id === undefined || result.has(id)) continue;
        const found = { workflowId: info.workflowId };
        result.set(id, found);
        this.remember(id, found);
      }
    }
    return result;
  }

  /** Stop tracking an id: its events were skipped, or its chunk has closed. */
  forget(sendRequestId: string): void {
    this.unknown.delete(sendRequestId);
    this.found.delete(sendRequestId);
  }

  private remember(sendRequestId: string, target: RouteTarget): void {
    this.unknown.delete(sendRequestId);
    this.found.set(sendRequestId, target);
    if (this.found.size > this.options.maxCached) {
      const oldest = this.found.keys().next().value;
      if (oldest !== undefined) this.found.delete(oldest);
    }
  }
}

/**
 * The routes each listener workflow running in this process handed over (its `routes.learned`
 * sink), the newest MAX_ROUTES per workflow: a consumeEvents run beside its workflow reads them here
 * instead of querying it. A run in another process finds none here and queries.
 */
export class LearnedRoutes {
  readonly #byListener = new Map<string, RouteBook>();
  readonly #lastHeardAt = new Map<string, number>();

  learned(listenerWorkflowId: string, route: ChunkRoute, now = Date.now()): void {
    let book = this.#byListener.get(listenerWorkflowId);
    if (!book) this.#byListener.set(listenerWorkflowId, (book = new RouteBook()));
    book.remember(route);
    this.#lastHeardAt.set(listenerWorkflowId, now);
  }

  /** That listener workflow runs here now (it starts an activity run here). */
  hosting(listenerWorkflowId: string, now = Date.now()): void {
    this.#lastHeardAt.set(listenerWorkflowId, now);
  }

  /** Whether that listener workflow runs in this process: it handed over a route, or started a run here, within HOSTED_WITHIN_MS. */
  hosts(listenerWorkflowId: string, now = Date.now()): boolean {
    const at = this.#lastHeardAt.get(listenerWorkflowId);
    return at !== undefined && now - at < HOSTED_WITHIN_MS;
  }

  /** The routes this process knows of those ids; the others are absent. */
  known(listenerWorkflowId: string, sendRequestIds: string[]): Record<string, RouteTarget> {
    return this.#byListener.get(listenerWorkflowId)?.known(sendRequestIds) ?? {};
  }
}

/** Send request ids come from the server; refuse anything that could break out of the query string. */
function isQueryableId(id: string): boolean {
  return id !== '' && !/["\\]/.test(id);
}
