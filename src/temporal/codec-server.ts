// The codec server (`npm run codec-server`, also started by `npm start` and the demo): Temporal's
// remote codec protocol, so people with access see decrypted payloads in the Web UI and the
// `temporal` CLI while the server and its database keep only ciphertext.
//
//   POST …/encode, POST …/decode   body and answer {"payloads": [{"metadata": {k: base64}, "data": base64}]}
//   GET /health                    "ok" (no token: for health checks)
//
// Only the last path segment names the operation (the protocol lets endpoints live at any depth).
// Every request needs the token: `Authorization: Bearer <token>` (temporal CLI: --codec-auth), or
// the token as the first path segment, `/<token>/decode`, for the Web UI, which sends no header of
// its own unless it has a login to pass on. Browsers may call it only from CODEC_CORS_ORIGINS.
//
// Reads: PAYLOAD_KEYS / PAYLOAD_KEY_FILE (data-converter.ts), CODEC_SERVER_TOKEN or
// CODEC_SERVER_TOKEN_FILE (a file holding it; one is required), CODEC_SERVER_HOST (default
// 127.0.0.1), CODEC_SERVER_PORT (default 8888), CODEC_CORS_ORIGINS (comma-separated Web UI origins;
// default http://127.0.0.1:8233,http://localhost:8233).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ValueError } from '@temporalio/common';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError } from '../api/config';
import { isMainModule } from '../run-helpers';
import { payloadEncryptionFromEnv } from './data-converter';

export const DEFAULT_CODEC_SERVER_PORT = 8888;
export const DEFAULT_CODEC_CORS_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const ALLOWED_HEADERS = 'authorization, content-type, x-namespace';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Required on every request (header or path); at least 16 characters. */
  token: string;
  /** Origins a browser may call from (the Web UI's). */
  corsOrigins: string[];
  host?: string;
  /** Default DEFAULT_CODEC_SERVER_PORT; 0 for a free one. */
  port?: number;
}

export interface CodecServer {
  /** Base URL for `temporal … --codec-endpoint` (with `--codec-auth "Bearer <token>"`). */
  url: string;
  /** Base URL with the token in its path, for the Web UI (`--ui-codec-endpoint`). */
  uiEndpoint: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  if (options.token.length < 16) throw new ConfigError('the codec server token must be at least 16 characters');
  const token = Buffer.from(options.token);
  const origins = new Set(options.corsOrigins.map((origin) => origin.replace(/\/+$/, '')));

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof BadRequest ? err.status : 500;
      const message = err instanceof BadRequest ? err.message : 'the codec failed on these payloads';
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: message }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://codec');
    const segments = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/health') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');

    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) throw new BadRequest(403, `origin ${origin} may not use this codec server (CODEC_CORS_ORIGINS)`);
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'POST, OPTIONS', 'access-control-allow-headers': ALLOWED_HEADERS, 'access-control-max-age': '600' });
      return void res.end();
    }
    const operation = segments.at(-1);
    if (req.method !== 'POST' || (operation !== 'encode' && operation !== 'decode')) throw new BadRequest(404, 'use POST …/encode or POST …/decode');
    if (!authorized(req, segments)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new BadRequest(401, 'a codec server token is needed: Authorization: Bearer <token>');
    }

    const payloads = parsePayloads(await readBody(req));
    const result = await (operation === 'encode' ? options.codec.encode(payloads) : options.codec.decode(payloads)).catch((err: unknown) => {
      throw err instanceof ValueError ? new BadRequest(422, err.message) : err; // e.g. a key that is not loaded: says which
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ payloads: result.map(toJson) }));
  }

  function authorized(req: IncomingMessage, segments: string[]): boolean {
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const inPath = segments.length >= 2 ? decodeURIComponent(segments[0]!) : undefined;
    return [bearer, inPath].some((candidate) => candidate !== undefined && sameToken(Buffer.from(candidate), token));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_CODEC_SERVER_PORT, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}`;
  return {
    url,
    uiEndpoint: `${url}/${encodeURIComponent(options.token)}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function sameToken(candidate: Buffer, token: Buffer): boolean {
  return candidate.length === token.length && timingSafeEqual(candidate, token);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The protocol's JSON (proto3 JSON of Payloads: bytes as base64) into payloads. */
function parsePayloads(body: string): Payload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BadRequest(400, 'the body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new BadRequest(400, 'the body must be {"payloads": [...]}');
  const list = (parsed as { payloads?: unknown }).payloads ?? []; // proto3 JSON leaves an empty list out: {}
  if (!Array.isArray(list)) throw new BadRequest(400, 'the body must be {"payloads": [...]}');
  return list.map((item: JsonPayload, i): Payload => {
    if (typeof item !== 'object' || item === null) throw new BadRequest(400, `payloads[${i}] must be an object`);
    const metadata: Record<string, Uint8Array> = {};
    for (const [key, value] of Object.entries(item.metadata ?? {})) {
      if (typeof value !== 'string') throw new BadRequest(400, `payloads[${i}].metadata.${key} must be base64`);
      metadata[key] = Buffer.from(value, 'base64');
    }
    if (item.data !== undefined && typeof item.data !== 'string') throw new BadRequest(400, `payloads[${i}].data must be base64`);
    return { metadata, data: Buffer.from(item.data ?? '', 'base64') };
  });
}

function toJson(payload: Payload): JsonPayload {
  const metadata = Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value ?? []).toString('base64')]));
  return { metadata, data: Buffer.from(payload.data ?? []).toString('base64') };
}

/** Options from the environment; ConfigError naming the variable when one is missing or wrong. */
export function codecServerOptionsFromEnv(env: Record<string, string | undefined> = process.env): CodecServerOptions {
  const encryption = payloadEncryptionFromEnv(env);
  if (!encryption.on) throw new ConfigError('PAYLOAD_ENCRYPTION=off: there is nothing for a codec server to decode');
  const tokenFile = env.CODEC_SERVER_TOKEN_FILE?.trim();
  const token = env.CODEC_SERVER_TOKEN?.trim() || (tokenFile ? readToken(tokenFile) : undefined);
  if (!token) throw new ConfigError('CODEC_SERVER_TOKEN (or CODEC_SERVER_TOKEN_FILE) is not set: every codec request must carry the token (16+ random characters)');
  const port = env.CODEC_SERVER_PORT?.trim() ? Number(env.CODEC_SERVER_PORT) : DEFAULT_CODEC_SERVER_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`CODEC_SERVER_PORT must be a port number, got "${env.CODEC_SERVER_PORT}"`);
  const origins = env.CODEC_CORS_ORIGINS?.trim() ? env.CODEC_CORS_ORIGINS.split(',').map((origin) => origin.trim()).filter(Boolean) : DEFAULT_CODEC_CORS_ORIGINS;
  return { codec: encryption.codec, token, corsOrigins: origins, host: env.CODEC_SERVER_HOST?.trim() || '127.0.0.1', port };
}

function readToken(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`CODEC_SERVER_TOKEN_FILE ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A token file with a new random token, created unless it exists (owner-readable only); returns the token. */
export function ensureTokenFile(path: string): string {
  if (!existsSync(path)) writeFileSync(path, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  return readToken(path);
}

if (isMainModule(import.meta.url)) {
  try {
    const options = codecServerOptionsFromEnv();
    const server = await startCodecServer(options);
    console.info(`codec server on ${server.url} (Web UI origins ${options.corsOrigins.join(', ')}) - Ctrl-C to stop`);
    const stop = () => void server.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (err) {
    console.error(err instanceof ConfigError || (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `codec server: ${(err as Error).message}` : err);
    process.exit(2);
  }
}
