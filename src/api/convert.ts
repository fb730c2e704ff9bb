// Mapping between the generated proto types (src/api/gen) and the plain domain types (types.ts).
import {
  AppTier,
  RecipientDeliveryStatus,
  SendRequestEventType,
  SendRequestStatus,
  TemplateComponentType,
} from './gen/ppoppo/external/v1/external';
import type {
  CreateSendRequestResp,
  GetPollResultsResp,
  GetUsageStatsResp,
  PollConfig,
  RecipientInput as ProtoRecipientInput,
  RecipientStatus,
  SendRequestEvent,
  SendRequestSummary,
  Template,
  TemplateComponent,
} from './gen/ppoppo/external/v1/external';
import type {
  DeliveryEvent,
  EventType,
  PollConfigSpec,
  RecipientDeliveryState,
  RecipientInput,
  RecipientStatusInfo,
  SendReceipt,
  SendRequestState,
  SendRequestTotals,
  TemplateComponentSpec,
  TemplateInfo,
  UsageStats,
} from './types';

export interface PollResults {
  pollId: string;
  question: string;
  results: { optionText: string; count: number; percentage: number }[];
  totalResponses: number;
}

export function componentToProto(component: TemplateComponentSpec): TemplateComponent {
  const base = { options: [] as string[] };
  switch (component.type) {
    case 'text':
      return { ...base, componentType: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_TEXT, content: component.content };
    case 'divider':
      return { ...base, componentType: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_DIVIDER };
    case 'button':
      return { ...base, componentType: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTON, label: component.label, url: component.url };
    case 'image':
      return { ...base, componentType: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_IMAGE, url: component.url, alt: component.alt };
    case 'poll':
      return { componentType: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_POLL, question: component.question, options: [...component.options] };
  }
}

/** A server component as a spec; component types this client does not know are dropped (undefined). */
export function componentFromProto(component: TemplateComponent): TemplateComponentSpec | undefined {
  switch (component.componentType) {
    case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_TEXT:
      return { type: 'text', content: component.content ?? '' };
    case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_DIVIDER:
      return { type: 'divider' };
    case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTON:
      return { type: 'button', label: component.label ?? '', url: component.url ?? '' };
    case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_IMAGE:
      return component.alt === undefined ? { type: 'image', url: component.url ?? '' } : { type: 'image', url: component.url ?? '', alt: component.alt };
    case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_POLL:
      return { type: 'poll', question: component.question ?? '', options: [...component.options] };
    default:
      return undefined;
  }
}

export function templateFromProto(template: Template | undefined): TemplateInfo {
  if (!template) throw new Error('the server answered without a template');
  const info: TemplateInfo = {
    id: template.id,
    name: template.name,
    components: template.components.map(componentFromProto).filter((c): c is TemplateComponentSpec => c !== undefined),
    isActive: template.isActive,
    version: template.version,
  };
  if (template.description !== undefined) info.description = template.description;
  if (template.createdAt) info.createdAt = template.createdAt.toISOString();
  return info;
}

/** Recipient vars travel as a google.protobuf.Struct of string values. */
export function recipientToProto(recipient: RecipientInput): ProtoRecipientInput {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(recipient.vars ?? {})) vars[name] = String(value);
  return { ppnum: recipient.ppnum, vars };
}

export function pollConfigToProto(config: PollConfigSpec | undefined): PollConfig | undefined {
  if (!config) return undefined;
  return { expiresInHours: config.expiresInHours, allowMultiple: config.allowMultiple ?? false };
}

const SEND_STATES: Record<number, SendRequestState> = {
  [SendRequestStatus.SEND_REQUEST_STATUS_QUEUED]: 'QUEUED',
  [SendRequestStatus.SEND_REQUEST_STATUS_PROCESSING]: 'PROCESSING',
  [SendRequestStatus.SEND_REQUEST_STATUS_COMPLETED]: 'COMPLETED',
  [SendRequestStatus.SEND_REQUEST_STATUS_FAILED]: 'FAILED',
};

const RECIPIENT_STATES: Record<number, RecipientDeliveryState> = {
  [RecipientDeliveryStatus.RECIPIENT_DELIVERY_STATUS_PENDING]: 'PENDING',
  [RecipientDeliveryStatus.RECIPIENT_DELIVERY_STATUS_DELIVERED]: 'DELIVERED',
  [RecipientDeliveryStatus.RECIPIENT_DELIVERY_STATUS_PENDING_CONSENT]: 'PENDING_CONSENT',
  [RecipientDeliveryStatus.RECIPIENT_DELIVERY_STATUS_FAILED]: 'FAILED',
};

