// Plan and read for sources whose bytes are a CSV or NDJSON recipient file: a local file or an
// http(s) object. Both cut the file into byte ranges of records; only where the bytes come from
// differs (`ByteSource`). The plan and the chunk reader share one parser, so a chunk always yields
// exactly the recipients the plan counted for it.
import { ApplicationFailure } from '@temporalio/common';
import type { RecipientInput } from '../../src/api/types';
import { recipientSizeIssue } from '../../src/api/validation';
import type { ValidationIssue } from '../../src/api/validation';
import type { ChunkSource, RecipientFileEncoding, RecipientFileFormat, RecordRange } from '../../src/campaign/chunk-source';
import { heartbeat } from '../heartbeat';
import { NOT_UTF8_MESSAGE, parseCsvHeader, parseCsvRecord, parseNdjsonRecord, readRecordStream } from '../recipient-file';
import type { RecordParse } from '../recipient-file';
import { HEARTBEAT_EVERY_ROWS, PlanAccount, RECIPIENT_SOURCE_FAILURES, checkChunkSize, sourceChanged } from './source';
import type { PlanOptions, RecipientPlan } from './source';

/** The bytes [start, end) of the file (end omitted: to the end). */
export type ByteSource = (range: { start: number; end?: number }) => AsyncIterable<Buffer>;

/** skipLines travel in the plan (an activity result, at most 2 MB): keep them well below that. */
const MAX_SKIPPED_LINES_IN_CHUNKS = 150_000;

type RecordParser = (text: string) => RecordParse;

/** What every row must satisfy: the template's variables and links; `requiredColumns` must exist but may be empty. */
type RowRules = Pick<PlanOptions, 'requiredVars' | 'urlTemplates' | 'requiredColumns'>;

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
  let header: { text: string; line: number; notUtf8?: boolean } | undefined;
  for await (const record of readRecordStream(bytes({ start: 0, end: HEADER_READ_BYTES }), 'csv', {}, encoding)) {
    if (record.text.trim() !== '') {
      header = record;
      break;
    }
  }
  if (!header) return {};
  if (header.notUtf8) return { headerLine: header.line, headerIssue: { line: header.line, field: 'row', message: NOT_UTF8_MESSAGE } };
  const parsed = parseCsvHeader(header.text, requiredVars, requiredColumns);
  if ('error' in parsed) return { headerLine: header.line, headerIssue: { line: header.line, field: parsed.field, message: parsed.error } };
  return { parse: (text) => parseCsvRecord(text, parsed, requiredVars, urlTemplates), headerLine: header.line };
}

/**
 * Reads the whole file once: counts and reports rows, drops repeated ppnums (first wins), and
 * cuts the valid rows into chunks of `chunkSize` (byte ranges plus the skipped lines inside them).
 */
