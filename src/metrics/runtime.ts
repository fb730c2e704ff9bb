// The process-wide Temporal runtime of the worker and listener processes, with a Prometheus endpoint
// when METRICS_PORT is set: http://<host>:METRICS_PORT/metrics serves the SDK's own metrics
// (temporal_*, durations in seconds) and ours (ppoppo_*, src/contracts/metrics.ts) together.
// Call it once, before the process opens its first Worker or NativeConnection.
import { Runtime } from '@temporalio/worker';
import type { MetricsExporterConfig, PrometheusMetricsExporter } from '@temporalio/worker';
import { HISTOGRAM_BUCKETS } from '../contracts/metrics';

/** What METRICS_PORT asks for: the exporter's bind address, or undefined when metrics are off. */
export function metricsExporterFromEnv(env: Record<string, string | undefined> = process.env): (MetricsExporterConfig & PrometheusMetricsExporter) | undefined {
  const raw = env.METRICS_PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`METRICS_PORT must be a TCP port number (1-65535), got "${raw}"`);
  return {
    prometheus: {
      bindAddress: `${env.METRICS_HOST || '0.0.0.0'}:${port}`,
      countersTotalSuffix: true,
      useSecondsForDurations: true,
      histogramBucketOverrides: HISTOGRAM_BUCKETS,
    },
  };
}

/** Installs the runtime; returns the /metrics URL, or undefined when METRICS_PORT is unset. */
export function installRuntime(env: Record<string, string | undefined> = process.env): string | undefined {
  const metrics = metricsExporterFromEnv(env);
  try {
    Runtime.install({ telemetryOptions: metrics ? { metrics } : {} });
  } catch (err) {
    if (!metrics) throw err;
    throw new Error(`cannot serve metrics on ${metrics.prometheus.bindAddress} (METRICS_PORT): ${(err as Error).message}`);
  }
  return metrics ? `http://${metrics.prometheus.bindAddress}/metrics` : undefined;
}
