// Recipient source activities: plan a file into chunks (byte ranges), and read one chunk back.
//
// The plan and the chunk reader share one parser, so a chunk always yields exactly the recipients
// the plan counted for it. Recipient variables never enter workflow histories for file sources:
// the workflow only carries the byte range, and the send activity reads its own rows.
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { RecipientInput } from '../src/api/types';
import { recipientSizeIssue } from '../src/api/validation';
import type { ValidationIssue } from '../src/api/validation';
import type { ChunkSource, FileChunkSource, FollowUpChunkSource, RecipientFileEncoding, RecipientFileFormat } from '../src/campaign/chunk-source';
import { createFollowUpReader } from './follow-up';
import type { FollowUpReader } from './follow-up';
import { heartbeat } from './heartbeat';
import { NOT_UTF8_MESSAGE, parseCsvHeader, parseCsvRecord, parseNdjsonRecord, readRecords } from './recipient-file';
import type { RecordParse } from './recipient-file';

export interface PlanRecipientsInput {
  campaignId: string;
  file: string;
  format: RecipientFileFormat;
  /** Default UTF-8. */
  encoding?: RecipientFileEncoding;
  /** Template placeholders every recipient must have a non-empty value for. */
  requiredVars: string[];
  /** Columns every row must have, possibly empty (the email fallback's address). */
  requiredColumns?: string[];
  /** Valid recipients per chunk (1..1000). */
  chunkSize: number;
  /** At most this many issues are returned (counts are always complete). */
  maxIssues: number;
}

export interface RecipientPlan {
  /** Data rows in the file (blank lines excluded). */
  total: number;
  valid: number;
  invalidCount: number;
  duplicateCount: number;
  issues: ValidationIssue[];
  chunks: FileChunkSource[];
}

type RecordParser = (text: string) => RecordParse;

const HEARTBEAT_EVERY_RECORDS = 10_000;
/** skipLines travel in the plan (an activity result, at most 2 MB): keep them well below that. */
const MAX_SKIPPED_LINES_IN_CHUNKS = 150_000;

/** Reads the CSV header (the first non-blank record) or undefined for an empty file. */
async function readCsvHeaderRecord(path: string, encoding: RecipientFileEncoding): Promise<{ text: string; line: number; notUtf8?: boolean } | undefined> {
  for await (const record of readRecords(path, 'csv', {}, encoding)) {
    if (record.text.trim() !== '') return record;
  }
  return undefined;
}

/**
 * Builds the row parser for a file. For CSV this reads the header; a header problem is returned
 * as an issue (every row is then invalid).
 */
async function parserFor(
  path: string,
  format: RecipientFileFormat,
  requiredVars: readonly string[],
  requiredColumns: readonly string[] = [],
  encoding: RecipientFileEncoding = 'utf8',
): Promise<{ parse?: RecordParser; headerLine?: number; headerIssue?: ValidationIssue }> {
  if (format === 'ndjson') return { parse: (text) => parseNdjsonRecord(text, requiredVars, requiredColumns) };
  const record = await readCsvHeaderRecord(path, encoding);
  if (!record) return {};
  if (record.notUtf8) return { headerLine: record.line, headerIssue: { line: record.line, field: 'row', message: NOT_UTF8_MESSAGE } };
  const header = parseCsvHeader(record.text, requiredVars, requiredColumns);
  if ('error' in header) return { headerLine: record.line, headerIssue: { line: record.line, field: header.field, message: header.error } };
  return { parse: (text) => parseCsvRecord(text, header, requiredVars), headerLine: record.line };
}

