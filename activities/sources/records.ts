// Plan and read for sources whose bytes are a CSV or NDJSON recipient file: a local file or an
// http(s) object. Both cut the file into byte ranges of records; only where the bytes come from
// differs (`ByteSource`). The plan and the chunk reader share one parser, so a chunk always yields
// exactly the recipients the plan counted for it.
import { ApplicationFailure } from '@temporalio/common';
import type { RecipientInput } from '../../src/api/types';
import { recipientSizeIssue } from '../../src/api/validation';
import type { ValidationIssue } from '../../src/api/validation';
import { inZoneOrder, recipientTimeZone, timeZoneProblem } from '../../src/campaign/chunk-source';
import type { ChunkSource, RecipientFileEncoding, RecipientFileFormat, RecordRange, TimeZoneGrouping, ZonedChunk } from '../../src/campaign/chunk-source';
import { heartbeat } from '../heartbeat';
import { NOT_UTF8_MESSAGE, parseCsvHeader, parseCsvRecord, parseNdjsonRecord, firstRecord, readRecordBatches } from '../recipient-file';
import type { RecordParse } from '../recipient-file';
import { HEARTBEAT_EVERY_ROWS, PlanAccount, RECIPIENT_SOURCE_FAILURES, checkChunkSize, sourceChanged } from './source';
import type { PlanOptions, RecipientPlan } from './source';

/** The bytes [start, end) of the file (end omitted: to the end). */
export type ByteSource = (range: { start: number; end?: number }) => AsyncIterable<Buffer>;

/** skipLines travel in the plan (an activity result, at most 2 MB): keep them well below that. */
const MAX_SKIPPED_LINES_IN_CHUNKS = 150_000;

type RecordParser = (text: string) => RecordParse;

/** What every row must satisfy: the template's variables and links; `requiredColumns` (and a zone column) must exist but may be empty. */
type RowRules = Pick<PlanOptions, 'requiredVars' | 'urlTemplates' | 'requiredColumns' | 'timeZones'>;

/** A chunk read fetches the CSV header from the file's start: a header is assumed shorter than this. */
const HEADER_READ_BYTES = 1024 * 1024;

/** How a file's records are written: CSV or NDJSON, in UTF-8 (default) or Latin-1. */
export interface RecordFormat {
  format: RecipientFileFormat;
  encoding?: RecipientFileEncoding;
}

/**
 * Builds the row parser for a file. For CSV this reads the header (the first non-blank record);
 * a header problem is returned as an issue (every row is then invalid).
 */
async function parserFor(bytes: ByteSource, { format, encoding }: RecordFormat, rules: RowRules): Promise<{ parse?: RecordParser; headerLine?: number; headerIssue?: ValidationIssue }> {
  const { requiredVars, urlTemplates = [], requiredColumns = [] } = rules;
  if (format === 'ndjson') return { parse: (text) => parseNdjsonRecord(text, requiredVars, urlTemplates, requiredColumns) };
  const header = await firstRecord(bytes({ start: 0, end: HEADER_READ_BYTES }), encoding);
  if (!header) return {};
  if (header.notUtf8) return { headerLine: header.line, headerIssue: { line: header.line, field: 'row', message: NOT_UTF8_MESSAGE } };
  const parsed = parseCsvHeader(header.text, requiredVars, requiredColumns);
  if ('error' in parsed) return { headerLine: header.line, headerIssue: { line: header.line, field: parsed.field, message: parsed.error } };
  const zoneColumn = rules.timeZones?.column;
  if (zoneColumn !== undefined && !parsed.columns.includes(zoneColumn)) {
    return { headerLine: header.line, headerIssue: { line: header.line, field: `vars.${zoneColumn}`, message: `the header row has no "${zoneColumn}" column, which recipients.timeZoneColumn names` } };
  }
  return { parse: (text) => parseCsvRecord(text, parsed, requiredVars, urlTemplates), headerLine: header.line };
}

/** One zone's chunks while planning: the open one, the skipped lines after its last row, those closed. */
interface ZoneGroup<Chunk> {
  open?: RecordRange & { count: number };
  trailingSkips: number[];
  chunks: Chunk[];
  sizes: number[];
}

