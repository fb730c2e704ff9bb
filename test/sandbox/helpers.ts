// Raw grpc-js clients for the sandbox tests, built straight from the generated service definitions
// (deliberately not src/api's client, so these tests check the sandbox on its own).
import * as grpc from '@grpc/grpc-js';
import {
  ExternalAppServiceService,
  ExternalChannelServiceService,
  ExternalMessageServiceService,
  ExternalTemplateServiceService,
  SendRequestEventType,
  TemplateComponentType,
  type SendRequestEvent,
  type StreamSendRequestEventsReq,
  type TemplateComponent,
} from '../../src/api/gen/ppoppo/external/v1/external';
import type { RunningSandbox } from '../../src/sandbox/server';

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => grpc.ClientUnaryCall & grpc.ClientReadableStream<unknown>>;

function clientFor(definition: grpc.ServiceDefinition, address: string, prefix: string): AnyClient {
  const prefixed = Object.fromEntries(Object.entries(definition).map(([name, m]) => [name, { ...m, path: `${prefix}${m.path}` }]));
  const Ctor = grpc.makeGenericClientConstructor(prefixed as grpc.ServiceDefinition, 'Sandbox');
  return new Ctor(address, grpc.credentials.createInsecure()) as unknown as AnyClient;
}

export interface Clients {
  message: AnyClient;
  template: AnyClient;
  app: AnyClient;
  channel: AnyClient;
  close(): void;
}

/** Clients for the sandbox's gRPC port, using the plain (`''`) or the `/ext`-prefixed paths. */
export function connect(sandbox: RunningSandbox, prefix: '' | '/ext' = ''): Clients {
  const address = sandbox.grpcUrl.replace(/^http:\/\//, '');
  const clients = {
    message: clientFor(ExternalMessageServiceService, address, prefix),
    template: clientFor(ExternalTemplateServiceService, address, prefix),
    app: clientFor(ExternalAppServiceService, address, prefix),
    channel: clientFor(ExternalChannelServiceService, address, prefix),
  };
  return { ...clients, close: () => Object.values(clients).forEach((c) => c.close()) };
}

export type RpcFailure = grpc.ServiceError & { headers?: grpc.Metadata };

function auth(token: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** One unary call. Rejects with the ServiceError, whose `headers` are the initial metadata (if any). */
export function rpc<Res>(client: AnyClient, method: string, request: object, token: string | undefined): Promise<Res> {
  return new Promise((resolve, reject) => {
    let headers: grpc.Metadata | undefined;
    const call = client[method]!(request, auth(token), (err: RpcFailure | null, response: Res) => {
      if (err) reject(Object.assign(err, { headers }));
      else resolve(response);
    });
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
  });
}

/** The failure of a call that must fail. */
export async function failure(promise: Promise<unknown>): Promise<RpcFailure> {
  const result = await promise.then(
    () => undefined,
    (err: unknown) => err as RpcFailure,
  );
  if (!result) throw new Error('expected the call to fail, it succeeded');
  return result;
}

export interface StreamResult {
  events: SendRequestEvent[];
  /** How the stream ended: 'server' (status OK from the server), 'error', or 'client' (we stopped). */
  end: 'server' | 'error' | 'client';
  error?: RpcFailure;
}

/** Reads a stream until `done(events)` is true (then cancels) or the server ends it. */
export function readStream(client: AnyClient, request: StreamSendRequestEventsReq, token: string, done: (events: SendRequestEvent[]) => boolean): Promise<StreamResult> {
  return new Promise((resolve) => {
    const events: SendRequestEvent[] = [];
    const call = client.streamSendRequestEvents!(request, auth(token)) as grpc.ClientReadableStream<SendRequestEvent>;
    let settled = false;
    const finish = (result: StreamResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    call.on('data', (event: SendRequestEvent) => {
      events.push(event);
      if (!settled && done(events)) {
        finish({ events: [...events], end: 'client' });
        call.cancel();
      }
    });
    call.on('error', (err: RpcFailure) => finish({ events, end: err.code === grpc.status.CANCELLED ? 'client' : 'error', error: err }));
    call.on('end', () => finish({ events, end: 'server' }));
  });
}

/** Like readStream, but fails unless `done` was reached (the server ending the stream first is an error). */
export async function readUntil(client: AnyClient, request: StreamSendRequestEventsReq, token: string, done: (events: SendRequestEvent[]) => boolean): Promise<SendRequestEvent[]> {
  const result = await readStream(client, request, token, done);
  if (result.end !== 'client') throw new Error(`stream ended (${result.end}: ${result.error?.message ?? 'by the server'}) after ${result.events.length} events, before the expected ones`);
  return result.events;
}

export async function fetchToken(sandbox: RunningSandbox, form: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: sandbox.clientId, client_secret: sandbox.clientSecret, ...form });
  const response = await fetch(sandbox.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function tokenFor(sandbox: RunningSandbox, form: Record<string, string> = {}): Promise<string> {
  const { status, body } = await fetchToken(sandbox, form);
  if (status !== 200) throw new Error(`token endpoint answered ${status}`);
  return body.access_token as string;
}

export async function inspect<T>(sandbox: RunningSandbox, path: string, body?: unknown): Promise<T> {
  const auth = { authorization: `Bearer ${sandbox.inspectToken}` };
  const response = await fetch(`${sandbox.httpUrl}${path}`, body === undefined ? { headers: auth } : { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return (await response.json()) as T;
}

export const text = (content: string): TemplateComponent => ({ componentType: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_TEXT, content, options: [] });

let unique = 0;
/** A ppnum no other test uses (consent memory and ledgers never mix). */
export const freshPpnum = () => `9${String(Date.now() % 1e9).padStart(9, '0')}${String(unique++).padStart(4, '0')}`;
export const uniqueName = (base: string) => `${base}-${Date.now()}-${unique++}`;

export const typeName = (t: SendRequestEventType) => SendRequestEventType[t] as string;

/** Event type names per ppnum, in stream order. */
export function sequences(events: SendRequestEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events) if (e.recipient) (out[e.recipient.ppnum] ??= []).push(typeName(e.eventType));
  return out;
}

export const completed = (...ids: string[]) => (events: SendRequestEvent[]) =>
  ids.every((id) => events.some((e) => e.sendRequestId === id && e.eventType === SendRequestEventType.REQUEST_COMPLETED));