export async function planRecipients(input: PlanRecipientsInput): Promise<RecipientPlan> {
  const { file, format, requiredVars, chunkSize, maxIssues } = input;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 1000) {
    throw ApplicationFailure.nonRetryable(`chunkSize must be an integer from 1 to 1000, got ${chunkSize}`, 'InvalidPlanInput');
  }
  const encoding = input.encoding ?? 'utf8';
  const { parse, headerLine, headerIssue } = await parserFor(file, format, requiredVars, input.requiredColumns, encoding).catch((err: unknown) => {
    throw fileFailure(file, err);
  });
  const plan: RecipientPlan = { total: 0, valid: 0, invalidCount: 0, duplicateCount: 0, issues: [], chunks: [] };
  const addIssue = (issue: ValidationIssue) => {
    if (plan.issues.length < maxIssues) plan.issues.push(issue);
  };
  if (headerIssue) addIssue(headerIssue);

  const firstLineOf = new Map<string, number>(); // ppnum → line it first appeared on (dedup)
  let open: (FileChunkSource & { count: number }) | undefined;
  let trailingSkips: number[] = []; // skipped lines after the open chunk's last valid row
  const closeChunk = () => {
    if (!open) return;
    const { count: _count, ...chunk } = open;
    plan.chunks.push(chunk);
    open = undefined;
    trailingSkips = [];
  };
  const skip = (line: number) => {
    if (open) trailingSkips.push(line);
  };

  try {
    for await (const record of readRecords(file, format, {}, encoding)) {
      if (record.line === headerLine || record.text.trim() === '') continue;
      plan.total += 1;
      if (plan.total % HEARTBEAT_EVERY_RECORDS === 0) heartbeat({ line: record.line });
      if (!parse) {
        plan.invalidCount += 1; // the header issue already explains why
        continue;
      }
      // Too big for a request, or not text in the file's encoding: invalid by line, before anything is sent.
      const parsed = checkedRow(parse(record.text), record.notUtf8);
      if (!parsed.ok) {
        plan.invalidCount += 1;
        addIssue({ line: record.line, ppnum: parsed.ppnum, field: parsed.field, message: parsed.message });
        skip(record.line);
        continue;
      }
      const { ppnum } = parsed.recipient;
      const firstLine = firstLineOf.get(ppnum);
      if (firstLine !== undefined) {
        plan.duplicateCount += 1;
        addIssue({ line: record.line, ppnum, field: 'ppnum', message: `ppnum ${ppnum} already appears on line ${firstLine}; only that first row is used` });
        skip(record.line);
        continue;
      }
      firstLineOf.set(ppnum, record.line);
      plan.valid += 1;
      if (!open) {
        open = { kind: 'file', path: file, format, byteStart: record.start, byteEnd: record.end, firstLine: record.line, skipLines: [], count: 0, ...(input.encoding === 'latin1' ? { encoding: 'latin1' as const } : {}) };
      }
      open.skipLines.push(...trailingSkips);
      trailingSkips = [];
      open.byteEnd = record.end;
      open.count += 1;
      if (open.count === chunkSize) closeChunk();
    }
  } catch (err) {
    throw fileFailure(file, err);
  }
  closeChunk();
  const skipped = plan.chunks.reduce((sum, chunk) => sum + chunk.skipLines.length, 0);
  if (skipped > MAX_SKIPPED_LINES_IN_CHUNKS) {
    throw ApplicationFailure.nonRetryable(
      `${file} has ${plan.invalidCount} invalid and ${plan.duplicateCount} duplicate rows between valid ones; clean the file (too many to skip)`,
      'TooManyInvalidRows',
    );
  }
  return plan;
}

/** The `row`-th recipient row (1-based, header and blank lines not counted) of a file, parsed; undefined past the end. For previews. */
export async function readDataRow(input: { file: string; format: RecipientFileFormat; encoding?: RecipientFileEncoding; row: number }): Promise<{ line: number; parsed: RecordParse } | undefined> {
  const encoding = input.encoding ?? 'utf8';
  const { parse, headerLine, headerIssue } = await parserFor(input.file, input.format, [], [], encoding).catch((err: unknown) => {
    throw fileFailure(input.file, err);
  });
  let seen = 0;
  for await (const record of readRecords(input.file, input.format, {}, encoding)) {
    if (record.line === headerLine || record.text.trim() === '') continue;
    if (++seen < input.row) continue;
    if (!parse) return { line: record.line, parsed: { ok: false, field: headerIssue?.field ?? 'row', message: headerIssue?.message ?? 'the file has no header' } };
    return { line: record.line, parsed: checkedRow(parse(record.text), record.notUtf8) };
  }
  return undefined;
}

/** A parsed row, turned invalid when it is not UTF-8 or over the per-recipient size limit. */
function checkedRow(parsed: RecordParse, notUtf8: boolean | undefined): RecordParse {
  if (notUtf8) return { ok: false, field: 'row', ppnum: parsed.ok ? parsed.recipient.ppnum : parsed.ppnum, message: NOT_UTF8_MESSAGE };
  if (!parsed.ok) return parsed;
  const size = recipientSizeIssue(parsed.recipient);
  return size ? { ok: false, ppnum: parsed.recipient.ppnum, ...size } : parsed;
}

