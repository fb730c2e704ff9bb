// Payload encryption for the local stack (`npm start`, the demo): the keys, the codec server the Web
// UI and the temporal CLI decode through, and the lines telling a person how to use them.
//
// Keys: PAYLOAD_KEYS / PAYLOAD_KEY_FILE when set; otherwise <data dir>/payload-keys, created with one
// new key on first use (owner-readable only, under .data/, which git ignores) and named in
// PAYLOAD_KEY_FILE for this process. PAYLOAD_ENCRYPTION=off: no keys, no codec server (and a
// warning from data-converter.ts). The codec server's token is CODEC_SERVER_TOKEN, or
// <data dir>/codec-server-token, created the same way, so shells set up once keep working.
import { join } from 'node:path';
import { ensureKeyFile } from '../../src/temporal/codec';
import { DEFAULT_CODEC_SERVER_PORT, ensureTokenFile, startCodecServer, type CodecServer } from '../../src/temporal/codec-server';
import { payloadEncryptionFromEnv } from '../../src/temporal/data-converter';

export interface LocalCodec {
  server?: CodecServer;
  /** What to tell the person: where the keys are, how to point the CLI at the codec server. */
  lines: string[];
}

/** Sets up the keys and starts the codec server on `port` (default 8888); the Web UI on `uiPort` may call it. */
export async function startLocalCodec(options: { dataDir: string; uiPort: number; port?: number }): Promise<LocalCodec> {
  const env = process.env;
  if (env.PAYLOAD_ENCRYPTION?.trim().toLowerCase() === 'off') return { lines: ['Payload encryption is OFF (PAYLOAD_ENCRYPTION=off): Temporal stores recipients in cleartext.'] };
  const lines: string[] = [];
  if (!env.PAYLOAD_KEYS?.trim() && !env.PAYLOAD_KEY_FILE?.trim()) {
    const keyFile = join(options.dataDir, 'payload-keys');
    const created = ensureKeyFile(keyFile);
    env.PAYLOAD_KEY_FILE = keyFile;
    lines.push(`Payload keys: ${keyFile}${created ? ' (created now; keep it, or what Temporal stores can no longer be read)' : ''}`);
  }
  const encryption = payloadEncryptionFromEnv(env);
  if (!encryption.on) return { lines };
  const tokenFile = join(options.dataDir, 'codec-server-token');
  const token = env.CODEC_SERVER_TOKEN?.trim() || ensureTokenFile(tokenFile);
  const server = await startCodecServer({
    codec: encryption.codec,
    token,
    corsOrigins: [`http://127.0.0.1:${options.uiPort}`, `http://localhost:${options.uiPort}`],
    port: options.port ?? DEFAULT_CODEC_SERVER_PORT,
  });
  lines.push(`Codec server: ${server.url} (the Web UI decodes through it; token in ${env.CODEC_SERVER_TOKEN?.trim() ? 'CODEC_SERVER_TOKEN' : tokenFile})`);
  return { server, lines };
}

/** Shell lines for the temporal CLI and our CLI: the key file and the codec server. */
export function codecEnvLines(codec: LocalCodec, dataDir: string): string[] {
  const env = process.env;
  const lines: string[] = [];
  if (env.PAYLOAD_KEY_FILE) lines.push(`PAYLOAD_KEY_FILE=${env.PAYLOAD_KEY_FILE}`);
  if (codec.server) {
    const token = env.CODEC_SERVER_TOKEN?.trim() ? '$CODEC_SERVER_TOKEN' : `$(cat ${join(dataDir, 'codec-server-token')})`;
    lines.push(`TEMPORAL_CODEC_ENDPOINT=${codec.server.url}`, `TEMPORAL_CODEC_AUTH="Bearer ${token}"`);
  }
  return lines;
}
