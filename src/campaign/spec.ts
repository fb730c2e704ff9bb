// The campaign spec: what a person writes (CLI, Temporal CLI, Web UI, app code), its parsing,
// validation and defaults. PURE: no Node imports; workflow code imports this module.
//
// Example (start workflow `campaignWorkflow` with id `campaign/spring-sale` and this as its input):
//   { "campaignId": "spring-sale",
//     "template": { "name": "spring", "components": [{ "type": "text", "content": "Hi {{name}}" }] },
//     "recipients": { "file": "/data/spring.csv" },   (or "url": "https://…", or "postgres": { "table": "audience" })
//     "consentWindow": "24h",
//     "fallback": { "on": ["denied", "expired"], "channel": { "type": "webhook", "url": "https://..." } },
//     "limits": { "chunkSize": 1000, "chunksInFlight": 4 }, "onInvalidRows": "skip" }
import type { PollConfigSpec, RecipientInput, TemplateComponentSpec } from '../api/types';
import { MAX_RECIPIENTS_PER_REQUEST, extractPlaceholders, utf8Bytes, validateComponents, validateRecipients } from '../api/validation';
import type { ValidationIssue } from '../api/validation';
import { checkRecipientSource, normalizeRecipientSource } from './recipient-source';
import { timeZoneProblem } from './chunk-source';
import type { TimeZoneGrouping } from './chunk-source';
import type { RecipientSourceSpec } from './recipient-source';
import { CHANNEL_FIELDS, parseChannelSettings } from './fallback-settings';
import type { FallbackChannelSettings } from './fallback-settings';
import { isFallbackTrigger } from './outcomes';
import type { FallbackTrigger } from './outcomes';
import { CAMPAIGN_ID_PATTERN, CAMPAIGN_ID_RULE, isObject, unknownFields } from './spec-checks';
import type { Report } from './spec-checks';
import { thousands } from '../text';
import { checkSendWindow } from './send-window';
import type { SendWindow } from './send-window';

export type { RecipientSourceSpec } from './recipient-source';

export interface FallbackSpec {
  /** Outcomes that trigger a fallback; 'denied' is always included. */
  on: FallbackTrigger[];
  /** Where fallbacks go. Secrets are never written here, only the names of environment variables that hold them. */
  channel: FallbackChannelSettings;
  /** Fallback message with {{placeholders}}; the channel renders it with the recipient's vars. */
  text?: string;
  /**
   * How long a batch of fallbacks keeps trying while the channel is unreachable or refuses (a
   * duration, default DEFAULT_FALLBACK_RETRY_FOR); the campaign shows it parked meanwhile. After
   * that they end 'failed' and `campaign retry <id> --outcome fallback-failed` sends them again.
   */
  retryFor?: string;
}

/** A template to create (or find by name, if identical), or one that exists. */
export type TemplateSource =
  | { name: string; description?: string; components: TemplateComponentSpec[] }
  | { templateId: string };


export interface CampaignSpec {
  campaignId: string;
  template: TemplateSource;
  recipients: RecipientSourceSpec;
  poll?: PollConfigSpec;
  /** Duration like '24h', '90s', '1h30m'; default '24h'. */
  consentWindow?: string;
  fallback?: FallbackSpec;
  limits?: { chunkSize?: number; chunksInFlight?: number; sendsPerChunk?: number };
  onInvalidRows?: 'abort' | 'skip';
  /** ISO 8601 time with its offset ("2025-03-01T09:00:00+09:00"): the campaign waits (status 'scheduled') until then. */
  startAt?: string;
  /** ISO 8601 time with its offset: no send request after it; recipients not sent by then end 'deadline'. */
  deadline?: string;
  /** At most this many recipients per minute for this campaign (the app's own limit still applies to all). */
  throttle?: number;
  /** Local hours (and days) in which sends may go out; chunks wait for the window to open. */
  sendWindow?: SendWindow;
  /** This campaign's share of the send queue against other campaigns' (default 1): weights 3 and 1 share it 75/25 while both send. */
  weight?: number;
}

