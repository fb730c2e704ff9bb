// The delivery engine: moves each recipient through its scripted path. Work is not held in
// per-recipient timers but in the DB (messages.step / due_at); one timer wakes for the earliest due
// row, so pending work (e.g. a 24 h consent wait) simply resumes after a restart.
//
// Each batch runs in one transaction that updates recipients, the request's counters and appends
// the events together, so GetSendRequestStatus always agrees with the events emitted so far.
import { monotonicFactory } from 'ulid';
import {
  RecipientDeliveryStatus as R,
  SendRequestEventType as E,
  SendRequestStatus as S,
  type TemplateComponent,
} from '../api/gen/ppoppo/external/v1/external';
import type { EventLog } from './events';
import type { RuntimeConfig } from './options';
import { asksForConsent, decisionDelayMs, isTestNumber, pollChoice, type Outcome } from './outcomes';
import type { MessageState, SendRequestRow, Store } from './store';
import { pollOf } from './templates';

/** The recipient's next transition. */
export type Step = 'first' | 'decide' | 'deliver' | 'poll';

/** A new recipient's answer: the scripted one at its decision time, or one given by GrantConsent / DenyConsent. */
export type Decision = 'granted' | 'denied' | 'none';

/** The decision a consent path scripts. */
function scriptedDecision(outcome: Outcome): Decision {
  if (outcome === 'consent_grant' || outcome === 'consent_grant_fail') return 'granted';
  return outcome === 'consent_deny' ? 'denied' : 'none';
}

/** Paths whose delivery fails once the recipient is allowed (directly, or after a grant). */
function deliveryFails(outcome: Outcome): boolean {
  return outcome === 'fail' || outcome === 'consent_grant_fail';
}

/** Sets the recipient's next transition. */
function schedule(m: MessageState, step: Step | null, at: number | null): void {
  m.step = step;
  m.due_at = at;
}