/** Yields the recipients of one file chunk, in file order. Throws if the file changed since the plan. */
async function* fileChunkRecipients(source: FileChunkSource): AsyncGenerator<RecipientInput> {
  const encoding = source.encoding ?? 'utf8';
  const { parse } = await parserFor(source.path, source.format, [], [], encoding);
  if (!parse) throw fileChanged(source, source.firstLine, 'its header is now missing or malformed');
  const skipLines = new Set(source.skipLines);
  const range = { start: source.byteStart, end: source.byteEnd, firstLine: source.firstLine };
  for await (const record of readRecords(source.path, source.format, range, encoding)) {
    if (skipLines.has(record.line) || record.text.trim() === '') continue;
    const parsed = parse(record.text);
    if (!parsed.ok) throw fileChanged(source, record.line, parsed.message);
    yield parsed.recipient;
  }
}

/** A follow-up's recipients come from the original campaign's chunks, through Temporal. */
async function chunkRecipients(source: ChunkSource, followUps?: FollowUpReader): Promise<RecipientInput[]> {
  if (source.kind === 'inline') return source.recipients;
  if (source.kind === 'followUp') {
    if (!followUps) throw ApplicationFailure.nonRetryable('reading a follow-up chunk needs a Temporal client (ActivityDeps.temporalClient)', 'MissingDependency');
    return followUps.recipients(source, (original, ppnums) => readRecipients({ source: original, ppnums }, followUps));
  }
  const recipients: RecipientInput[] = [];
  try {
    for await (const recipient of fileChunkRecipients(source)) recipients.push(recipient);
  } catch (err) {
    throw err instanceof ApplicationFailure ? err : fileFailure(source.path, err);
  }
  return recipients;
}

async function readRecipients(input: { source: ChunkSource; ppnums?: string[] }, followUps?: FollowUpReader): Promise<RecipientInput[]> {
  const recipients = await chunkRecipients(input.source, followUps);
  if (!input.ppnums) return recipients;
  const wanted = new Set(input.ppnums);
  return recipients.filter((recipient) => wanted.has(recipient.ppnum));
}

/** The ppnums of an inline or file chunk. */
export async function readChunkPpnums(source: ChunkSource): Promise<string[]> {
  return (await chunkRecipients(source)).map((recipient) => recipient.ppnum);
}

/** The recipients of an inline or file chunk with their variables; only those in `ppnums` when given. */
export function readChunkRecipients(input: { source: ChunkSource; ppnums?: string[] }): Promise<RecipientInput[]> {
  return readRecipients(input);
}

/** Readers for every kind of chunk source; follow-ups need the Temporal client. */
export function chunkReader(temporalClient?: Client) {
  const followUps = temporalClient ? createFollowUpReader(temporalClient) : undefined;
  return {
    readChunkPpnums: async (source: ChunkSource): Promise<string[]> => (await chunkRecipients(source, followUps)).map((recipient) => recipient.ppnum),
    readChunkRecipients: (input: { source: ChunkSource; ppnums?: string[] }): Promise<RecipientInput[]> => readRecipients(input, followUps),
    followUps,
  };
}

export function createRecipientActivities(deps: { temporalClient?: Client } = {}) {
  const { readChunkPpnums, readChunkRecipients, followUps } = chunkReader(deps.temporalClient);
  const needFollowUps = (): FollowUpReader => {
    if (!followUps) throw ApplicationFailure.nonRetryable('follow-up campaigns need a Temporal client (ActivityDeps.temporalClient)', 'MissingDependency');
    return followUps;
  };
  return {
    planRecipients,
    readChunkPpnums,
    readChunkRecipients,
    /** Plans a follow-up campaign: the original's chunks holding recipients with the outcome, and how many each. */
    planFollowUp: (input: { campaignId: string; outcome: FollowUpChunkSource['outcome'] }) => needFollowUps().plan(input),
    /** A fallback-only follow-up chunk's recipients with the outcome they ended with. */
    readFollowUpOutcomes: (source: FollowUpChunkSource) => needFollowUps().outcomes(source),
  };
}

function fileChanged(source: FileChunkSource, line: number, reason: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `recipient file ${source.path} changed since the campaign was planned (line ${line}: ${reason}); restore the original file`,
    'RecipientFileChanged',
  );
}

/** A missing or unreadable file will not fix itself by retrying; anything else may (e.g. EMFILE). */
function fileFailure(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    return ApplicationFailure.nonRetryable(`cannot read recipient file ${path} (${code})`, 'RecipientFileUnreadable');
  }
  return err instanceof Error ? err : new Error(String(err));
}
