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
import type { EventRow, MessageRow, SendRequestRow, Store } from './store';

export interface Subscriber {
  appId: string;
  sendRequestId?: string;
  deliver(event: EventRow): void;
}

export class EventLog {
  private readonly nextUlid = monotonicFactory();
  private readonly floorTime: number;
  private unpublished: EventRow[] = [];
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
  append(event: { appId: string; sendRequestId: string; type: SendRequestEventType; recipient?: MessageRow; summary?: SendRequestRow }, now: number, occurredAt = now): void {
    const row: EventRow = {
      event_id: this.nextUlid(Math.max(now, this.floorTime)),
      app_id: event.appId,
      send_request_id: event.sendRequestId,
      type: event.type,
      recipient: event.recipient ? JSON.stringify(recipientJson(event.recipient)) : null,
      summary: event.summary ? JSON.stringify(summaryJson(event.summary)) : null,
      occurred_at: occurredAt,
    };
    this.store.insertEvent(row);
    this.unpublished.push(row);
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
      for (const event of events) {
        if (event.app_id !== subscriber.appId) continue;
        if (subscriber.sendRequestId && event.send_request_id !== subscriber.sendRequestId) continue;
        subscriber.deliver(event);
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

function recipientJson(m: MessageRow): RecipientJson {
  return { id: m.id, ppnum: m.ppnum, status: m.status, messageId: m.message_id ?? undefined, errorCode: m.error_code ?? undefined, createdAt: m.accepted_at };
}

function summaryJson(r: SendRequestRow): SummaryJson {
  return { id: r.id, status: r.status, totalRecipients: r.total, delivered: r.delivered, pendingConsent: r.pending_consent, failed: r.failed, createdAt: r.created_at, completedAt: r.completed_at ?? undefined };
}

export function recipientStatus(m: MessageRow) {
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
  return {
    eventId: row.event_id,
    sendRequestId: row.send_request_id,
    eventType: row.type,
    recipient: recipient && { ...recipient, createdAt: new Date(recipient.createdAt) },
    summary: summary && { ...summary, createdAt: new Date(summary.createdAt), completedAt: summary.completedAt === undefined ? undefined : new Date(summary.completedAt) },
    occurredAt: new Date(row.occurred_at),
  };
}
