// Fallback channels: where a recipient's message goes when Ppoppo could not deliver it (consent
// denied, consent window expired, delivery failed). Types only, plus the error channels throw,
// so workflows can `import type` the settings.

export type FallbackTriggerOutcome = 'denied' | 'expired' | 'failed';

export interface FallbackMessage {
  campaignId: string;
  ppnum: string;
  outcome: FallbackTriggerOutcome;
  /** `${campaignId}:${ppnum}`: the same recipient of the same campaign always gets the same key. */
  idempotencyKey: string;
  /** Fallback text rendered with the recipient's vars. */
  text: string;
  vars: Record<string, string>;
}

export interface FallbackDelivery {
  /** Tries it took, including the successful one. */
  attempts: number;
  /** e.g. "HTTP 202" or the SMTP server's answer; never secret. */
  detail?: string;
}

export interface FallbackChannel {
  name: 'webhook' | 'email';
  /** Resolves when delivered; throws FallbackDeliveryError when it gives up. */
  send(msg: FallbackMessage): Promise<FallbackDelivery>;
  /** Releases connections (SMTP pool); optional. */
  close?(): Promise<void>;
}

/** Settings as written in the campaign spec (`fallback.channel`). Secrets appear only as env var names. */
export interface WebhookChannelSettings {
  type: 'webhook';
  url: string;
  /** Env var holding the HMAC key; default FALLBACK_WEBHOOK_SECRET. Unsigned if neither is set. */
  secretEnv?: string;
  /** Per request; default 10 000. */
  timeoutMs?: number;
  /** Tries per message, for network errors, 5xx, 408 and 429; default 5. */
  maxAttempts?: number;
}

export interface EmailChannelSettings {
  type: 'email';
  host: string;
  port: number;
  /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
  secure?: boolean;
  user?: string;
  /** Env var holding the SMTP password; default SMTP_PASSWORD when `user` is set. */
  passwordEnv?: string;
  from: string;
  /** Recipient variable (CSV column / NDJSON field) holding the email address. */
  addressColumn: string;
  /** Subject line; may use {{placeholders}}. */
  subject?: string;
  /** Tries per message for connection errors and 4xx SMTP replies; default 3. */
  maxAttempts?: number;
}

export type FallbackChannelSettings = WebhookChannelSettings | EmailChannelSettings;

/** A channel gave up on one message. `permanent`: retrying later will not help (bad address, 4xx). */
export class FallbackDeliveryError extends Error {
  readonly permanent: boolean;
  readonly attempts: number;

  constructor(message: string, options: { permanent: boolean; attempts: number }) {
    super(message);
    this.name = 'FallbackDeliveryError';
    this.permanent = options.permanent;
    this.attempts = options.attempts;
  }
}

export function idempotencyKeyFor(campaignId: string, ppnum: string): string {
  return `${campaignId}:${ppnum}`;
}
