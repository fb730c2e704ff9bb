// Workflows of the fairness probe (dev/fairness/probe.ts), not of the product: one load schedules
// `count` activities at once on the rate-limited probe queue, under one fairness key and weight.
import { proxyActivities } from '@temporalio/workflow';

interface ProbeActivities {
  dispatched(key: string): Promise<void>;
}

export async function fairnessLoad(key: string, weight: number, count: number, taskQueue: string): Promise<void> {
  const { dispatched } = proxyActivities<ProbeActivities>({ taskQueue, startToCloseTimeout: '1 minute', priority: { fairnessKey: key, fairnessWeight: weight } });
  await Promise.all(Array.from({ length: count }, () => dispatched(key)));
}
