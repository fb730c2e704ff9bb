// The one data converter every Temporal connection of ours uses (workers, the listener, the CLI,
// CampaignClient, the demo, tests): payload encryption from the environment, and failure messages
// and stack traces moved into an (encrypted) payload instead of cleartext.
//
// Reads: PAYLOAD_KEYS (`<id>:<base64 key>` entries, the first encrypts) or PAYLOAD_KEY_FILE (a
// file of such entries, one per line), and PAYLOAD_ENCRYPTION ("off" turns encryption off for
// local play; anything but on/off is an error). Keys never come from a campaign spec.
import { fileURLToPath } from 'node:url';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError } from '../api/config';
import { EncryptionCodec, parsePayloadKeys, readKeyFile } from './codec';

type Env = Record<string, string | undefined>;

/** Exports `failureConverter` (encodeCommonAttributes); a .cjs file because the SDK require()s it and the workflow bundle includes it. */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

export type PayloadEncryption =
  | { on: true; codec: EncryptionCodec; /** Where the keys came from (a variable name or the key file's path). */ source: string }
  | { on: false };

export function payloadEncryptionFromEnv(env: Env = process.env): PayloadEncryption {
  const mode = (env.PAYLOAD_ENCRYPTION ?? '').trim().toLowerCase();
  if (mode === 'off') return { on: false };
  if (mode !== '' && mode !== 'on') throw new ConfigError(`PAYLOAD_ENCRYPTION must be "on" or "off", got "${env.PAYLOAD_ENCRYPTION}"`);
  const inline = env.PAYLOAD_KEYS?.trim();
  const file = env.PAYLOAD_KEY_FILE?.trim();
  if (inline && file) throw new ConfigError('set PAYLOAD_KEYS or PAYLOAD_KEY_FILE, not both');
  if (!inline && !file) {
    throw new ConfigError(
      'payload encryption needs keys: set PAYLOAD_KEY_FILE (npm start prints the local one) or PAYLOAD_KEYS=<id>:<base64 key> (npm run -s payload-key makes one); for local play only, PAYLOAD_ENCRYPTION=off',
    );
  }
  try {
    const keys = inline ? parsePayloadKeys(inline, 'PAYLOAD_KEYS') : readKeyFile(file!);
    return { on: true, codec: new EncryptionCodec(keys), source: inline ? 'PAYLOAD_KEYS' : file! };
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export function describePayloadEncryption(encryption: PayloadEncryption): string {
  if (!encryption.on) return 'payloads NOT encrypted (PAYLOAD_ENCRYPTION=off)';
  const count = encryption.codec.keyIds.length;
  return `payloads encrypted with key ${encryption.codec.encryptingKeyId}${count > 1 ? ` (${count} keys loaded)` : ''}`;
}

let cached: { env: string; converter: DataConverter } | undefined;
let warned = false;

/** The data converter for Clients and Workers. Throws ConfigError when the keys are missing or malformed. */
export function dataConverterFromEnv(env: Env = process.env): DataConverter {
  const fingerprint = JSON.stringify([env.PAYLOAD_ENCRYPTION, env.PAYLOAD_KEYS, env.PAYLOAD_KEY_FILE]);
  if (cached?.env === fingerprint) return cached.converter;
  const encryption = payloadEncryptionFromEnv(env);
  if (!encryption.on && !warned) {
    warned = true;
    console.warn(
      'WARNING: PAYLOAD_ENCRYPTION=off - campaign specs, recipients (ppnums, names, variables) and outcomes are stored in CLEARTEXT in Temporal. For local play only.',
    );
  }
  const converter: DataConverter = { payloadCodecs: encryption.on ? [encryption.codec] : [], failureConverterPath: FAILURE_CONVERTER_PATH };
  cached = { env: fingerprint, converter };
  return converter;
}

/** Payloads as a history holds them, decoded by the codecs that encoded them (the last applied comes off first). */
export async function decodePayloads(codecs: readonly PayloadCodec[], payloads: Payload[]): Promise<Payload[]> {
  for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
  return payloads;
}
