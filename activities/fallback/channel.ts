// Fallback channels: where a recipient's message goes when Ppoppo could not deliver it (consent
// denied, consent window expired, delivery failed). Types only, plus the error channels throw.
// The channels' settings (what a campaign spec says) live in src/campaign/fallback-settings.ts.
import type { FallbackTrigger } from '../../src/campaign/outcomes';

export interface FallbackMessage {
  campaignId: string;
  ppnum: string;
  outcome: FallbackTrigger;
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

/**
 * A channel gave up on one message. `permanent`: retrying will not help as things are (a bad
 * address, a 4xx). `channelFault`: the channel, not the recipient, is at fault (unreachable, 5xx,
 * 429, refused credentials, an endpoint that is gone): the batch holds and tries again later,
 * instead of counting the recipient's fallback as failed. `code` names the fault briefly (e.g.
 * "HTTP 503", "ECONNREFUSED", "EAUTH"); `retryAfterMs` is the other side's hint, if any.
 */
export class FallbackDeliveryError extends Error {
  readonly permanent: boolean;
  readonly attempts: number;
  readonly channelFault: boolean;
  readonly code?: string;
  readonly retryAfterMs?: number;

  constructor(message: string, options: { permanent: boolean; attempts: number; channelFault?: boolean; code?: string; retryAfterMs?: number }) {
    super(message);
    this.name = 'FallbackDeliveryError';
    this.permanent = options.permanent;
    this.attempts = options.attempts;
    this.channelFault = options.channelFault ?? false;
    if (options.code !== undefined) this.code = options.code;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export function idempotencyKeyFor(campaignId: string, ppnum: string): string {
  return `${campaignId}:${ppnum}`;
}
