// Recipient source activities: plan a source (file, URL, PostgreSQL) into chunks, and read one
// chunk back. Each kind of source is one module under sources/ with the same plan/read interface;
// this module picks the one the spec or the chunk names. Recipient variables never enter workflow
// histories for these sources: the workflow carries byte or key ranges, and the send and fallback
// activities read their own rows.
import type { RecipientInput } from '../src/api/types';
import type { ChunkSource, ReadChunkSource } from '../src/campaign/chunk-source';
import type { ReadSourceSpec } from '../src/campaign/recipient-source';
import { fileSource } from './sources/file';
import { postgresSource } from './sources/postgres';
import { urlSource } from './sources/url';
import type { PlanOptions, RecipientPlan } from './sources/source';

export type { RecipientPlan } from './sources/source';

/** The spec's source (spread: `{ file, format }` as before, or `{ url, format }`, or `{ postgres }`) and how to plan it. */
export type PlanRecipientsInput = { campaignId: string } & PlanOptions & ReadSourceSpec;

export async function planRecipients(input: PlanRecipientsInput): Promise<RecipientPlan<ReadChunkSource>> {
  const options: PlanOptions = { requiredVars: input.requiredVars, chunkSize: input.chunkSize, maxIssues: input.maxIssues };
  if ('url' in input) return urlSource.plan(input, options);
  if ('postgres' in input) return postgresSource.plan(input, options);
  return fileSource.plan(input, options);
}

function chunkReader(source: ReadChunkSource): AsyncIterable<RecipientInput> {
  switch (source.kind) {
    case 'file':
      return fileSource.read(source);
    case 'url':
      return urlSource.read(source);
    case 'postgres':
      return postgresSource.read(source);
  }
}

async function chunkRecipients(source: ChunkSource): Promise<RecipientInput[]> {
  if (source.kind === 'inline') return source.recipients;
  const recipients: RecipientInput[] = [];
  for await (const recipient of chunkReader(source)) recipients.push(recipient);
  return recipients;
}

export async function readChunkPpnums(source: ChunkSource): Promise<string[]> {
  return (await chunkRecipients(source)).map((recipient) => recipient.ppnum);
}

/** The chunk's recipients with their variables; only those in `ppnums` when given. */
export async function readChunkRecipients(input: { source: ChunkSource; ppnums?: string[] }): Promise<RecipientInput[]> {
  const recipients = await chunkRecipients(input.source);
  if (!input.ppnums) return recipients;
  const wanted = new Set(input.ppnums);
  return recipients.filter((recipient) => wanted.has(recipient.ppnum));
}

export function createRecipientActivities() {
  return { planRecipients, readChunkPpnums, readChunkRecipients };
}
