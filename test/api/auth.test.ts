// TokenSource against a local OAuth token endpoint (node:http on a random port).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TokenEndpointError, TokenSource } from '../../src/api/auth';

const SECRET = 'very-secret-client-secret';
const T0 = 1_800_000_000_000; // fake clock start (ms)

interface TokenRequest {
  contentType: string | undefined;
  form: URLSearchParams;
}

let server: Server;
let tokenUrl: string;
const requests: TokenRequest[] = [];
/** How the endpoint answers the next requests; replaced per test. */
let respond: (req: TokenRequest, res: ServerResponse) => void | Promise<void>;
let issued = 0;

async function jwt(expSeconds: number): Promise<string> {
  issued += 1;
  return new SignJWT({ n: issued }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(expSeconds).sign(new TextEncoder().encode('k'.repeat(32)));
}

function json(res: ServerResponse, statusCode: number, body: unknown): void {
  res.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const request = { contentType: req.headers['content-type'], form: new URLSearchParams(body) };
      requests.push(request);
      void respond(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  requests.length = 0;
});

function source(clock: { now: number }, options: Partial<ConstructorParameters<typeof TokenSource>[0]> = {}) {
  return new TokenSource({ tokenUrl, clientId: 'app-1', clientSecret: SECRET, now: () => clock.now, ...options });
}

describe('TokenSource', () => {
  it('posts a form-encoded client_credentials grant and caches the token', async () => {
    respond = async (_req, res) => json(res, 200, { access_token: await jwt(T0 / 1000 + 3600), token_type: 'Bearer', expires_in: 3600 });
    const clock = { now: T0 };
    const tokens = source(clock);
    const first = await tokens.getToken();
    expect(await tokens.getToken()).toBe(first);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(requests[0]!.form)).toEqual({ grant_type: 'client_credentials', client_id: 'app-1', client_secret: SECRET });
  });

  it('refreshes 60 s before the JWT exp, not earlier (exp wins over expires_in)', async () => {
    // expires_in disagrees on purpose: the JWT exp is authoritative.
    respond = async (_req, res) => json(res, 200, { access_token: await jwt(T0 / 1000 + 3600), expires_in: 60 });
    const clock = { now: T0 };
    const tokens = source(clock);
    const first = await tokens.getToken();
    clock.now = T0 + 3600_000 - 61_000;
    expect(await tokens.getToken()).toBe(first);
    expect(requests).toHaveLength(1);
    clock.now = T0 + 3600_000 - 59_000;
    const second = await tokens.getToken();
    expect(second).not.toBe(first);
    expect(requests).toHaveLength(2);
  });

  it('refreshes a short-lived token halfway through its life', async () => {
    respond = async (_req, res) => json(res, 200, { access_token: await jwt(T0 / 1000 + 10) });
    const clock = { now: T0 };
    const tokens = source(clock);
    const first = await tokens.getToken();
    clock.now = T0 + 4_000;
    expect(await tokens.getToken()).toBe(first);
    clock.now = T0 + 5_000;
    expect(await tokens.getToken()).not.toBe(first);
  });

  it('falls back to expires_in for an opaque token', async () => {
    respond = (_req, res) => json(res, 200, { access_token: `opaque-${requests.length}`, expires_in: 300 });
    const clock = { now: T0 };
    const tokens = source(clock);
    expect(await tokens.getToken()).toBe('opaque-1');
    clock.now = T0 + 239_000;
    expect(await tokens.getToken()).toBe('opaque-1');
    clock.now = T0 + 241_000;
    expect(await tokens.getToken()).toBe('opaque-2');
  });

  it('makes one request for many concurrent callers (single flight)', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    respond = async (_req, res) => {
      await released;
      json(res, 200, { access_token: await jwt(T0 / 1000 + 3600) });
    };
    const tokens = source({ now: T0 });
    const callers = Array.from({ length: 20 }, () => tokens.getToken());
    // Give every caller the chance to start before the endpoint answers.
    await sleep(50);
    release();
    const results = await Promise.all(callers);
    expect(new Set(results).size).toBe(1);
    expect(requests).toHaveLength(1);
  });

  it('invalidate(token) drops that token only', async () => {
    respond = async (_req, res) => json(res, 200, { access_token: await jwt(T0 / 1000 + 3600) });
    const tokens = source({ now: T0 });
    const first = await tokens.getToken();
    tokens.invalidate('some-older-token');
    expect(await tokens.getToken()).toBe(first);
    tokens.invalidate(first);
    const second = await tokens.getToken();
    expect(second).not.toBe(first);
    expect(requests).toHaveLength(2);
  });

  it('names the OAuth error and HTTP status, never the secret', async () => {
    respond = (_req, res) => json(res, 401, { error: 'invalid_client', error_description: `unknown client or secret ${SECRET}` });
    const err = await source({ now: T0 }).getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenEndpointError);
    const tokenErr = err as TokenEndpointError;
    expect(tokenErr.message).toContain('invalid_client');
    expect(tokenErr.message).toContain('HTTP 401');
    expect(tokenErr.oauthError).toBe('invalid_client');
    expect(tokenErr.httpStatus).toBe(401);
    expect(tokenErr.retry).toBe('unsafe');
    expect(tokenErr.message).not.toContain(SECRET);
    expect(inspect(tokenErr)).not.toContain(SECRET);
    expect(JSON.stringify(tokenErr)).not.toContain(SECRET);
  });

  it('reports an unreachable endpoint as safe to retry, without the secret', async () => {
    const tokens = new TokenSource({ tokenUrl: 'http://127.0.0.1:1/oauth/token', clientId: 'app-1', clientSecret: SECRET });
    const err = (await tokens.getToken().catch((e: unknown) => e)) as TokenEndpointError;
    expect(err).toBeInstanceOf(TokenEndpointError);
    expect(err.retry).toBe('safe');
    expect(err.message).toContain('unreachable');
    expect(err.message).not.toContain(SECRET);
  });

  it('keeps the secret and the token out of inspect and JSON', async () => {
    respond = async (_req, res) => json(res, 200, { access_token: await jwt(T0 / 1000 + 3600) });
    const tokens = source({ now: T0 });
    const token = await tokens.getToken();
    for (const text of [inspect(tokens, { showHidden: true, depth: 5 }), JSON.stringify(tokens)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(token);
    }
  });
});
