// startSandbox: wires the state DB, delivery engine, gRPC server and HTTP server together.
// See README.md beside this file for options, endpoints and test numbers.
import { randomBytes } from 'node:crypto';
import type { Server } from '@grpc/grpc-js';
import { DeliveryEngine } from './engine';
import { EventLog } from './events';
import { Faults, SendStats } from './faults';
import { appService } from './grpc/app-service';
import { CallAuth } from './grpc/calls';
import { EventStreams } from './grpc/event-streams';
import { messageService } from './grpc/message-service';
import { bindGrpc, createGrpcServer } from './grpc/server';
import { templateService } from './grpc/template-service';
import { createHttpServer, listenHttp } from './http/server';
import { AppRateLimiter } from './limits';
import { openDb } from './db';
import { DEFAULT_APP, runtimeConfig, type SandboxOptions } from './options';
import { SendRequests } from './sending';
import { Store } from './store';
import { TokenIssuer } from './tokens';

export type { SandboxApp, SandboxOptions, OutcomeMix } from './options';

export interface RunningSandbox {
  /** e.g. http://127.0.0.1:3203 (plaintext gRPC; append /ext for the prefixed path form). */
  grpcUrl: string;
  grpcPort: number;
  /** e.g. http://127.0.0.1:3100 (token, JWKS, /inspect). */
  httpUrl: string;
  tokenUrl: string;
  /** Credentials of the first configured app. */
  clientId: string;
  clientSecret: string;
  /** `Authorization: Bearer <inspectToken>` opens /inspect (SandboxInspector sends it). */
  inspectToken: string;
  /** Stops both servers, the engine's timer and open streams, then closes the DB. */
  close(): Promise<void>;
}

/** Graceful first (GOAWAY lets clients reconnect cleanly), forced if calls linger. */
function shutdownGrpc(server: Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

export async function startSandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const host = options.host ?? '127.0.0.1';
  const apps = options.apps?.length ? options.apps : [DEFAULT_APP];
  const log = options.log ?? (() => {});
  const report = (err: unknown) => log(`sandbox error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);

  const db = openDb(options.dbPath ?? ':memory:');
  const store = new Store(db);
  const config = runtimeConfig(options);
  const tokens = await TokenIssuer.load(store);
  const events = new EventLog(store);
  const engine = new DeliveryEngine(store, events, config, report);
  const limiter = new AppRateLimiter(config.rateLimit);
  const faults = new Faults();
  const stats = new SendStats();
  const streams = new EventStreams(store, events, config);
  const sends = new SendRequests({ store, log: events, engine, config, limiter, faults, stats });
  const auth = new CallAuth(tokens, apps);

  const grpcServer = createGrpcServer(
    {
      message: messageService(auth, report, store, sends, streams, engine),
      template: templateService(auth, report, store),
      app: appService(auth, report, store, config),
    },
    auth,
    report,
  );
  const inspectToken = options.inspectToken ?? randomBytes(18).toString('base64url');
  const httpServer = createHttpServer({ apps, tokens, tokenTtlSeconds: options.tokenTtlSeconds ?? 3600, inspectToken, report, store, config, limiter, faults, stats, streams, engine });

  let grpcPort: number;
  let httpPort: number;
  try {
    grpcPort = await bindGrpc(grpcServer, host, options.grpcPort ?? 0);
    httpPort = await listenHttp(httpServer, host, options.httpPort ?? 0);
  } catch (err) {
    grpcServer.forceShutdown();
    httpServer.close();
    db.close();
    throw err;
  }
  engine.start();

  const urlHost = host.includes(':') ? `[${host}]` : host;
  const httpUrl = `http://${urlHost}:${httpPort}`;
  let closed = false;
  return {
    grpcUrl: `http://${urlHost}:${grpcPort}`,
    grpcPort,
    httpUrl,
    tokenUrl: `${httpUrl}/oauth/token`,
    clientId: apps[0]!.clientId,
    clientSecret: apps[0]!.clientSecret,
    inspectToken,
    async close() {
      if (closed) return;
      closed = true;
      engine.stop();
      streams.cutAll();
      await shutdownGrpc(grpcServer);
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      db.close();
    },
  };
}
