// The sandbox's HTTP server: the token endpoint and JWKS (standing in for Ppoppo accounts, PAS),
// plus the test-only /inspect endpoints, which need `Authorization: Bearer <inspectToken>`: they
// show every rendered message and can inject faults, so they are nobody's to read by default.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { SandboxApp } from '../options';
import type { TokenIssuer } from '../tokens';
import { handleInspect, type InspectDeps } from './inspect';
import { handleJwks, handleToken } from './oauth';
import { sendJson } from './respond';

export interface HttpDeps extends InspectDeps {
  apps: SandboxApp[];
  tokens: TokenIssuer;
  tokenTtlSeconds: number;
  inspectToken: string;
  report: (err: unknown) => void;
}

export function createHttpServer(deps: HttpDeps): Server {
  return createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      try {
        if (req.method === 'POST' && url.pathname === '/oauth/token') return await handleToken(req, res, deps.apps, deps.tokens, deps.tokenTtlSeconds);
        if (req.method === 'GET' && url.pathname === '/.well-known/jwks.json') return handleJwks(res, deps.tokens);
        if (url.pathname.startsWith('/inspect/')) {
          if (!hasToken(req, deps.inspectToken)) return sendJson(res, 401, { error: 'unauthorized', message: '/inspect needs Authorization: Bearer <inspect token> (printed when the sandbox starts)' });
          if (await handleInspect(req, res, url, deps)) return;
        }
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

function hasToken(req: IncomingMessage, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
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
