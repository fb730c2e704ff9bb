// An in-memory stand-in for the Ppoppo app-wide event stream, for the listener tests: an
// append-only event log that streams replay after `afterEventId` and then follow live.
import { monotonicFactory } from 'ulid';
import type { DeliveryEvent, EventType } from '../../src/api/types';

const nextUlid = monotonicFactory();

export class FakeEventLog {
  readonly events: DeliveryEvent[] = [];
  private waiters = new Set<() => void>();
  streamsOpened = 0;
  /** Streams cannot connect before this time (ms): nothing is read, and they are not live. */
  offlineUntil = 0;

  append(sendRequestId: string, type: EventType, ppnum?: string): DeliveryEvent {
    const event: DeliveryEvent = { eventId: nextUlid(), sendRequestId, type, ppnum, occurredAt: new Date().toISOString() };
    this.events.push(event);
    for (const wake of this.waiters) wake();
    return event;
  }

  /** Same shape as PpoppoClient.streamEvents for the parts the listener uses. */
  streamEvents(request: { afterEventId?: string }): AsyncIterable<DeliveryEvent> & { batches(): AsyncGenerator<DeliveryEvent[]>; cursor: string | undefined; liveSince: number | undefined; close(): void } {
    this.streamsOpened += 1;
    const { events, waiters } = this;
    const liveAt = Math.max(Date.now(), this.offlineUntil);
    let cursor = request.afterEventId;
    let closed = false;
    let wakeReader: (() => void) | undefined;
    return {
      get cursor() {
        return cursor;
      },
      get liveSince() {
        return Date.now() >= liveAt ? liveAt : undefined;
      },
      close() {
        closed = true;
        wakeReader?.();
      },
      /** Whatever the log holds after the cursor, as one batch (as a real stream hands out what arrived together). */
      async *batches() {
        if (Date.now() < liveAt) await new Promise((resolve) => setTimeout(resolve, liveAt - Date.now()));
        let index = cursor === undefined ? 0 : events.findIndex((event) => event.eventId > cursor!);
        if (index === -1) index = events.length;
        while (!closed) {
          if (index < events.length) {
            const batch = events.slice(index);
            index = events.length;
            cursor = batch[batch.length - 1]!.eventId;
            yield batch;
            continue;
          }
          await new Promise<void>((resolve) => {
            wakeReader = resolve;
            waiters.add(resolve);
          });
          waiters.delete(wakeReader!);
        }
      },
      async *[Symbol.asyncIterator]() {
        for await (const batch of this.batches()) yield* batch;
      },
    };
  }
}
