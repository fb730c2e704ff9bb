// `ppoppo_campaigns{status}`: open campaigns by their own status, counted in Temporal visibility by
// the listener process every CAMPAIGN_COUNT_INTERVAL_MS (four count calls, far below the
// production server's 10 visibility calls per second). Counted fleet-wide, so every listener reports
// the same numbers: query them with max(), not sum().
import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import { COUNTED_CAMPAIGN_STATUSES, METRICS } from '../contracts/metrics';
import { CAMPAIGN_STATUS_KEY } from '../temporal/names';

export const CAMPAIGN_COUNT_INTERVAL_MS = 15_000;

/** Starts counting; returns a function that stops it. Failures are logged once and retried at the next interval. */
export function countCampaignStatuses(client: Client, meter: MetricMeter, intervalMs = CAMPAIGN_COUNT_INTERVAL_MS, warn: (message: string) => void = console.warn): () => void {
  const gauge = meter.createGauge(METRICS.campaigns.name, 'int', undefined, METRICS.campaigns.help);
  let warned = false;
  let running: Promise<void> | undefined;
  const count = async () => {
    try {
      for (const status of COUNTED_CAMPAIGN_STATUSES) {
        const { count } = await client.workflow.count(`${CAMPAIGN_STATUS_KEY.name} = "${status}" AND ExecutionStatus = "Running"`);
        gauge.set(count, { status });
      }
      warned = false;
    } catch (err) {
      if (!warned) warn(`counting campaigns by status failed (will retry every ${intervalMs / 1000} s): ${(err as Error).message}`);
      warned = true;
    }
  };
  const tick = () => {
    running ??= count().finally(() => (running = undefined));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return () => clearInterval(timer);
}
