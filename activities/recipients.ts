// Recipient source activities: plan a source (file, URL, PostgreSQL, or an earlier campaign's
// recipients for a follow-up) into chunks, and read one chunk back. Each kind of source is one
// module under sources/ with the same plan/read interface; this module picks the one the spec or
// the chunk names. Recipient variables never enter workflow histories for these sources: the
// workflow carries byte or key ranges (or a follow-up's ids), and the send and fallback activities
// read their own rows. A worker reads files only under RECIPIENT_FILE_ROOTS (file-roots.ts): every
// file plan and chunk read is confined before a byte is read.
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { RecipientInput } from '../src/api/types';
import type { ChunkSource, FileChunkSource, FollowUpChunkSource, ReadChunkSource } from '../src/campaign/chunk-source';
import type { ReadSourceSpec } from '../src/campaign/recipient-source';
import { confineRecipientFile, recipientFileRoots } from './file-roots';
import { createFollowUpReader } from './follow-up';
import type { FollowUpReader } from './follow-up';
import { keptAlive } from './heartbeat';
import { fileSource, readFileRow } from './sources/file';
import type { FileSourceSpec } from './sources/file';
import { postgresSource } from './sources/postgres';
import { readUrlRow, urlSource } from './sources/url';
import type { UrlSourceSpec } from './sources/url';
import type { PlanOptions, RecipientPlan } from './sources/source';

export type { RecipientPlan } from './sources/source';

/** The spec's source (spread: `{ file, format, encoding }` as before, or `{ url, … }`, or `{ postgres }`) and how to plan it. */
export type PlanRecipientsInput = { campaignId: string } & PlanOptions & ReadSourceSpec;

/** The activity: plans the source as the worker may read it (files only under RECIPIENT_FILE_ROOTS). */
export const planRecipients = keptAlive((input: PlanRecipientsInput): Promise<RecipientPlan<ReadChunkSource>> => planRecipientSource(input, { confineFiles: true }));

/**
 * Plans a source. `confineFiles: false` is for the CLI's `validate`, which reads the user's own
 * file on the user's machine; a worker always confines, to the RECIPIENT_FILE_ROOTS of `env`
 * (default process.env; the CLI passes its own).
 */
export async function planRecipientSource(input: PlanRecipientsInput, how: { confineFiles: boolean; env?: Record<string, string | undefined> }): Promise<RecipientPlan<ReadChunkSource>> {
  const options: PlanOptions = { requiredVars: input.requiredVars, urlTemplates: input.urlTemplates, requiredColumns: input.requiredColumns, chunkSize: input.chunkSize, maxIssues: input.maxIssues, ...(input.timeZones ? { timeZones: input.timeZones } : {}) };
  if ('url' in input) return urlSource.plan(input, options);
  if ('postgres' in input) return postgresSource.plan(input, options);
  if (!how.confineFiles) return fileSource.plan(input, options);
  // Read the real path the check passed (no symlink swap in between); the chunks keep the spec's path.
  const plan = await fileSource.plan({ ...input, file: await confineRecipientFile(input.file, recipientFileRoots(how.env)) }, options);
  return { ...plan, chunks: plan.chunks.map((chunk) => ({ ...chunk, path: input.file })) };
}

async function* confinedFile(chunk: FileChunkSource): AsyncGenerator<RecipientInput[]> {
  yield* fileSource.read({ ...chunk, path: await confineRecipientFile(chunk.path) });
}

/** The `row`-th recipient row of a file or URL (1-based, header and blank lines not counted), parsed and checked; for the CLI's preview, which reads the user's own files (not confined, like validate). */
export function readDataRow(input: (FileSourceSpec | UrlSourceSpec) & { row: number }): ReturnType<typeof readFileRow> {
  return 'url' in input ? readUrlRow(input) : readFileRow(input);
}

function sourceReader(source: ReadChunkSource): AsyncIterable<RecipientInput[]> {
  switch (source.kind) {
    case 'file':
      return confinedFile(source);
    case 'url':
      return urlSource.read(source);
    case 'postgres':
      return postgresSource.read(source);
  }
}

/**
 * The rows a chunk's own read (readChunkPpnums, a local activity) found, handed to the sends that
 * follow it in this worker within a minute, each once: the whole chunk's one send, or each of its
 * parts' (a chunk sent as several requests). Each chunk's rows (a file range, an HTTP range
 * request, a query) are then read once, not once more per request, and each send sends exactly what
 * the chunk loaded. A send in another worker, later, or again (a retry) reads the source itself
 * (and checks it as always).
 */
