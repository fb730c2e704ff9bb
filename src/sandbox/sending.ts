// CreateSendRequest: refusals (faults, rate limit, validation, quota, test number …07), then one
// transaction that stores the request and its recipients, then the answer (INTERNAL for …06 and
// injected ambiguous faults: the request is stored and proceeds, only the answer is lost).
import { status } from '@grpc/grpc-js';
import { monotonicFactory } from 'ulid';
import {
  RecipientDeliveryStatus,
  SendRequestStatus,
  type CreateSendRequestReq,
  type CreateSendRequestResp,
  type TemplateComponent,
} from '../api/gen/ppoppo/external/v1/external';
import type { DeliveryEngine } from './engine';
import type { EventLog } from './events';
import type { Faults, SendStats } from './faults';
import { monthKey, nextMonthStart, type AppRateLimiter } from './limits';
import type { RuntimeConfig } from './options';
import { ANSWER_LOST_PPNUM, outcomeFor, REFUSALS_BEFORE_ACCEPT, REFUSED_TWICE_PPNUM } from './outcomes';
import { invalid, notFound, RpcError } from './rpc-error';
import type { Store } from './store';
import { placeholdersOf, renderMessage, varText } from './templates';

export const MAX_RECIPIENTS = 1000;
export const PPNUM = /^[0-9]{11,}$/;
const REFUSED_07_COUNTER = 'refused_12300000007';

export interface SendDeps {
  store: Store;
  log: EventLog;
  engine: DeliveryEngine;
  config: RuntimeConfig;
  limiter: AppRateLimiter;
  faults: Faults;
  stats: SendStats;
}

interface Prepared {
  ppnum: string;
  rendered: string;
}

export class SendRequests {
  private readonly newId = monotonicFactory();

  constructor(private readonly deps: SendDeps) {}

  create(appId: string, req: CreateSendRequestReq): CreateSendRequestResp {
    const { store, faults, stats, limiter, config } = this.deps;
    const now = Date.now();
    stats.calls.mark(now);

    if (faults.take('unavailableNext')) {
      stats.refusals.injectedUnavailable++;
      throw new RpcError(status.UNAVAILABLE, 'service unavailable (injected fault)');
    }
    if (faults.take('resourceExhaustedNext')) {
      stats.refusals.injectedResourceExhausted++;
      throw new RpcError(status.RESOURCE_EXHAUSTED, 'rate limit exceeded', faults.retryAfterMs);
    }
    const wait = limiter.take(appId, now);
    if (wait > 0) {
      stats.refusals.rateLimit++;
      throw new RpcError(status.RESOURCE_EXHAUSTED, 'rate limit exceeded', wait);
    }

    let recipients: Prepared[];
    try {
      recipients = this.validate(appId, req);
    } catch (err) {
      if (err instanceof RpcError && err.code === status.INVALID_ARGUMENT) stats.refusals.invalid++;
      throw err;
    }

    const month = monthKey(now);
    if (config.monthlyQuota !== null && store.quotaUsed(appId, month) + recipients.length > config.monthlyQuota) {
      stats.refusals.monthlyQuota++;
      throw new RpcError(status.RESOURCE_EXHAUSTED, 'monthly quota exceeded', nextMonthStart(now) - now);
    }
    if (recipients.some((r) => r.ppnum === REFUSED_TWICE_PPNUM) && store.counter(appId, REFUSED_07_COUNTER) < REFUSALS_BEFORE_ACCEPT) {
      store.bumpCounter(appId, REFUSED_07_COUNTER);
      stats.refusals.testNumberUnavailable++;
      throw new RpcError(status.UNAVAILABLE, 'service temporarily unavailable (sandbox test number 12300000007)');
    }

    const id = `sr_${this.newId(now)}`;
    this.store(appId, id, req.templateId, recipients, now);
    stats.accepted.mark(now);

    if (faults.take('ambiguousNext') || recipients.some((r) => r.ppnum === ANSWER_LOST_PPNUM)) {
      stats.ambiguousAnswers++;
      throw new RpcError(status.INTERNAL, 'response lost');
    }
    return { id, status: SendRequestStatus.SEND_REQUEST_STATUS_QUEUED, totalRecipients: recipients.length, createdAt: new Date(now) };
  }

  /** The request's recipients (duplicates dropped, first kept) with their rendered messages. */
  private validate(appId: string, req: CreateSendRequestReq): Prepared[] {
    if (req.recipients.length === 0) throw invalid('recipients must not be empty');
    if (req.recipients.length > MAX_RECIPIENTS) throw invalid(`recipients exceeds ${MAX_RECIPIENTS}`);
    for (const [i, r] of req.recipients.entries()) if (!PPNUM.test(r.ppnum)) throw invalid(`recipients[${i}].ppnum is invalid (must be 11 or more digits)`);
    if (!req.templateId) throw invalid('template_id is required');
    const template = this.deps.store.template(req.templateId);
    if (!template || template.app_id !== appId) throw notFound('Template not found');
    if (!template.is_active) throw new RpcError(status.FAILED_PRECONDITION, 'Template inactive');

    const components = JSON.parse(template.components) as TemplateComponent[];
    const names = placeholdersOf(components);
    const seen = new Set<string>();
    const prepared: Prepared[] = [];
    for (const [i, r] of req.recipients.entries()) {
      if (seen.has(r.ppnum)) continue;
      seen.add(r.ppnum);
      const vars: Record<string, string> = {};
      for (const name of names) {
        const value = varText(r.vars?.[name]);
        if (value === undefined) throw invalid(`recipients[${i}].vars.${name} is required by the template`);
        vars[name] = value;
      }
      prepared.push({ ppnum: r.ppnum, rendered: renderMessage(components, vars) });
    }
    return prepared;
  }

  private store(appId: string, id: string, templateId: string, recipients: Prepared[], now: number): void {
    const { store, log, engine, config } = this.deps;
    const firstStepAt = now + config.deliveryDelayMs;
    log.transaction(() => {
      store.insertRequest({ id, app_id: appId, template_id: templateId, status: SendRequestStatus.SEND_REQUEST_STATUS_QUEUED, total: recipients.length, created_at: now });
      for (const r of recipients) {
        store.insertMessage({
          id: `rcp_${this.newId(now)}`,
          send_request_id: id,
          app_id: appId,
          template_id: templateId,
          ppnum: r.ppnum,
          rendered: r.rendered,
          outcome: outcomeFor(r.ppnum, config.outcomeMix),
          status: RecipientDeliveryStatus.RECIPIENT_DELIVERY_STATUS_PENDING,
          step: 'first',
          due_at: firstStepAt,
          accepted_at: now,
          updated_at: now,
        });
      }
      store.addQuotaUse(appId, monthKey(now), recipients.length);
    });
    engine.wake(firstStepAt);
  }
}
