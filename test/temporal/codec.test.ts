// Payload encryption (unit level): the codec, key parsing, the data converter from the environment.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { FailureConverter, Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { COMPRESSION_METADATA_KEY, COMPRESS_FROM_BYTES, ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA_KEY, ensureKeyFile, newPayloadKeyLine, parsePayloadKeys, readKeyFile } from '../../src/temporal/codec';
import { FAILURE_CONVERTER_PATH, dataConverterFromEnv, describePayloadEncryption, payloadEncryptionFromEnv } from '../../src/temporal/data-converter';

const SECRET_TEXT = 'Ada Lovelace, ada@example.org, 12300000042';
const keyA = parsePayloadKeys(newPayloadKeyLine(), 'test')[0]!;
const keyB = parsePayloadKeys(newPayloadKeyLine(), 'test')[0]!;
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const plain = (value: unknown): Payload => defaultPayloadConverter.toPayload(value)!;

describe('EncryptionCodec', () => {
  it('encrypts the whole payload with the first key and decodes it back', async () => {
    const codec = new EncryptionCodec([keyA, keyB]);
    const original = plain({ spec: SECRET_TEXT });
    const [encoded] = await codec.encode([original]);
    expect(text(encoded!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encoded!.metadata![KEY_ID_METADATA_KEY])).toBe(keyA.id);
    expect(Object.keys(encoded!.metadata!).sort()).toEqual([KEY_ID_METADATA_KEY, 'encoding'].sort()); // json/plain is inside
    expect(Buffer.from(encoded!.data!).includes(Buffer.from('Ada'))).toBe(false);
    const [decoded] = await codec.decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ spec: SECRET_TEXT });
  });

  it('compresses a large payload before encrypting it, and decodes it back; small ones stay as they were', async () => {
    const codec = new EncryptionCodec([keyA]);
    const carry = { recipients: Array.from({ length: 3_000 }, (_, i) => ({ ppnum: String(45600000000 + i), state: 'delivered', history: [[1764547200000 + i, 'RECIPIENT_DELIVERED']] })) };
    const large = plain(carry);
    expect(large.data!.length).toBeGreaterThan(COMPRESS_FROM_BYTES);
    const [packed, small] = await codec.encode([large, plain({ spec: SECRET_TEXT })]);
    expect(text(packed!.metadata![COMPRESSION_METADATA_KEY])).toBe('deflate-raw');
    expect(packed!.data!.length).toBeLessThan(large.data!.length / 5);
    expect(small!.metadata![COMPRESSION_METADATA_KEY]).toBeUndefined();
    const [back, smallBack] = await codec.decode([packed!, small!]);
    expect(defaultPayloadConverter.fromPayload(back!)).toEqual(carry);
    expect(defaultPayloadConverter.fromPayload(smallBack!)).toEqual({ spec: SECRET_TEXT });
    // A compression this codec does not know is refused by name, never read as something else.
    await expect(codec.decode([{ ...packed!, metadata: { ...packed!.metadata, [COMPRESSION_METADATA_KEY]: Buffer.from('zstd') } }])).rejects.toThrow('compressed with "zstd"');
  });

  it('uses a fresh IV per payload: the same value encrypts differently each time', async () => {
    const codec = new EncryptionCodec([keyA]);
    const [one, two] = await codec.encode([plain('same'), plain('same')]);
    expect(Buffer.from(one!.data!).equals(Buffer.from(two!.data!))).toBe(false);
  });

  it('decodes payloads of an older key after rotation, and encrypts with the new one', async () => {
    const [underA] = await new EncryptionCodec([keyA]).encode([plain('written under A')]);
    const rotated = new EncryptionCodec([keyB, keyA]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([underA!]))[0]!)).toBe('written under A');
    const [underB] = await rotated.encode([plain('new')]);
    expect(text(underB!.metadata![KEY_ID_METADATA_KEY])).toBe(keyB.id);
  });

  it('passes cleartext payloads through decode (recorded histories, plain JSON starts)', async () => {
    const codec = new EncryptionCodec([keyA]);
    const cleartext = plain({ campaignId: 'x' });
    expect(await codec.decode([cleartext])).toEqual([cleartext]);
  });

  it('refuses a payload of an unknown key, a relabelled key id and altered data, with the reason', async () => {
    const [underA] = await new EncryptionCodec([keyA]).encode([plain('x')]);
    await expect(new EncryptionCodec([keyB]).decode([underA!])).rejects.toThrow(`key "${keyA.id}", which is not loaded`);
    const relabelled = { ...underA!, metadata: { ...underA!.metadata, [KEY_ID_METADATA_KEY]: Buffer.from(keyB.id) } };
    await expect(new EncryptionCodec([keyA, { id: keyB.id, key: keyA.key }]).decode([relabelled])).rejects.toThrow('does not decrypt');
    const altered = Buffer.from(underA!.data!);
    altered[20] = altered[20]! ^ 1;
    await expect(new EncryptionCodec([keyA]).decode([{ ...underA!, data: altered }])).rejects.toThrow('does not decrypt');
  });
});

