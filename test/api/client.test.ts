// PpoppoClient over real gRPC against a small scripted stand-in for the Ppoppo API (unit test:
// the stand-in lets each test choose exact failures; sandbox.integration.test.ts uses the sandbox).
import { createServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PpoppoClient, withPathPrefix } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import {
  DeadlineExceededError,
  InvalidRecipientsError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
} from '../../src/api/errors';
import {
  ExternalMessageServiceService,
  ExternalTemplateServiceService,
  SendRequestStatus,
  TemplateComponentType,
} from '../../src/api/gen/ppoppo/external/v1/external';
import type { CreateSendRequestReq, Template } from '../../src/api/gen/ppoppo/external/v1/external';
import { AlertSender } from '../../src/alerts';

type Handler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

/** Per-method handlers; a test replaces the ones it needs. */
const handlers = new Map<string, Handler>();
const seen: { method: string; authorization: string; request: unknown }[] = [];
let tokenCount = 0;

let tokenServer: HttpServer;
let tokenUrl: string;
let grpcServer: grpc.Server;
let port: number;
const clients: PpoppoClient[] = [];

function grpcError(code: number, details: string, trailers: Record<string, string> = {}): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata });
}

function template(id: string, name: string): Template {
  return { id, name, components: [{ componentType: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_TEXT, content: '{{message}}', options: [] }], isActive: true, version: 1 };
}

/** Implementation of a service that records each call and delegates to `handlers`. */
function recording(service: grpc.ServiceDefinition): grpc.UntypedServiceImplementation {
  return Object.fromEntries(
    Object.entries(service).map(([key, method]) => {
      const name = method.path.slice(method.path.lastIndexOf('/') + 1);
      const impl: Handler = (call, callback) => {
        seen.push({ method: name, authorization: String(call.metadata.get('authorization')[0] ?? ''), request: call.request });
        const handler = handlers.get(name);
        if (!handler) return callback(grpcError(grpc.status.UNIMPLEMENTED, `${name} not scripted`));
        handler(call, callback);
      };
      return [key, impl];
    }),
  );
}

function client(apiPath = '/ext', deadlineMs?: number, targetPort = port): PpoppoClient {
  const created = new PpoppoClient(
    makeClientConfig({ apiUrl: `http://127.0.0.1:${targetPort}${apiPath}`, tokenUrl, clientId: 'app', clientSecret: 'secret', deadlineMs }),
    { onWarning: () => undefined },
  );
  clients.push(created);
  return created;
}

