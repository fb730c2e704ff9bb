// Every SQL statement the sandbox runs, prepared once. Callers group writes in transactions
// (`store.tx`); nothing here schedules or publishes anything.
import type { Statement } from 'better-sqlite3';
import type { Db } from './db';

export interface TemplateRow {
  id: string;
  app_id: string;
  name: string;
  description: string | null;
  components: string;
  is_active: number;
  version: number;
  created_at: number;
  updated_at: number;
}

export interface SendRequestRow {
  id: string;
  app_id: string;
  template_id: string;
  status: number;
  total: number;
  delivered: number;
  pending_consent: number;
  failed: number;
  created_at: number;
  completed_at: number | null;
}

export interface MessageRow {
  seq: number;
  id: string;
  send_request_id: string;
  app_id: string;
  template_id: string;
  ppnum: string;
  rendered: string;
  outcome: string;
  status: number;
  message_id: string | null;
  error_code: string | null;
  step: string | null;
  due_at: number | null;
  accepted_at: number;
  updated_at: number;
}

export interface EventRow {
  event_id: string;
  app_id: string;
  send_request_id: string;
  type: number;
  recipient: string | null;
  summary: string | null;
  occurred_at: number;
}

export interface PollResponseRow {
  send_request_id: string;
  ppnum: string;
  option_index: number;
  option_text: string;
  responded_at: number;
}

type NewMessage = Omit<MessageRow, 'seq' | 'message_id' | 'error_code'>;

/** A message as the delivery engine moves it: everything but the rendered text, which it never reads. */
export type MessageState = Omit<MessageRow, 'rendered'>;
const STATE_COLUMNS = 'seq, id, send_request_id, app_id, template_id, ppnum, outcome, status, message_id, error_code, step, due_at, accepted_at, updated_at';

export class Store {
  private readonly s: Record<string, Statement>;

  constructor(readonly db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      getMeta: p('SELECT value FROM meta WHERE key = ?'),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),

      insertTemplate: p(`INSERT INTO templates (id, app_id, name, description, components, is_active, version, created_at, updated_at)
        VALUES (@id, @app_id, @name, @description, @components, @is_active, @version, @created_at, @updated_at)`),
      templateById: p('SELECT * FROM templates WHERE id = ?'),
      templateByName: p('SELECT * FROM templates WHERE app_id = ? AND name = ?'),
      templatesAfter: p('SELECT * FROM templates WHERE app_id = ? AND id > ? ORDER BY id LIMIT ?'),
      setTemplateActive: p('UPDATE templates SET is_active = ?, updated_at = ? WHERE id = ?'),
      countTemplates: p('SELECT COUNT(*) AS n FROM templates WHERE app_id = ?'),

      insertRequest: p(`INSERT INTO send_requests (id, app_id, template_id, status, total, created_at)
        VALUES (@id, @app_id, @template_id, @status, @total, @created_at)`),
      requestById: p('SELECT * FROM send_requests WHERE id = ?'),
      updateRequest: p(`UPDATE send_requests SET status = @status, delivered = @delivered, pending_consent = @pending_consent,
        failed = @failed, completed_at = @completed_at WHERE id = @id`),
      requestsAfter: p('SELECT * FROM send_requests WHERE id > ? ORDER BY id LIMIT ?'),
      countRequestsByStatus: p('SELECT status, COUNT(*) AS n FROM send_requests WHERE app_id = ? GROUP BY status'),
      countCompletedSince: p('SELECT COUNT(*) AS n FROM send_requests WHERE app_id = ? AND completed_at >= ?'),

