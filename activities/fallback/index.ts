// The `sendFallbacks` activity: delivers one batch of a chunk's fallback messages through the
// campaign's channel. Each item gets its own result (one bad address does not fail the batch).
// Run as a regular activity (histories from before local fallbacks), finished items are reported
// in heartbeat details, so a retried attempt skips them; as a local activity (today) a retry sends
// the batch again. Either way receivers deduplicate by the idempotency key / Message-ID.
//
// A fault of the channel itself (unreachable, 5xx, refused credentials, bad settings, a missing
// secret or password, a host FALLBACK_ALLOWED_HOSTS does not allow) is nobody's outcome: the
// activity stops taking items and fails with a ConfigurationFault ('fallback') that carries the
// results finished so far; the chunk records those, holds the rest, and tries again later (the
// campaign shows it parked). checkFallbackChannel runs the worker-side checks when a campaign
// starts, before anything is sent, and reports a fault the same way.
import type { ApplicationFailure } from '@temporalio/common';
import type { RecipientInput } from '../../src/api/types';
import { renderTemplate } from '../../src/api/validation';
import type { ConfigurationFaultDetails } from '../../src/contracts/chunk';
import { configurationFailure } from '../api-failures';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import { parseChannelSettings, type FallbackChannelSettings } from '../../src/campaign/fallback-settings';
import { isFallbackTrigger, type RecipientOutcome } from '../../src/campaign/outcomes';
import { activityContext, heartbeat, keptAlive, withKeepAlive } from '../heartbeat';
import { readChunkRecipients } from '../recipients';
import { FallbackDeliveryError, idempotencyKeyFor, type FallbackChannel } from './channel';
import { createEmailChannel } from './email';
import { OutboundRefusedError, outboundPolicyFromEnv, resolveDestination, urlDestination } from '../outbound';
import { createWebhookChannel } from './webhook';

export type * from './channel';

export interface FallbackItem {
  ppnum: string;
  /** A FallbackTrigger; anything else is reported as failed. */
  outcome: RecipientOutcome;
  /** Omitted for file sources: the activity reads them from `source`, keeping them out of histories. */
  vars?: Record<string, string>;
}

export interface SendFallbacksInput {
  campaignId: string;
  chunkIndex: number;
  /** `fallback.channel` from the spec; validated again here (inputs may come from older histories). */
  channel: FallbackChannelSettings;
  /** Fallback text with {{placeholders}}. Required for email. */
  template?: string;
  items: FallbackItem[];
  /** The chunk's file source, to read vars of items that come without them. */
  source?: ChunkSource;
}

export interface FallbackItemResult {
  ppnum: string;
  status: 'sent' | 'failed';
  attempts: number;
  error?: string;
}

/** Heartbeat details, and the second details entry of a batch's ConfigurationFault: the items finished so far. */
export interface FallbackProgress {
  done: FallbackItemResult[];
}

export interface FallbackActivityOptions {
  /** The worker's environment: secrets and FALLBACK_ALLOWED_HOSTS. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Builds the channel for validated settings; default webhook/email reading secrets from `env`. */
  channelFactory?: (settings: FallbackChannelSettings) => FallbackChannel;
  /** Reads vars for file sources; default readChunkRecipients. */
  readRecipients?: (input: { source: ChunkSource; ppnums: string[] }) => Promise<RecipientInput[]>;
  /** Messages in flight at once; default 4. */
  concurrency?: number;
}

/** Channels reading their secrets and FALLBACK_ALLOWED_HOSTS from the worker's environment. */
export function defaultChannelFactory(settings: FallbackChannelSettings, env: Record<string, string | undefined> = process.env): FallbackChannel {
  return settings.type === 'webhook' ? createWebhookChannel(settings, { env }) : createEmailChannel(settings, { env });
}

