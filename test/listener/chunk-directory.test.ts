// ChunkDirectory without a server: the routes answer first, and a visibility list call happens only
// for a request the routes still do not know after the grace period, then less and less often.
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { ChunkDirectory } from '../../activities/chunk-directory';
import { SEND_REQUEST_ID_KEY } from '../../src/temporal/names';

/** A client whose visibility knows `visible` (send request → workflow id) and counts list calls. */
function fakeClient(visible: Record<string, string>) {
  const calls: string[] = [];
  const client = {
    workflow: {
      async *list({ query }: { query: string }) {
        calls.push(query);
        for (const [sendRequestId, workflowId] of Object.entries(visible)) {
          if (query.includes(`"${sendRequestId}"`)) yield { workflowId, typedSearchAttributes: { get: (key: unknown) => (key === SEND_REQUEST_ID_KEY ? sendRequestId : undefined) } };
        }
      },
    },
  };
  return { client: client as unknown as Client, calls };
}

describe('ChunkDirectory', () => {
  it('takes a known route without any visibility call, and caches it', async () => {
    const { client, calls } = fakeClient({});
    const asked: string[][] = [];
    const route = { workflowId: 'chunk-a', prompt: ['CONSENT_DENIED' as const] };
    const directory = new ChunkDirectory(client, { routes: async (ids) => (asked.push(ids), { sr_a: route }) });
    expect(await directory.resolve(['sr_a'], 0)).toEqual(new Map([['sr_a', route]]));
    expect(await directory.resolve(['sr_a'], 10)).toEqual(new Map([['sr_a', route]]));
    expect(asked).toEqual([['sr_a']]);
    expect(calls).toEqual([]);
    expect(directory.visibilityLookups).toBe(0);
  });

  it('asks visibility only after the grace period, then with a growing interval', async () => {
    const visible: Record<string, string> = {};
    const { client, calls } = fakeClient(visible);
    const directory = new ChunkDirectory(client, { routes: async () => ({}), routeGraceMs: 2_000, retryLookupMs: 500, maxRetryLookupMs: 4_000 });
    for (const now of [0, 150, 1_999]) expect(await directory.resolve(['sr_x'], now)).toEqual(new Map());
    expect(calls).toHaveLength(0);
    await directory.resolve(['sr_x'], 2_000); // first lookup
    await directory.resolve(['sr_x'], 2_400); // within 500 ms: none
    await directory.resolve(['sr_x'], 2_500); // second
    await directory.resolve(['sr_x'], 3_400); // within 1 s: none
    await directory.resolve(['sr_x'], 3_500); // third
    expect(calls).toHaveLength(3);
    visible.sr_x = 'chunk-x'; // its search attribute became visible
    expect(await directory.resolve(['sr_x'], 5_500)).toEqual(new Map([['sr_x', { workflowId: 'chunk-x' }]])); // no prompt: the listener acts on both
    expect(directory.visibilityLookups).toBe(4);
  });

  it('without routes, looks up visibility at once (the reconciliation path)', async () => {
    const { client, calls } = fakeClient({ sr_y: 'chunk-y' });
    const directory = new ChunkDirectory(client);
    expect(await directory.resolve(['sr_y', 'bad"id'], 0)).toEqual(new Map([['sr_y', { workflowId: 'chunk-y' }]]));
    expect(calls).toEqual(['PpoppoSendRequestId IN ("sr_y")']); // an id that could break the query is never put in one
  });
});
