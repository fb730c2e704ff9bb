// Streaming readers for recipient files (CSV and NDJSON) that never hold the whole file in memory,
// wherever their bytes come from (a local file, an http(s) object).
//
// A file is cut into *records* at byte level: one record per line, except that a CSV line break
// inside a quoted field continues the record (RFC 4180). Each record knows its byte range and the
// 1-based file line it starts on, so a plan can name lines and a chunk can be re-read by byte range.
import { createReadStream } from 'node:fs';
import type { RecipientInput } from '../src/api/types';
import { checkVars, isValidPpnum } from '../src/api/validation';
import type { RecipientFileEncoding, RecipientFileFormat } from '../src/campaign/chunk-source';

export interface FileRecord {
  /** Record text without its line ending. */
  text: string;
  /** The bytes are not UTF-8 (read as UTF-8): the text is unreliable and the row must be reported. */
  notUtf8?: boolean;
  /** Byte offset of the record's first byte. */
  start: number;
  /** Byte offset just past the record's line ending (exclusive). */
  end: number;
  /** 1-based file line the record starts on. */
  line: number;
}

export interface ReadRange {
  /** First byte to read (must be the start of a record). */
  start?: number;
  /** Exclusive end byte; omit to read to the end of the file. */
  end?: number;
  /** Line number of the record at `start`. */
  firstLine?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** What a person reads when a row is not UTF-8. */
export const NOT_UTF8_MESSAGE =
  'the row is not UTF-8 text (it looks like Latin-1 or Windows-1252): save the file as UTF-8, or set "encoding": "latin1" in recipients';

/** Whether UTF-8 text that holds U+FFFD came from invalid bytes (U+FFFD alone is no proof: check strictly). */
function notUtf8(text: string, bytes: Buffer, length: number): boolean {
  if (!text.includes('\uFFFD')) return false;
  try {
    STRICT_UTF8.decode(bytes.subarray(0, length));
    return false;
  } catch {
    return true;
  }
}

/**
 * The records of a file (or of a byte range of it), in batches: one per block read. Blank records
 * are included too, with empty text, so callers decide what to do with them. Line breaks, quotes
 * and commas are ASCII, so records are cut the same way in UTF-8 and Latin-1.
 */
export function readRecords(path: string, format: RecipientFileFormat, range: ReadRange = {}, encoding: RecipientFileEncoding = 'utf8'): AsyncGenerator<FileRecord[]> {
  const start = range.start ?? 0;
  const empty = range.end !== undefined && range.end <= start;
  const stream = empty ? [] : createReadStream(path, { start, end: range.end === undefined ? undefined : range.end - 1, highWaterMark: 256 * 1024 });
  return readRecordBatches(stream as AsyncIterable<Buffer>, format, { start, firstLine: range.firstLine }, encoding);
}

/**
 * The records in a stream of a file's bytes that starts at byte `range.start` (the start of a
 * record, on line `range.firstLine`): a local file or the body of an http(s) range request. One
 * batch per block of bytes: a promise per record would cost more than parsing it.
 */
export async function* readRecordBatches(source: AsyncIterable<Buffer>, format: RecipientFileFormat, range: Omit<ReadRange, 'end'> = {}, encoding: RecipientFileEncoding = 'utf8'): AsyncGenerator<FileRecord[]> {
  const splitter = new RecordSplitter(format, range, encoding);
  for await (const block of source) {
    const batch = [...splitter.records(block)];
    if (batch.length > 0) yield batch;
  }
  const last = splitter.rest();
  if (last) yield [last];
}

/** The first record that is not blank, reading no further than it (a CSV header). */
export async function firstRecord(source: AsyncIterable<Buffer>, encoding: RecipientFileEncoding = 'utf8'): Promise<FileRecord | undefined> {
  const splitter = new RecordSplitter('csv', {}, encoding);
  for await (const block of source) {
    for (const record of splitter.records(block)) if (record.text.trim() !== '') return record;
  }
  const last = splitter.rest();
  return last && last.text.trim() !== '' ? last : undefined;
}

/** Cuts blocks of bytes into records, lazily; a record split across blocks is carried to the next. */
class RecordSplitter {
  private readonly quoteAware: boolean;
  private pending: Buffer[] = []; // bytes of the record being read, across blocks
  private recordStart: number;
  private offset: number; // byte offset of the next unread byte
  private line: number; // line the current record starts on
  private linesInRecord = 0; // line breaks inside quotes seen so far in the current record
  private inQuotes = false;