/** A problem in the spec, located by its JSON path (e.g. 'recipients.inline[3].ppnum'). */
export interface SpecIssue {
  path: string;
  message: string;
}

export const DEFAULT_CONSENT_WINDOW = '24h';
/**
 * The shortest consent window a spec may ask for. Shorter ones turn answers that are merely slow
 * (a delivery, a denial seconds later) into expiries.
 */
export const MIN_CONSENT_WINDOW_MS = 60_000;
export const DEFAULT_FALLBACK_RETRY_FOR = '6h';
const MIN_FALLBACK_RETRY_FOR_MS = 60_000;
const MAX_FALLBACK_RETRY_FOR_MS = 7 * 86_400_000;
export const DEFAULT_CHUNK_SIZE = MAX_RECIPIENTS_PER_REQUEST;
export const DEFAULT_CHUNKS_IN_FLIGHT = 4;
/**
 * Send requests one chunk workflow makes, one after another (limits.sendsPerChunk), when the spec
 * does not say. A campaign writes the default it started under into its spec (withSendsPerChunk),
 * so a later change of this default never changes a running or recorded campaign's plan.
 */
export const DEFAULT_SENDS_PER_CHUNK = 5;
/** What campaigns started before the default was written into the spec ran with. */
export const RECORDED_SENDS_PER_CHUNK = 1;
export const MAX_SENDS_PER_CHUNK = 10;
export const MAX_CHUNKS_IN_FLIGHT = 100;
/**
 * A spec travels as one workflow input, and Temporal refuses a payload over 2 MB: a spec (mostly
 * its inline list) must stay below this, with room for the envelope.
 */
export const MAX_SPEC_BYTES = 1_900_000;

/** The spec's settings with every default applied. */
export interface CampaignSettings {
  consentWindowMs: number;
  /** Recipients per send request. */
  chunkSize: number;
  chunksInFlight: number;
  sendsPerChunk: number;
  /** Recipients per chunk workflow: chunkSize × sendsPerChunk. */
  recipientsPerChunk: number;
  onInvalidRows: 'abort' | 'skip';
  fallbackOn: FallbackTrigger[];
  /** How long fallbacks keep trying through a channel fault. */
  fallbackRetryForMs: number;
  /** Epoch ms of startAt and deadline, when the spec sets them. */
  startAtMs?: number;
  deadlineMs?: number;
  /** Recipients per minute, when the spec sets a throttle. */
  throttle?: number;
}

/**
 * The spec with limits.sendsPerChunk set to `sendsPerChunk` when it does not set it (a workflow
 * input that is not an object, or whose limits are not, is left for validation to name).
 */
export function withSendsPerChunk(spec: CampaignSpec, sendsPerChunk: number): CampaignSpec {
  if (typeof spec !== 'object' || spec === null) return spec;
  const limits: unknown = spec.limits;
  if (limits !== undefined && (typeof limits !== 'object' || limits === null || Array.isArray(limits))) return spec;
  if (spec.limits?.sendsPerChunk !== undefined) return spec;
  return { ...spec, limits: { ...spec.limits, sendsPerChunk } };
}

export function campaignSettings(spec: CampaignSpec): CampaignSettings {
  const chunkSize = spec.limits?.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const sendsPerChunk = spec.limits?.sendsPerChunk ?? DEFAULT_SENDS_PER_CHUNK;
  return {
    consentWindowMs: parseDuration(spec.consentWindow ?? DEFAULT_CONSENT_WINDOW) ?? 0,
    chunkSize,
    chunksInFlight: spec.limits?.chunksInFlight ?? DEFAULT_CHUNKS_IN_FLIGHT,
    sendsPerChunk,
    recipientsPerChunk: chunkSize * sendsPerChunk,
    onInvalidRows: spec.onInvalidRows ?? 'abort',
    fallbackOn: fallbackTriggers(spec.fallback),
    fallbackRetryForMs: fallbackRetryForMs(spec.fallback),
    ...(spec.startAt !== undefined ? { startAtMs: Date.parse(spec.startAt) } : {}),
    ...(spec.deadline !== undefined ? { deadlineMs: Date.parse(spec.deadline) } : {}),
    ...(spec.throttle !== undefined ? { throttle: spec.throttle } : {}),
  };
}

