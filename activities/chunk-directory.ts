// Finds the chunk workflow that owns a send request. First from the routes the send path gave the
// listener workflow (handed to this process when that workflow runs here, else a query: cheap, no
// visibility); only for requests the routes do not know after
// a short grace (their route may still be on its way) through the PpoppoSendRequestId search
// attribute, a visibility query. Production Temporal allows about 10 visibility list calls per
// second per namespace, so those are the fallback (requests of other tools, routes lost), retried
// with a growing interval. Found mappings are cached (LRU-bounded).
import type { Client } from '@temporalio/client';
import { RouteBook } from '../src/contracts/listener';
import type { ChunkRoute, RouteTarget } from '../src/contracts/listener';
import { SEND_REQUEST_ID_KEY } from '../src/temporal/names';
const IDS_PER_QUERY = 50;

export interface ChunkDirectoryOptions {
  maxCached?: number;
  /** The routes of the given send requests (the listener workflow's routeTargets query). */
  routes?: (sendRequestIds: string[]) => Promise<Record<string, RouteTarget>>;
  /** Routes this process already knows (LearnedRoutes): `routes` is asked only about the others. */
  learned?: (sendRequestIds: string[]) => Record<string, RouteTarget>;
  /** How long a request must be unknown to the routes before visibility is asked (default 2 s). */
  routeGraceMs?: number;
  /** First visibility retry for an id not found, doubling up to maxRetryLookupMs (default 500 ms, 30 s). */
  retryLookupMs?: number;
  maxRetryLookupMs?: number;
}

interface Unknown {
  /** Visibility lookups made for it so far. */
  lookups: number;
  nextLookupAt: number;
}

export class ChunkDirectory {
  /** Visibility list calls made so far (the hot path should make none). */
  visibilityLookups = 0;
  /** Calls of `routes` so far (none for requests `learned` knows). */
  routeQueries = 0;
  private readonly found = new Map<string, RouteTarget>(); // sendRequestId → its chunk, oldest first
  private readonly unknown = new Map<string, Unknown>();
  private readonly options: Required<Omit<ChunkDirectoryOptions, 'routes' | 'learned'>> & Pick<ChunkDirectoryOptions, 'routes' | 'learned'>;

  constructor(
    private readonly client: Client,
    options: ChunkDirectoryOptions = {},
  ) {
    this.options = {
      maxCached: options.maxCached ?? 10_000,
      routes: options.routes,
      learned: options.learned,
      routeGraceMs: options.routes ? (options.routeGraceMs ?? 2_000) : 0,
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
    // In its grace period an id is asked of the routes every time; after it, only at its visibility retry times.
    const asking = missing.filter((id) => {
      const entry = this.unknown.get(id);
      return entry === undefined || entry.lookups === 0 || now >= entry.nextLookupAt;
    });
    if (asking.length === 0) return result;

    const learned = this.options.learned?.(asking) ?? {};
    const toAsk = asking.filter((id) => learned[id] === undefined);
    if (toAsk.length > 0 && this.options.routes) this.routeQueries += 1;
    const routed = { ...(toAsk.length > 0 && this.options.routes ? await this.options.routes(toAsk) : {}), ...learned };
    const toLookUp: string[] = [];
    for (const id of asking) {
      const routedTarget = routed[id];
      if (routedTarget !== undefined) {
        result.set(id, routedTarget);
        this.remember(id, routedTarget);
        continue;
      }
      const entry = this.unknown.get(id) ?? { lookups: 0, nextLookupAt: now + this.options.routeGraceMs };
      this.unknown.set(id, entry);
      if (now < entry.nextLookupAt) continue;
      entry.nextLookupAt = now + Math.min(this.options.maxRetryLookupMs, this.options.retryLookupMs * 2 ** entry.lookups);
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

  learned(listenerWorkflowId: string, route: ChunkRoute): void {
    let book = this.#byListener.get(listenerWorkflowId);
    if (!book) this.#byListener.set(listenerWorkflowId, (book = new RouteBook()));
    book.remember(route);
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
