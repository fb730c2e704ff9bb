// The `sendFallbacks` activity: delivers one batch of a chunk's fallback messages through the
// campaign's channel. Each item gets its own result (one bad address does not fail the batch).
// Run as a regular activity (histories from before local fallbacks), finished items are reported
// in heartbeat details, so a retried attempt skips them; as a local activity (today) a retry sends
// the batch again. Either way receivers deduplicate by the idempotency key / Message-ID.
//
// A channel that cannot be used as the worker is configured (secret or password missing, host not
// allowed) fails the whole batch as FallbackConfigInvalid: an operator's fault, never a recipient's
// outcome. checkFallbackChannel runs the same checks when a campaign starts, before anything is sent.
import { ApplicationFailure } from '@temporalio/activity';
import type { RecipientInput } from '../../src/api/types';
import { renderTemplate } from '../../src/api/validation';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import { parseChannelSettings, type FallbackChannelSettings } from '../../src/campaign/fallback-settings';
import { isFallbackTrigger, type RecipientOutcome } from '../../src/campaign/outcomes';
import { FALLBACK_FAILURE_TYPES } from '../../src/contracts/chunk';
import { activityContext, heartbeat, withKeepAlive } from '../heartbeat';
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

/** Heartbeat details: results of the items finished so far in this batch. */
interface FallbackProgress {
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
    try {
      const vars = await varsFor(pending, input.source, readRecipients);
      await withKeepAlive(
        () =>
          eachConcurrently(pending, concurrency, async (item) => {
            const result = await deliver(channel, input, item, vars.get(item.ppnum));
            done.set(item.ppnum, result);
            heartbeat(progress());
          }),
        progress,
      );
    } catch (err) {
      throw err instanceof OutboundRefusedError ? configInvalid(err.message) : err;
    } finally {
      await channel.close?.();
    }
    return input.items.map((item) => done.get(item.ppnum)!);
  }

  /**
   * Run when a campaign starts: the channel can be used as this worker is configured (settings,
   * secret or password present, host allowed and resolving to an allowed address). Throws
   * FallbackConfigInvalid (non-retryable) naming the setting; a name that does not resolve yet is retried.
   */
  async function checkFallbackChannel(input: { channel: FallbackChannelSettings; template?: string }): Promise<void> {
    const channel = openChannel(input.channel, input.template, channelFactory);
    await channel.close?.();
    const settings = parseChannelSettings(input.channel);
    const { host, port } = settings.type === 'webhook' ? urlDestination(settings.url) : { host: settings.host, port: settings.port };
    await resolveDestination(outboundPolicyFromEnv(env), host, port).catch((err: unknown) => {
      throw err instanceof OutboundRefusedError ? configInvalid(err.message) : new Error(`fallback host ${host} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    });
  }

  return { sendFallbacks, checkFallbackChannel };
}

function configInvalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`fallback channel: ${message}`, FALLBACK_FAILURE_TYPES.configInvalid);
}

/** Bad settings, a missing secret or a host the operator does not allow will not fix themselves on retry. */
function openChannel(raw: FallbackChannelSettings, template: string | undefined, factory: (settings: FallbackChannelSettings) => FallbackChannel): FallbackChannel {
  try {
    const settings = parseChannelSettings(raw);
    if (settings.type === 'email' && !template) throw new Error('an email fallback needs fallback.text');
    return factory(settings);
  } catch (err) {
    throw configInvalid(err instanceof Error ? err.message : String(err));
  }
}

async function deliver(channel: FallbackChannel, input: SendFallbacksInput, item: FallbackItem, vars: Record<string, string> | undefined): Promise<FallbackItemResult> {
  const failed = (error: string): FallbackItemResult => ({ ppnum: item.ppnum, status: 'failed', attempts: 0, error });
  if (!isFallbackTrigger(item.outcome)) return failed(`outcome ${item.outcome} does not call for a fallback`);
  if (!vars) return failed("the recipient is not in the chunk's source");
  const text = input.template ? renderTemplate([{ type: 'text', content: input.template }], vars) : '';
  const message = { campaignId: input.campaignId, ppnum: item.ppnum, outcome: item.outcome, idempotencyKey: idempotencyKeyFor(input.campaignId, item.ppnum), text, vars };
  try {
    const delivery = await channel.send(message);
    return { ppnum: item.ppnum, status: 'sent', attempts: delivery.attempts };
  } catch (err) {
    if (err instanceof OutboundRefusedError) throw err; // the operator's setting: the batch fails, not this recipient
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

async function eachConcurrently<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
