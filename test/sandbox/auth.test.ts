// Token endpoint, JWKS, bearer-token checks on every RPC, and both method path forms.
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { connect, failure, fetchToken, readStream, rpc, text, tokenFor, uniqueName, type Clients } from './helpers';

let sandbox: RunningSandbox;
let clients: Clients;

beforeAll(async () => {
  sandbox = await startSandbox({
    tokenTtlSeconds: 1,
    apps: [
      { clientId: 'sandbox-client', clientSecret: 'sandbox-secret', appId: 'app_a', scopes: ['messaging'] },
      { clientId: 'reader', clientSecret: 'reader-secret', appId: 'app_b', scopes: ['profile'] },
    ],
  });
  clients = connect(sandbox);
});

afterAll(async () => {
  clients?.close();
  await sandbox?.close();
});

describe('POST /oauth/token', () => {
  it('issues an EdDSA JWT with RFC 9068 claims that verifies against the JWKS', async () => {
    const { status: code, body } = await fetchToken(sandbox);
    expect(code).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 1, scope: 'messaging' });
    const token = body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    const jwks = (await (await fetch(`${sandbox.httpUrl}/.well-known/jwks.json`)).json()) as Parameters<typeof createLocalJWKSet>[0];
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks));
    expect(payload).toMatchObject({ sub: 'sandbox-client', client_id: 'sandbox-client', scope: 'messaging' });
    for (const claim of ['iss', 'aud', 'iat', 'exp', 'jti']) expect(payload).toHaveProperty(claim);
  });

  it('refuses a wrong secret and an unknown client with 401 invalid_client', async () => {
    expect(await fetchToken(sandbox, { client_secret: 'wrong' })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await fetchToken(sandbox, { client_id: 'nobody' })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses other grants with 400 unsupported_grant_type', async () => {
    expect(await fetchToken(sandbox, { grant_type: 'password' })).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
  });

  it('accepts HTTP Basic client authentication', async () => {
    const response = await fetch(sandbox.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('sandbox-client:sandbox-secret').toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(200);
  });
});

describe('bearer token checks', () => {
  it('a missing, malformed or unknown-key token is UNAUTHENTICATED "Invalid token"', async () => {
    const forged = (await tokenFor(sandbox)).replace(/\.[^.]+$/, '.AAAA');
    for (const token of [undefined, 'garbage', forged]) {
      const err = await failure(rpc(clients.template, 'listTemplates', {}, token));
      expect(err.code).toBe(status.UNAUTHENTICATED);
      expect(err.details).toBe('Invalid token');
    }
  });

  it('an expired token is UNAUTHENTICATED', async () => {
    const token = await tokenFor(sandbox);
    await rpc(clients.template, 'listTemplates', {}, token);
    await sleep(2100); // the 1 s token must lapse
    const err = await failure(rpc(clients.template, 'listTemplates', {}, token));
    expect(err.code).toBe(status.UNAUTHENTICATED);
  });

  it('a token without the messaging scope is PERMISSION_DENIED, for unary calls and streams', async () => {
    const token = await tokenFor(sandbox, { client_id: 'reader', client_secret: 'reader-secret' });
    const err = await failure(rpc(clients.template, 'listTemplates', {}, token));
    expect(err.code).toBe(status.PERMISSION_DENIED);
    const streamed = await readStream(clients.message, {}, token, () => false);
    expect(streamed).toMatchObject({ end: 'error', error: { code: status.PERMISSION_DENIED } });
  });
});

describe('method paths', () => {
  it.each(['', '/ext'] as const)('serves every service under the path prefix "%s"', async (prefix) => {
    const c = connect(sandbox, prefix);
    try {
      const token = await tokenFor(sandbox);
      const created = await rpc<{ template: { id: string } }>(c.template, 'createTemplate', { name: uniqueName('paths'), components: [text('Hi {{name}}')] }, token);
      const got = await rpc<{ template: { id: string } }>(c.template, 'getTemplate', { id: created.template.id }, token);
      expect(got.template.id).toBe(created.template.id);
      expect(await rpc(c.message, 'getProcessingStats', {}, token)).toMatchObject({ queued: expect.any(Number) });
      expect(await rpc(c.app, 'getUsageStats', {}, token)).toMatchObject({ appId: 'app_a' });
      expect((await failure(rpc(c.channel, 'createChannel', { name: 'x', type: 0, storageMode: 0, members: [] }, token))).code).toBe(status.UNIMPLEMENTED);
      expect((await failure(rpc(c.message, 'grantConsent', { ppnumId: 'p', appId: 'a' }, token))).code).toBe(status.UNIMPLEMENTED);
    } finally {
      c.close();
    }
  });
});
