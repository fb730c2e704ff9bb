// The sandbox's HTTP server: the token endpoint and JWKS (standing in for Ppoppo accounts, PAS),
// plus the test-only /inspect endpoints.
import { createServer, type Server } from 'node:http';
import type { SandboxApp } from '../options';
import type { TokenIssuer } from '../tokens';
import { handleInspect, type InspectDeps } from './inspect';
import { handleJwks, handleToken } from './oauth';
import { sendJson } from './respond';

export interface HttpDeps extends InspectDeps {
  apps: SandboxApp[];
  tokens: TokenIssuer;
  tokenTtlSeconds: number;
  report: (err: unknown) => void;
}

export function createHttpServer(deps: HttpDeps): Server {
  return createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      try {
        if (req.method === 'POST' && url.pathname === '/oauth/token') return await handleToken(req, res, deps.apps, deps.tokens, deps.tokenTtlSeconds);
        if (req.method === 'GET' && url.pathname === '/.well-known/jwks.json') return handleJwks(res, deps.tokens);
        if (url.pathname.startsWith('/inspect/') && (await handleInspect(req, res, url, deps))) return;
        sendJson(res, 404, { error: 'not_found' });
      } catch (err) {
        if (err instanceof SyntaxError) return sendJson(res, 400, { error: 'invalid_json' });
        deps.report(err);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
        else res.destroy();
      }
    })();
  });
}

export function listenHttp(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}