/**
 * Reads the whole file once: counts and reports rows, drops repeated ppnums (first wins), and
 * cuts the valid rows into chunks of `chunkSize` (byte ranges plus the skipped lines inside them).
 * With `timeZones`, each zone gets its own chunks (zones by name, rows in file order): a zone's
 * chunk is a byte range that other zones' rows share, which a read filters out by the zone column.
 */
export async function planRecords<Chunk extends ChunkSource & RecordRange>(bytes: ByteSource, file: RecordFormat, options: PlanOptions, describe: string, toChunk: (range: RecordRange & ZonedChunk) => Chunk): Promise<RecipientPlan<Chunk>> {
  checkChunkSize(options.chunkSize);
  const { format, encoding } = file;
  const zones = options.timeZones;
  const { parse, headerLine, headerIssue } = await parserFor(bytes, file, options);
  // What a chunk read sees of a row (no template rules): tells which zone a skipped row would fall in.
  const readParse = zones ? (await parserFor(bytes, file, { requiredVars: [] })).parse : undefined;
  const account = new PlanAccount(options.maxIssues);
  if (headerIssue) account.issue(headerIssue);

  const groups = new Map<string, ZoneGroup<Chunk>>(); // by zone ('' without zones)
  const groupOf = (zone: string) => {
    let group = groups.get(zone);
    if (!group) groups.set(zone, (group = { trailingSkips: [], chunks: [], sizes: [] }));
    return group;
  };
  const closeChunk = (zone: string, group: ZoneGroup<Chunk>) => {
    if (!group.open) return;
    const { count, ...range } = group.open;
    group.chunks.push(toChunk(zones ? { ...range, timeZone: zone, timeZoneColumn: zones.column, emptyZone: zones.fallback, count } : range));
    group.sizes.push(count);
    group.open = undefined;
    group.trailingSkips = [];
  };
  /** A row left out: a read of a chunk whose range holds it must skip it (a row of another zone it leaves out by itself). */
  const skip = (line: number, text: string) => {
    const read = readParse?.(text);
    const zone = !zones ? '' : read?.ok ? recipientTimeZone(read.recipient.vars[zones.column], zones) : undefined;
    if (zones && read?.ok && zone === undefined) return; // no IANA zone: no chunk's zone
    const holders = zone === undefined ? [...groups.values()] : [groups.get(zone)]; // a row no read can parse: every open chunk
    for (const group of holders) if (group?.open) group.trailingSkips.push(line);
  };

  for await (const batch of readRecordBatches(bytes({ start: 0 }), format, {}, encoding)) {
    for (const record of batch) {
      if (record.line === headerLine || record.text.trim() === '') continue;
      account.totals.total += 1;
      if (account.totals.total % HEARTBEAT_EVERY_ROWS === 0) heartbeat({ line: record.line });
      if (!parse) {
        account.totals.invalidCount += 1; // the header issue already explains why
        continue;
      }
      // Too big for a request, not text in the file's encoding, or no time zone: invalid by line, before anything is sent.
      const parsed = checkedRow(parse(record.text), record.notUtf8, zones);
      if (!parsed.ok) {
        account.invalid({ line: record.line, ppnum: parsed.ppnum, field: parsed.field, message: parsed.message });
        skip(record.line, record.text);
        continue;
      }
      if (!account.firstOf(parsed.recipient.ppnum, `line ${record.line}`, { line: record.line })) {
        skip(record.line, record.text);
        continue;
      }
      const zone = zones ? recipientTimeZone(parsed.recipient.vars[zones.column], zones)! : '';
      const group = groupOf(zone);
      if (!group.open) group.open = { format, byteStart: record.start, byteEnd: record.end, firstLine: record.line, skipLines: [], count: 0, ...(encoding === 'latin1' ? { encoding } : {}) };
      group.open.skipLines.push(...group.trailingSkips);
      group.trailingSkips = [];
      group.open.byteEnd = record.end;
      group.open.count += 1;
      if (group.open.count === options.chunkSize) closeChunk(zone, group);
    }
  }
  for (const [zone, group] of groups) closeChunk(zone, group);
  const ordered = inZoneOrder(groups).map(([, group]) => group);
  const chunks = ordered.flatMap((group) => group.chunks);
  const skipped = chunks.reduce((sum, chunk) => sum + chunk.skipLines.length, 0);
  if (skipped > MAX_SKIPPED_LINES_IN_CHUNKS) {
    const { invalidCount, duplicateCount } = account.totals;
    throw ApplicationFailure.nonRetryable(`${describe} has ${invalidCount} invalid and ${duplicateCount} duplicate rows between valid ones; clean the file (too many to skip)`, RECIPIENT_SOURCE_FAILURES.tooManyInvalidRows);
  }
  return account.plan(chunks, zones ? ordered.flatMap((group) => group.sizes) : undefined);
}