      // The per-recipient statements bind positionally: cheaper than named parameters, once per row.
      insertMessage: p(`INSERT INTO messages (id, send_request_id, app_id, template_id, ppnum, rendered, outcome, status, step, due_at, accepted_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      updateMessage: p('UPDATE messages SET status = ?, message_id = ?, error_code = ?, step = ?, due_at = ?, updated_at = ? WHERE seq = ?'),
      messagesOfRequest: p('SELECT * FROM messages WHERE send_request_id = ? ORDER BY seq'),
      pendingConsentOf: p(`SELECT ${STATE_COLUMNS} FROM messages WHERE ppnum = ? AND app_id = ? AND step = 'decide' ORDER BY seq`),
      ppnumsOfRequest: p('SELECT ppnum FROM messages WHERE send_request_id = ? ORDER BY seq'),
      dueMessages: p(`SELECT ${STATE_COLUMNS} FROM messages WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`),
      nextDue: p('SELECT MIN(due_at) AS t FROM messages WHERE due_at IS NOT NULL'),
      ledgerAfter: p(`SELECT * FROM messages WHERE seq > @after AND (@ppnum IS NULL OR ppnum = @ppnum)
        AND (@send_request_id IS NULL OR send_request_id = @send_request_id) ORDER BY seq LIMIT @limit`),
      duplicates: p(`SELECT app_id, template_id, ppnum, COUNT(*) AS times, group_concat(send_request_id) AS send_request_ids
        FROM messages GROUP BY app_id, template_id, ppnum HAVING COUNT(*) > 1 ORDER BY ppnum LIMIT ?`),
      deliveredCount: p('SELECT COUNT(*) AS n FROM messages WHERE app_id = ? AND message_id IS NOT NULL'),
      activeRecipients: p('SELECT COUNT(DISTINCT ppnum) AS n FROM messages WHERE app_id = ? AND message_id IS NOT NULL'),

      insertEvent: p('INSERT INTO events (event_id, app_id, send_request_id, type, recipient, summary, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      appEventsAfter: p('SELECT * FROM events WHERE app_id = ? AND event_id > ? ORDER BY event_id LIMIT ?'),
      allEventsAfter: p('SELECT * FROM events WHERE event_id > ? ORDER BY event_id LIMIT ?'),
      requestEventsAfter: p('SELECT * FROM events WHERE send_request_id = ? AND event_id > ? ORDER BY event_id LIMIT ?'),
      lastEventId: p('SELECT MAX(event_id) AS id FROM events'),

      getConsent: p('SELECT decision FROM consents WHERE app_id = ? AND ppnum = ?'),
      setConsent: p(`INSERT INTO consents (app_id, ppnum, decision, decided_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (app_id, ppnum) DO UPDATE SET decision = excluded.decision, decided_at = excluded.decided_at`),

      insertPollResponse: p(`INSERT OR IGNORE INTO poll_responses (send_request_id, ppnum, option_index, option_text, responded_at)
        VALUES (@send_request_id, @ppnum, @option_index, @option_text, @responded_at)`),
      pollCounts: p('SELECT option_index, COUNT(*) AS n FROM poll_responses WHERE send_request_id = ? GROUP BY option_index'),
      pollResponsesAfter: p('SELECT * FROM poll_responses WHERE send_request_id = ? AND ppnum > ? ORDER BY ppnum LIMIT ?'),

      quotaUsed: p('SELECT used FROM quota_use WHERE app_id = ? AND month = ?'),
      addQuotaUse: p(`INSERT INTO quota_use (app_id, month, used) VALUES (?, ?, ?)
        ON CONFLICT (app_id, month) DO UPDATE SET used = used + excluded.used`),
      getCounter: p('SELECT value FROM app_counters WHERE app_id = ? AND name = ?'),
      bumpCounter: p(`INSERT INTO app_counters (app_id, name, value) VALUES (?, ?, 1)
        ON CONFLICT (app_id, name) DO UPDATE SET value = value + 1`),

      countAll: p(`SELECT (SELECT COUNT(*) FROM templates) AS templates, (SELECT COUNT(*) FROM send_requests) AS sendRequests,
        (SELECT COUNT(*) FROM messages) AS messages, (SELECT COUNT(*) FROM events) AS events,
        (SELECT COUNT(*) FROM poll_responses) AS pollResponses`),
      countByStatus: p('SELECT status, COUNT(*) AS n FROM messages GROUP BY status'),
    };
  }

  private st(name: string): Statement {
    return this.s[name]!;
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getMeta(key: string): string | undefined {
    return (this.st('getMeta').get(key) as { value: string } | undefined)?.value;
  }
  setMeta(key: string, value: string): void {
    this.st('setMeta').run(key, value);
  }

  insertTemplate(row: TemplateRow): void {
    this.st('insertTemplate').run(row);
  }
  template(id: string): TemplateRow | undefined {
    return this.st('templateById').get(id) as TemplateRow | undefined;
  }
  templateByName(appId: string, name: string): TemplateRow | undefined {
    return this.st('templateByName').get(appId, name) as TemplateRow | undefined;
  }
  templatesAfter(appId: string, afterId: string, limit: number): TemplateRow[] {
    return this.st('templatesAfter').all(appId, afterId, limit) as TemplateRow[];
  }
  setTemplateActive(id: string, active: boolean, now: number): boolean {
    return this.st('setTemplateActive').run(active ? 1 : 0, now, id).changes > 0;
  }
  countTemplates(appId: string): number {
    return (this.st('countTemplates').get(appId) as { n: number }).n;
  }

  insertRequest(row: Omit<SendRequestRow, 'delivered' | 'pending_consent' | 'failed' | 'completed_at'>): void {
    this.st('insertRequest').run(row);
  }
  request(id: string): SendRequestRow | undefined {
    return this.st('requestById').get(id) as SendRequestRow | undefined;
  }
  updateRequest(row: SendRequestRow): void {
    this.st('updateRequest').run(row);
  }
  requestsAfter(afterId: string, limit: number): SendRequestRow[] {
    return this.st('requestsAfter').all(afterId, limit) as SendRequestRow[];
  }
  requestCountsByStatus(appId: string): Map<number, number> {
    const rows = this.st('countRequestsByStatus').all(appId) as Array<{ status: number; n: number }>;
    return new Map(rows.map((r) => [r.status, r.n]));
  }
  completedSince(appId: string, since: number): number {
    return (this.st('countCompletedSince').get(appId, since) as { n: number }).n;
  }

  insertMessage(m: NewMessage): void {
    this.st('insertMessage').run(m.id, m.send_request_id, m.app_id, m.template_id, m.ppnum, m.rendered, m.outcome, m.status, m.step, m.due_at, m.accepted_at, m.updated_at);
  }
  updateMessage(m: MessageState): void {
    this.st('updateMessage').run(m.status, m.message_id, m.error_code, m.step, m.due_at, m.updated_at, m.seq);
  }
  messagesOf(sendRequestId: string): MessageRow[] {
    return this.st('messagesOfRequest').all(sendRequestId) as MessageRow[];
  }
  /** Messages of (app, ppnum) still waiting for a consent decision. */
  pendingConsentOf(appId: string, ppnum: string): MessageState[] {
    return this.st('pendingConsentOf').all(ppnum, appId) as MessageState[];
  }
  ppnumsOf(sendRequestId: string): string[] {
    return (this.st('ppnumsOfRequest').pluck().all(sendRequestId) as string[]);
  }
  dueMessages(now: number, limit: number): MessageState[] {
    return this.st('dueMessages').all(now, limit) as MessageState[];
  }
  nextDueAt(): number | undefined {
    return (this.st('nextDue').get() as { t: number | null }).t ?? undefined;
  }
  ledgerPage(filter: { afterSeq: number; ppnum?: string; sendRequestId?: string; limit: number }): MessageRow[] {
    return this.st('ledgerAfter').all({ after: filter.afterSeq, ppnum: filter.ppnum ?? null, send_request_id: filter.sendRequestId ?? null, limit: filter.limit }) as MessageRow[];
  }
  duplicates(limit: number): Array<{ app_id: string; template_id: string; ppnum: string; times: number; send_request_ids: string }> {
    return this.st('duplicates').all(limit) as Array<{ app_id: string; template_id: string; ppnum: string; times: number; send_request_ids: string }>;
  }
  deliveredCount(appId: string): number {
    return (this.st('deliveredCount').get(appId) as { n: number }).n;
  }
  activeRecipients(appId: string): number {
    return (this.st('activeRecipients').get(appId) as { n: number }).n;
  }

  insertEvent(e: EventRow): void {
    this.st('insertEvent').run(e.event_id, e.app_id, e.send_request_id, e.type, e.recipient, e.summary, e.occurred_at);
  }
  /** Events after `afterId`: of one send request, of one app, or (no filter: the inspection endpoint) all. */
  eventsAfter(filter: { appId?: string; sendRequestId?: string }, afterId: string, limit: number): EventRow[] {
    if (filter.sendRequestId) return this.st('requestEventsAfter').all(filter.sendRequestId, afterId, limit) as EventRow[];
    if (filter.appId) return this.st('appEventsAfter').all(filter.appId, afterId, limit) as EventRow[];
    return this.st('allEventsAfter').all(afterId, limit) as EventRow[];
  }
  lastEventId(): string | undefined {
    return (this.st('lastEventId').get() as { id: string | null }).id ?? undefined;
  }

  consent(appId: string, ppnum: string): 'granted' | 'denied' | undefined {
    return (this.st('getConsent').get(appId, ppnum) as { decision: 'granted' | 'denied' } | undefined)?.decision;
  }
  setConsent(appId: string, ppnum: string, decision: 'granted' | 'denied', now: number): void {
    this.st('setConsent').run(appId, ppnum, decision, now);
  }

  insertPollResponse(row: PollResponseRow): void {
    this.st('insertPollResponse').run(row);
  }
  pollCounts(sendRequestId: string): Map<number, number> {
    const rows = this.st('pollCounts').all(sendRequestId) as Array<{ option_index: number; n: number }>;
    return new Map(rows.map((r) => [r.option_index, r.n]));
  }
  pollResponsesAfter(sendRequestId: string, afterPpnum: string, limit: number): PollResponseRow[] {
    return this.st('pollResponsesAfter').all(sendRequestId, afterPpnum, limit) as PollResponseRow[];
  }

  quotaUsed(appId: string, month: string): number {
    return (this.st('quotaUsed').get(appId, month) as { used: number } | undefined)?.used ?? 0;
  }
  addQuotaUse(appId: string, month: string, n: number): void {
    this.st('addQuotaUse').run(appId, month, n);
  }
  counter(appId: string, name: string): number {
    return (this.st('getCounter').get(appId, name) as { value: number } | undefined)?.value ?? 0;
  }
  bumpCounter(appId: string, name: string): void {
    this.st('bumpCounter').run(appId, name);
  }

  counts(): { templates: number; sendRequests: number; messages: number; events: number; pollResponses: number; messagesByStatus: Map<number, number> } {
    const all = this.st('countAll').get() as { templates: number; sendRequests: number; messages: number; events: number; pollResponses: number };
    const rows = this.st('countByStatus').all() as Array<{ status: number; n: number }>;
    return { ...all, messagesByStatus: new Map(rows.map((r) => [r.status, r.n])) };
  }
}
