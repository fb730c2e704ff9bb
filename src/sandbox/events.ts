// The event log: appends events inside the caller's transaction, then hands them to live stream
// subscribers once that transaction has committed. Event ids are monotonic ULIDs, also across
// restarts (new ids always sort after the newest stored one).
import { decodeTime, monotonicFactory } from 'ulid';
import {
  type RecipientDeliveryStatus,
  type SendRequestEvent,
  type SendRequestEventType,
  type SendRequestStatus,
} from '../api/gen/ppoppo/external/v1/external';
import type { EventRow, MessageState, SendRequestRow, Store } from './store';

export interface Subscriber {
  appId: string;
  sendRequestId?: string;
  /** `event`: the row as the stream sends it, built once for every subscriber. */
  deliver(row: EventRow, event: SendRequestEvent): void;
}

/** An appended event waiting for its transaction's commit. */
interface Unpublished {
  row: EventRow;
  event: SendRequestEvent;
}

export class EventLog {
  private readonly nextUlid = monotonicFactory();
  private readonly floorTime: number;
  private unpublished: Unpublished[] = [];
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly store: Store) {
    const last = store.lastEventId();
    this.floorTime = last ? decodeTime(last) + 1 : 0;
  }

  /** Runs `fn` in one transaction; events it appended reach subscribers only after the commit. */
  transaction<T>(fn: () => T): T {
    let result: T;
    try {
      result = this.store.tx(fn);
    } catch (err) {
      this.unpublished = [];
      throw err;
    }
    this.publish();
    return result;
  }

  /** `occurredAt` (default `now`): when it happened, which may be before the timer got to it; the id is minted from `now`, in stream order. */
  append(event: { appId: string; sendRequestId: string; type: SendRequestEventType; recipient?: MessageState; summary?: SendRequestRow }, now: number, occurredAt = now): void {
    const recipient = event.recipient && recipientJson(event.recipient);
    const summary = event.summary && summaryJson(event.summary);
    const row: EventRow = {
      event_id: this.nextUlid(Math.max(now, this.floorTime)),
      app_id: event.appId,
      send_request_id: event.sendRequestId,
      type: event.type,
      recipient: recipient ? JSON.stringify(recipient) : null,
      summary: summary ? JSON.stringify(summary) : null,
      occurred_at: occurredAt,
    };
    this.store.insertEvent(row);
    // Live subscribers get the event from these values, not from parsing the row's JSON again.
    this.unpublished.push({ row, event: protoEvent(row, recipient, summary) });
  }

  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private publish(): void {
    const events = this.unpublished;
    this.unpublished = [];
    if (events.length === 0 || this.subscribers.size === 0) return;
    for (const subscriber of [...this.subscribers]) {
      for (const { row, event } of events) {
        if (row.app_id !== subscriber.appId) continue;
        if (subscriber.sendRequestId && row.send_request_id !== subscriber.sendRequestId) continue;
        subscriber.deliver(row, event);
      }
    }
  }
}

interface RecipientJson {
  id: string;
  ppnum: string;
  status: RecipientDeliveryStatus;
  messageId?: string;
  errorCode?: string;
  createdAt: number;
}

interface SummaryJson {
  id: string;
  status: SendRequestStatus;
  totalRecipients: number;
  delivered: number;
  pendingConsent: number;
  failed: number;
  createdAt: number;
  completedAt?: number;
}

function recipientJson(m: MessageState): RecipientJson {
  return { id: m.id, ppnum: m.ppnum, status: m.status, messageId: m.message_id ?? undefined, errorCode: m.error_code ?? undefined, createdAt: m.accepted_at };
}

function summaryJson(r: SendRequestRow): SummaryJson {
  return { id: r.id, status: r.status, totalRecipients: r.total, delivered: r.delivered, pendingConsent: r.pending_consent, failed: r.failed, createdAt: r.created_at, completedAt: r.completed_at ?? undefined };
}

export function recipientStatus(m: MessageState) {
  const j = recipientJson(m);
  return { ...j, createdAt: new Date(j.createdAt) };
}

export function requestSummary(r: SendRequestRow) {
  const j = summaryJson(r);
  return { ...j, createdAt: new Date(j.createdAt), completedAt: j.completedAt === undefined ? undefined : new Date(j.completedAt) };
}

export function toProtoEvent(row: EventRow): SendRequestEvent {
  const recipient = row.recipient ? (JSON.parse(row.recipient) as RecipientJson) : undefined;
  const summary = row.summary ? (JSON.parse(row.summary) as SummaryJson) : undefined;
  return protoEvent(row, recipient, summary);
}

function protoEvent(row: EventRow, recipient: RecipientJson | undefined, summary: SummaryJson | undefined): SendRequestEvent {
  return {
    eventId: row.event_id,
    sendRequestId: row.send_request_id,
    eventType: row.type,
    recipient: recipient && { ...recipient, createdAt: new Date(recipient.createdAt) },
    summary: summary && { ...summary, createdAt: new Date(summary.createdAt), completedAt: summary.completedAt === undefined ? undefined : new Date(summary.completedAt) },
    occurredAt: new Date(row.occurred_at),
  };
}
