// Access tokens: EdDSA (Ed25519) JWTs with RFC 9068 claims. The signing key is generated on first
// start and kept in the state DB, so tokens stay valid across a sandbox restart.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { ulid } from 'ulid';
import type { Store } from './store';

/** Fixed (not derived from the port) so a token issued before a restart still verifies after it. */
export const ISSUER = 'https://accounts.sandbox.ppoppo.local';
export const AUDIENCE = 'chat.external';
const KEY_META = 'signing_key_jwk';

export interface TokenClaims {
  clientId: string;
  scopes: string[];
}

export class TokenIssuer {
  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
    private readonly publicJwk: JWK,
  ) {}

  static async load(store: Store): Promise<TokenIssuer> {
    let stored = store.getMeta(KEY_META);
    if (!stored) {
      const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
      const jwk = await exportJWK(pair.privateKey);
      jwk.kid = await calculateJwkThumbprint(jwk);
      stored = JSON.stringify(jwk);
      store.setMeta(KEY_META, stored);
    }
    const jwk = JSON.parse(stored) as JWK;
    const { d: _d, ...publicJwk } = jwk;
    const publicWithUse: JWK = { ...publicJwk, alg: 'EdDSA', use: 'sig' };
    const privateKey = (await importJWK(jwk, 'EdDSA')) as CryptoKey;
    const publicKey = (await importJWK(publicJwk, 'EdDSA')) as CryptoKey;
    return new TokenIssuer(privateKey, publicKey, publicWithUse);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  async issue(clientId: string, scopes: string[], ttlSeconds: number): Promise<string> {
    const nowMs = Date.now();
    const now = Math.floor(nowMs / 1000);
    return new SignJWT({ client_id: clientId, scope: scopes.join(' ') })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: this.publicJwk.kid })
      .setIssuer(ISSUER)
      .setSubject(clientId)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(Math.ceil((nowMs + ttlSeconds * 1000) / 1000)) // never shorter than the TTL
      .setJti(ulid())
      .sign(this.privateKey);
  }

  /** The token's client and scopes, or undefined for anything not valid right now. */
  async verify(token: string): Promise<TokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'], typ: 'at+jwt' });
      if (typeof payload.client_id !== 'string') return undefined;
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      return { clientId: payload.client_id, scopes: scope.split(' ').filter(Boolean) };
    } catch {
      return undefined;
    }
  }
}
