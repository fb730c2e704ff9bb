// Client for the sandbox's TEST-ONLY /inspect endpoints: the delivery ledger, duplicates, counters,
// fault injection. Used by the demo, the bench, the fault campaign and the tests. The endpoints
// need the sandbox's inspect token (RunningSandbox.inspectToken, or SANDBOX_INSPECT_TOKEN).
import type { FaultRequest } from '../../src/sandbox/faults';

/** One message the sandbox accepted (GET /inspect/messages). */
export interface LedgerEntry {
  sendRequestId: string;
  recipientId: string;
  appId: string;
  templateId: string;
  ppnum: string;
  text: string;
  /** DELIVERED, FAILED, PENDING_CONSENT, CONSENT_DENIED, ... (RecipientDeliveryStatus without prefix). */
  status: string;
  messageId: string | null;
  errorCode: string | null;
  acceptedAt: string | null;
  updatedAt: string | null;
}

/** One event the sandbox emitted (GET /inspect/events), with the time it happened. */
export interface EventEntry {
  eventId: string;
  sendRequestId: string;
  /** RECIPIENT_DELIVERED, CONSENT_DENIED, ... */
  type: string;
  ppnum: string | null;
  errorCode: string | null;
  occurredAt: string;
}

export interface SendRequestEntry {
  id: string;
  templateId: string;
  status: string;
  totalRecipients: number;
  createdAt: string | null;
  completedAt: string | null;
  ppnums: string[];
}

export interface Duplicate {
  templateId: string;
  ppnum: string;
  times: number;
  sendRequestIds: string[];
}

export interface SandboxStats {
  sendRequests: number;
  messages: number;
  /** Events the sandbox emitted (the app-wide stream's length). */
  events: number;
  recipientsByStatus: Record<string, number>;
  createSendRequest: {
    calls: number;
    accepted: number;
    ambiguousAnswers: number;
    refusals: Record<string, number>;
    maxCallsInAnySecond: number;
    maxAcceptedInAnySecond: number;
  };
  rateLimitRefusals: number;
  quotaRefusals: number;
}

export class SandboxInspector {
  constructor(
    readonly httpUrl: string,
    private readonly token: string,
  ) {}

  /** The whole delivery ledger, read as NDJSON so a million entries never sit in one string. */
  async messages(filter: { ppnum?: string; sendRequestId?: string } = {}): Promise<LedgerEntry[]> {
    const query = new URLSearchParams({ format: 'ndjson' });
    if (filter.ppnum) query.set('ppnum', filter.ppnum);
    if (filter.sendRequestId) query.set('send_request_id', filter.sendRequestId);
    return this.ndjson<LedgerEntry>(`/inspect/messages?${query}`);
  }

  /** Accepted send requests, oldest first; with `ppnum`, only those whose recipients include it. */
  sendRequests(filter: { ppnum?: string } = {}): Promise<SendRequestEntry[]> {
    const query = new URLSearchParams({ format: 'ndjson' });
    if (filter.ppnum) query.set('ppnum', filter.ppnum);
    return this.ndjson<SendRequestEntry>(`/inspect/send-requests?${query}`);
  }

  /** Every event, oldest first (or one send request's): when each consent decision happened. */
  events(filter: { sendRequestId?: string } = {}): Promise<EventEntry[]> {
    const query = new URLSearchParams({ format: 'ndjson' });
    if (filter.sendRequestId) query.set('send_request_id', filter.sendRequestId);
    return this.ndjson<EventEntry>(`/inspect/events?${query}`);
  }

  async duplicates(): Promise<Duplicate[]> {
    return (await this.json<{ duplicates: Duplicate[] }>('/inspect/duplicates')).duplicates;
  }

  stats(): Promise<SandboxStats> {
    return this.json<SandboxStats>('/inspect/stats');
  }

  faults(request: FaultRequest): Promise<{ cutStreams: number }> {
    return this.json('/inspect/faults', request);
  }

  /** Changes runtime settings (delays, rate limit, outcome mix): see POST /inspect/config. */
  config(patch: Record<string, unknown>): Promise<unknown> {
    return this.json('/inspect/config', patch);
  }

  private async json<T>(path: string, body?: unknown): Promise<T> {
    const auth = { authorization: `Bearer ${this.token}` };
    const res =
      body === undefined
        ? await this.get(path)
        : await fetch(`${this.httpUrl}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`sandbox ${path} answered HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  /**
   * A read, tried once more when the connection fails before any answer: a kept-alive socket the
   * sandbox closed as idle just as it was reused ("fetch failed") says nothing about the sandbox.
   */
  private async get(path: string): Promise<Response> {
    const request = () => fetch(`${this.httpUrl}${path}`, { headers: { authorization: `Bearer ${this.token}` } });
    try {
      return await request();
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
      return request();
    }
  }

  private async ndjson<T>(path: string): Promise<T[]> {
    const res = await this.get(path);
    if (!res.ok || !res.body) throw new Error(`sandbox ${path} answered HTTP ${res.status}`);
    const items: T[] = [];
    let rest = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) items.push(JSON.parse(line) as T);
    }
    if (rest.trim()) items.push(JSON.parse(rest) as T);
    return items;
  }
}