beforeAll(async () => {
  tokenServer = createServer((_req, res) => {
    tokenCount += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `tok-${tokenCount}`, expires_in: 3600 }));
  });
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
  tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/oauth/token`;

  grpcServer = new grpc.Server();
  // Only the /ext-prefixed paths exist on this stand-in, so a missing prefix shows as UNIMPLEMENTED.
  grpcServer.addService(withPathPrefix(ExternalMessageServiceService, '/ext') as grpc.ServiceDefinition, recording(ExternalMessageServiceService));
  grpcServer.addService(withPathPrefix(ExternalTemplateServiceService, '/ext') as grpc.ServiceDefinition, recording(ExternalTemplateServiceService));
  port = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
});

afterEach(() => {
  handlers.clear();
  seen.length = 0;
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  grpcServer.forceShutdown();
  await new Promise<void>((resolve) => tokenServer.close(() => resolve()));
});

describe('PpoppoClient (scripted server)', () => {
  it('prefixes method paths with the URL path and sends the bearer token', async () => {
    handlers.set('GetTemplate', (_call, callback) => callback(null, { template: template('tpl_1', 'hello') }));
    const info = await client('/ext').getTemplate('tpl_1');
    expect(info).toMatchObject({ id: 'tpl_1', name: 'hello', components: [{ type: 'text', content: '{{message}}' }], isActive: true });
    expect(seen[0]!.authorization).toMatch(/^Bearer tok-\d+$/);
    // Without the path the stand-in has no such method.
    await expect(client('').getTemplate('tpl_1')).rejects.toMatchObject({ codeName: 'UNIMPLEMENTED', retry: 'unsafe' });
  });

  it('on UNAUTHENTICATED fetches a new token and retries once, then gives up', async () => {
    let calls = 0;
    handlers.set('GetTemplate', (_call, callback) => {
      calls += 1;
      if (calls === 1) return callback(grpcError(grpc.status.UNAUTHENTICATED, 'Invalid token'));
      callback(null, { template: template('tpl_1', 'hello') });
    });
    const c = client();
    await c.getTemplate('tpl_1');
    expect(seen.map((call) => call.authorization)).toHaveLength(2);
    expect(seen[0]!.authorization).not.toBe(seen[1]!.authorization);

    seen.length = 0;
    handlers.set('GetTemplate', (_call, callback) => callback(grpcError(grpc.status.UNAUTHENTICATED, 'Invalid token')));
    await expect(c.getTemplate('tpl_1')).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(seen).toHaveLength(2);
  });

  it('reads retry-after-ms from trailers, or from headers when only they carry it', async () => {
    handlers.set('CreateSendRequest', (_call, callback) => callback(grpcError(grpc.status.RESOURCE_EXHAUSTED, 'rate limit exceeded', { 'retry-after-ms': '1234' })));
    const c = client();
    const input = { templateId: 'tpl_1', recipients: [{ ppnum: '12300000001', vars: {} }] };
    const fromTrailers = await c.createSendRequest(input).catch((e: unknown) => e);
    expect(fromTrailers).toBeInstanceOf(ResourceExhaustedError);
    expect(fromTrailers).toMatchObject({ retry: 'safe', retryAfterMs: 1234, isQuota: false });

    handlers.set('CreateSendRequest', (call, callback) => {
      const headers = new grpc.Metadata();
      headers.set('retry-after-ms', '4321');
      call.sendMetadata(headers); // response headers first, then a status without the key
      callback(grpcError(grpc.status.RESOURCE_EXHAUSTED, 'monthly quota exceeded'));
    });
    const fromHeaders = await c.createSendRequest(input).catch((e: unknown) => e);
    expect(fromHeaders).toMatchObject({ retryAfterMs: 4321, isQuota: true });
  });

  it('retries reads on a server UNAVAILABLE but never CreateSendRequest', async () => {
    let reads = 0;
    handlers.set('GetSendRequestStatus', (_call, callback) => {
      reads += 1;
      if (reads <= 2) return callback(grpcError(grpc.status.UNAVAILABLE, 'try again'));
      callback(null, { request: { id: 'sr_1', status: SendRequestStatus.SEND_REQUEST_STATUS_COMPLETED, totalRecipients: 1, delivered: 1, pendingConsent: 0, failed: 0 }, recipients: [{ id: 'r1', ppnum: '12300000001', status: 2, messageId: 'm1' }] });
    });
    const status = await client().getSendRequestStatus('sr_1');
    expect(reads).toBe(3);
    expect(status).toEqual({
      totals: { sendRequestId: 'sr_1', status: 'COMPLETED', totalRecipients: 1, delivered: 1, pendingConsent: 0, failed: 0 },
      recipients: [{ ppnum: '12300000001', status: 'DELIVERED', messageId: 'm1' }],
    });

    let sends = 0;
    handlers.set('CreateSendRequest', (_call, callback) => {
      sends += 1;
      callback(grpcError(grpc.status.UNAVAILABLE, 'try again'));
    });
    const err = await client().createSendRequest({ templateId: 'tpl_1', recipients: [{ ppnum: '12300000001', vars: {} }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ retry: 'safe' });
    expect(sends).toBe(1);
  });

  it('validates recipients locally (nothing sent) and maps vars to a Struct of strings', async () => {
    const c = client();
    const bad = await c.createSendRequest({ templateId: 'tpl_1', recipients: [{ ppnum: '123', vars: {} }] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidRecipientsError);
    expect((bad as InvalidRecipientsError).issues).toEqual([expect.objectContaining({ index: 0, field: 'ppnum', ppnum: '123' })]);
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ ppnum: String(12300000000 + i), vars: {} }));
    await expect(c.createSendRequest({ templateId: 'tpl_1', recipients: tooMany })).rejects.toThrow(/at most 1000/);
    await expect(c.createSendRequest({ templateId: 'tpl_1', recipients: [] })).rejects.toThrow(/at least one recipient/);
    expect(seen).toHaveLength(0);

    handlers.set('CreateSendRequest', (call, callback) => {
      const request = call.request as CreateSendRequestReq;
      callback(null, { id: 'sr_9', status: SendRequestStatus.SEND_REQUEST_STATUS_QUEUED, totalRecipients: request.recipients.length });
    });
    const receipt = await c.createSendRequest({
      templateId: 'tpl_1',
      recipients: [
        { ppnum: '12300000001', vars: { first_name: 'Ann' } },
        { ppnum: '12300000001', vars: { first_name: 'dup' } },
        { ppnum: '12300000002', vars: {} },
      ],
      pollConfig: { expiresInHours: 24 },
    });
    expect(receipt).toEqual({ sendRequestId: 'sr_9', status: 'QUEUED', totalRecipients: 2 });
    expect(seen[0]!.request).toEqual({
      templateId: 'tpl_1',
      recipients: [
        { ppnum: '12300000001', vars: { first_name: 'Ann' } },
        { ppnum: '12300000002', vars: {} },
      ],
      pollConfig: { expiresInHours: 24, allowMultiple: false },
    });
  });

  it('gives every call a deadline; exceeding it is ambiguous', async () => {
    handlers.set('CreateSendRequest', () => undefined); // never answers
    const err = await client('/ext', 300).createSendRequest({ templateId: 'tpl_1', recipients: [{ ppnum: '12300000001', vars: {} }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceededError);
    expect(err).toMatchObject({ retry: 'ambiguous', method: 'CreateSendRequest' });
  });

  it('calls to a port nobody listens on fail as safe UNAVAILABLE', async () => {
    const probe = new grpc.Server();
    const freePort = await new Promise<number>((resolve, reject) =>
      probe.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    probe.forceShutdown();
    const err = await client('/ext', 5_000, freePort).createSendRequest({ templateId: 'tpl_1', recipients: [{ ppnum: '12300000001', vars: {} }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ retry: 'safe' });
  });

  it('a connection lost after the request reached the server is ambiguous', async () => {
    const dropping = new grpc.Server();
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    dropping.addService(withPathPrefix(ExternalMessageServiceService, '') as grpc.ServiceDefinition, {
      ...recording(ExternalMessageServiceService),
      createSendRequest: () => arrived(), // accepted, never answered
    });
    const droppingPort = await new Promise<number>((resolve, reject) =>
      dropping.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    const pending = client('', 10_000, droppingPort).createSendRequest({ templateId: 'tpl_1', recipients: [{ ppnum: '12300000001', vars: {} }] }).catch((e: unknown) => e);
    await requestArrived;
    dropping.forceShutdown();
    const err = await pending;
    expect(err).toMatchObject({ retry: 'ambiguous', method: 'CreateSendRequest' });
  });

  it('AlertSender finds or creates its template once and reuses it', async () => {
    const templates: Template[] = [];
    handlers.set('ListTemplates', (_call, callback) => callback(null, { templates, hasMore: false }));
    handlers.set('CreateTemplate', (call, callback) => {
      const created = template(`tpl_${templates.length + 1}`, (call.request as { name: string }).name);
      templates.push(created);
      callback(null, { template: created });
    });
    handlers.set('CreateSendRequest', (call, callback) => callback(null, { id: 'sr_a', status: SendRequestStatus.SEND_REQUEST_STATUS_QUEUED, totalRecipients: (call.request as CreateSendRequestReq).recipients.length }));
    const alerts = new AlertSender(client());
    await alerts.send({ ppnums: ['12300000001'], text: 'Disk full' });
    await alerts.send({ recipients: [{ ppnum: '12300000002', vars: { x: 'y' } }], text: 'Disk still full' });
    expect(seen.filter((call) => call.method === 'CreateTemplate')).toHaveLength(1);
    const sends = seen.filter((call) => call.method === 'CreateSendRequest').map((call) => call.request as CreateSendRequestReq);
    expect(sends.map((send) => send.templateId)).toEqual(['tpl_1', 'tpl_1']);
    expect(sends[0]!.recipients).toEqual([{ ppnum: '12300000001', vars: { message: 'Disk full' } }]);
    expect(sends[1]!.recipients).toEqual([{ ppnum: '12300000002', vars: { x: 'y', message: 'Disk still full' } }]);
    // A second client finds the existing template instead of creating another.
    await new AlertSender(client()).send({ ppnums: ['12300000001'], text: 'again' });
    expect(seen.filter((call) => call.method === 'CreateTemplate')).toHaveLength(1);
  });
});
