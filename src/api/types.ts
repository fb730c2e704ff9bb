// Plain domain types of the Ppoppo API, free of gRPC and Node imports so workflow code can use them.

/** A recipient of one send request: ppnum plus the values of the template's placeholders. */
export interface RecipientInput {
  ppnum: string;
  vars: Record<string, string>;
}

/** Template components as people write them in campaign specs; mapped to proto by the client. */
export type TemplateComponentSpec =
  | { type: 'text'; content: string }
  | { type: 'divider' }
  | { type: 'button'; label: string; url: string }
  | { type: 'image'; url: string; alt?: string }
  | { type: 'poll'; question: string; options: string[] };

export interface TemplateInfo {
  id: string;
  name: string;
  description?: string;
  components: TemplateComponentSpec[];
  isActive: boolean;
  version: number;
  createdAt?: string;
}

export interface PollConfigSpec {
  expiresInHours?: number;
  allowMultiple?: boolean;
}

export type SendRequestState = 'QUEUED' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | 'UNKNOWN';

export interface SendReceipt {
  sendRequestId: string;
  status: SendRequestState;
  totalRecipients: number;
  createdAt?: string;
}

export interface SendRequestTotals {
  sendRequestId: string;
  status: SendRequestState;
  totalRecipients: number;
  delivered: number;
  pendingConsent: number;
  failed: number;
  createdAt?: string;
  completedAt?: string;
}

export type RecipientDeliveryState = 'PENDING' | 'DELIVERED' | 'PENDING_CONSENT' | 'FAILED' | 'UNKNOWN';

export interface RecipientStatusInfo {
  ppnum: string;
  status: RecipientDeliveryState;
  messageId?: string;
  errorCode?: string;
}

export type EventType =
  | 'RECIPIENT_DELIVERED'
  | 'RECIPIENT_FAILED'
  | 'RECIPIENT_PENDING_CONSENT'
  | 'CONSENT_GRANTED'
  | 'CONSENT_DENIED'
  | 'REQUEST_COMPLETED'
  | 'POLL_RESPONSE_RECEIVED'
  | 'UNKNOWN';

/** One event of StreamSendRequestEvents, flattened. `eventId` is a ULID and the stream cursor. */
export interface DeliveryEvent {
  eventId: string;
  sendRequestId: string;
  type: EventType;
  ppnum?: string;
  messageId?: string;
  errorCode?: string;
  summary?: SendRequestTotals;
  /** ISO 8601 time the server reported for the event. */
  occurredAt?: string;
}

/** The app's limits and this month's use (GetUsageStats). */
export interface UsageStats {
  appId: string;
  tier: 'FREE' | 'PRO' | 'ENTERPRISE' | 'UNKNOWN';
  /** Messages the app may send per calendar month; absent when the API reports no limit. */
  monthlyMessageLimit?: number;
  currentMonthUsage: number;
  remainingQuota?: number;
  /** ISO time the monthly usage starts again from zero. */
  usageResetAt?: string;
  /** The app's rate limit (CreateSendRequest calls per minute); 0 when the API reports none. */
  rateLimitPerMin: number;
}
