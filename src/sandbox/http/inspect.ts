// TEST-ONLY inspection and control endpoints under /inspect. The real API has nothing like them;
// tests use them to read the delivery ledger, inject faults and change limits at runtime.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RecipientDeliveryStatus, recipientDeliveryStatusToJSON, sendRequestEventTypeToJSON, sendRequestStatusToJSON } from '../../api/gen/ppoppo/external/v1/external';
import type { DeliveryEngine } from '../engine';
import type { Faults, FaultRequest, SendStats } from '../faults';
import type { AppRateLimiter } from '../limits';
import { checkSpread, toMix, toMonthlyQuota, toRateLimit, type DecisionSpread, type RuntimeConfig } from '../options';
import type { EventRow, MessageRow, SendRequestRow, Store } from '../store';
import type { EventStreams } from '../grpc/event-streams';
import { readBody, sendJson, streamList } from './respond';

export interface InspectDeps {
  store: Store;
  config: RuntimeConfig;
  limiter: AppRateLimiter;
  faults: Faults;
  stats: SendStats;
  streams: EventStreams;
  engine: DeliveryEngine;
}

const statusName = (s: number) => recipientDeliveryStatusToJSON(s).replace('RECIPIENT_DELIVERY_STATUS_', '');
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function ledgerEntry(m: MessageRow) {
  return {
    sendRequestId: m.send_request_id,
    recipientId: m.id,
    appId: m.app_id,
    templateId: m.template_id,
    ppnum: m.ppnum,
    text: m.rendered,
    status: statusName(m.status),
    messageId: m.message_id,
    errorCode: m.error_code,
    acceptedAt: iso(m.accepted_at),
    updatedAt: iso(m.updated_at),
  };
}

function eventEntry(e: EventRow) {
  const recipient = e.recipient ? (JSON.parse(e.recipient) as { ppnum: string; errorCode?: string }) : undefined;
  return { eventId: e.event_id, sendRequestId: e.send_request_id, type: sendRequestEventTypeToJSON(e.type), ppnum: recipient?.ppnum ?? null, errorCode: recipient?.errorCode ?? null, occurredAt: iso(e.occurred_at) };
}

function sendRequestEntry(r: SendRequestRow, ppnums: string[]) {
  return {
    id: r.id,
    appId: r.app_id,
    templateId: r.template_id,
    status: sendRequestStatusToJSON(r.status).replace('SEND_REQUEST_STATUS_', ''),
    totalRecipients: r.total,
    delivered: r.delivered,
    pendingConsent: r.pending_consent,
    failed: r.failed,
    createdAt: iso(r.created_at),
    completedAt: iso(r.completed_at),
    ppnums,
  };
}

