// Looking for personal data in what Temporal stores and shows: payloads in `temporal workflow show
// --output json` (base64 data with base64 metadata), raw database bytes, log text.

export interface ShownPayload {
  /** Where it is, e.g. events.3.upsertWorkflowSearchAttributesEventAttributes.searchAttributes.indexedFields.PpoppoCampaignStatus */
  path: string;
  encoding: string;
  /** The payload's data, base64-decoded. */
  data: Buffer;
}

/** Every payload ({ metadata: { encoding }, data }) anywhere in a parsed `--output json` document. */
export function payloadsIn(value: unknown, path = ''): ShownPayload[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => payloadsIn(item, `${path}.${i}`));
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const encoding = (record.metadata as Record<string, unknown> | undefined)?.encoding;
  const own = typeof encoding === 'string' ? [{ path, encoding: Buffer.from(encoding, 'base64').toString('utf8'), data: Buffer.from(typeof record.data === 'string' ? record.data : '', 'base64') }] : [];
  return [...own, ...Object.entries(record).flatMap(([key, child]) => payloadsIn(child, path ? `${path}.${key}` : key))];
}

/**
 * Payloads no codec ever sees, by the SDK's design: search attribute values (ids and statuses, our
 * choice of what to put there) and the SDK's own marker records: a local activity's sequence
 * number, type and times (its result beside them is encoded) and a patch's id.
 */
export function isOutsideCodec(payload: ShownPayload): boolean {
  return /searchAttributes/i.test(payload.path) || /markerRecordedEventAttributes\.details\.(data|patch-data)\./.test(payload.path);
}

/**
 * The needles found in any of the haystacks, as text. Strings are also searched base64-decoded
 * (payload data and metadata are base64 in JSON output), so a cleartext payload cannot hide there.
 */
export function cleartextFound(haystacks: Array<string | Buffer>, needles: string[]): string[] {
  const texts = haystacks.flatMap((haystack) => (typeof haystack === 'string' ? [haystack, ...base64Runs(haystack)] : [haystack.toString('latin1')]));
  return needles.filter((needle) => texts.some((text) => text.includes(needle)));
}

function base64Runs(text: string): string[] {
  return [...text.matchAll(/[A-Za-z0-9+/]{16,}={0,2}/g)].map((match) => Buffer.from(match[0], 'base64').toString('latin1'));
}
