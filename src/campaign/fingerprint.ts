// A campaign spec's fingerprint: short hashes of its canonical JSON, as a whole and per top-level
// field. The campaign keeps it (memo), so starting the same campaign id again can tell the same
// campaign from a different one, and say which parts differ. It detects changes; it is not a
// security hash. PURE: the workflow computes it too (for campaigns started from the Temporal CLI).
import { DEFAULT_SENDS_PER_CHUNK } from './spec';
import type { CampaignSpec } from './spec';

export interface SpecFingerprint {
  /** Hash of the whole spec. */
  spec: string;
  /** Hash per top-level field (template, recipients, fallback, ...). */
  fields: Record<string, string>;
}

export function specFingerprint(spec: CampaignSpec): SpecFingerprint {
  const canonical = withoutDefaultSends(spec);
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(canonical).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (value !== undefined) fields[name] = hash(canonicalJson(value));
  }
  return { spec: hash(canonicalJson(canonical)), fields };
}

/** A campaign writes the default sendsPerChunk into its spec (withSendsPerChunk): the same spec as without it. */
function withoutDefaultSends(spec: CampaignSpec): CampaignSpec {
  if (spec.limits?.sendsPerChunk !== DEFAULT_SENDS_PER_CHUNK) return spec;
  const { sendsPerChunk: _default, ...limits } = spec.limits;
  const { limits: _limits, ...rest } = spec;
  return Object.keys(limits).length > 0 ? { ...rest, limits } : rest;
}

/** The top-level fields whose values differ (present in one only counts), in name order. */
export function fingerprintDifferences(a: SpecFingerprint, b: SpecFingerprint): string[] {
  const names = [...new Set([...Object.keys(a.fields), ...Object.keys(b.fields)])].sort();
  return names.filter((name) => a.fields[name] !== b.fields[name]);
}

/** A fingerprint read back from a memo (anything else is undefined). */
export function asFingerprint(value: unknown): SpecFingerprint | undefined {
  const candidate = value as Partial<SpecFingerprint> | undefined;
  return typeof candidate?.spec === 'string' && typeof candidate.fields === 'object' && candidate.fields !== null ? (candidate as SpecFingerprint) : undefined;
}

/** JSON with object keys sorted and undefined values left out, so equal specs give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** cyrb53: a fast 53-bit string hash (public domain), as 14 hex digits. */
function hash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}
