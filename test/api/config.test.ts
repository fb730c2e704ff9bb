import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, clientConfigFromEnv, checkTokenUrl, parseApiUrl } from '../../src/api/config';
import { ExternalMessageServiceService } from '../../src/api/gen/ppoppo/external/v1/external';
import { withPathPrefix } from '../../src/api/client';

const creds = { PAS_PCS_CLIENT_ID: 'app-1', PAS_PCS_CLIENT_SECRET: 's3cr3t-value' };

describe('clientConfigFromEnv', () => {
  it('uses the local defaults for the URLs', () => {
    const config = clientConfigFromEnv(creds);
    expect(config).toMatchObject({ apiUrl: 'http://127.0.0.1:3203', tokenUrl: 'http://127.0.0.1:3100/oauth/token', clientId: 'app-1' });
    expect(config.clientSecret).toBe('s3cr3t-value');
    expect(config.deadlineMs).toBeUndefined();
  });

  it('names the missing variable', () => {
    expect(() => clientConfigFromEnv({ PAS_PCS_CLIENT_ID: 'app-1' })).toThrow(/PAS_PCS_CLIENT_SECRET is not set/);
    expect(() => clientConfigFromEnv({ PAS_PCS_CLIENT_SECRET: 'x' })).toThrow(/PAS_PCS_CLIENT_ID is not set/);
    expect(() => clientConfigFromEnv({ ...creds, PCS_API_URL: 'not a url' })).toThrow(ConfigError);
    expect(() => clientConfigFromEnv({ ...creds, PCS_API_URL: 'grpc://host:1' })).toThrow(/PCS_API_URL must start with http/);
    expect(() => clientConfigFromEnv({ ...creds, PCS_DEADLINE_MS: '10s' })).toThrow(/PCS_DEADLINE_MS/);
  });

  it('reads PCS_DEADLINE_MS', () => {
    expect(clientConfigFromEnv({ ...creds, PCS_DEADLINE_MS: '2500' }).deadlineMs).toBe(2500);
  });

  it('keeps the secret out of inspect and JSON', () => {
    const config = clientConfigFromEnv(creds);
    expect(inspect(config)).not.toContain('s3cr3t-value');
    expect(JSON.stringify(config)).not.toContain('s3cr3t-value');
  });
});

describe('parseApiUrl', () => {
  it('maps https to TLS with port 443 and a path to a method prefix', () => {
    expect(parseApiUrl('https://api.ppoppo.com/ext')).toEqual({ target: 'api.ppoppo.com:443', tls: true, pathPrefix: '/ext', warnings: [] });
    expect(parseApiUrl('https://api.ppoppo.com/ext/')).toMatchObject({ pathPrefix: '/ext' });
  });

  it('maps http to plaintext, no prefix for a bare host, and warns only for remote hosts', () => {
    expect(parseApiUrl('http://127.0.0.1:3203')).toEqual({ target: '127.0.0.1:3203', tls: false, pathPrefix: '', warnings: [] });
    expect(parseApiUrl('http://localhost:3203/').warnings).toEqual([]);
    expect(parseApiUrl('http://[::1]:3203').target).toBe('[::1]:3203');
    expect(parseApiUrl('http://sandbox:3203').warnings).toEqual([expect.stringContaining('plaintext')]);
    expect(checkTokenUrl('http://pas:3100/oauth/token')).toEqual([expect.stringContaining('secret travels unencrypted')]);
    expect(checkTokenUrl('https://accounts.ppoppo.com/oauth/token')).toEqual([]);
  });

  it('refuses credentials and queries in the API URL', () => {
    expect(() => parseApiUrl('https://user:pw@api.ppoppo.com/ext')).toThrow(/without credentials/);
    expect(() => parseApiUrl('https://api.ppoppo.com/ext?x=1')).toThrow(ConfigError);
  });

  it('prefixes every method path of a copied service definition, leaving the generated one intact', () => {
    const prefixed = withPathPrefix(ExternalMessageServiceService, '/ext');
    expect(prefixed.createSendRequest.path).toBe('/ext/chat.external.ExternalMessageService/CreateSendRequest');
    expect(prefixed.streamSendRequestEvents.path).toBe('/ext/chat.external.ExternalMessageService/StreamSendRequestEvents');
    expect(ExternalMessageServiceService.createSendRequest.path).toBe('/chat.external.ExternalMessageService/CreateSendRequest');
    expect(withPathPrefix(ExternalMessageServiceService, '').getSendRequestStatus.path).toBe('/chat.external.ExternalMessageService/GetSendRequestStatus');
  });
});
