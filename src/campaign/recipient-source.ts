// Where a campaign's recipients come from, as the spec says it: an inline list, a file on the
// worker's disk (one host, or storage every worker mounts), an http(s) URL any worker can read
// (e.g. a presigned object-store URL), a PostgreSQL table or named query, or the recipients of an
// earlier campaign with one outcome (a follow-up: `campaign retry`). Checks, defaults and a
// description that never names a recipient nor shows a URL's query string (a presigned URL's
// signature). PURE: no Node imports; workflow code imports this module.
import type { RecipientInput } from '../api/types';
import type { RecipientFileEncoding, RecipientFileFormat } from './chunk-source';
import { RETRY_OUTCOMES, isRetryOutcome } from './outcomes';
import type { RetryOutcome } from './outcomes';
import { CAMPAIGN_ID_PATTERN, CAMPAIGN_ID_RULE, isObject, unknownFields } from './spec-checks';
import type { Report } from './spec-checks';

/** A table (columns by name) or a query configured on the worker under `query`; both keyed by ppnum. */
export type PostgresSourceSpec =
  | { table: string; ppnumColumn?: string; columns?: string[] }
  | { query: string; columns?: string[] };

/** The recipients of an earlier campaign whose outcome was `outcome`, read from its chunks when the follow-up runs. */
export type FollowUpSourceSpec = { retryOf: string; outcome: RetryOutcome };

/** `timeZoneColumn`: the column (an inline list: the variable) naming each recipient's IANA time zone, for per-recipient send windows. */
export type RecipientSourceSpec =
  | { inline: RecipientInput[]; timeZoneColumn?: string }
  | { file: string; format?: RecipientFileFormat; encoding?: RecipientFileEncoding; timeZoneColumn?: string }
  | { url: string; format?: RecipientFileFormat; encoding?: RecipientFileEncoding; timeZoneColumn?: string }
  | { postgres: PostgresSourceSpec; timeZoneColumn?: string }
  | FollowUpSourceSpec;

/** Sources whose rows a worker reads itself (a planRecipients input): a file, a URL, a PostgreSQL relation. */
export type ReadSourceSpec = Exclude<RecipientSourceSpec, { inline: RecipientInput[] } | FollowUpSourceSpec>;

/** Sources whose recipients can carry their own time zone (recipients.timeZoneColumn). */
export const ZONED_SOURCE_KINDS = ['inline', 'file', 'url', 'postgres'] as const;

/**
 * Inline lists travel in workflow inputs (2 MB per payload): beyond this, use a source the worker
 * reads, whose rows never enter workflow histories.
 */
export const MAX_INLINE_RECIPIENTS = 10_000;

const SOURCE_KINDS = ['inline', 'file', 'url', 'postgres', 'retryOf'] as const;
const SOURCE_SHAPES =
  '{ "inline": [...] }, { "file": "path.csv" }, { "url": "https://…/list.csv" }, { "postgres": { "table": "audience" } } or { "retryOf": "<campaignId>", "outcome": "failed" }';
/** The fields each kind of source may have. */
const SOURCE_FIELDS: Record<(typeof SOURCE_KINDS)[number], string[]> = {
  inline: ['inline', 'timeZoneColumn'],
  file: ['file', 'format', 'encoding', 'timeZoneColumn'],
  url: ['url', 'format', 'encoding', 'timeZoneColumn'],
  postgres: ['postgres', 'timeZoneColumn'],
  retryOf: ['retryOf', 'outcome'],
};
const INLINE_ENTRY_FIELDS = ['ppnum', 'vars'];

