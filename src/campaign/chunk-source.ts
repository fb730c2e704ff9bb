// Where the recipients of one chunk (one CreateSendRequest) come from. The campaign plans its
// recipient source into chunk sources; the chunk's activities read their own rows back from it.
// PURE: workflow code imports this module.
import type { RecipientInput } from '../api/types';
import type { RetryOutcome } from './outcomes';
import { isTimeZone } from './send-window';

export type RecipientFileFormat = 'csv' | 'ndjson';
/** How a recipient file's bytes are text: UTF-8 (default) or Latin-1 (ISO-8859-1). */
export type RecipientFileEncoding = 'utf8' | 'latin1';

/**
 * Recipients grouped by their own time zone (the spec's `recipients.timeZoneColumn`): the campaign
 * starts the chunk inside the send window in `timeZone`, and the chunk checks its window there.
 * Absent: the campaign's `sendWindow.timeZone`.
 */
export interface ZonedChunk {
  /** IANA zone as the recipients' rows write it (trimmed), or sendWindow.timeZone for empty cells. */
  timeZone?: string;
}

/** How a plan groups recipients by zone: the column (or inline variable) naming each one's zone, and the zone of an empty cell. */
export interface TimeZoneGrouping {
  column: string;
  /** The spec's sendWindow.timeZone. */
  fallback: string;
}

/** The zone a row's cell puts a recipient in (the fallback for an empty cell); undefined for a name that is no IANA zone. */
export function recipientTimeZone(cell: string | undefined, grouping: TimeZoneGrouping): string | undefined {
  const zone = (cell ?? '').trim();
  if (zone === '') return grouping.fallback;
  return isTimeZone(zone) ? zone : undefined;
}

/** The problem with a row's zone cell, naming the column (never the value: issues do not quote rows). */
export function timeZoneProblem(vars: Readonly<Record<string, string>>, grouping: TimeZoneGrouping): { field: string; message: string } | undefined {
  return recipientTimeZone(vars[grouping.column], grouping) === undefined ? unknownTimeZone(grouping.column) : undefined;
}

/** The issue of a row whose zone cell is no IANA name. */
export function unknownTimeZone(column: string): { field: string; message: string } {
  return { field: `vars.${column}`, message: `the time zone in "${column}" is not an IANA name like "Asia/Seoul" or "America/New_York" (leave it empty for sendWindow.timeZone)` };
}

/** An inline list travels in the chunk's input. */
export interface InlineChunkSource extends ZonedChunk {
  kind: 'inline';
  recipients: RecipientInput[];
}

/**
 * A byte range of a CSV or NDJSON recipient file. `skipLines` are the invalid or duplicate rows
 * inside it that the plan excluded, so reading the range again yields exactly the planned recipients.
 */
export interface RecordRange {
  format: RecipientFileFormat;
  byteStart: number;
  byteEnd: number;
  firstLine: number;
  skipLines: number[];
  /** Absent for UTF-8 (and in plans made before encodings could be chosen). */
  encoding?: RecipientFileEncoding;
  /**
   * With a zone (`timeZone`): the column naming each row's zone, and the zone of an empty cell. The
   * range then holds other zones' rows too, which are other chunks'; a read keeps only this zone's
   * and refuses unless it finds exactly `count` of them.
   */
  timeZoneColumn?: string;
  emptyZone?: string;
  count?: number;
}

/** A byte range of a file on the worker's disk (one host, or storage every worker mounts). */
export interface FileChunkSource extends RecordRange, ZonedChunk {
  kind: 'file';
  path: string;
}

/**
 * A byte range of a recipient file served over http(s) (e.g. a presigned object-store URL), read
 * with a Range request by whichever worker runs the chunk. `version` is what the server called
 * the object when the campaign was planned: a read of any other version is refused.
 */
export interface UrlChunkSource extends RecordRange, ZonedChunk {
  kind: 'url';
  url: string;
  version: ObjectVersion;
}

/** An object's ETag (preferred) or Last-Modified, as the server sent them. */
export interface ObjectVersion {
  etag?: string;
  lastModified?: string;
}