export function fallbackRetryForMs(fallback: FallbackSpec | undefined): number {
  return parseDuration(fallback?.retryFor ?? DEFAULT_FALLBACK_RETRY_FOR) ?? 0;
}

/** The outcomes that trigger a fallback: none without a fallback, otherwise `on` plus 'denied'. */
export function fallbackTriggers(fallback: FallbackSpec | undefined): FallbackTrigger[] {
  if (!fallback) return [];
  return ['denied', ...fallback.on.filter((outcome) => outcome !== 'denied')];
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/** '24h', '90s', '1h30m', '500ms', '2d' → milliseconds; a plain number is milliseconds. Undefined if malformed. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim().toLowerCase();
  if (/^\d+$/.test(text)) return Number(text);
  if (!DURATION_PATTERN.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * DURATION_UNITS[unit!]!;
  return Math.round(total);
}

/** How the plan groups recipients by time zone, when the spec names a zone column (it then has a sendWindow). */
export function timeZoneGrouping(spec: CampaignSpec): TimeZoneGrouping | undefined {
  const column = 'timeZoneColumn' in spec.recipients ? spec.recipients.timeZoneColumn : undefined;
  return column !== undefined && spec.sendWindow ? { column, fallback: spec.sendWindow.timeZone } : undefined;
}

/** Variables every recipient needs: the template's placeholders and those of the fallback text. */
export function requiredVarsFor(templatePlaceholders: readonly string[], fallback: FallbackSpec | undefined): string[] {
  const fallbackVars = fallback?.text ? extractPlaceholders([{ type: 'text', content: fallback.text }]) : [];
  return [...new Set([...templatePlaceholders, ...fallbackVars])];
}

/**
 * Columns every row must have, though a value may be empty: the email fallback's address column
 * (a recipient without an address only loses their own fallback; a file without the column would
 * lose everyone's).
 */
export function requiredColumnsFor(fallback: FallbackSpec | undefined): string[] {
  return fallback?.channel.type === 'email' ? [fallback.channel.addressColumn] : [];
}

export interface InlineCheck {
  recipients: RecipientInput[];
  /** Invalid entries and repeated ppnums; `field` is the JSON path in the spec, `index` the position. */
  issues: ValidationIssue[];
  invalidCount: number;
  duplicateCount: number;
}

/**
 * Validates an inline recipient list against the template's placeholders and its links with
 * placeholders (`urlTemplates`); `checkSize` and `requiredColumns` add the size limit and the email
 * fallback's address column. Repeated ppnums are dropped (first wins) and reported; they do not
 * count as recipients of the campaign.
 */
export function checkInlineRecipients(
  list: readonly unknown[],
  requiredVars: readonly string[],
  options: { urlTemplates?: readonly string[]; checkSize?: boolean; requiredColumns?: readonly string[]; timeZones?: TimeZoneGrouping } = {},
): InlineCheck {
  const { timeZones, ...rules } = options;
  const result = validateRecipients(list, { requiredVars, ...rules, ...(timeZones ? { checkEntryVars: (vars) => timeZoneProblem(vars, timeZones) } : {}) });
  const issues: ValidationIssue[] = result.issues.map((issue) => ({ ...issue, field: `recipients.inline[${issue.index}].${issue.field}` }));
  for (const duplicate of result.duplicates) {
    issues.push({
      index: duplicate.index,
      ppnum: duplicate.ppnum,
      field: `recipients.inline[${duplicate.index}].ppnum`,
      message: `this ppnum repeats entry ${duplicate.firstIndex}; it is sent once`,
    });
  }
  const invalidIndexes = new Set(result.issues.map((issue) => issue.index));
  return { recipients: result.recipients, issues, invalidCount: invalidIndexes.size, duplicateCount: result.duplicates.length };
}

const TOP_LEVEL_KEYS = ['campaignId', 'template', 'recipients', 'poll', 'consentWindow', 'fallback', 'limits', 'onInvalidRows', 'startAt', 'deadline', 'throttle', 'weight', 'sendWindow'];
/** The fields each part of a spec may have: anything else is a misspelling, named by its path. */
const FIELDS = {
  templateById: ['templateId'],
  template: ['name', 'description', 'components'],
  component: { text: ['type', 'content'], divider: ['type'], button: ['type', 'label', 'url'], image: ['type', 'url', 'alt'], poll: ['type', 'question', 'options'] } as Record<string, string[]>,
  poll: ['expiresInHours', 'allowMultiple'],
  fallback: ['on', 'channel', 'text', 'retryFor'],
  limits: ['chunkSize', 'chunksInFlight', 'sendsPerChunk'],
};

/**
 * Which checks apply. 'current' for every new campaign; 'v1' keeps the checks of campaigns
 * recorded before the stricter ones (nested field names, the consent window minimum, sizes), so
 * their histories replay exactly.
 */
export type SpecRules = 'current' | 'v1';

/**
 * Checks the structure of a spec (as parsed from JSON) and returns it with each issue located by
 * its JSON path. Row-level checks of inline recipients need the template's placeholders and are
 * done by `checkInlineRecipients`; rows of a file, URL or table are checked by the planRecipients activity.
 */
export function parseCampaignSpec(input: unknown, rules: SpecRules = 'current'): { spec: CampaignSpec | undefined; issues: SpecIssue[] } {
  const issues: SpecIssue[] = [];
  const issue = (path: string, message: string) => issues.push({ path, message });
  const strict = rules === 'current';
  if (!isObject(input)) return { spec: undefined, issues: [{ path: '', message: 'a campaign spec must be a JSON object' }] };

  unknownFields(input, TOP_LEVEL_KEYS, '', issue);

  const { campaignId } = input;
  if (typeof campaignId !== 'string' || !CAMPAIGN_ID_PATTERN.test(campaignId) || (!strict && campaignId.length > 100)) issue('campaignId', CAMPAIGN_ID_RULE);

  checkTemplate(input.template, issue, strict);
  checkRecipientSource(input.recipients, issue, { strict });

  if (input.poll !== undefined) {
    if (!isObject(input.poll)) issue('poll', 'poll must be an object like { "expiresInHours": 24, "allowMultiple": false }');
    else {
      const { expiresInHours, allowMultiple } = input.poll;
      if (strict) unknownFields(input.poll, FIELDS.poll, 'poll', issue);
      if (expiresInHours !== undefined && !(typeof expiresInHours === 'number' && expiresInHours > 0)) issue('poll.expiresInHours', 'expiresInHours must be a positive number');
      if (allowMultiple !== undefined && typeof allowMultiple !== 'boolean') issue('poll.allowMultiple', 'allowMultiple must be true or false');
    }
  }

  if (input.consentWindow !== undefined) {
    const ms = typeof input.consentWindow === 'string' ? parseDuration(input.consentWindow) : undefined;
    if (ms === undefined || ms <= 0) issue('consentWindow', 'consentWindow must be a duration like "24h", "90s" or "1h30m"');
    else if (strict && ms < MIN_CONSENT_WINDOW_MS) {
      issue('consentWindow', `consentWindow must be at least 1m (got "${input.consentWindow}"): a shorter window turns slow answers into expiries`);
    }
  }

  checkFallback(input.fallback, issue, strict);
  checkLimits(input.limits, issue, strict);
  checkTiming(input, issue);
  if (isObject(input.recipients) && typeof input.recipients.timeZoneColumn === 'string' && input.sendWindow === undefined) {
    issue('recipients.timeZoneColumn', 'a per-recipient time zone needs a sendWindow: { "from": "09:00", "until": "20:00", "timeZone": "<zone of recipients without one>" }');
  }

  if (input.onInvalidRows !== undefined && input.onInvalidRows !== 'abort' && input.onInvalidRows !== 'skip') {
    issue('onInvalidRows', 'onInvalidRows must be "abort" or "skip"');
  }

  if (strict && issues.length === 0) {
    const bytes = utf8Bytes(JSON.stringify(input));
    if (bytes > MAX_SPEC_BYTES) {
      const where = isObject(input.recipients) && 'inline' in input.recipients ? 'recipients.inline' : '';
      const advice = where ? ': put the recipients in a CSV or NDJSON file (on disk or at a URL) or a PostgreSQL table: their rows never travel in workflow inputs' : '';
      issue(where, `the spec takes ${thousands(bytes)} bytes; Temporal takes at most 2 MB per workflow input (${thousands(MAX_SPEC_BYTES)} leaves room for the envelope)${advice}`);
    }
  }

  if (issues.length > 0) return { spec: undefined, issues };
  return { spec: normalize(input as unknown as CampaignSpec), issues };
}

/** States the defaults a reader should see: the file format from the name or URL, 'denied' in fallback.on, typed channel settings. */
function normalize(spec: CampaignSpec): CampaignSpec {
  const normalized: CampaignSpec = { ...spec };
  normalized.recipients = normalizeRecipientSource(spec.recipients);
  if (spec.fallback) normalized.fallback = { ...spec.fallback, on: fallbackTriggers(spec.fallback), channel: parseChannelSettings(spec.fallback.channel) };
  return normalized;
}

function checkTemplate(template: unknown, issue: Report, strict: boolean): void {
  if (!isObject(template)) return issue('template', 'template must be { "name", "components": [...] } or { "templateId" }');
  if ('templateId' in template) {
    if (typeof template.templateId !== 'string' || template.templateId.trim() === '') issue('template.templateId', 'templateId must be a non-empty string');
    if ('components' in template || 'name' in template) issue('template', 'give either templateId or name + components, not both');
    else if (strict) unknownFields(template, FIELDS.templateById, 'template', issue);
    return;
  }
  if (strict) unknownFields(template, FIELDS.template, 'template', issue);
  if (typeof template.name !== 'string' || template.name.trim() === '') issue('template.name', 'template name must be a non-empty string');
  if (template.description !== undefined && typeof template.description !== 'string') issue('template.description', 'description must be a string');
  if (!Array.isArray(template.components)) return issue('template.components', 'components must be a list of components');
  for (const problem of validateComponents(template.components)) issue(`template.${problem.field}`, problem.message);
  if (!strict) return;
  template.components.forEach((component: unknown, i) => {
    const fields = isObject(component) && typeof component.type === 'string' ? FIELDS.component[component.type] : undefined;
    if (fields && isObject(component)) unknownFields(component, fields, `template.components[${i}]`, issue);
  });
}

function checkFallback(fallback: unknown, issue: Report, strict: boolean): void {
  if (fallback === undefined) return;
  if (!isObject(fallback)) return issue('fallback', 'fallback must be { "on": ["denied"], "channel": { "type": ... } }');
  if (strict) unknownFields(fallback, FIELDS.fallback, 'fallback', issue);
  if (fallback.retryFor !== undefined) {
    const ms = typeof fallback.retryFor === 'string' ? parseDuration(fallback.retryFor) : undefined;
    if (ms === undefined || ms < MIN_FALLBACK_RETRY_FOR_MS || ms > MAX_FALLBACK_RETRY_FOR_MS) issue('fallback.retryFor', 'retryFor must be a duration from "1m" to "7d", like "6h"');
  }
  if (!Array.isArray(fallback.on)) issue('fallback.on', 'on must be a list of "denied", "expired", "failed", "deadline"');
  else {
    fallback.on.forEach((outcome, i) => {
      if (!isFallbackTrigger(outcome)) issue(`fallback.on[${i}]`, `unknown outcome ${JSON.stringify(outcome)}; use "denied", "expired", "failed" or "deadline"`);
    });
  }
  if (!isObject(fallback.channel)) issue('fallback.channel', 'channel must be an object with a "type": "webhook" or "email"');
  else {
    const fields = CHANNEL_FIELDS[String(fallback.channel.type ?? fallback.channel.kind)];
    if (strict && fields) unknownFields(fallback.channel, fields, 'fallback.channel', issue);
    try {
      const channel = parseChannelSettings(fallback.channel);
      if (channel.type === 'email' && typeof fallback.text !== 'string') issue('fallback.text', 'an email fallback needs a text');
    } catch (err) {
      issue('fallback.channel', err instanceof Error ? err.message : String(err));
    }
  }
  if (fallback.text !== undefined && typeof fallback.text !== 'string') issue('fallback.text', 'text must be a string');
}

function checkLimits(limits: unknown, issue: Report, strict: boolean): void {
  if (limits === undefined) return;
  if (!isObject(limits)) return issue('limits', 'limits must be { "chunkSize": 1000, "chunksInFlight": 4 }');
  if (strict) unknownFields(limits, FIELDS.limits, 'limits', issue);
  const { chunkSize, chunksInFlight, sendsPerChunk } = limits;
  if (chunkSize !== undefined && !isIntegerIn(chunkSize, 1, MAX_RECIPIENTS_PER_REQUEST)) {
    issue('limits.chunkSize', `chunkSize must be a whole number from 1 to ${MAX_RECIPIENTS_PER_REQUEST}`);
  }
  if (chunksInFlight !== undefined && !isIntegerIn(chunksInFlight, 1, MAX_CHUNKS_IN_FLIGHT)) {
    issue('limits.chunksInFlight', `chunksInFlight must be a whole number from 1 to ${MAX_CHUNKS_IN_FLIGHT}`);
  }
  if (sendsPerChunk !== undefined && !isIntegerIn(sendsPerChunk, 1, MAX_SENDS_PER_CHUNK)) {
    issue('limits.sendsPerChunk', `sendsPerChunk must be a whole number from 1 to ${MAX_SENDS_PER_CHUNK}`);
  }
}

/** An ISO 8601 time that names its offset (Z or ±hh:mm): a time without one means a different moment on each machine. */
const ISO_TIME_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Epoch ms of a spec time, or undefined when it is not an ISO 8601 time with an offset. */
export function parseSpecTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || !ISO_TIME_WITH_OFFSET.test(value)) return undefined;
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined; // 30 February would roll over to March
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The largest per-campaign throttle (recipients per minute): far above any app's limit. */
export const MAX_THROTTLE_PER_MINUTE = 1_000_000;
export const THROTTLE_RULE = `throttle must be a whole number of recipients per minute from 1 to ${thousands(MAX_THROTTLE_PER_MINUTE)}`;