  constructor(
    format: RecipientFileFormat,
    range: Omit<ReadRange, 'end'>,
    private readonly encoding: RecipientFileEncoding,
  ) {
    this.quoteAware = format === 'csv';
    this.recordStart = this.offset = range.start ?? 0;
    this.line = range.firstLine ?? 1;
  }

  *records(block: Buffer): Generator<FileRecord> {
    // Line breaks and quotes are found with indexOf (native), not byte by byte in JavaScript.
    let from = 0; // where the current record's bytes start in this block
    let nextQuote = this.quoteAware ? block.indexOf(QUOTE) : -1;
    for (let scan = 0; scan < block.length; ) {
      const lf = block.indexOf(LF, scan);
      const end = lf === -1 ? block.length : lf;
      for (; nextQuote !== -1 && nextQuote < end; nextQuote = block.indexOf(QUOTE, nextQuote + 1)) this.inQuotes = !this.inQuotes;
      if (lf === -1) break;
      scan = lf + 1;
      if (this.inQuotes) {
        this.linesInRecord += 1;
        continue;
      }
      const piece = block.subarray(from, lf + 1);
      const bytes = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.pending = [];
      from = lf + 1;
      yield this.finish(bytes, this.offset + lf + 1);
    }
    if (from < block.length) this.pending.push(block.subarray(from));
    this.offset += block.length;
  }

  /** The last record, when the bytes do not end with a line break. */
  rest(): FileRecord | undefined {
    if (this.pending.length === 0) return undefined;
    const record = this.finish(Buffer.concat(this.pending), this.offset);
    this.pending = [];
    return record;
  }

  private finish(bytes: Buffer, end: number): FileRecord {
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === LF) length -= 1;
    if (length > 0 && bytes[length - 1] === CR) length -= 1;
    const text = bytes.toString(this.encoding === 'latin1' ? 'latin1' : 'utf8', 0, length);
    const record: FileRecord = { text, start: this.recordStart, end, line: this.line };
    if (this.encoding !== 'latin1' && notUtf8(text, bytes, length)) record.notUtf8 = true;
    this.line += this.linesInRecord + 1;
    this.linesInRecord = 0;
    this.recordStart = end;
    return record;
  }
}

/**
 * Result of parsing one record: a recipient, or a problem with the field it concerns. Messages
 * never quote the file's content (a mistyped path could point at any file): they name the field
 * or column, and the caller adds the line number.
 */
export type RecordParse =
  | { ok: true; recipient: RecipientInput }
  | { ok: false; field: string; ppnum?: string; message: string };

/** Splits one CSV record into fields (RFC 4180). Returns an error message for malformed quoting. */
export function parseCsvFields(text: string): { fields: string[] } | { error: string } {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close === -1) return { error: `field ${fields.length + 1} opens a quote that is never closed` };
        value += text.slice(i, close);
        if (text[close + 1] === '"') {
          value += '"';
          i = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return { fields };
      if (text[i] !== ',') return { error: `field ${fields.length} has text after its closing quote (write "" for a quote inside a quoted field)` };
      i += 1;
    } else {
      const comma = text.indexOf(',', i);
      const value = comma === -1 ? text.slice(i) : text.slice(i, comma);
      if (value.includes('"')) return { error: `field ${fields.length + 1} contains a quote but is not quoted (wrap it in quotes and write "" for each quote)` };
      fields.push(value);
      if (comma === -1) return { fields };
      i = comma + 1;
    }
  }
}

/** The CSV header: column names, the ppnum column's index, or a problem a person can fix. */
export type CsvHeader = { columns: string[]; ppnumIndex: number } | { error: string; field: string };

/** `requiredColumns` must exist but may be empty in a row (e.g. the email fallback's address column). */
export function parseCsvHeader(text: string, requiredVars: readonly string[], requiredColumns: readonly string[] = []): CsvHeader {
  const parsed = parseCsvFields(text.replace(/^\uFEFF/, ''));
  if ('error' in parsed) return { error: `the header row is malformed: ${parsed.error}`, field: 'row' };
  const columns = parsed.fields.map((name) => name.trim());
  const seen = new Set<string>();
  for (const [index, name] of columns.entries()) {
    if (name === '') return { error: 'the header row has an empty column name', field: 'row' };
    if (seen.has(name)) return { error: `the header row names ${columnName(name, index)} twice`, field: 'row' };
    seen.add(name);
  }
  const ppnumIndex = columns.indexOf('ppnum');
  if (ppnumIndex === -1) return { error: 'the header row has no "ppnum" column', field: 'ppnum' };
  const missing = requiredVars.filter((name) => !seen.has(name));
  if (missing.length > 0) {
    return { error: `the header row has no column for template variable(s) ${missing.map((m) => `"${m}"`).join(', ')}`, field: `vars.${missing[0]}` };
  }
  const missingColumn = requiredColumns.find((name) => !seen.has(name));
  if (missingColumn !== undefined) return { error: `the header row has no "${missingColumn}" column, which the email fallback reads addresses from`, field: `vars.${missingColumn}` };
  return { columns, ppnumIndex };
}

