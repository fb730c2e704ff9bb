// ChunkDirectory without a server: routes this process learned, then the routes query answer first (asked less and less often, and
// not at all where the listener workflow runs), and a visibility list call happens only for a request the routes still do not know
// after the grace period, then less and less often.
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { ChunkDirectory, LearnedRoutes } from '../../activities/chunk-directory';
import { MAX_ROUTES } from '../../src/contracts/listener';
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

  it('asks the routes only about requests this process has not learned', async () => {
    const { client, calls } = fakeClient({});
    const learned = new LearnedRoutes();
    learned.learned('listener-1', { sendRequestId: 'sr_a', workflowId: 'chunk-a', prompt: [] });
    learned.learned('listener-2', { sendRequestId: 'sr_b', workflowId: 'chunk-b-of-another-listener' });
    const asked: string[][] = [];
    const directory = new ChunkDirectory(client, { learned: (ids) => learned.known('listener-1', ids), routes: async (ids) => (asked.push(ids), { sr_b: { workflowId: 'chunk-b' } }) });
    expect(await directory.resolve(['sr_a'], 0)).toEqual(new Map([['sr_a', { workflowId: 'chunk-a', prompt: [] }]]));
    expect(directory.routeQueries).toBe(0);
    expect(await directory.resolve(['sr_a', 'sr_b'], 0)).toEqual(new Map([['sr_a', { workflowId: 'chunk-a', prompt: [] }], ['sr_b', { workflowId: 'chunk-b' }]]));
    expect(asked).toEqual([['sr_b']]); // sr_a was cached; sr_b is another listener's
    expect(directory.routeQueries).toBe(1);
    expect(calls).toEqual([]);
  });

  it('keeps the newest routes each listener handed over, a route told again moving to the newest', () => {
    const learned = new LearnedRoutes();
    for (let i = 0; i < MAX_ROUTES; i++) learned.learned('l', { sendRequestId: `sr_${i}`, workflowId: `chunk-${i}` });
    learned.learned('l', { sendRequestId: 'sr_0', workflowId: 'chunk-0' }); // told again: newest now
    learned.learned('l', { sendRequestId: 'sr_new', workflowId: 'chunk-new' }); // one too many: the oldest (sr_1) goes
    expect(Object.keys(learned.known('l', ['sr_0', 'sr_1', 'sr_2', 'sr_new']))).toEqual(['sr_0', 'sr_2', 'sr_new']);
    expect(learned.known('other', ['sr_0'])).toEqual({});
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

  it('in the grace, asks the routes query less and less often, and not at all in the process running the listener workflow', async () => {
    const { client, calls } = fakeClient({});
    const asked: number[] = [];
    const queried = new ChunkDirectory(client, { routes: async () => (asked.push(0), {}), routeGraceMs: 10_000 });
    for (let now = 0; now < 10_000; now += 150) await queried.resolve(['sr_later'], now); // a route waiting for its chunk's last request
    // 0, 250, 750, 1,750, 3,750, 7,750 ms: not at every 150 ms tick.
    expect(queried.routeQueries).toBe(6);
    expect(calls).toEqual([]);

    const learned = new LearnedRoutes();
    learned.learned('listener-1', { sendRequestId: 'sr_other', workflowId: 'chunk-o' }, 0);
    const hosting = new ChunkDirectory(client, { routes: async () => (asked.push(1), {}), learned: (ids) => learned.known('listener-1', ids), hosted: () => learned.hosts('listener-1', 0), routeGraceMs: 10_000 });
    for (const now of [0, 150, 300]) expect(await hosting.resolve(['sr_later'], now)).toEqual(new Map());
    learned.learned('listener-1', { sendRequestId: 'sr_later', workflowId: 'chunk-l', part: { index: 0, count: 5 } }, 400); // the chunk's routes came, together
    expect(await hosting.resolve(['sr_later'], 450)).toEqual(new Map([['sr_later', { workflowId: 'chunk-l', part: { index: 0, count: 5 } }]]));
    expect(hosting.routeQueries).toBe(0);
    expect(calls).toEqual([]);
  });

  it('counts a listener workflow as running here while it hands over routes or starts runs here', () => {
    const learned = new LearnedRoutes();
    expect(learned.hosts('l', 0)).toBe(false);
    learned.learned('l', { sendRequestId: 'sr_1', workflowId: 'chunk-1' }, 1_000);
    expect(learned.hosts('l', 30_000)).toBe(true);
    expect(learned.hosts('other', 30_000)).toBe(false);
    expect(learned.hosts('l', 61_000)).toBe(false); // it went quiet: maybe it runs elsewhere now, so ask it
    learned.hosting('l', 70_000); // it started an activity run here
    expect(learned.hosts('l', 100_000)).toBe(true);
  });

  it('without routes, looks up visibility at once (the reconciliation path)', async () => {
    const { client, calls } = fakeClient({ sr_y: 'chunk-y' });
    const directory = new ChunkDirectory(client);
    expect(await directory.resolve(['sr_y', 'bad"id'], 0)).toEqual(new Map([['sr_y', { workflowId: 'chunk-y' }]]));
    expect(calls).toEqual(['PpoppoSendRequestId IN ("sr_y")']); // an id that could break the query is never put in one
  });
});