export async function handleInspect(req: IncomingMessage, res: ServerResponse, url: URL, deps: InspectDeps): Promise<boolean> {
  const { store, config, limiter, faults, stats, streams, engine } = deps;
  const route = `${req.method} ${url.pathname}`;
  const format = url.searchParams.get('format') === 'ndjson' ? 'ndjson' : 'json';
  const param = (name: string) => url.searchParams.get(name) || undefined;
  const body = async () => JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;

  if (route === 'GET /inspect/messages') {
    let afterSeq = 0;
    await streamList(res, format, 'messages', () => {
      const page = store.ledgerPage({ afterSeq, ppnum: param('ppnum'), sendRequestId: param('send_request_id'), limit: 1000 });
      afterSeq = page.at(-1)?.seq ?? afterSeq;
      return page.map(ledgerEntry);
    });
    return true;
  }
  if (route === 'GET /inspect/events') {
    let after = '';
    await streamList(res, format, 'events', () => {
      const page = store.eventsAfter({ sendRequestId: param('send_request_id') }, after, 1000);
      after = page.at(-1)?.event_id ?? after;
      return page.map(eventEntry);
    });
    return true;
  }
  if (route === 'GET /inspect/duplicates') {
    const duplicates = store.duplicates(10_000).map((d) => ({ appId: d.app_id, templateId: d.template_id, ppnum: d.ppnum, times: d.times, sendRequestIds: d.send_request_ids.split(',') }));
    sendJson(res, 200, { duplicates });
    return true;
  }
  if (route === 'GET /inspect/send-requests') {
    const ppnum = param('ppnum');
    let after = '';
    await streamList(res, format, 'sendRequests', () => {
      const page = store.requestsAfter(after, 100);
      after = page.at(-1)?.id ?? after;
      return page
        .map((r) => sendRequestEntry(r, store.ppnumsOf(r.id)))
        .filter((r) => !ppnum || r.ppnums.includes(ppnum));
    }).catch(() => undefined);
    return true;
  }
  if (route === 'GET /inspect/stats') {
    const counts = store.counts();
    const now = Date.now();
    sendJson(res, 200, {
      templates: counts.templates,
      sendRequests: counts.sendRequests,
      messages: counts.messages,
      events: counts.events,
      pollResponses: counts.pollResponses,
      recipientsByStatus: Object.fromEntries([...counts.messagesByStatus].map(([s, n]) => [statusName(s), n])),
      delivered: counts.messagesByStatus.get(RecipientDeliveryStatus.RECIPIENT_DELIVERY_STATUS_DELIVERED) ?? 0,
      createSendRequest: {
        calls: stats.calls.total,
        accepted: stats.accepted.total,
        ambiguousAnswers: stats.ambiguousAnswers,
        refusals: stats.refusals,
        callsPerSecondAverage: stats.calls.average(now),
        callsLastSecond: stats.calls.lastSecond(now),
        maxCallsInAnySecond: stats.calls.maxInAnySecond,
        maxAcceptedInAnySecond: stats.accepted.maxInAnySecond,
      },
      rateLimitRefusals: stats.refusals.rateLimit,
      quotaRefusals: stats.refusals.monthlyQuota,
      openStreams: streams.openCount,
      config,
    });
    return true;
  }
  if (route === 'POST /inspect/faults') {
    const cut = faults.apply((await body()) as FaultRequest);
    const cutStreams = cut ? streams.cutAll() : 0;
    sendJson(res, 200, { ambiguousNext: faults.ambiguousNext, unavailableNext: faults.unavailableNext, resourceExhaustedNext: faults.resourceExhaustedNext, retryAfterMs: faults.retryAfterMs, cutStreams });
    return true;
  }
  if (route === 'POST /inspect/config') {
    try {
      applyConfig(config, await body());
    } catch (err) {
      if (err instanceof SyntaxError) throw err;
      sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
      return true;
    }
    limiter.setLimit(config.rateLimit);
    engine.wake(Date.now()); // delays may have changed; the engine recomputes its next wake-up
    sendJson(res, 200, config);
    return true;
  }
  const toggle = /^POST \/inspect\/templates\/([^/]+)\/(deactivate|activate)$/.exec(route);
  if (toggle) {
    const id = decodeURIComponent(toggle[1]!);
    const active = toggle[2] === 'activate';
    if (!store.setTemplateActive(id, active, Date.now())) sendJson(res, 404, { error: 'template not found' });
    else sendJson(res, 200, { id, isActive: active });
    return true;
  }
  return false;
}

const NUMBER_KEYS = ['deliveryDelayMs', 'consentWindowMs', 'pollResponseDelayMs', 'streamMaxEvents', 'streamMaxMs'] as const;

/** Applies the keys present; null turns the rate limit, the quota or a fixed decision delay off. A mix replaces the whole mix. */
function applyConfig(config: RuntimeConfig, change: Record<string, unknown>): void {
  for (const key of NUMBER_KEYS) {
    const value = change[key];
    if (typeof value === 'number' && value >= 0) config[key] = value;
  }
  if ('consentDecisionDelayMs' in change) config.consentDecisionDelayMs = typeof change.consentDecisionDelayMs === 'number' && change.consentDecisionDelayMs >= 0 ? change.consentDecisionDelayMs : null;
  if (change.consentDecisionSpread && typeof change.consentDecisionSpread === 'object') config.consentDecisionSpread = checkSpread(change.consentDecisionSpread as DecisionSpread);
  if ('rateLimit' in change) config.rateLimit = toRateLimit((change.rateLimit ?? null) as { requestsPerSecond: number; burst?: number } | null);
  if ('monthlyQuota' in change) config.monthlyQuota = toMonthlyQuota(typeof change.monthlyQuota === 'number' ? change.monthlyQuota : null);
  if (change.outcomeMix && typeof change.outcomeMix === 'object') config.outcomeMix = toMix(change.outcomeMix as Record<string, unknown>);
}
