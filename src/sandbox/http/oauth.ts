// POST /oauth/token (client_credentials, RFC 6749 §4.4) and GET /.well-known/jwks.json.
// Client credentials are accepted in the form body or as HTTP Basic auth; they are never logged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { SandboxApp } from '../options';
import type { TokenIssuer } from '../tokens';
import { readBody, sendJson } from './respond';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = header && /^Basic\s+(\S+)$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
}

export async function handleToken(req: IncomingMessage, res: ServerResponse, apps: SandboxApp[], tokens: TokenIssuer, ttlSeconds: number): Promise<void> {
  const oauthError = (statusCode: number, error: string, description: string) =>
    sendJson(res, statusCode, { error, error_description: description }, statusCode === 401 ? { 'www-authenticate': 'Basic realm="sandbox"' } : {});

  if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    return oauthError(400, 'invalid_request', 'content type must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(await readBody(req, 64 * 1024));
  const grantType = form.get('grant_type');
  if (!grantType) return oauthError(400, 'invalid_request', 'grant_type is required');
  if (grantType !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 'only client_credentials is supported');

  const basic = basicCredentials(req.headers.authorization);
  const clientId = basic?.id ?? form.get('client_id');
  const secret = basic?.secret ?? form.get('client_secret');
  if (!clientId || !secret) return oauthError(401, 'invalid_client', 'client authentication failed');
  const app = apps.find((a) => a.clientId === clientId);
  if (!app || !sameSecret(app.clientSecret, secret)) return oauthError(401, 'invalid_client', 'client authentication failed');

  const requested = form.get('scope')?.split(' ').filter(Boolean);
  if (requested && requested.some((s) => !app.scopes.includes(s))) return oauthError(400, 'invalid_scope', 'requested scope is not granted to this client');
  const scopes = requested?.length ? requested : app.scopes;
  const accessToken = await tokens.issue(app.clientId, scopes, ttlSeconds);
  sendJson(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: ttlSeconds, scope: scopes.join(' ') }, { pragma: 'no-cache' });
}

export function handleJwks(res: ServerResponse, tokens: TokenIssuer): void {
  sendJson(res, 200, tokens.jwks());
}
