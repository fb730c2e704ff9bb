// A recipient file served over http(s), e.g. a presigned object-store URL: any worker on any host
// reads its chunk with a byte-range request. Planning first asks for one byte to make sure the
// server honours ranges, and records the object's version (ETag, else Last-Modified); every later
// request is conditional on that version (If-Match / If-Unmodified-Since), so a replaced object is
// refused instead of read at the planned offsets. Messages show the URL without its query string.
// Which hosts a spec may point a worker at is the operator's RECIPIENT_URL_ALLOWED_HOSTS
// (../outbound.ts: private and loopback addresses only when listed); redirects are not followed.
import type { RecipientInput } from '../../src/api/types';
import type { ObjectVersion, RecipientFileEncoding, RecipientFileFormat, UrlChunkSource } from '../../src/campaign/chunk-source';
import { redactUrl } from '../../src/campaign/recipient-source';
import { OutboundRefusedError, outboundPolicyFromEnv, resolveDestination, urlDestination } from '../outbound';
import { planRecords, readRecordRange, readRecordRow } from './records';
import type { ByteSource } from './records';
import { sourceChanged, sourceUnreadable } from './source';
import type { PlanOptions, RecipientPlan, RecipientSourceReader } from './source';

export type UrlSourceSpec = { url: string; format?: RecipientFileFormat; encoding?: RecipientFileEncoding };

/** How long to wait for a server's answer (headers); bodies stream under the activity's heartbeat. */
const RESPONSE_TIMEOUT_MS = 30_000;

async function plan(spec: UrlSourceSpec, options: PlanOptions): Promise<RecipientPlan<UrlChunkSource>> {
  const shown = redactUrl(spec.url);
  const probe = await probeObject(spec.url, shown);
  if (probe.size === 0) return { total: 0, valid: 0, invalidCount: 0, duplicateCount: 0, issues: [], chunks: [] };
  return planRecords(urlBytes(spec.url, probe.version, shown), { format: spec.format ?? 'csv', encoding: spec.encoding }, options, shown, (range) => ({ kind: 'url', url: spec.url, version: probe.version, ...range }));
}

function read(chunk: UrlChunkSource): AsyncIterable<RecipientInput[]> {
  const shown = redactUrl(chunk.url);
  return readRecordRange(urlBytes(chunk.url, chunk.version, shown), chunk, shown);
}

export const urlSource: RecipientSourceReader<UrlSourceSpec, UrlChunkSource> = { plan, read };

/** The `row`-th recipient row at a URL, parsed and checked (for `campaign preview`); undefined past the end. */
export async function readUrlRow(input: UrlSourceSpec & { row: number }): Promise<Awaited<ReturnType<typeof readRecordRow>>> {
  const shown = redactUrl(input.url);
  const probe = await probeObject(input.url, shown);
  if (probe.size === 0) return undefined;
  return readRecordRow(urlBytes(input.url, probe.version, shown), { format: input.format ?? 'csv', encoding: input.encoding }, input.row);
}

/** One byte, to learn whether the server honours ranges, the object's size and its version. */
async function probeObject(url: string, shown: string): Promise<{ size: number; version: ObjectVersion }> {
  const response = await request(url, { Range: 'bytes=0-0' }, shown);
  await response.body?.cancel();
  if (response.status === 416 && /\*\/0$/.test(response.headers.get('content-range') ?? '')) return { size: 0, version: {} };
  if (response.status === 200) {
    throw sourceUnreadable(
      `the server of ${shown} does not honour byte-range requests (it answered "Range: bytes=0-0" with the whole object); ` +
        'each chunk of a campaign is read as a range: serve the file from a server or object store that supports them (S3, GCS, nginx, …)',
    );
  }
  if (response.status !== 206) throw statusFailure(response.status, shown);
  const size = Number(/\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1]);
  if (!Number.isFinite(size)) throw sourceUnreadable(`the server of ${shown} answered a range request without a Content-Range giving the object's size`);
  const version = versionOf(response.headers);
  if (!version.etag && !version.lastModified) {
    throw sourceUnreadable(`the server of ${shown} sends neither an ETag nor a Last-Modified header, so a change of the file after planning could not be detected; serve it from a server that does`);
  }
  return { size, version };
}

/** A strong ETag (If-Match compares strongly), and Last-Modified. */
function versionOf(headers: Headers): ObjectVersion {
  const etag = headers.get('etag') ?? undefined;
  const lastModified = headers.get('last-modified') ?? undefined;
  return { ...(etag && !etag.startsWith('W/') ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
}

function urlBytes(url: string, version: ObjectVersion, shown: string): ByteSource {
  return async function* ({ start, end }) {
    if (end !== undefined && end <= start) return;
    const condition: Record<string, string> = version.etag ? { 'If-Match': version.etag } : { 'If-Unmodified-Since': version.lastModified! };
    const response = await request(url, { Range: `bytes=${start}-${end === undefined ? '' : end - 1}`, ...condition }, shown);
    if (response.status !== 206) {
      await response.body?.cancel();
      if (response.status === 412) throw changed(shown, 'the server says the object is no longer the planned version');
      if (response.status === 200) throw changed(shown, 'the server stopped honouring byte-range requests');
      throw statusFailure(response.status, shown);
    }
    // A server may ignore the condition: compare what it says it sent.
    const served = versionOf(response.headers);
    const differs = version.etag ? served.etag !== version.etag : served.lastModified !== version.lastModified;
    if (differs || !(response.headers.get('content-range') ?? '').startsWith(`bytes ${start}-`)) {
      await response.body?.cancel();
      throw changed(shown, `planned version ${version.etag ?? version.lastModified}, served ${served.etag ?? served.lastModified ?? 'none'}`);
    }
    if (!response.body) return;
    for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) yield Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  };
}

async function request(url: string, headers: Record<string, string>, shown: string): Promise<Response> {
  const { host, port } = urlDestination(url);
  try {
    await resolveDestination(outboundPolicyFromEnv(process.env, 'RECIPIENT_URL_ALLOWED_HOSTS'), host, port);
    return await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(RESPONSE_TIMEOUT_MS) });
  } catch (err) {
    if (err instanceof OutboundRefusedError) throw sourceUnreadable(`recipient URL ${shown} is refused: ${err.message}`);
    // Network trouble may pass: a plain error is retried by the activity's retry policy.
    throw new Error(`cannot reach ${shown}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
}

function changed(shown: string, reason: string) {
  return sourceChanged(shown, reason, 'put the original file back at that URL, or start a new campaign');
}

/** A redirect, or 4xx (but 408/429), will not fix itself; 5xx, 408 and 429 may. */
function statusFailure(status: number, shown: string): Error {
  if (status >= 300 && status < 400) return sourceUnreadable(`the server of ${shown} answered with a redirect (HTTP ${status}); recipient URLs are read without following redirects: give the final URL`);
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    const hint = status === 403 ? ' (a presigned URL may have expired: presign it for longer than the campaign runs)' : status === 404 ? ' (no such object)' : '';
    return sourceUnreadable(`the server of ${shown} refused the recipient file with HTTP ${status}${hint}`);
  }
  return new Error(`the server of ${shown} answered HTTP ${status}; retrying`);
}
