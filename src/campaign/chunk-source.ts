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
 * A byte range of a recipient file. `skipLines` are the invalid or duplicate rows inside it that
 * the plan excluded, so reading the range again yields exactly the planned recipients.
 */
export interface FileChunkSource {
  kind: 'file';
  path: string;
  format: RecipientFileFormat;
  byteStart: number;
  byteEnd: number;
  firstLine: number;
  skipLines: number[];
  /** Absent for UTF-8 (and in plans made before encodings could be chosen). */
  encoding?: RecipientFileEncoding;
}

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

export type ChunkSource = InlineChunkSource | FileChunkSource | FollowUpChunkSource;

/** Splits a list into inline chunk sources of at most `chunkSize` recipients. */
export function chunkInline(recipients: readonly RecipientInput[], chunkSize: number): InlineChunkSource[] {
  const chunks: InlineChunkSource[] = [];
  for (let start = 0; start < recipients.length; start += chunkSize) {
    chunks.push({ kind: 'inline', recipients: recipients.slice(start, start + chunkSize) });
  }
  return chunks;
}
