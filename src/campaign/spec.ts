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
import { MAX_RECIPIENTS_PER_REQUEST, extractPlaceholders, validateComponents, validateRecipients } from '../api/validation';
import type { ValidationIssue } from '../api/validation';
import { checkRecipientSource, normalizeRecipientSource } from './recipient-source';
import type { RecipientSourceSpec } from './recipient-source';
import { parseChannelSettings } from './fallback-settings';
import type { FallbackChannelSettings } from './fallback-settings';
import { isFallbackTrigger } from './outcomes';
import type { FallbackTrigger } from './outcomes';

export type { RecipientSourceSpec } from './recipient-source';

export interface FallbackSpec {
  /** Outcomes that trigger a fallback; 'denied' is always included. */
  on: FallbackTrigger[];
  /** Where fallbacks go. Secrets are never written here, only the names of environment variables that hold them. */
  channel: FallbackChannelSettings;
  /** Fallback message with {{placeholders}}; the channel renders it with the recipient's vars. */
  text?: string;
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
  limits?: { chunkSize?: number; chunksInFlight?: number };
  onInvalidRows?: 'abort' | 'skip';
}

/** A problem in the spec, located by its JSON path (e.g. 'recipients.inline[3].ppnum'). */
export interface SpecIssue {
  path: string;
  message: string;
}

export const DEFAULT_CONSENT_WINDOW = '24h';
export const DEFAULT_CHUNK_SIZE = MAX_RECIPIENTS_PER_REQUEST;
export const DEFAULT_CHUNKS_IN_FLIGHT = 4;
export const MAX_CHUNKS_IN_FLIGHT = 100;

/** The spec's settings with every default applied. */
export interface CampaignSettings {
  consentWindowMs: number;
  chunkSize: number;
  chunksInFlight: number;
  onInvalidRows: 'abort' | 'skip';
  fallbackOn: FallbackTrigger[];
}