const EVENT_TYPES: Record<number, EventType> = {
  [SendRequestEventType.RECIPIENT_DELIVERED]: 'RECIPIENT_DELIVERED',
  [SendRequestEventType.RECIPIENT_FAILED]: 'RECIPIENT_FAILED',
  [SendRequestEventType.RECIPIENT_PENDING_CONSENT]: 'RECIPIENT_PENDING_CONSENT',
  [SendRequestEventType.CONSENT_GRANTED]: 'CONSENT_GRANTED',
  [SendRequestEventType.CONSENT_DENIED]: 'CONSENT_DENIED',
  [SendRequestEventType.REQUEST_COMPLETED]: 'REQUEST_COMPLETED',
  [SendRequestEventType.POLL_RESPONSE_RECEIVED]: 'POLL_RESPONSE_RECEIVED',
};

export const sendStateFromProto = (status: SendRequestStatus): SendRequestState => SEND_STATES[status] ?? 'UNKNOWN';
export const recipientStateFromProto = (status: RecipientDeliveryStatus): RecipientDeliveryState => RECIPIENT_STATES[status] ?? 'UNKNOWN';
export const eventTypeFromProto = (type: SendRequestEventType): EventType => EVENT_TYPES[type] ?? 'UNKNOWN';

export function receiptFromProto(resp: CreateSendRequestResp): SendReceipt {
  const receipt: SendReceipt = { sendRequestId: resp.id, status: sendStateFromProto(resp.status), totalRecipients: resp.totalRecipients };
  if (resp.createdAt) receipt.createdAt = resp.createdAt.toISOString();
  return receipt;
}

export function totalsFromProto(summary: SendRequestSummary): SendRequestTotals {
  const totals: SendRequestTotals = {
    sendRequestId: summary.id,
    status: sendStateFromProto(summary.status),
    totalRecipients: summary.totalRecipients,
    delivered: summary.delivered,
    pendingConsent: summary.pendingConsent,
    failed: summary.failed,
  };
  if (summary.createdAt) totals.createdAt = summary.createdAt.toISOString();
  if (summary.completedAt) totals.completedAt = summary.completedAt.toISOString();
  return totals;
}

export function recipientStatusFromProto(recipient: RecipientStatus): RecipientStatusInfo {
  const info: RecipientStatusInfo = { ppnum: recipient.ppnum, status: recipientStateFromProto(recipient.status) };
  if (recipient.messageId !== undefined) info.messageId = recipient.messageId;
  if (recipient.errorCode !== undefined) info.errorCode = recipient.errorCode;
  return info;
}

/** A stream event flattened; optional fields are left out rather than set to undefined. */
export function eventFromProto(event: SendRequestEvent): DeliveryEvent {
  const result: DeliveryEvent = { eventId: event.eventId, sendRequestId: event.sendRequestId, type: eventTypeFromProto(event.eventType) };
  if (event.recipient) {
    result.ppnum = event.recipient.ppnum;
    if (event.recipient.messageId !== undefined) result.messageId = event.recipient.messageId;
    if (event.recipient.errorCode !== undefined) result.errorCode = event.recipient.errorCode;
  }
  if (event.summary) result.summary = totalsFromProto(event.summary);
  if (event.occurredAt) result.occurredAt = event.occurredAt.toISOString();
  return result;
}

export function pollResultsFromProto(resp: GetPollResultsResp): PollResults {
  return {
    pollId: resp.pollId,
    question: resp.question,
    results: resp.results.map((result) => ({ optionText: result.optionText, count: result.count, percentage: result.percentage })),
    totalResponses: resp.totalResponses,
  };
}

const TIERS: Partial<Record<AppTier, UsageStats['tier']>> = { [AppTier.APP_TIER_FREE]: 'FREE', [AppTier.APP_TIER_PRO]: 'PRO', [AppTier.APP_TIER_ENTERPRISE]: 'ENTERPRISE' };

export function usageFromProto(resp: GetUsageStatsResp): UsageStats {
  const usage: UsageStats = { appId: resp.appId, tier: TIERS[resp.tier] ?? 'UNKNOWN', currentMonthUsage: resp.currentMonthUsage, rateLimitPerMin: resp.rateLimitPerMin };
  if (resp.monthlyMessageLimit !== undefined) usage.monthlyMessageLimit = resp.monthlyMessageLimit;
  if (resp.remainingQuota !== undefined) usage.remainingQuota = resp.remainingQuota;
  if (resp.usageResetAt) usage.usageResetAt = resp.usageResetAt.toISOString();
  return usage;
}