/** A parsed row, turned invalid when it is not UTF-8, over the per-recipient size limit, or (grouping by zone) without an IANA zone. */
function checkedRow(parsed: RecordParse, notUtf8: boolean | undefined, zones?: TimeZoneGrouping): RecordParse {
  if (notUtf8) return { ok: false, field: 'row', ppnum: parsed.ok ? parsed.recipient.ppnum : parsed.ppnum, message: NOT_UTF8_MESSAGE };
  if (!parsed.ok) return parsed;
  const problem = recipientSizeIssue(parsed.recipient) ?? (zones ? timeZoneProblem(parsed.recipient.vars, zones) : undefined);
  return problem ? { ok: false, ppnum: parsed.recipient.ppnum, ...problem } : parsed;
}

/** The `row`-th recipient row (1-based, header and blank lines not counted), parsed and checked; undefined past the end. For previews. */
export async function readRecordRow(bytes: ByteSource, file: RecordFormat, row: number): Promise<{ line: number; parsed: RecordParse } | undefined> {
  const { parse, headerLine, headerIssue } = await parserFor(bytes, file, { requiredVars: [] });
  let seen = 0;
  for await (const batch of readRecordBatches(bytes({ start: 0 }), file.format, {}, file.encoding)) {
    for (const record of batch) {
      if (record.line === headerLine || record.text.trim() === '') continue;
      if (++seen < row) continue;
      if (!parse) return { line: record.line, parsed: { ok: false, field: headerIssue?.field ?? 'row', message: headerIssue?.message ?? 'the file has no header' } };
      return { line: record.line, parsed: checkedRow(parse(record.text), record.notUtf8) };
    }
  }
  return undefined;
}

/** Yields the recipients of one planned byte range (of its zone, if it has one) in batches, in file order; refuses if the file changed. */
export async function* readRecordRange(bytes: ByteSource, range: RecordRange & ZonedChunk, describe: string): AsyncGenerator<RecipientInput[]> {
  const changed = (line: number, reason: string) => sourceChanged(describe, `line ${line}: ${reason}`, 'restore the original file');
  const { parse } = await parserFor(bytes, range, { requiredVars: [] });
  if (!parse) throw changed(range.firstLine, 'its header is now missing or malformed');
  const skipLines = new Set(range.skipLines);
  const { timeZone, timeZoneColumn: column, emptyZone } = range;
  let found = 0;
  for await (const batch of readRecordBatches(bytes({ start: range.byteStart, end: range.byteEnd }), range.format, { start: range.byteStart, firstLine: range.firstLine }, range.encoding)) {
    const recipients: RecipientInput[] = [];
    for (const record of batch) {
      if (skipLines.has(record.line) || record.text.trim() === '') continue;
      const parsed = parse(record.text);
      if (!parsed.ok) throw changed(record.line, parsed.message);
      if (column !== undefined && ((parsed.recipient.vars[column] ?? '').trim() || emptyZone) !== timeZone) continue; // another zone's chunk
      recipients.push(parsed.recipient);
    }
    found += recipients.length;
    if (recipients.length > 0) yield recipients;
  }
  if (range.count !== undefined && found !== range.count) throw changed(range.firstLine, `the range planned ${range.count} recipient(s) in ${timeZone ?? 'it'} and now holds ${found}`);
}