export function createFallbackActivities(options: FallbackActivityOptions = {}) {
  const env = options.env ?? process.env;
  const channelFactory = options.channelFactory ?? ((settings: FallbackChannelSettings) => defaultChannelFactory(settings, env));
  const readRecipients = options.readRecipients ?? readChunkRecipients;
  const concurrency = options.concurrency ?? 4;

  async function sendFallbacks(input: SendFallbacksInput): Promise<FallbackItemResult[]> {
    const context = activityContext();
    const previous = (context?.info.heartbeatDetails as FallbackProgress | undefined)?.done ?? [];
    const done = new Map(previous.map((result) => [result.ppnum, result]));
    const pending = input.items.filter((item) => !done.has(item.ppnum));

    const channel = openChannel(input.channel, input.template, channelFactory);
    const progress = (): FallbackProgress => ({ done: [...done.values()] });
    let fault: FallbackDeliveryError | undefined;
    try {
      const vars = await varsFor(pending, input.source, readRecipients);
      await withKeepAlive(
        () =>
          eachConcurrently(pending, concurrency, () => fault === undefined, async (item) => {
            const result = await deliver(channel, input, item, vars.get(item.ppnum));
            if (result instanceof FallbackDeliveryError) fault ??= result; // the channel's fault: the item waits
            else done.set(item.ppnum, result);
            heartbeat(progress());
          }),
        progress,
      );
    } finally {
      await channel.close?.();
    }
    if (fault) {
      // The fault's words reach the campaign's Web UI details: no recipient's address in them.
      const message = `${channel.name}: ${fault.message}`.replace(EMAIL_ADDRESS, '<address>');
      const details: ConfigurationFaultDetails = { reason: 'fallback', codeName: fault.code ?? channel.name, message, retryAfterMs: fault.retryAfterMs ?? null };
      throw configurationFailure(details, true, progress());
    }
    return input.items.map((item) => done.get(item.ppnum)!);
  }

  /**
   * Run when a campaign starts: the channel can be used as this worker is configured (settings,
   * secret or password present, host allowed and resolving to an allowed address). Throws a
   * ConfigurationFault ('fallback', non-retryable: the campaign parks and tries again) naming the
   * setting or the host, never a secret.
   */
  async function checkFallbackChannel(input: { channel: FallbackChannelSettings; template?: string }): Promise<void> {
    const channel = openChannel(input.channel, input.template, channelFactory);
    await channel.close?.();
    const settings = parseChannelSettings(input.channel);
    const { host, port } = settings.type === 'webhook' ? urlDestination(settings.url) : { host: settings.host, port: settings.port };
    await resolveDestination(outboundPolicyFromEnv(env), host, port).catch((err: unknown) => {
      throw settingsFault(err instanceof OutboundRefusedError ? err.message : `host ${host} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    });
  }

  return { sendFallbacks, checkFallbackChannel: keptAlive(checkFallbackChannel) };
}

/**
 * Bad settings, a missing secret or a host the operator does not allow will not fix themselves on a
 * quick retry, but an operator can fix them (set the variable, restart the worker): a configuration
 * fault the workflow holds for.
 */
function openChannel(raw: FallbackChannelSettings, template: string | undefined, factory: (settings: FallbackChannelSettings) => FallbackChannel): FallbackChannel {
  try {
    const settings = parseChannelSettings(raw);
    if (settings.type === 'email' && !template) throw new Error('an email fallback needs fallback.text');
    return factory(settings);
  } catch (err) {
    throw settingsFault(err instanceof Error ? err.message : String(err));
  }
}

/** The code of a fallback fault in the channel's settings or the worker's environment. */
export const FALLBACK_SETTINGS_CODE = 'FALLBACK_SETTINGS';

function settingsFault(message: string): ApplicationFailure {
  return configurationFailure({ reason: 'fallback', codeName: FALLBACK_SETTINGS_CODE, message: `fallback channel: ${message}` }, true);
}

const EMAIL_ADDRESS = /[^\s<>(),;:"@]+@[^\s<>(),;:"@]+/g;

/** The item's result; or the error, when the channel (not the recipient) is at fault. */
async function deliver(channel: FallbackChannel, input: SendFallbacksInput, item: FallbackItem, vars: Record<string, string> | undefined): Promise<FallbackItemResult | FallbackDeliveryError> {
  const failed = (error: string): FallbackItemResult => ({ ppnum: item.ppnum, status: 'failed', attempts: 0, error });
  if (!isFallbackTrigger(item.outcome)) return failed(`outcome ${item.outcome} does not call for a fallback`);
  if (!vars) return failed("the recipient is not in the chunk's source");
  const text = input.template ? renderTemplate([{ type: 'text', content: input.template }], vars) : '';
  const message = { campaignId: input.campaignId, ppnum: item.ppnum, outcome: item.outcome, idempotencyKey: idempotencyKeyFor(input.campaignId, item.ppnum), text, vars };
  try {
    const delivery = await channel.send(message);
    return { ppnum: item.ppnum, status: 'sent', attempts: delivery.attempts };
  } catch (err) {
    if (err instanceof OutboundRefusedError) return new FallbackDeliveryError(err.message, { permanent: true, attempts: 0, channelFault: true, code: FALLBACK_SETTINGS_CODE });
    if (err instanceof FallbackDeliveryError && err.channelFault) return err;
    const attempts = err instanceof FallbackDeliveryError ? err.attempts : 1;
    return { ppnum: item.ppnum, status: 'failed', attempts, error: `${channel.name}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Vars by ppnum: given inline, or read from the file source for items that come without. */
async function varsFor(
  items: FallbackItem[],
  source: ChunkSource | undefined,
  readRecipients: NonNullable<FallbackActivityOptions['readRecipients']>,
): Promise<Map<string, Record<string, string>>> {
  const vars = new Map<string, Record<string, string>>();
  const missing: string[] = [];
  for (const item of items) {
    if (item.vars) vars.set(item.ppnum, item.vars);
    else missing.push(item.ppnum);
  }
  if (missing.length === 0) return vars;
  if (!source) {
    for (const ppnum of missing) vars.set(ppnum, {});
    return vars;
  }
  for (const recipient of await readRecipients({ source, ppnums: missing })) vars.set(recipient.ppnum, recipient.vars);
  return vars;
}

/** Runs `work` over the items, `concurrency` at a time, taking new items only while `goOn()`. */
async function eachConcurrently<T>(items: T[], concurrency: number, goOn: () => boolean, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length && goOn()) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