export async function planRecords<Chunk extends ChunkSource & RecordRange>(bytes: ByteSource, file: RecordFormat, options: PlanOptions, describe: string, toChunk: (range: RecordRange) => Chunk): Promise<RecipientPlan<Chunk>> {
  checkChunkSize(options.chunkSize);
  const { format, encoding } = file;
  const { parse, headerLine, headerIssue } = await parserFor(bytes, file, options);
  const account = new PlanAccount(options.maxIssues);
  if (headerIssue) account.issue(headerIssue);

  const chunks: Chunk[] = [];
  let open: (RecordRange & { count: number }) | undefined;
  let trailingSkips: number[] = []; // skipped lines after the open chunk's last valid row
  const closeChunk = () => {
    if (!open) return;
    const { count: _count, ...range } = open;
    chunks.push(toChunk(range));
    open = undefined;
    trailingSkips = [];
  };
  const skip = (line: number) => {
    if (open) trailingSkips.push(line);
  };

  for await (const record of readRecordStream(bytes({ start: 0 }), format, {}, encoding)) {
    if (record.line === headerLine || record.text.trim() === '') continue;
    account.totals.total += 1;
    if (account.totals.total % HEARTBEAT_EVERY_ROWS === 0) heartbeat({ line: record.line });
    if (!parse) {
      account.totals.invalidCount += 1; // the header issue already explains why
      continue;
    }
    // Too big for a request, or not text in the file's encoding: invalid by line, before anything is sent.
    const parsed = checkedRow(parse(record.text), record.notUtf8);
    if (!parsed.ok) {
      account.invalid({ line: record.line, ppnum: parsed.ppnum, field: parsed.field, message: parsed.message });
      skip(record.line);
      continue;
    }
    if (!account.firstOf(parsed.recipient.ppnum, `line ${record.line}`, { line: record.line })) {
      skip(record.line);
      continue;
    }
    if (!open) open = { format, byteStart: record.start, byteEnd: record.end, firstLine: record.line, skipLines: [], count: 0, ...(encoding === 'latin1' ? { encoding } : {}) };
    open.skipLines.push(...trailingSkips);
    trailingSkips = [];
    open.byteEnd = record.end;
    open.count += 1;
    if (open.count === options.chunkSize) closeChunk();
  }
  closeChunk();
  const skipped = chunks.reduce((sum, chunk) => sum + chunk.skipLines.length, 0);
  if (skipped > MAX_SKIPPED_LINES_IN_CHUNKS) {
    const { invalidCount, duplicateCount } = account.totals;
    throw ApplicationFailure.nonRetryable(`${describe} has ${invalidCount} invalid and ${duplicateCount} duplicate rows between valid ones; clean the file (too many to skip)`, RECIPIENT_SOURCE_FAILURES.tooManyInvalidRows);
  }
  return account.plan(chunks);
}

/** A parsed row, turned invalid when it is not UTF-8 or over the per-recipient size limit. */
function checkedRow(parsed: RecordParse, notUtf8: boolean | undefined): RecordParse {
  if (notUtf8) return { ok: false, field: 'row', ppnum: parsed.ok ? parsed.recipient.ppnum : parsed.ppnum, message: NOT_UTF8_MESSAGE };
  if (!parsed.ok) return parsed;
  const size = recipientSizeIssue(parsed.recipient);
  return size ? { ok: false, ppnum: parsed.recipient.ppnum, ...size } : parsed;
}

/** The `row`-th recipient row (1-based, header and blank lines not counted), parsed and checked; undefined past the end. For previews. */
export async function readRecordRow(bytes: ByteSource, file: RecordFormat, row: number): Promise<{ line: number; parsed: RecordParse } | undefined> {
  const { parse, headerLine, headerIssue } = await parserFor(bytes, file, { requiredVars: [] });
  let seen = 0;
  for await (const record of readRecordStream(bytes({ start: 0 }), file.format, {}, file.encoding)) {
    if (record.line === headerLine || record.text.trim() === '') continue;
    if (++seen < row) continue;
    if (!parse) return { line: record.line, parsed: { ok: false, field: headerIssue?.field ?? 'row', message: headerIssue?.message ?? 'the file has no header' } };
    return { line: record.line, parsed: checkedRow(parse(record.text), record.notUtf8) };
  }
  return undefined;
}

/** Yields the recipients of one planned byte range, in file order; refuses if the file changed. */
export async function* readRecordRange(bytes: ByteSource, range: RecordRange, describe: string): AsyncGenerator<RecipientInput> {
  const changed = (line: number, reason: string) => sourceChanged(describe, `line ${line}: ${reason}`, 'restore the original file');
  const { parse } = await parserFor(bytes, range, { requiredVars: [] });
  if (!parse) throw changed(range.firstLine, 'its header is now missing or malformed');
  const skipLines = new Set(range.skipLines);
  for await (const record of readRecordStream(bytes({ start: range.byteStart, end: range.byteEnd }), range.format, { start: range.byteStart, firstLine: range.firstLine }, range.encoding)) {
    if (skipLines.has(record.line) || record.text.trim() === '') continue;
    const parsed = parse(record.text);
    if (!parsed.ok) throw changed(record.line, parsed.message);
    yield parsed.recipient;
  }
}