const BATCH = 2000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class DeliveryEngine {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = false;
  private readonly newId = monotonicFactory();

  constructor(
    private readonly store: Store,
    private readonly log: EventLog,
    private readonly config: RuntimeConfig,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resumes whatever the DB says is pending. */
  start(): void {
    this.armForNextDue();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Makes sure the engine runs no later than `at` (called after new work was stored). */
  wake(at: number): void {
    if (at < this.timerAt) this.arm(at);
  }

  private arm(at: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.run(), Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
  }

  private armForNextDue(): void {
    const next = this.store.nextDueAt();
    this.timerAt = Infinity;
    if (next !== undefined) this.arm(next);
  }

  /**
   * A recipient's decision arriving now (GrantConsent / DenyConsent): every message of (app, ppnum)
   * still waiting for consent is decided in one transaction. Returns how many were waiting.
   */
  decideNow(appId: string, ppnum: string, decision: 'granted' | 'denied'): number {
    const now = Date.now();
    const waiting = this.store.pendingConsentOf(appId, ppnum);
    this.log.transaction(() => {
      if (!isTestNumber(ppnum)) this.store.setConsent(appId, ppnum, decision, now);
      this.processBatch(waiting, now, (m, request) => this.decide(m, request, decision, now));
    });
    if (decision === 'granted' && waiting.length > 0) this.wake(now + this.config.deliveryDelayMs);
    return waiting.length;
  }

  private run(): void {
    this.timerAt = Infinity;
    if (this.stopped) return;
    let processed = 0;
    try {
      const now = Date.now();
      const due = this.store.dueMessages(now, BATCH);
      processed = due.length;
      if (due.length > 0) this.log.transaction(() => this.processBatch(due, now));
    } catch (err) {
      this.onError(err);
    }
    // A full batch may have more behind it: continue on the next tick, letting I/O in between.
    if (processed === BATCH) this.arm(Date.now());
    else this.armForNextDue();
  }

  private processBatch(due: MessageState[], now: number, stepOf?: (m: MessageState, request: SendRequestRow) => void): void {
    const requests = new Map<string, SendRequestRow>();
    const templates = new Map<string, TemplateComponent[]>();
    const requestOf = (id: string) => {
      let r = requests.get(id);
      if (!r) requests.set(id, (r = this.store.request(id)!));
      return r;
    };
    const componentsOf = (id: string) => {
      let c = templates.get(id);
      if (!c) templates.set(id, (c = JSON.parse(this.store.template(id)?.components ?? '[]') as TemplateComponent[]));
      return c;
    };
    for (const m of due) {
      const request = requestOf(m.send_request_id);
      if (request.status === S.SEND_REQUEST_STATUS_QUEUED) request.status = S.SEND_REQUEST_STATUS_PROCESSING;
      if (stepOf) stepOf(m, request);
      else this.step(m, request, componentsOf(m.template_id), now);
      m.updated_at = now;
      this.store.updateMessage(m);
    }
    for (const request of requests.values()) {
      if (request.completed_at === null && request.delivered + request.failed === request.total) {
        request.status = S.SEND_REQUEST_STATUS_COMPLETED;
        request.completed_at = now;
        this.emit(request, E.REQUEST_COMPLETED, now, undefined, request);
      }
      this.store.updateRequest(request);
    }
  }

  private step(m: MessageState, request: SendRequestRow, components: TemplateComponent[], now: number): void {
    const c = this.config;
    const outcome = m.outcome as Outcome;
    switch (m.step as Step) {
      case 'first': {
        const remembered = isTestNumber(m.ppnum) ? undefined : this.store.consent(m.app_id, m.ppnum);
        if (remembered === 'denied') return this.fail(m, request, 'CONSENT_DENIED', E.CONSENT_DENIED, now);
        if (remembered === 'granted' || !asksForConsent(outcome)) {
          return deliveryFails(outcome) ? this.fail(m, request, 'DELIVERY_FAILED', E.RECIPIENT_FAILED, now) : this.deliver(m, request, components, now);
        }
        m.status = R.RECIPIENT_DELIVERY_STATUS_PENDING_CONSENT;
        request.pending_consent++;
        this.emit(request, E.RECIPIENT_PENDING_CONSENT, now, m);
        const wait = outcome === 'consent_expire' ? c.consentWindowMs : decisionDelayMs(m.ppnum, c.consentWindowMs, c.consentDecisionDelayMs, c.consentDecisionSpread);
        return schedule(m, 'decide', now + wait);
      }
      case 'decide': {
        // The recipient decided when the decision was due; a busy timer may get to it later.
        const decidedAt = Math.min(now, m.due_at ?? now);
        const decision = scriptedDecision(outcome);
        if (decision !== 'none' && !isTestNumber(m.ppnum)) this.store.setConsent(m.app_id, m.ppnum, decision, decidedAt);
        return this.decide(m, request, decision, now, decidedAt);
      }
      case 'deliver':
        return deliveryFails(outcome) ? this.fail(m, request, 'DELIVERY_FAILED', E.RECIPIENT_FAILED, now) : this.deliver(m, request, components, now);
      case 'poll': {
        schedule(m, null, null);
        const poll = pollOf(components);
        if (!poll) return;
        const index = pollChoice(m.send_request_id, m.ppnum, poll.options.length);
        this.store.insertPollResponse({ send_request_id: m.send_request_id, ppnum: m.ppnum, option_index: index, option_text: poll.options[index]!, responded_at: now });
        this.emit(request, E.POLL_RESPONSE_RECEIVED, now, m);
        return;
      }
      default:
        schedule(m, null, null);
    }
  }

  /**
   * Ends a recipient's wait for consent: granted → delivery after deliveryDelayMs; denied; none →
   * expired. Its event says it happened at `decidedAt` (default `now`).
   */
  private decide(m: MessageState, request: SendRequestRow, decision: Decision, now: number, decidedAt = now): void {
    request.pending_consent--;
    if (decision === 'granted') {
      m.status = R.RECIPIENT_DELIVERY_STATUS_PENDING;
      this.emit(request, E.CONSENT_GRANTED, now, m, undefined, decidedAt);
      schedule(m, 'deliver', now + this.config.deliveryDelayMs);
      return;
    }
    if (decision === 'denied') return this.fail(m, request, 'CONSENT_DENIED', E.CONSENT_DENIED, now, decidedAt);
    return this.fail(m, request, 'CONSENT_EXPIRED', E.RECIPIENT_FAILED, now, decidedAt);
  }

  private deliver(m: MessageState, request: SendRequestRow, components: TemplateComponent[], now: number): void {
    m.status = R.RECIPIENT_DELIVERY_STATUS_DELIVERED;
    m.message_id = `msg_${this.newId(now)}`;
    request.delivered++;
    this.emit(request, E.RECIPIENT_DELIVERED, now, m);
    const hasPoll = pollOf(components) !== undefined;
    schedule(m, hasPoll ? 'poll' : null, hasPoll ? now + this.config.pollResponseDelayMs : null);
  }

  private fail(m: MessageState, request: SendRequestRow, errorCode: string, type: E, now: number, occurredAt = now): void {
    m.status = R.RECIPIENT_DELIVERY_STATUS_FAILED;
    m.error_code = errorCode;
    request.failed++;
    this.emit(request, type, now, m, undefined, occurredAt);
    schedule(m, null, null);
  }

  private emit(request: SendRequestRow, type: E, now: number, recipient?: MessageState, summary?: SendRequestRow, occurredAt = now): void {
    this.log.append({ appId: request.app_id, sendRequestId: request.id, type, recipient, summary }, now, occurredAt);
  }
}
