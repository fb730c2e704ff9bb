// What every RPC does before and after its own work: check the bearer token and scope, and turn
// thrown errors into gRPC statuses (the retry hint goes into both initial headers and trailers).
// Every method of every service gets a handler, so the token is checked first even for the RPCs
// the sandbox does not implement: they answer UNIMPLEMENTED only to an authenticated caller.
import {
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Metadata,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { SandboxApp } from '../options';
import { RpcError } from '../rpc-error';
import type { TokenIssuer } from '../tokens';

export const REQUIRED_SCOPE = 'messaging';

export class CallAuth {
  private readonly apps: Map<string, SandboxApp>;

  constructor(
    private readonly tokens: TokenIssuer,
    apps: SandboxApp[],
  ) {
    this.apps = new Map(apps.map((app) => [app.clientId, app]));
  }

  /** The calling app, or UNAUTHENTICATED / PERMISSION_DENIED. */
  async appOf(metadata: Metadata): Promise<SandboxApp> {
    const header = metadata.get('authorization')[0];
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    const claims = match ? await this.tokens.verify(match[1]!) : undefined;
    const app = claims && this.apps.get(claims.clientId);
    if (!claims || !app) throw new RpcError(status.UNAUTHENTICATED, 'Invalid token');
    if (!claims.scopes.includes(REQUIRED_SCOPE)) throw new RpcError(status.PERMISSION_DENIED, `Missing required scope: ${REQUIRED_SCOPE}`);
    return app;
  }
}

export type Report = (err: unknown) => void;

function toRpcError(err: unknown, report: Report): RpcError {
  if (err instanceof RpcError) return err;
  report(err);
  return new RpcError(status.INTERNAL, 'internal error');
}

/** A unary handler that authenticates, runs `fn`, and answers with its result or error status. */
export function unary<Req, Res>(auth: CallAuth, report: Report, fn: (app: SandboxApp, req: Req) => Res | Promise<Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    void (async () => {
      try {
        const app = await auth.appOf(call.metadata);
        callback(null, await fn(app, call.request));
      } catch (err) {
        const e = toRpcError(err, report);
        if (e.retryAfterMs !== undefined) call.sendMetadata(e.metadata());
        callback({ code: e.code, details: e.message, metadata: e.metadata() });
      }
    })();
  };
}

/** A server-streaming handler that authenticates, then lets `fn` own the stream. */
export function serverStream<Req, Res>(auth: CallAuth, report: Report, fn: (app: SandboxApp, call: ServerWritableStream<Req, Res>) => void | Promise<void>): handleServerStreamingCall<Req, Res> {
  return (call) => {
    void (async () => {
      try {
        const app = await auth.appOf(call.metadata);
        await fn(app, call);
      } catch (err) {
        const e = toRpcError(err, report);
        call.emit('error', { code: e.code, details: e.message, metadata: e.metadata() });
      }
    })();
  };
}

/** `implemented` plus an authenticate-then-UNIMPLEMENTED handler for every other method of `definition`. */
export function withEveryMethod(definition: ServiceDefinition, implemented: UntypedServiceImplementation, auth: CallAuth, report: Report): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = { ...implemented };
  for (const [name, method] of Object.entries(definition)) {
    if (handlers[name]) continue;
    const refuse = () => {
      throw new RpcError(status.UNIMPLEMENTED, `${method.path.slice(method.path.lastIndexOf('/') + 1)} is not implemented by the sandbox`);
    };
    handlers[name] = method.responseStream ? serverStream(auth, report, refuse) : unary(auth, report, refuse);
  }
  return handlers;
}
