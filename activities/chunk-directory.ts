// Finds the chunk workflow that owns a send request, through the PpoppoSendRequestId search
// attribute (a visibility query). Found mappings are cached (LRU-bounded); ids not found yet are
// looked up again at most every `retryLookupMs`, because visibility lags the workflow's upsert.
import type { Client } from '@temporalio/client';
import { SEND_REQUEST_ID_KEY } from '../src/temporal/names';
const IDS_PER_QUERY = 50;

export interface ChunkDirectoryOptions {
  maxCached?: number;
  retryLookupMs?: number;
}

export class ChunkDirectory {
  private readonly found = new Map<string, string>(); // sendRequestId → workflowId, oldest first
  private readonly lastLookupAt = new Map<string, number>(); // ids not found yet
  private readonly maxCached: number;
  private readonly retryLookupMs: number;

  constructor(private readonly client: Client, options: ChunkDirectoryOptions = {}) {
    this.maxCached = options.maxCached ?? 10_000;
    this.retryLookupMs = options.retryLookupMs ?? 500;
  }

  /** Workflow ids for the given send request ids; ids not (yet) visible are absent. */
  async resolve(sendRequestIds: Iterable<string>, now = Date.now()): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    const toLookUp: string[] = [];
    for (const id of new Set(sendRequestIds)) {
      const workflowId = this.found.get(id);
      if (workflowId !== undefined) {
        this.found.delete(id); // re-insert: most recently used goes last
        this.found.set(id, workflowId);
        result.set(id, workflowId);
      } else if (isQueryableId(id) && now - (this.lastLookupAt.get(id) ?? -Infinity) >= this.retryLookupMs) {
        toLookUp.push(id);
      }
    }
    for (let i = 0; i < toLookUp.length; i += IDS_PER_QUERY) {
      const ids = toLookUp.slice(i, i + IDS_PER_QUERY);
      for (const id of ids) this.lastLookupAt.set(id, now);
      const query = `${SEND_REQUEST_ID_KEY.name} IN (${ids.map((id) => `"${id}"`).join(', ')})`;
      for await (const info of this.client.workflow.list({ query })) {
        const id = info.typedSearchAttributes.get(SEND_REQUEST_ID_KEY);
        if (id === undefined || result.has(id)) continue;
        result.set(id, info.workflowId);
        this.remember(id, info.workflowId);
      }
    }
    return result;
  }

  /** Stop tracking an id that will not be looked up again (its events were skipped). */
  forget(sendRequestId: string): void {
    this.lastLookupAt.delete(sendRequestId);
  }

  private remember(sendRequestId: string, workflowId: string): void {
    this.lastLookupAt.delete(sendRequestId);
    this.found.set(sendRequestId, workflowId);
    if (this.found.size > this.maxCached) {
      const oldest = this.found.keys().next().value;
      if (oldest !== undefined) this.found.delete(oldest);
    }
  }
}

/** Send request ids come from the server; refuse anything that could break out of the query string. */
function isQueryableId(id: string): boolean {
  return id !== '' && !/["\\]/.test(id);
}