export function campaignSettings(spec: CampaignSpec): CampaignSettings {
  return {
    consentWindowMs: parseDuration(spec.consentWindow ?? DEFAULT_CONSENT_WINDOW) ?? 0,
    chunkSize: spec.limits?.chunkSize ?? DEFAULT_CHUNK_SIZE,
    chunksInFlight: spec.limits?.chunksInFlight ?? DEFAULT_CHUNKS_IN_FLIGHT,
    onInvalidRows: spec.onInvalidRows ?? 'abort',
    fallbackOn: fallbackTriggers(spec.fallback),
  };
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

/** Variables every recipient needs: the template's placeholders and those of the fallback text. */
export function requiredVarsFor(templatePlaceholders: readonly string[], fallback: FallbackSpec | undefined): string[] {
  const fallbackVars = fallback?.text ? extractPlaceholders([{ type: 'text', content: fallback.text }]) : [];
  return [...new Set([...templatePlaceholders, ...fallbackVars])];
}

export interface InlineCheck {
  recipients: RecipientInput[];
  /** Invalid entries and repeated ppnums; `field` is the JSON path in the spec, `index` the position. */
  issues: ValidationIssue[];
  invalidCount: number;
  duplicateCount: number;
}

/**
 * Validates an inline recipient list against the template's placeholders. Repeated ppnums are
 * dropped (first wins) and reported; they do not count as recipients of the campaign.
 */
export function checkInlineRecipients(list: readonly unknown[], requiredVars: readonly string[]): InlineCheck {
  const result = validateRecipients(list, { requiredVars });
  const issues: ValidationIssue[] = result.issues.map((issue) => ({ ...issue, field: `recipients.inline[${issue.index}].${issue.field}` }));
  for (const duplicate of result.duplicates) {
    issues.push({
      index: duplicate.index,
      ppnum: duplicate.ppnum,
      field: `recipients.inline[${duplicate.index}].ppnum`,
      message: `ppnum ${duplicate.ppnum} repeats entry ${duplicate.firstIndex}; it is sent once`,
    });
  }
  const invalidIndexes = new Set(result.issues.map((issue) => issue.index));
  return { recipients: result.recipients, issues, invalidCount: invalidIndexes.size, duplicateCount: result.duplicates.length };
}

const CAMPAIGN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const TOP_LEVEL_KEYS = ['campaignId', 'template', 'recipients', 'poll', 'consentWindow', 'fallback', 'limits', 'onInvalidRows'];

/**
 * Checks the structure of a spec (as parsed from JSON) and returns it with each issue located by
 * its JSON path. Row-level checks of inline recipients need the template's placeholders and are
 * done by `checkInlineRecipients`; file rows are checked by the planRecipients activity.
 */
export function parseCampaignSpec(input: unknown): { spec: CampaignSpec | undefined; issues: SpecIssue[] } {
  const issues: SpecIssue[] = [];
  const issue = (path: string, message: string) => issues.push({ path, message });
  if (!isObject(input)) return { spec: undefined, issues: [{ path: '', message: 'a campaign spec must be a JSON object' }] };

  for (const key of Object.keys(input)) {
    if (!TOP_LEVEL_KEYS.includes(key)) issue(key, `unknown field "${key}"; expected one of ${TOP_LEVEL_KEYS.join(', ')}`);
  }

  const { campaignId } = input;
  if (typeof campaignId !== 'string' || !CAMPAIGN_ID_PATTERN.test(campaignId)) {
    issue('campaignId', 'campaignId must be 1-100 characters: letters, digits, ".", "_" or "-", starting with a letter or digit');
  }

  checkTemplate(input.template, issue);
  checkRecipientSource(input.recipients, issue);

  if (input.poll !== undefined) {
    if (!isObject(input.poll)) issue('poll', 'poll must be an object like { "expiresInHours": 24, "allowMultiple": false }');
    else {
      const { expiresInHours, allowMultiple } = input.poll;
      if (expiresInHours !== undefined && !(typeof expiresInHours === 'number' && expiresInHours > 0)) issue('poll.expiresInHours', 'expiresInHours must be a positive number');
      if (allowMultiple !== undefined && typeof allowMultiple !== 'boolean') issue('poll.allowMultiple', 'allowMultiple must be true or false');
    }
  }

  if (input.consentWindow !== undefined) {
    const ms = typeof input.consentWindow === 'string' ? parseDuration(input.consentWindow) : undefined;
    if (ms === undefined || ms <= 0) issue('consentWindow', 'consentWindow must be a duration like "24h", "90s" or "1h30m"');
  }

  checkFallback(input.fallback, issue);
  checkLimits(input.limits, issue);

  if (input.onInvalidRows !== undefined && input.onInvalidRows !== 'abort' && input.onInvalidRows !== 'skip') {
    issue('onInvalidRows', 'onInvalidRows must be "abort" or "skip"');
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

type Report = (path: string, message: string) => void;

function checkTemplate(template: unknown, issue: Report): void {
  if (!isObject(template)) return issue('template', 'template must be { "name", "components": [...] } or { "templateId" }');
  if ('templateId' in template) {
    if (typeof template.templateId !== 'string' || template.templateId.trim() === '') issue('template.templateId', 'templateId must be a non-empty string');
    if ('components' in template || 'name' in template) issue('template', 'give either templateId or name + components, not both');
    return;
  }
  if (typeof template.name !== 'string' || template.name.trim() === '') issue('template.name', 'template name must be a non-empty string');
  if (template.description !== undefined && typeof template.description !== 'string') issue('template.description', 'description must be a string');
  if (!Array.isArray(template.components)) return issue('template.components', 'components must be a list of components');
  for (const problem of validateComponents(template.components)) issue(`template.${problem.field}`, problem.message);
}

function checkFallback(fallback: unknown, issue: Report): void {
  if (fallback === undefined) return;
  if (!isObject(fallback)) return issue('fallback', 'fallback must be { "on": ["denied"], "channel": { "type": ... } }');
  if (!Array.isArray(fallback.on)) issue('fallback.on', 'on must be a list of "denied", "expired", "failed"');
  else {
    fallback.on.forEach((outcome, i) => {
      if (!isFallbackTrigger(outcome)) issue(`fallback.on[${i}]`, `unknown outcome ${JSON.stringify(outcome)}; use "denied", "expired" or "failed"`);
    });
  }
  if (!isObject(fallback.channel)) issue('fallback.channel', 'channel must be an object with a "type": "webhook" or "email"');
  else {
    try {
      const channel = parseChannelSettings(fallback.channel);
      if (channel.type === 'email' && typeof fallback.text !== 'string') issue('fallback.text', 'an email fallback needs a text');
    } catch (err) {
      issue('fallback.channel', err instanceof Error ? err.message : String(err));
    }
  }
  if (fallback.text !== undefined && typeof fallback.text !== 'string') issue('fallback.text', 'text must be a string');
}

function checkLimits(limits: unknown, issue: Report): void {
  if (limits === undefined) return;
  if (!isObject(limits)) return issue('limits', 'limits must be { "chunkSize": 1000, "chunksInFlight": 4 }');
  const { chunkSize, chunksInFlight } = limits;
  if (chunkSize !== undefined && !isIntegerIn(chunkSize, 1, MAX_RECIPIENTS_PER_REQUEST)) {
    issue('limits.chunkSize', `chunkSize must be a whole number from 1 to ${MAX_RECIPIENTS_PER_REQUEST}`);
  }
  if (chunksInFlight !== undefined && !isIntegerIn(chunksInFlight, 1, MAX_CHUNKS_IN_FLIGHT)) {
    issue('limits.chunksInFlight', `chunksInFlight must be a whole number from 1 to ${MAX_CHUNKS_IN_FLIGHT}`);
  }
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
