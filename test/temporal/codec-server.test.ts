// The codec server over real HTTP: the protocol, the token, CORS for the Web UI's origin.
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptionCodec, newPayloadKeyLine, parsePayloadKeys } from '../../src/temporal/codec';
import { codecServerOptionsFromEnv, startCodecServer, type CodecServer } from '../../src/temporal/codec-server';

const TOKEN = 'codec-test-token-0123456789';
const UI_ORIGIN = 'http://127.0.0.1:8233';
const codec = new EncryptionCodec(parsePayloadKeys(newPayloadKeyLine(), 'test'));
let server: CodecServer;

const b64 = (text: string) => Buffer.from(text).toString('base64');
const plainJson = (value: unknown) => ({ metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(value)) });

function post(path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

beforeAll(async () => {
  server = await startCodecServer({ codec, token: TOKEN, corsOrigins: [UI_ORIGIN], port: 0 });
});
afterAll(() => server?.close());

describe('codec server', () => {
  it('encodes and decodes Temporal payload JSON with the bearer token', async () => {
    const encoded = await post('/encode', { payloads: [plainJson({ name: 'Ada' })] });
    expect(encoded.status).toBe(200);
    const { payloads } = (await encoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(payloads[0]!.data, 'base64').toString()).not.toContain('Ada');

    const decoded = await post('/decode', { payloads });
    const back = (await decoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(JSON.parse(Buffer.from(back.payloads[0]!.data, 'base64').toString())).toEqual({ name: 'Ada' });
  });

  it('decodes what the workers encrypted (same codec, same wire format)', async () => {
    const [payload] = await codec.encode([defaultPayloadConverter.toPayload({ ppnum: '12300000001' })!]);
    const response = await post('/decode', { payloads: [{ metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64(codec.encryptingKeyId) }, data: Buffer.from(payload!.data!).toString('base64') }] });
    const { payloads } = (await response.json()) as { payloads: { data: string }[] };
    expect(Buffer.from(payloads[0]!.data, 'base64').toString()).toBe('{"ppnum":"12300000001"}');
  });

  it('accepts the token as the first path segment (the Web UI endpoint) and serves under any prefix', async () => {
    expect(server.uiEndpoint).toBe(`${server.url}/${TOKEN}`);
    const response = await post(`/${TOKEN}/decode`, { payloads: [plainJson(1)] }, {});
    expect(response.status).toBe(200);
  });

  it('refuses requests without the right token, saying what is needed', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TOKEN }];
    for (const headers of attempts) {
      const response = await post('/decode', { payloads: [] }, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await response.json()).toEqual({ error: 'a codec server token is needed: Authorization: Bearer <token>' });
    }
    expect((await post('/not-the-token/decode', { payloads: [] }, {})).status).toBe(401);
  });

  it('answers the Web UI origin\'s preflight and refuses other origins', async () => {
    const preflight = await fetch(`${server.url}/${TOKEN}/decode`, { method: 'OPTIONS', headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-namespace');
    const fromUi = await post('/decode', { payloads: [] }, { authorization: `Bearer ${TOKEN}`, origin: UI_ORIGIN });
    expect(fromUi.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const elsewhere = await post('/decode', { payloads: [] }, { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('explains malformed requests and undecodable payloads without echoing them', async () => {
    expect(await (await post('/decode', 'not json')).json()).toEqual({ error: 'the body is not JSON' });
    expect(await (await post('/decode', { payloads: 'x' })).json()).toEqual({ error: 'the body must be {"payloads": [...]}' });
    expect(await (await post('/decode', {})).json()).toEqual({ payloads: [] }); // proto3 JSON of an empty list (the temporal CLI sends it)
    expect((await post('/other', { payloads: [] })).status).toBe(404);
    const foreign = await new EncryptionCodec(parsePayloadKeys(newPayloadKeyLine(), 'other')).encode([defaultPayloadConverter.toPayload('x')!]);
    const response = await post('/decode', { payloads: foreign.map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(p.data!).toString('base64') })) });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { error: string }).error).toMatch(/which is not loaded/);
    expect(await (await fetch(`${server.url}/health`)).text()).toBe('ok');
  });

  it('takes its settings from the environment, and will not start without a token or keys', () => {
    const keys = newPayloadKeyLine();
    expect(() => codecServerOptionsFromEnv({ PAYLOAD_KEYS: keys })).toThrow('CODEC_SERVER_TOKEN (or CODEC_SERVER_TOKEN_FILE) is not set');
    expect(() => codecServerOptionsFromEnv({ PAYLOAD_ENCRYPTION: 'off', CODEC_SERVER_TOKEN: TOKEN })).toThrow('nothing for a codec server to decode');
    const options = codecServerOptionsFromEnv({ PAYLOAD_KEYS: keys, CODEC_SERVER_TOKEN: TOKEN, CODEC_CORS_ORIGINS: 'http://localhost:8080, http://ui.internal' });
    expect(options).toMatchObject({ token: TOKEN, port: 8888, host: '127.0.0.1', corsOrigins: ['http://localhost:8080', 'http://ui.internal'] });
  });
});