/** A PostgreSQL identifier we accept unquoted-style: letters, digits, underscores (quoted when used, so case is kept). */
export const SQL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** A table, optionally schema-qualified: `audience` or `marketing.audience`. */
export const SQL_TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
/** The name of a query configured on the worker (RECIPIENT_QUERIES_FILE). */
export const QUERY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** scheme, authority, path, query: enough to check and describe a URL without the URL class. */
const HTTP_URL = /^(https?):\/\/([^/?#\s]+)([^?#\s]*)(\?[^#\s]*)?(#\S*)?$/i;
export const DEFAULT_PPNUM_COLUMN = 'ppnum';

/**
 * Checks `recipients` of a spec; each problem names its field (e.g. 'recipients.postgres.columns[1]').
 * `strict` (every new campaign) also checks the fields of each inline entry; histories recorded
 * before that check replay with it off.
 */
export function checkRecipientSource(recipients: unknown, issue: Report, { strict }: { strict: boolean }): void {
  if (!isObject(recipients)) return issue('recipients', `recipients must be ${SOURCE_SHAPES}`);
  const kinds = SOURCE_KINDS.filter((kind) => kind in recipients);
  if (kinds.length > 1) return issue('recipients', `give one source, not ${kinds.join(' and ')}`);
  const kind = kinds[0];
  if (!kind) return issue('recipients', `recipients must be ${SOURCE_SHAPES}`);
  const zoned = (ZONED_SOURCE_KINDS as readonly string[]).includes(kind);
  if (!zoned && 'timeZoneColumn' in recipients) {
    issue('recipients.timeZoneColumn', 'per-recipient time zones are read from files, URLs, inline lists and PostgreSQL, not from a follow-up (retryOf)');
  }
  unknownFields(recipients, [...SOURCE_FIELDS[kind], ...(zoned ? [] : ['timeZoneColumn'])], 'recipients', issue);
  if (zoned && recipients.timeZoneColumn !== undefined) {
    const column = recipients.timeZoneColumn;
    if (typeof column !== 'string' || column.trim() === '' || column !== column.trim()) issue('recipients.timeZoneColumn', 'timeZoneColumn must be the name of the column holding each recipient\'s IANA time zone, like "tz"');
    else if (column === 'ppnum') issue('recipients.timeZoneColumn', 'timeZoneColumn must name a column other than ppnum');
    else if (kind === 'postgres' && !SQL_IDENTIFIER.test(column)) issue('recipients.timeZoneColumn', 'a PostgreSQL column name is letters, digits and underscores, not starting with a digit');
  }

  if (kind === 'inline') {
    const list = recipients.inline;
    if (!Array.isArray(list) || list.length === 0) return issue('recipients.inline', 'inline must be a non-empty list of { "ppnum", "vars" }');
    if (list.length > MAX_INLINE_RECIPIENTS) issue('recipients.inline', `inline lists are limited to ${MAX_INLINE_RECIPIENTS} recipients; put larger lists in a file, a URL or a PostgreSQL table`);
    if (strict) list.forEach((entry, i) => isObject(entry) && unknownFields(entry, INLINE_ENTRY_FIELDS, `recipients.inline[${i}]`, issue));
    return;
  }
  if (kind === 'postgres') return checkPostgres(recipients.postgres, issue);
  if (kind === 'retryOf') {
    if (typeof recipients.retryOf !== 'string' || !CAMPAIGN_ID_PATTERN.test(recipients.retryOf)) issue('recipients.retryOf', `retryOf must be the id of the campaign to retry; ${CAMPAIGN_ID_RULE}`);
    if (!isRetryOutcome(recipients.outcome)) issue('recipients.outcome', `outcome must be one of ${RETRY_OUTCOMES.map((o) => `"${o}"`).join(', ')}`);
    return;
  }

  const location = recipients[kind];
  if (kind === 'file' && (typeof location !== 'string' || location.trim() === '')) return issue('recipients.file', 'file must be a path to a CSV or NDJSON file');
  if (kind === 'url') {
    const parts = typeof location === 'string' ? HTTP_URL.exec(location.trim()) : null;
    if (!parts) return issue('recipients.url', 'url must be an http:// or https:// address of a CSV or NDJSON file');
    if (parts[2]!.includes('@')) return issue('recipients.url', 'url must not carry a user name or password: they would be stored with the campaign (use a presigned URL)');
  }
  const { format, encoding } = recipients;
  if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'latin1') issue('recipients.encoding', 'encoding must be "utf8" (the default) or "latin1"');
  if (format !== undefined && format !== 'csv' && format !== 'ndjson') return issue('recipients.format', 'format must be "csv" or "ndjson"');
  if (format === undefined && formatFromName(sourcePath(recipients as ReadSourceSpec)) === undefined) {
    issue('recipients.format', `cannot tell the format from the ${kind === 'url' ? "URL's path" : 'file name'}: add "format": "csv" or "ndjson"`);
  }
}

function checkPostgres(postgres: unknown, issue: Report): void {
  const shape = '{ "table": "audience", "columns": ["name"] } or { "query": "<name configured on the worker>" }';
  if (!isObject(postgres)) return issue('recipients.postgres', `postgres must be ${shape}`);
  if ('table' in postgres === 'query' in postgres) return issue('recipients.postgres', `postgres needs either "table" or "query": ${shape}`);
  const allowed = 'table' in postgres ? ['table', 'ppnumColumn', 'columns'] : ['query', 'columns'];
  unknownFields(postgres, allowed, 'recipients.postgres', issue);
  if ('table' in postgres && !(typeof postgres.table === 'string' && SQL_TABLE_NAME.test(postgres.table))) {
    issue('recipients.postgres.table', 'table must be a name like "audience" or "marketing.audience": letters, digits and underscores, not starting with a digit');
  }
  if ('query' in postgres && !(typeof postgres.query === 'string' && QUERY_NAME.test(postgres.query))) {
    issue('recipients.postgres.query', 'query must be the name of a query configured on the worker (letters, digits, ".", "_", "-"), never SQL');
  }
  if (postgres.ppnumColumn !== undefined && !(typeof postgres.ppnumColumn === 'string' && SQL_IDENTIFIER.test(postgres.ppnumColumn))) {
    issue('recipients.postgres.ppnumColumn', 'ppnumColumn must be a column name: letters, digits and underscores, not starting with a digit');
  }
  if (postgres.columns === undefined) return;
  if (!Array.isArray(postgres.columns)) return issue('recipients.postgres.columns', 'columns must be a list of column names, one per template variable');
  const seen = new Set<string>();
  postgres.columns.forEach((column, i) => {
    if (!(typeof column === 'string' && SQL_IDENTIFIER.test(column))) issue(`recipients.postgres.columns[${i}]`, 'a column name is letters, digits and underscores, not starting with a digit');
    else if (seen.has(column)) issue(`recipients.postgres.columns[${i}]`, `column "${column}" is listed twice`);
    seen.add(String(column));
  });
}

/** The spec's source with its defaults stated: the format from the file name or URL path (an encoding only when given). */
export function normalizeRecipientSource(source: RecipientSourceSpec): RecipientSourceSpec {
  const encoding = 'encoding' in source && source.encoding ? { encoding: source.encoding } : {};
  const zones = 'timeZoneColumn' in source && source.timeZoneColumn !== undefined ? { timeZoneColumn: source.timeZoneColumn } : {};
  if ('file' in source) return { file: source.file, format: source.format ?? formatFromName(source.file), ...encoding, ...zones };
  if ('url' in source) return { url: source.url.trim(), format: source.format ?? formatFromName(sourcePath(source)), ...encoding, ...zones };
  return source;
}

/** For messages, logs and the Web UI: the path, the URL without its query string, or the table/query name. */
export function describeRecipientSource(source: RecipientSourceSpec): string {
  if ('inline' in source) return `${source.inline.length} inline recipients`;
  if ('file' in source) return source.file;
  if ('url' in source) return redactUrl(source.url);
  if ('retryOf' in source) return `the ${source.outcome} recipients of campaign ${source.retryOf}`;
  return 'table' in source.postgres ? `PostgreSQL table ${source.postgres.table}` : `PostgreSQL query "${source.postgres.query}"`;
}

/** scheme://host/path: a query string (a presigned URL's signature) or fragment is never shown. */
export function redactUrl(url: string): string {
  const parts = HTTP_URL.exec(url.trim());
  return parts ? `${parts[1]}://${parts[2]}${parts[3]}` : '(malformed URL)';
}

function sourcePath(source: ReadSourceSpec): string {
  if ('file' in source) return source.file;
  if ('url' in source) return HTTP_URL.exec(source.url.trim())?.[3] ?? '';
  return '';
}

function formatFromName(name: string): RecipientFileFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  return undefined;
}
