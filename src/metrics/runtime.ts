// The Prometheus endpoint of the worker and listener processes: with METRICS_PORT set, the Temporal
// runtime (installed with the process logger, src/logging.ts) serves http://<host>:METRICS_PORT/metrics
// with the SDK's own metrics (temporal_*, durations in seconds) and ours (ppoppo_*,
// src/contracts/metrics.ts) together.
import type { MetricsExporterConfig, PrometheusMetricsExporter } from '@temporalio/worker';
import { HISTOGRAM_BUCKETS } from '../contracts/metrics';

type PrometheusExporter = MetricsExporterConfig & PrometheusMetricsExporter;

/** What METRICS_PORT (and METRICS_HOST) ask for, or undefined when metrics are off. */
export function metricsExporterFromEnv(env: Record<string, string | undefined> = process.env): PrometheusExporter | undefined {
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

/** ", metrics on http://…/metrics" for a process's ready line, or '' when metrics are off. */
export function metricsNote(env: Record<string, string | undefined> = process.env): string {
  const exporter = metricsExporterFromEnv(env);
  return exporter ? `, metrics on http://${exporter.prometheus.bindAddress}/metrics` : '';
}
