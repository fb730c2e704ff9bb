// Where the recipients of one chunk (one CreateSendRequest) come from. The campaign plans its
// recipient source into chunk sources; the chunk's activities read their own rows back from it.
// PURE: workflow code imports this module.
import type { RecipientInput } from '../api/types';
import type { RetryOutcome } from './outcomes';

export type RecipientFileFormat = 'csv' | 'ndjson';
/** How a recipient file's bytes are text: UTF-8 (default) or Latin-1 (ISO-8859-1). */
export type RecipientFileEncoding = 'utf8' | 'latin1';

/** An inline list travels in the chunk's input. */
export interface InlineChunkSource {
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
}

/** A byte range of a file on the worker's disk (one host, or storage every worker mounts). */
export interface FileChunkSource extends RecordRange {
  kind: 'file';
  path: string;
}

/**
 * A byte range of a recipient file served over http(s) (e.g. a presigned object-store URL), read
 * with a Range request by whichever worker runs the chunk. `version` is what the server called
 * the object when the campaign was planned: a read of any other version is refused.
 */
export interface UrlChunkSource extends RecordRange {
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
 */
export interface PostgresChunkSource {
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

/** Splits a list into inline chunk sources of at most `chunkSize` recipients. */
export function chunkInline(recipients: readonly RecipientInput[], chunkSize: number): InlineChunkSource[] {
  const chunks: InlineChunkSource[] = [];
  for (let start = 0; start < recipients.length; start += chunkSize) {
    chunks.push({ kind: 'inline', recipients: recipients.slice(start, start + chunkSize) });
  }
  return chunks;
}
