// A recipient file on the worker's disk: planned and read as byte ranges. Every worker that may run
// the campaign must see the same file at the same path (one host, or storage they all mount); for
// workers on several hosts, serve the file over http(s) or keep the audience in PostgreSQL.
import { createReadStream } from 'node:fs';
import type { RecipientInput } from '../../src/api/types';
import type { FileChunkSource, RecipientFileEncoding, RecipientFileFormat } from '../../src/campaign/chunk-source';
import { planRecords, readRecordRange, readRecordRow } from './records';
import type { ByteSource } from './records';
import { sourceUnreadable } from './source';
import type { PlanOptions, RecipientPlan, RecipientSourceReader } from './source';

export type FileSourceSpec = { file: string; format?: RecipientFileFormat; encoding?: RecipientFileEncoding };

function fileBytes(path: string): ByteSource {
  return async function* ({ start, end }) {
    if (end !== undefined && end <= start) return;
    yield* createReadStream(path, { start, end: end === undefined ? undefined : end - 1, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
  };
}

async function plan(spec: FileSourceSpec, options: PlanOptions): Promise<RecipientPlan<FileChunkSource>> {
  const format = spec.format ?? 'csv';
  try {
    return await planRecords(fileBytes(spec.file), { format, encoding: spec.encoding }, options, spec.file, (range) => ({ kind: 'file', path: spec.file, ...range }));
  } catch (err) {
    throw fileFailure(spec.file, err);
  }
}

async function* read(chunk: FileChunkSource): AsyncGenerator<RecipientInput[]> {
  try {
    yield* readRecordRange(fileBytes(chunk.path), chunk, chunk.path);
  } catch (err) {
    throw fileFailure(chunk.path, err);
  }
}

export const fileSource: RecipientSourceReader<FileSourceSpec, FileChunkSource> = { plan, read };

/** The `row`-th recipient row of a file, parsed and checked (for `campaign preview`); undefined past the end. */
export async function readFileRow(input: FileSourceSpec & { row: number }): Promise<Awaited<ReturnType<typeof readRecordRow>>> {
  try {
    return await readRecordRow(fileBytes(input.file), { format: input.format ?? 'csv', encoding: input.encoding }, input.row);
  } catch (err) {
    throw fileFailure(input.file, err);
  }
}

/** A missing or unreadable file will not fix itself by retrying; anything else may (e.g. EMFILE). */
function fileFailure(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return sourceUnreadable(`cannot read recipient file ${path} (${code})`);
  return err instanceof Error ? err : new Error(String(err));
}