/** A table (validated identifier, optionally schema-qualified) or a query the worker has configured under this name. */
export type PostgresRelation = { table: string } | { query: string };

/**
 * A key range of a PostgreSQL table or named query: the rows with after < ppnum <= last, in
 * ppnum order (ppnums are the key: the plan holds two of them and no recipient's data). `count`
 * and `digest` (of the chunk's ppnums) let a read refuse a table whose rows in the range changed.
 * With a zone (`timeZone`), the range is of that zone's rows: a read keeps only the rows whose
 * `timeZoneColumn` (trimmed; `emptyZone` when NULL or empty) is `timeZone`.
 */
export interface PostgresChunkSource extends ZonedChunk {
  kind: 'postgres';
  relation: PostgresRelation;
  ppnumColumn: string;
  /** Columns read as variables (their names are the variable names). */
  columns: string[];
  /** Variables a row needs to be valid: rows the plan counted invalid are skipped again. */
  requiredVars: string[];
  /** The template's links with placeholders a row's values must keep http(s) (absent in older plans). */
  urlTemplates?: string[];
  /** Exclusive lower bound; absent for the first chunk. */
  after?: string;
  last: string;
  count: number;
  digest: string;
  timeZoneColumn?: string;
  emptyZone?: string;
}

export type ChunkSource = InlineChunkSource | FileChunkSource | UrlChunkSource | PostgresChunkSource | FollowUpChunkSource;

/** Chunk sources a recipient source module reads back (never carried in a history); follow-ups read their original's. */
export type ReadChunkSource = Exclude<ChunkSource, InlineChunkSource | FollowUpChunkSource>;

/**
 * The recipients of one chunk of an earlier campaign whose outcome was `outcome` (a follow-up,
 * `campaign retry`). Only ids travel in histories: the activities read who they are from the
 * original chunk, and their variables from the original chunk's own source.
 */
export interface FollowUpChunkSource {
  kind: 'followUp';
  /** The original campaign and its chunk. */
  campaignId: string;
  chunkIndex: number;
  outcome: RetryOutcome;
  /** Recipients the plan found (the original chunk is closed: reading it again finds the same). */
  count: number;
}

/**
 * Splits a list into inline chunk sources of at most `chunkSize` recipients; with `zones`, one run
 * of chunks per zone (zones by name, recipients in list order). Recipients whose zone is no IANA
 * name must have been refused before.
 */
export function chunkInline(recipients: readonly RecipientInput[], chunkSize: number, zones?: TimeZoneGrouping): InlineChunkSource[] {
  const chunks: InlineChunkSource[] = [];
  const groups = zones ? groupByZone(recipients, zones) : [[undefined, recipients] as const];
  for (const [timeZone, group] of groups) {
    for (let start = 0; start < group.length; start += chunkSize) {
      chunks.push({ kind: 'inline', recipients: group.slice(start, start + chunkSize), ...(timeZone ? { timeZone } : {}) });
    }
  }
  return chunks;
}

function groupByZone(recipients: readonly RecipientInput[], zones: TimeZoneGrouping): [string, RecipientInput[]][] {
  const groups = new Map<string, RecipientInput[]>();
  for (const recipient of recipients) {
    const zone = recipientTimeZone(recipient.vars[zones.column], zones) ?? zones.fallback;
    const group = groups.get(zone) ?? [];
    group.push(recipient);
    groups.set(zone, group);
  }
  return inZoneOrder(groups);
}

/**
 * A plan's groups by zone in the plan's order of zones: by name, code unit by code unit (the same
 * on every machine, unlike localeCompare), so planning again gives the same chunks.
 */
export function inZoneOrder<Group>(groups: ReadonlyMap<string, Group>): [string, Group][] {
  return [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The zone of a chunk's recipients, or undefined: the campaign's sendWindow.timeZone. */
export function chunkTimeZone(source: ChunkSource): string | undefined {
  return source.kind === 'followUp' ? undefined : source.timeZone;
}
