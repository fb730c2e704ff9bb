// StreamSendRequestEvents: replay from the start or after a cursor, live events, filters, and the
// server ending streams (after N events, and on demand) with nothing missed or repeated on resume.
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendRequestEventType as E, type CreateSendRequestResp, type SendRequestEvent, type Template } from '../../src/api/gen/ppoppo/external/v1/external';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { completed, connect, freshPpnum, inspect, readStream, readUntil, rpc, text, tokenFor, type Clients } from './helpers';

let sandbox: RunningSandbox;
let clients: Clients;
let token: string;
let templateId: string;
const STREAM_MAX_EVENTS = 7;

const send = (count: number) =>
  rpc<CreateSendRequestResp>(clients.message, 'createSendRequest', { templateId, recipients: Array.from({ length: count }, () => ({ ppnum: freshPpnum() })) }, token);
const ids = (events: SendRequestEvent[]) => events.map((e) => e.eventId);

beforeAll(async () => {
  sandbox = await startSandbox({ streamMaxEvents: STREAM_MAX_EVENTS, streamMaxMs: 0, outcomeMix: { delivered: 1, consentGranted: 1, consentDenied: 0, failed: 1, consentExpired: 0 }, consentDecisionDelayMs: 30 });
  clients = connect(sandbox);
  token = await tokenFor(sandbox);
  templateId = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: 'stream', components: [text('hi')] }, token)).template.id;
});

afterAll(async () => {
  clients?.close();
  await sandbox?.close();
});

/** Reads the stream from `cursor`, reconnecting after every server-side end, until `done`. */
async function readResuming(cursor: string | undefined, done: (events: SendRequestEvent[]) => boolean, sendRequestId?: string): Promise<{ events: SendRequestEvent[]; serverEnds: number }> {
  const events: SendRequestEvent[] = [];
  let serverEnds = 0;
  while (!done(events)) {
    const part = await readStream(clients.message, { sendRequestId, afterEventId: cursor }, token, (seen) => done([...events, ...seen]));
    events.push(...part.events);
    cursor = events.at(-1)?.eventId ?? cursor;
    if (part.end === 'error') throw part.error;
    if (part.end === 'server') serverEnds++;
  }
  return { events, serverEnds };
}

describe('event stream', () => {
  it('the server ends a stream after N events; resuming after the last event id misses and repeats nothing', async () => {
    const a = await send(10);
    const b = await send(10);
    const { events, serverEnds } = await readResuming(undefined, completed(a.id, b.id));
    expect(serverEnds).toBeGreaterThanOrEqual(2);
    expect(new Set(ids(events)).size).toBe(events.length);
    expect([...ids(events)].sort()).toEqual(ids(events));
    // The same range read in one go, without server-side ends, holds exactly the same events.
    await inspect(sandbox, '/inspect/config', { streamMaxEvents: 0 });
    try {
      const reference = await readUntil(clients.message, {}, token, (seen) => seen.length >= events.length);
      expect(ids(reference)).toEqual(ids(events));
    } finally {
      await inspect(sandbox, '/inspect/config', { streamMaxEvents: STREAM_MAX_EVENTS });
    }
    for (const id of [a.id, b.id]) expect(events.filter((e) => e.sendRequestId === id && e.eventType === E.REQUEST_COMPLETED)).toHaveLength(1);
  });

  it('replays exactly the events after after_event_id, then continues live', async () => {
    const all = (await readResuming(undefined, (seen) => seen.length > 0 && seen.length >= 3)).events;
    const cursor = all[1]!.eventId;
    const live = await send(2);
    const resumed = await readResuming(cursor, completed(live.id));
    expect(resumed.events[0]?.eventId).toBe(all[2]!.eventId);
    expect(resumed.events.every((e) => e.eventId > cursor)).toBe(true);
    expect(new Set(ids(resumed.events)).size).toBe(resumed.events.length);
  });

  it('a well-formed cursor that is not an event id replays the events that sort after it', async () => {
    const first = (await readUntil(clients.message, {}, token, (seen) => seen.length >= 1))[0]!;
    const between = `${first.eventId.slice(0, 25)}${first.eventId.endsWith('Z') ? 'Y' : 'Z'}`;
    const next = (await readUntil(clients.message, { afterEventId: between }, token, (seen) => seen.length >= 1))[0]!;
    expect(next.eventId > between).toBe(true);
  });

  it('filters by send request', async () => {
    const a = await send(3);
    await send(3);
    const { events } = await readResuming(undefined, completed(a.id));
    const only = await readResuming(undefined, completed(a.id), a.id);
    expect(only.events.every((e) => e.sendRequestId === a.id)).toBe(true);
    expect(ids(only.events)).toEqual(ids(events.filter((e) => e.sendRequestId === a.id)));
  });

  it('a malformed cursor is INVALID_ARGUMENT; an unknown send request is NOT_FOUND', async () => {
    expect((await readStream(clients.message, { afterEventId: 'not-a-ulid' }, token, () => false)).error?.code).toBe(status.INVALID_ARGUMENT);
    expect((await readStream(clients.message, { sendRequestId: 'sr_01ZZZZZZZZZZZZZZZZZZZZZZZZ' }, token, () => false)).error?.code).toBe(status.NOT_FOUND);
  });

  it('cutStreamsNow ends open streams with status OK', async () => {
    await inspect(sandbox, '/inspect/config', { streamMaxEvents: 0 });
    try {
      const open = readStream(clients.message, { afterEventId: '7ZZZZZZZZZZZZZZZZZZZZZZZZZ' }, token, () => false);
      let cut = 0;
      for (let i = 0; i < 50 && cut === 0; i++) {
        await sleep(20); // until the stream is registered
        cut = (await inspect<{ cutStreams: number }>(sandbox, '/inspect/faults', { cutStreamsNow: true })).cutStreams;
      }
      expect(cut).toBe(1);
      expect((await open).end).toBe('server');
    } finally {
      await inspect(sandbox, '/inspect/config', { streamMaxEvents: STREAM_MAX_EVENTS });
    }
  });
});
