// Token endpoint, JWKS, bearer-token checks on every RPC (implemented or not), and both method path forms.
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxInspector } from '../../dev/sandbox/inspector';
import {
  ExternalAppServiceService,
  ExternalChannelServiceService,
  ExternalMessageServiceService,
  ExternalTemplateServiceService,
} from '../../src/api/gen/ppoppo/external/v1/external';
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
      expect((await failure(rpc(c.message, 'grantConsent', { ppnumId: '12345678901', appId: 'app_b' }, token))).code).toBe(status.PERMISSION_DENIED);
    } finally {
      c.close();
    }
  });
});

describe('/inspect (ledger with rendered texts, fault injection, config)', () => {
  const paths: [string, RequestInit][] = [
    ['/inspect/messages', {}],
    ['/inspect/stats', {}],
    ['/inspect/config', { method: 'POST', body: JSON.stringify({ rateLimit: { requestsPerSecond: 1 } }) }],
    ['/inspect/faults', { method: 'POST', body: JSON.stringify({ unavailableNext: 5 }) }],
  ];

  it('refuses every request without the inspect token, or with a wrong one, and changes nothing', async () => {
    for (const [path, init] of paths) {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer not-the-token' }, { authorization: sandbox.inspectToken }];
      for (const headers of attempts) {
        const response = await fetch(`${sandbox.httpUrl}${path}`, { ...init, headers: { 'content-type': 'application/json', ...headers } });
        expect(response.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await response.json()).toEqual({ error: 'unauthorized', message: '/inspect needs Authorization: Bearer <inspect token> (printed when the sandbox starts)' });
      }
    }
    // Nothing was injected: the next send goes through (an UNAVAILABLE fault would refuse it).
    const token = await tokenFor(sandbox);
    const { template } = await rpc<{ template: { id: string } }>(clients.template, 'createTemplate', { name: uniqueName('inspect'), components: [text('Hi')] }, token);
    const receipt = await rpc<{ id: string }>(clients.message, 'createSendRequest', { templateId: template.id, recipients: [{ ppnum: '12300000001', vars: {} }] }, token);
    expect(receipt.id).toBeTruthy();
    expect((await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).stats()).createSendRequest.refusals).toMatchObject({ injectedUnavailable: 0 });
  });

  it('answers with the token (a random one per start unless set)', async () => {
    expect(sandbox.inspectToken.length).toBeGreaterThanOrEqual(20);
    expect((await new SandboxInspector(sandbox.httpUrl, sandbox.inspectToken).stats()).sendRequests).toBeGreaterThanOrEqual(0);
    const fixed = await startSandbox({ inspectToken: 'a-fixed-inspect-token' });
    try {
      expect(fixed.inspectToken).toBe('a-fixed-inspect-token');
      expect(fixed.inspectToken).not.toBe(sandbox.inspectToken);
      expect((await fetch(`${fixed.httpUrl}/inspect/stats`, { headers: { authorization: 'Bearer a-fixed-inspect-token' } })).status).toBe(200);
    } finally {
      await fixed.close();
    }
  });
});

/** Every method of every service in the generated definitions, called raw: an empty request (valid for any message), bytes back. */
const SERVICES = { ExternalMessageServiceService, ExternalTemplateServiceService, ExternalAppServiceService, ExternalChannelServiceService };

function callRaw(path: string, streaming: boolean, token: string | undefined): Promise<{ code: number; details: string }> {
  const address = sandbox.grpcUrl.replace(/^http:\/\//, '');
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  const raw = (value: Buffer) => value;
  return new Promise((resolve) => {
    const done = (code: number, details: string) => {
      client.close();
      resolve({ code, details });
    };
    if (streaming) {
      const call = client.makeServerStreamRequest(path, () => Buffer.alloc(0), raw, {}, metadata);
      call.on('data', () => undefined);
      call.on('error', (err: grpc.ServiceError) => done(err.code, err.details));
      call.on('end', () => done(status.OK, ''));
    } else {
      client.makeUnaryRequest(path, () => Buffer.alloc(0), raw, {}, metadata, (err) => done(err ? err.code : status.OK, err?.details ?? ''));
    }
  });
}

const methods = Object.entries(SERVICES).flatMap(([service, definition]) =>
  Object.values(definition).map((method) => ({ name: `${service.replace(/Service$/, '')}.${method.path.split('/').pop()}`, path: method.path, streaming: method.responseStream })),
);

describe('every RPC checks the token first', () => {
  it('covers all 30 methods of the four services (6 + 3 + 13 + 8)', () => {
    expect(methods).toHaveLength(30);
  });

  it.each(['', '/ext'])('answers UNAUTHENTICATED "Invalid token" to a caller without a valid token, on every method (prefix "%s")', async (prefix) => {
    const forged = (await tokenFor(sandbox)).replace(/\.[^.]+$/, '.AAAA');
    const answers: Record<string, string> = {};
    for (const method of methods) {
      for (const token of [undefined, 'garbage', forged]) {
        const { code, details } = await callRaw(`${prefix}${method.path}`, method.streaming, token);
        if (code !== status.UNAUTHENTICATED || details !== 'Invalid token') answers[`${method.name} (${token === undefined ? 'no token' : 'bad token'})`] = `${status[code]} ${details}`;
      }
    }
    expect(answers).toEqual({});
  });

  it('answers UNIMPLEMENTED only after the token checks out', async () => {
    const token = await tokenFor(sandbox);
    const { code, details } = await callRaw('/chat.external.ExternalAppService/AdminListApps', false, token);
    expect(code).toBe(status.UNIMPLEMENTED);
    expect(details).toBe('AdminListApps is not implemented by the sandbox');
    const reader = await tokenFor(sandbox, { client_id: 'reader', client_secret: 'reader-secret' });
    expect((await callRaw('/chat.external.ExternalChannelService/GetMessages', false, reader)).code).toBe(status.PERMISSION_DENIED);
  });
});