export class ReadsForSend {
  readonly #entries = new Map<string, { at: number; recipients: RecipientInput[]; partsTaken: Set<number>; rowsTaken: number }>();

  constructor(
    private readonly maxEntries = 32,
    private readonly ttlMs = 60_000,
  ) {}

  put(source: ChunkSource, recipients: RecipientInput[], now = Date.now()): void {
    const key = keyOf(source);
    if (key === undefined) return;
    this.#entries.delete(key);
    this.#entries.set(key, { at: now, recipients, partsTaken: new Set(), rowsTaken: 0 });
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** The chunk's rows for the send of `part` (its rows [offset, offset + count); absent: the whole chunk), if that send has not had them yet. */
  take(source: ChunkSource, part?: { offset: number; count: number }, now = Date.now()): RecipientInput[] | undefined {
    const key = keyOf(source);
    if (key === undefined) return undefined;
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now - entry.at >= this.ttlMs || !part) {
      this.#entries.delete(key);
      return now - entry.at < this.ttlMs ? entry.recipients : undefined;
    }
    if (entry.partsTaken.has(part.offset)) return undefined;
    entry.partsTaken.add(part.offset);
    entry.rowsTaken += part.count;
    if (entry.rowsTaken >= entry.recipients.length) this.#entries.delete(key); // every part had its turn
    return entry.recipients;
  }
}

/** Inline rows are in the input and a follow-up's come through Temporal: nothing to hold (and no list to stringify). */
function keyOf(source: ChunkSource): string | undefined {
  return source.kind === 'inline' || source.kind === 'followUp' ? undefined : JSON.stringify(source);
}

const readsForSend = new ReadsForSend();

/** A follow-up's recipients come from the original campaign's chunks, through Temporal. */
async function chunkRecipients(source: ChunkSource, followUps?: FollowUpReader): Promise<RecipientInput[]> {
  if (source.kind === 'inline') return source.recipients;
  if (source.kind === 'followUp') {
    if (!followUps) throw ApplicationFailure.nonRetryable('reading a follow-up chunk needs a Temporal client (ActivityDeps.temporalClient)', 'MissingDependency');
    return followUps.recipients(source, (original, ppnums) => readRecipients({ source: original, ppnums }, followUps));
  }
  const recipients: RecipientInput[] = [];
  for await (const batch of sourceReader(source)) recipients.push(...batch);
  return recipients;
}

/** The chunk's ppnums, its rows kept for the send (ReadsForSend). */
async function chunkPpnums(source: ChunkSource, followUps?: FollowUpReader): Promise<string[]> {
  const recipients = await chunkRecipients(source, followUps);
  readsForSend.put(source, recipients);
  return recipients.map((recipient) => recipient.ppnum);
}

/** `part`: the rows of one of the chunk's requests are wanted (the caller takes them from the whole chunk's). */
async function readRecipients(input: { source: ChunkSource; ppnums?: string[]; part?: { offset: number; count: number } }, followUps?: FollowUpReader): Promise<RecipientInput[]> {
  if (!input.ppnums) return readsForSend.take(input.source, input.part) ?? (await chunkRecipients(input.source, followUps));
  const recipients = await chunkRecipients(input.source, followUps);
  const wanted = new Set(input.ppnums);
  return recipients.filter((recipient) => wanted.has(recipient.ppnum));
}

/** The ppnums of a chunk (any kind but a follow-up: see chunkReader). */
export function readChunkPpnums(source: ChunkSource): Promise<string[]> {
  return chunkPpnums(source);
}

/** The chunk's recipients with their variables; only those in `ppnums` when given (any kind but a follow-up: see chunkReader). */
export function readChunkRecipients(input: { source: ChunkSource; ppnums?: string[] }): Promise<RecipientInput[]> {
  return readRecipients(input);
}

/** Readers for every kind of chunk source; follow-ups need the Temporal client. */
export function chunkReader(temporalClient?: Client) {
  const followUps = temporalClient ? createFollowUpReader(temporalClient) : undefined;
  return {
    readChunkPpnums: (source: ChunkSource): Promise<string[]> => chunkPpnums(source, followUps),
    readChunkRecipients: (input: { source: ChunkSource; ppnums?: string[]; part?: { offset: number; count: number } }): Promise<RecipientInput[]> => readRecipients(input, followUps),
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
    planFollowUp: keptAlive((input: { campaignId: string; outcome: FollowUpChunkSource['outcome'] }) => needFollowUps().plan(input)),
    /** A fallback-only follow-up chunk's recipients with the outcome they ended with. */
    readFollowUpOutcomes: (source: FollowUpChunkSource) => needFollowUps().outcomes(source),
  };
}
