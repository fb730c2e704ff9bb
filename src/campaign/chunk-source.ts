// Where the recipients of one chunk (one CreateSendRequest) come from. The campaign plans its
// recipient source into chunk sources; the chunk's activities read their own rows back from it.
// PURE: workflow code imports this module.
import type { RecipientInput } from '../api/types';

export type RecipientFileFormat = 'csv' | 'ndjson';

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
}

export type ChunkSource = InlineChunkSource | FileChunkSource;

/** Splits a list into inline chunk sources of at most `chunkSize` recipients. */
export function chunkInline(recipients: readonly RecipientInput[], chunkSize: number): InlineChunkSource[] {
  const chunks: InlineChunkSource[] = [];
  for (let start = 0; start < recipients.length; start += chunkSize) {
    chunks.push({ kind: 'inline', recipients: recipients.slice(start, start + chunkSize) });
  }
  return chunks;
}
