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