/** `urlTemplates`: the template's links with placeholders, whose rendered value must stay an http(s) address. */
export function parseCsvRecord(text: string, header: { columns: string[]; ppnumIndex: number }, requiredVars: readonly string[], urlTemplates: readonly string[] = []): RecordParse {
  const parsed = parseCsvFields(text);
  if ('error' in parsed) return { ok: false, field: 'row', message: parsed.error };
  const { fields } = parsed;
  const ppnum = (fields[header.ppnumIndex] ?? '').trim();
  if (fields.length !== header.columns.length) {
    return { ok: false, field: 'row', ppnum: isValidPpnum(ppnum) ? ppnum : undefined, message: `the row has ${fields.length} field(s) but the header has ${header.columns.length} column(s)` };
  }
  const vars: Record<string, string> = {};
  header.columns.forEach((name, index) => {
    if (index !== header.ppnumIndex) vars[name] = fields[index] ?? '';
  });
  return checkRecipient(ppnum, vars, requiredVars, urlTemplates);
}

/** `requiredColumns` must exist but may be empty (the email fallback's address column). */
export function parseNdjsonRecord(text: string, requiredVars: readonly string[], urlTemplates: readonly string[] = [], requiredColumns: readonly string[] = []): RecordParse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, field: 'row', message: 'the line is not valid JSON' }; // the parser's own message quotes the line
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, field: 'row', message: 'the line must be a JSON object like {"ppnum": "12300000001", "vars": {...}}' };
  }
  const object = value as Record<string, unknown>;
  const rawPpnum = object.ppnum;
  if (typeof rawPpnum !== 'string') {
    const hint = typeof rawPpnum === 'number' ? ' (write it as a string: large numbers lose digits)' : '';
    return { ok: false, field: 'ppnum', message: `ppnum is missing or not a string${hint}` };
  }
  const ppnum = rawPpnum.trim();
  const nested = object.vars;
  const source = typeof nested === 'object' && nested !== null && !Array.isArray(nested) ? (nested as Record<string, unknown>) : object;
  const vars: Record<string, string> = {};
  for (const [name, raw] of Object.entries(source)) {
    if (source === object && (name === 'ppnum' || name === 'vars')) continue;
    if (typeof raw === 'string') vars[name] = raw;
    else if (typeof raw === 'number' || typeof raw === 'boolean') vars[name] = String(raw);
    else if (raw !== null) {
      const field = isFieldName(name) ? `vars.${name}` : 'vars';
      return { ok: false, field, ppnum: isValidPpnum(ppnum) ? ppnum : undefined, message: `${isFieldName(name) ? `variable "${name}"` : 'a variable'} must be a string, number or boolean` };
    }
  }
  const missingColumn = requiredColumns.find((name) => !(name in vars));
  if (missingColumn !== undefined) {
    return { ok: false, field: `vars.${missingColumn}`, ppnum: isValidPpnum(ppnum) ? ppnum : undefined, message: `the email fallback reads addresses from "${missingColumn}", which this line lacks (an empty value is allowed)` };
  }
  return checkRecipient(ppnum, vars, requiredVars, urlTemplates);
}

function checkRecipient(ppnum: string, vars: Record<string, string>, requiredVars: readonly string[], urlTemplates: readonly string[]): RecordParse {
  if (ppnum === '') return { ok: false, field: 'ppnum', message: 'ppnum is empty' };
  if (!isValidPpnum(ppnum)) return { ok: false, field: 'ppnum', message: 'ppnum is not valid: it must be 11 or more digits' };
  const problem = checkVars(vars, { requiredVars, urlTemplates });
  if (problem) return { ok: false, ppnum, ...problem };
  return { ok: true, recipient: { ppnum, vars } };
}

/** Names that read as a field name may be quoted; anything else (a line of some other file read as CSV) is only counted. */
function isFieldName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_ .-]{0,63}$/.test(name);
}

function columnName(name: string, index: number): string {
  return isFieldName(name) ? `column "${name}"` : `column ${index + 1}`;
}
