// Connection settings from the environment (unit level: no server needed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeTemporalConfig, temporalConfigFromEnv } from '../../src/temporal/config';
import { TASK_QUEUES } from '../../src/temporal/names';
import { LISTENER_WORKFLOW_ID } from '../../src/contracts/listener';
import { campaignWorkflowId } from '../../src/contracts/campaign';
import { chunkWorkflowId } from '../../src/contracts/chunk';

describe('temporalConfigFromEnv', () => {
  it('defaults to the local dev server in plaintext', () => {
    expect(temporalConfigFromEnv({})).toEqual({ address: '127.0.0.1:7233', namespace: 'default', tls: undefined, apiKey: undefined });
  });

  it('turns on TLS with an API key and never shows the key in the description', () => {
    const config = temporalConfigFromEnv({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'key-123' });
    expect(config.tls).toEqual({});
    expect(config.apiKey).toBe('key-123');
    expect(describeTemporalConfig(config)).toBe('ns.acct.tmprl.cloud:7233 namespace=ns.acct (api key)');
  });

  it('reads an mTLS client pair and optional CA / server name from files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ppoppo-tls-'));
    try {
      for (const name of ['crt', 'key', 'ca']) writeFileSync(join(dir, name), `${name}-pem`);
      const config = temporalConfigFromEnv({
        TEMPORAL_TLS_CERT: join(dir, 'crt'),
        TEMPORAL_TLS_KEY: join(dir, 'key'),
        TEMPORAL_TLS_CA: join(dir, 'ca'),
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      });
      expect(Buffer.from(config.tls!.clientCertPair!.crt).toString()).toBe('crt-pem');
      expect(Buffer.from(config.tls!.clientCertPair!.key).toString()).toBe('key-pem');
      expect(Buffer.from(config.tls!.serverRootCACertificate!).toString()).toBe('ca-pem');
      expect(config.tls!.serverNameOverride).toBe('temporal.internal');
      expect(describeTemporalConfig(config)).toContain('(mTLS)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a certificate without its key', () => {
    expect(() => temporalConfigFromEnv({ TEMPORAL_TLS_CERT: '/x.pem' })).toThrow(/must be set together/);
  });
});

describe('names', () => {
  it('builds workflow ids that sort by chunk index', () => {
    expect(campaignWorkflowId('spring')).toBe('campaign/spring');
    expect(chunkWorkflowId('spring', 7)).toBe('campaign/spring/chunk/000007');
    expect([chunkWorkflowId('s', 10), chunkWorkflowId('s', 9)].sort()).toEqual([chunkWorkflowId('s', 9), chunkWorkflowId('s', 10)]);
    expect(TASK_QUEUES).toEqual({ campaigns: 'ppoppo-campaigns', send: 'ppoppo-send', listener: 'ppoppo-listener' });
    expect(LISTENER_WORKFLOW_ID).toBe('ppoppo-listener');
  });
});
