// Payload encryption: every payload our processes hand to Temporal (workflow inputs and results,
// activity inputs and results, signals, queries, heartbeats, memos, summaries, failure messages) is
// encrypted with AES-256-GCM before it leaves the process, so the Temporal server, its database
// and anyone reading histories without a key see ciphertext.
//
// The whole Payload (its metadata and data) is serialized and encrypted; the encrypted payload
// carries `encoding: binary/encrypted` and the id of the key that encrypted it. Several keys can be
// loaded: the first encrypts, every one decrypts, so keys rotate without breaking running
// workflows. Payloads without the encrypted encoding pass through decode unchanged: histories
// recorded in cleartext (the replay fixtures, a workflow started with a plain JSON input) still
// decode.
//
// A large payload (a chunk's carry across continue-as-new, the recipients query of a chunk sent as
// several requests) is compressed before it is encrypted: such JSON shrinks 10-70 times, which keeps
// it far from Temporal's 2 MB payload limit. `encryption-compression: deflate-raw` says so.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { METADATA_ENCODING_KEY, ValueError } from '@temporalio/common';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto'; // CommonJS: a default import works under tsx, vitest and the bundler alike

const PayloadProto = proto.temporal.api.common.v1.Payload;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA_KEY = 'encryption-key-id';
export const COMPRESSION_METADATA_KEY = 'encryption-compression';
const DEFLATE_RAW = 'deflate-raw';
/** Payloads from this size are compressed (smaller ones gain little and are the hot path). */
export const COMPRESS_FROM_BYTES = 16 * 1024;
/** What a compressed payload may inflate to: Temporal refuses payloads far below this anyway. */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

const CIPHER = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface PayloadKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export class EncryptionCodec implements PayloadCodec {
  readonly #keys: Map<string, Buffer>;
  /** The key new payloads are encrypted with. */
  readonly encryptingKeyId: string;

  /** `keys[0]` encrypts; all of them decrypt. */
  constructor(keys: readonly PayloadKey[]) {
    if (keys.length === 0) throw new ValueError('an EncryptionCodec needs at least one key');
    this.#keys = new Map(keys.map(({ id, key }) => [id, key]));
    this.encryptingKeyId = keys[0]!.id;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.encryptingKeyId;
    const key = this.#keys.get(keyId)!;
    return payloads.map((payload) => {
      const plain = PayloadProto.encode(payload).finish();
      const packed = plain.length >= COMPRESS_FROM_BYTES ? deflateRawSync(plain) : undefined;
      const compressed = packed !== undefined && packed.length < plain.length;
      return {
        metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA_KEY]: utf8(keyId), ...(compressed ? { [COMPRESSION_METADATA_KEY]: utf8(DEFLATE_RAW) } : {}) },
        data: encrypt(compressed ? packed : plain, key, keyId),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload; // cleartext: passes through
      const keyId = text(payload.metadata?.[KEY_ID_METADATA_KEY]);
      if (!keyId) throw new ValueError('an encrypted payload has no encryption-key-id');
      const key = this.#keys.get(keyId);
      if (!key) throw new ValueError(`payload encrypted with key "${keyId}", which is not loaded (loaded: ${this.keyIds.join(', ')}); add it to PAYLOAD_KEYS or PAYLOAD_KEY_FILE`);
      if (!payload.data) throw new ValueError('an encrypted payload has no data');
      const plain = decrypt(payload.data, key, keyId);
      const compression = text(payload.metadata?.[COMPRESSION_METADATA_KEY]);
      if (compression === undefined) return PayloadProto.decode(plain);
      if (compression !== DEFLATE_RAW) throw new ValueError(`an encrypted payload is compressed with "${compression}", which this codec does not know (it knows ${DEFLATE_RAW})`);
      try {
        return PayloadProto.decode(inflateRawSync(plain, { maxOutputLength: MAX_INFLATED_BYTES }));
      } catch {
        throw new ValueError(`a compressed payload (key "${keyId}") does not inflate, or would exceed ${MAX_INFLATED_BYTES / 1024 / 1024} MB`);
      }
    });
  }
}

/** iv ‖ ciphertext ‖ tag; the key id is authenticated too, so a payload cannot be relabelled. */
function encrypt(plain: Uint8Array, key: Buffer, keyId: string): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv);
  cipher.setAAD(Buffer.from(keyId, 'utf8'));
  return Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function decrypt(data: Uint8Array, key: Buffer, keyId: string): Uint8Array {
  const bytes = Buffer.from(data);
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new ValueError('an encrypted payload is too short');
  const decipher = createDecipheriv(CIPHER, key, bytes.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(keyId, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new ValueError(`a payload encrypted with key "${keyId}" does not decrypt: the key with that id is a different key, or the payload was altered`);
  }
}

function utf8(value: string): Uint8Array {
  return Buffer.from(value, 'utf8');
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? Buffer.from(bytes).toString('utf8') : undefined;
}

/**
 * Keys as written in PAYLOAD_KEYS or a key file: `<id>:<base64 of 32 bytes>` entries separated by
 * commas, spaces or new lines; `#` starts a comment. The first key encrypts. `source` names where
 * the text came from in error messages (never the key material).
 */
export function parsePayloadKeys(text: string, source: string): PayloadKey[] {
  const entries = text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join(' ')
    .split(/[\s,]+/)
    .filter(Boolean);
  if (entries.length === 0) throw new ValueError(`${source} holds no key; write <id>:<base64 of 32 random bytes> (npm run -s payload-key prints one)`);
  const keys: PayloadKey[] = [];
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon === -1 ? '' : entry.slice(0, colon);
    const material = colon === -1 ? '' : entry.slice(colon + 1);
    const where = `${source}, key ${i + 1}`;
    if (!KEY_ID_PATTERN.test(id)) throw new ValueError(`${where}: write it as <id>:<base64 key>, the id 1-64 letters, digits, ".", "_" or "-"`);
    const key = Buffer.from(material, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(material) || key.length !== KEY_BYTES) throw new ValueError(`${where} ("${id}"): the key must be ${KEY_BYTES} bytes in base64 (44 characters)`);
    if (keys.some((k) => k.id === id)) throw new ValueError(`${where}: the id "${id}" is used twice`);
    keys.push({ id, key });
  });
  return keys;
}

/** A new key line, `<id>:<base64>`, the id naming its creation date so rotations read in order. */
export function newPayloadKeyLine(now = new Date()): string {
  const id = `k${now.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

/**
 * The local stack's key file (npm start, the demo): created with one new key on first use, readable
 * by its owner only. Never used unless PAYLOAD_KEY_FILE names it. Returns whether it was created.
 */
export function ensureKeyFile(path: string): boolean {
  if (existsSync(path)) return false;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `# Payload encryption keys of the local stack (first line encrypts). Keep out of version control.\n${newPayloadKeyLine()}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return true;
}

export function readKeyFile(path: string): PayloadKey[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValueError(`PAYLOAD_KEY_FILE ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parsePayloadKeys(text, `PAYLOAD_KEY_FILE ${path}`);
}