describe('payload keys', () => {
  it('reads id:base64 entries separated by commas, spaces or lines, with comments; the first encrypts', () => {
    const [a, b] = [newPayloadKeyLine(), newPayloadKeyLine()];
    const keys = parsePayloadKeys(`# current\n${a}\n\n${b} # previous`, 'file');
    expect(keys.map((k) => k.id)).toEqual([a.split(':')[0], b.split(':')[0]]);
    expect(parsePayloadKeys(`${a}, ${b}`, 'env')).toHaveLength(2);
  });

  it('names the entry and the rule, never the key material', () => {
    const material = Buffer.alloc(16, 7).toString('base64');
    expect(() => parsePayloadKeys(`k1:${material}`, 'PAYLOAD_KEYS')).toThrow('PAYLOAD_KEYS, key 1 ("k1"): the key must be 32 bytes in base64');
    expect(() => parsePayloadKeys(`k1:${material}`, 'PAYLOAD_KEYS')).not.toThrow(material);
    expect(() => parsePayloadKeys('just-a-key', 'PAYLOAD_KEYS')).toThrow('write it as <id>:<base64 key>');
    const line = newPayloadKeyLine();
    expect(() => parsePayloadKeys(`${line},${line}`, 'PAYLOAD_KEYS')).toThrow('is used twice');
    expect(() => parsePayloadKeys('# nothing', 'PAYLOAD_KEY_FILE /k')).toThrow('holds no key');
  });

  it('creates the local key file once, readable by its owner only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ppoppo-keys-'));
    try {
      const path = join(dir, 'sub', 'payload-keys');
      expect(ensureKeyFile(path)).toBe(true);
      const first = readKeyFile(path);
      expect(ensureKeyFile(path)).toBe(false);
      expect(readKeyFile(path)).toEqual(first);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('payload encryption from the environment', () => {
  it('is on by default and refuses to run without keys, saying how to get them', () => {
    expect(() => payloadEncryptionFromEnv({})).toThrow(/set PAYLOAD_KEY_FILE .* or PAYLOAD_KEYS=.*PAYLOAD_ENCRYPTION=off/);
    expect(() => payloadEncryptionFromEnv({ PAYLOAD_ENCRYPTION: 'maybe' })).toThrow('PAYLOAD_ENCRYPTION must be "on" or "off"');
    expect(() => payloadEncryptionFromEnv({ PAYLOAD_KEYS: newPayloadKeyLine(), PAYLOAD_KEY_FILE: '/k' })).toThrow('not both');
    expect(() => payloadEncryptionFromEnv({ PAYLOAD_KEY_FILE: '/nonexistent/keys' })).toThrow('PAYLOAD_KEY_FILE /nonexistent/keys cannot be read (ENOENT)');
  });

  it('takes keys from PAYLOAD_KEYS or PAYLOAD_KEY_FILE, and is off only when asked', () => {
    const line = newPayloadKeyLine();
    const fromEnv = payloadEncryptionFromEnv({ PAYLOAD_KEYS: line });
    expect(fromEnv.on && fromEnv.codec.encryptingKeyId).toBe(line.split(':')[0]);
    expect(describePayloadEncryption(fromEnv)).toBe(`payloads encrypted with key ${line.split(':')[0]}`);
    const dir = mkdtempSync(join(tmpdir(), 'ppoppo-keys-'));
    try {
      writeFileSync(join(dir, 'keys'), `${newPayloadKeyLine()}\n${line}\n`);
      const fromFile = payloadEncryptionFromEnv({ PAYLOAD_KEY_FILE: join(dir, 'keys') });
      expect(fromFile.on && fromFile.codec.keyIds).toHaveLength(2);
      expect(describePayloadEncryption(fromFile)).toMatch(/\(2 keys loaded\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const off = payloadEncryptionFromEnv({ PAYLOAD_ENCRYPTION: 'off' });
    expect(describePayloadEncryption(off)).toBe('payloads NOT encrypted (PAYLOAD_ENCRYPTION=off)');
  });

  it('gives every connection the codec and a failure converter that moves messages into an encrypted payload', async () => {
    const converter = dataConverterFromEnv({ PAYLOAD_KEYS: newPayloadKeyLine() });
    expect(converter.payloadCodecs).toHaveLength(1);
    expect(converter.failureConverterPath).toBe(FAILURE_CONVERTER_PATH);
    const { failureConverter } = (await import(FAILURE_CONVERTER_PATH)) as { failureConverter: FailureConverter };
    const failure = failureConverter.errorToFailure(ApplicationFailure.nonRetryable(`row of ${SECRET_TEXT}`, 'Example'), defaultPayloadConverter);
    expect(failure.message).toBe('Encoded failure');
    expect(JSON.stringify(failure)).not.toContain('Ada');
    expect(failure.encodedAttributes).toBeDefined();
  });
});
