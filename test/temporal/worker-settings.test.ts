// Worker and listener settings and the metrics endpoint from the environment (no server needed).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { metricsExporterFromEnv } from '../../src/metrics/runtime';
import { workerSettingsFromEnv } from '../../src/temporal/worker-settings';

afterEach(() => vi.unstubAllEnvs());

describe('workerSettingsFromEnv', () => {
  it('has explicit defaults: cache size, a drain on SIGTERM forced 5 s later, a 2 s sticky timeout', () => {
    for (const name of ['WORKER_MAX_CACHED_WORKFLOWS', 'WORKER_SHUTDOWN_GRACE_MS', 'LISTENER_MAX_CACHED_WORKFLOWS', 'LISTENER_SHUTDOWN_GRACE_MS', 'STICKY_QUEUE_TIMEOUT_MS']) vi.stubEnv(name, '');
    expect(workerSettingsFromEnv('worker')).toEqual({ maxCachedWorkflows: 60, shutdownGraceTime: 10_000, shutdownForceTime: 15_000, stickyQueueScheduleToStartTimeout: 2_000 });
    expect(workerSettingsFromEnv('listener')).toEqual({ maxCachedWorkflows: 10, shutdownGraceTime: 5_000, shutdownForceTime: 10_000, stickyQueueScheduleToStartTimeout: 2_000 });
  });

  it('reads each process its own variables', () => {
    vi.stubEnv('WORKER_MAX_CACHED_WORKFLOWS', '200');
    vi.stubEnv('WORKER_SHUTDOWN_GRACE_MS', '30000');
    vi.stubEnv('LISTENER_MAX_CACHED_WORKFLOWS', '4');
    vi.stubEnv('STICKY_QUEUE_TIMEOUT_MS', '10000');
    expect(workerSettingsFromEnv('worker')).toMatchObject({ maxCachedWorkflows: 200, shutdownGraceTime: 30_000, shutdownForceTime: 35_000, stickyQueueScheduleToStartTimeout: 10_000 });
    expect(workerSettingsFromEnv('listener')).toMatchObject({ maxCachedWorkflows: 4, shutdownGraceTime: 5_000 });
  });

  it('names the variable when a value is not a positive number', () => {
    vi.stubEnv('WORKER_SHUTDOWN_GRACE_MS', '10s');
    expect(() => workerSettingsFromEnv('worker')).toThrow('WORKER_SHUTDOWN_GRACE_MS must be a positive number, got "10s"');
  });
});

describe('metricsExporterFromEnv', () => {
  it('serves no metrics without METRICS_PORT', () => {
    expect(metricsExporterFromEnv({})).toBeUndefined();
    expect(metricsExporterFromEnv({ METRICS_PORT: '' })).toBeUndefined();
  });

  it('binds Prometheus on every interface, or METRICS_HOST, with counters ending in _total and durations in seconds', () => {
    expect(metricsExporterFromEnv({ METRICS_PORT: '9464' })).toMatchObject({ prometheus: { bindAddress: '0.0.0.0:9464', countersTotalSuffix: true, useSecondsForDurations: true } });
    expect(metricsExporterFromEnv({ METRICS_PORT: '9465', METRICS_HOST: '127.0.0.1' })?.prometheus.bindAddress).toBe('127.0.0.1:9465');
  });

  it('names METRICS_PORT when it is not a port', () => {
    for (const bad of ['http', '0', '70000', '94.64']) expect(() => metricsExporterFromEnv({ METRICS_PORT: bad })).toThrow(`METRICS_PORT must be a TCP port number (1-65535), got "${bad}"`);
  });
});
