// StreamSendRequestEvents: replay from the DB after the cursor in pages, then switch to live events
// from the in-memory subscriber list. The switch happens in the same tick as the last (short) page
// read, and events are published only after their commit, so nothing falls between the two.
// The server ends streams after N events / T ms (and on POST /inspect/faults {cutStreamsNow}) so
// client reconnection gets exercised. A client that cannot keep up with live events is switched
// back to paging from the DB until it has caught up, so memory stays bounded.
import { Metadata } from '@grpc/grpc-js';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { isValid } from 'ulid';
import type { SendRequestEvent, StreamSendRequestEventsReq } from '../../api/gen/ppoppo/external/v1/external';
import { toProtoEvent, type EventLog } from '../events';
import type { RuntimeConfig } from '../options';
import { invalid, notFound } from '../rpc-error';
import type { EventRow, Store } from '../store';

const PAGE = 500;
/** Live events buffered for one client before it is switched back to paging from the DB. */
const MAX_BUFFERED = 1000;

type Call = ServerWritableStream<StreamSendRequestEventsReq, SendRequestEvent>;

export class EventStreams {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly log: EventLog,
    private readonly config: RuntimeConfig,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  /** Ends every open stream (status OK); returns how many. */
  cutAll(): number {
    const closers = [...this.open];
    for (const close of closers) close();
    return closers.length;
  }

  async serve(appId: string, call: Call): Promise<void> {
    const { sendRequestId, afterEventId } = call.request;
    if (afterEventId && !isValid(afterEventId)) throw invalid('after_event_id is not a valid event id');
    if (sendRequestId && this.store.request(sendRequestId)?.app_id !== appId) throw notFound('Send request not found');
    // Response headers at once, as the real API's server does: the client knows the stream is open before any event.
    call.sendMetadata(new Metadata());
    const filter = { appId, sendRequestId: sendRequestId || undefined };
    const { streamMaxEvents, streamMaxMs } = this.config;

    let cursor = afterEventId ? afterEventId.toUpperCase() : '';
    let sent = 0;
    let live = false;
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe = () => {};
    const stop = () => {
      ended = true;
      unsubscribe();
      clearTimeout(timer);
      this.open.delete(end);
    };
    const end = () => {
      if (ended) return;
      stop();
      call.end();
    };
    const write = (row: EventRow, event = toProtoEvent(row)): boolean => {
      const ok = call.write(event);
      cursor = row.event_id;
      if (streamMaxEvents > 0 && ++sent >= streamMaxEvents) end();
      return ok;
    };
    /** Reads from the DB after `cursor` until caught up, then goes live. */
    const pump = async () => {
      while (!ended) {
        const page = this.store.eventsAfter(filter, cursor, PAGE);
        let flowing = true;
        for (const row of page) {
          if (ended) return;
          flowing = write(row) && flowing;
        }
        if (page.length < PAGE) {
          live = true;
          return;
        }
        if (!flowing && !ended) await drained(call);
      }
    };

    call.on('cancelled', stop);
    call.on('error', stop);
    this.open.add(end);
    if (streamMaxMs > 0) timer = setTimeout(end, streamMaxMs);
    unsubscribe = this.log.subscribe({
      ...filter,
      deliver: (row, event) => {
        if (!live || ended || row.event_id <= cursor) return;
        write(row, event);
        // A client slower than the event rate: stop buffering, let it catch up from the DB.
        if (call.writableLength > MAX_BUFFERED && !ended) {
          live = false;
          void drained(call).then(pump);
        }
      },
    });
    await pump();
  }
}

function drained(call: Call): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
    call.on('close', done);
  });
}