export function isThrottle(value: unknown): value is number {
  return isIntegerIn(value, 1, MAX_THROTTLE_PER_MINUTE);
}

/** Temporal's range for a fairness weight. */
const MIN_WEIGHT = 0.001;
const MAX_WEIGHT = 1000;

function checkTiming(input: Record<string, unknown>, issue: Report): void {
  const times: Record<'startAt' | 'deadline', number | undefined> = { startAt: undefined, deadline: undefined };
  for (const field of ['startAt', 'deadline'] as const) {
    if (input[field] === undefined) continue;
    times[field] = parseSpecTime(input[field]);
    if (times[field] === undefined) issue(field, `${field} must be an ISO 8601 time with its offset, like "2025-03-01T09:00:00+09:00" or "2025-03-01T00:00:00Z" (got ${JSON.stringify(input[field])})`);
  }
  if (times.startAt !== undefined && times.deadline !== undefined && times.deadline <= times.startAt) {
    issue('deadline', `deadline (${String(input.deadline)}) must be after startAt (${String(input.startAt)})`);
  }
  if (input.throttle !== undefined && !isThrottle(input.throttle)) issue('throttle', `${THROTTLE_RULE} (got ${JSON.stringify(input.throttle)})`);
  if (input.sendWindow !== undefined) checkSendWindow(input.sendWindow, issue);
  const { weight } = input;
  if (weight !== undefined && !(typeof weight === 'number' && weight >= MIN_WEIGHT && weight <= MAX_WEIGHT)) {
    issue('weight', `weight must be a number from ${MIN_WEIGHT} to ${MAX_WEIGHT} (the campaign's share of the send queue against others'; default 1), got ${JSON.stringify(weight)}`);
  }
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}
