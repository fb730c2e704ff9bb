// Our metrics recorded from workflow code, through the Temporal SDK's workflow meter (exported by the
// worker's runtime on its METRICS_PORT). The meter records nothing while a workflow replays, so a
// recipient is counted once however often its chunk is replayed; the one exception is a worker
// dying in the middle of a workflow task, whose increments the next worker records again.
import { metricMeter } from '@temporalio/workflow';
import { RECIPIENT_OUTCOMES, emptyCounts } from '../src/campaign/outcomes';
import type { OutcomeCounts } from '../src/campaign/outcomes';
import { METRICS } from '../src/contracts/metrics';
import type { MetricDefinition, ReconcileResult, SendResult } from '../src/contracts/metrics';

const counter = (definition: MetricDefinition) => metricMeter.createCounter(definition.name, undefined, definition.help);

/** Records what a chunk's or campaign's outcome counts gained since the last call. */
export class OutcomeMetrics {
  /** `recorded`: what an earlier run already recorded (a run continued as new). */
  constructor(private recorded: OutcomeCounts = emptyCounts()) {}

  record(counts: OutcomeCounts): void {
    const gained = (key: keyof OutcomeCounts) => counts[key] - this.recorded[key];
    const recipients = counter(METRICS.recipients);
    for (const outcome of RECIPIENT_OUTCOMES) if (gained(outcome) > 0) recipients.add(gained(outcome), { outcome });
    const fallbacks = counter(METRICS.fallbacks);
    if (gained('fallbackSent') > 0) fallbacks.add(gained('fallbackSent'), { result: 'sent' });
    if (gained('fallbackFailed') > 0) fallbacks.add(gained('fallbackFailed'), { result: 'failed' });
    this.recorded = { ...counts };
  }
}

/** Recipients the campaign itself settles (invalid rows skipped at planning, cancelled or past the deadline before their chunk started). */
export function recordCampaignOutcome(outcome: 'invalid' | 'cancelled' | 'deadline', recipients: number): void {
  if (recipients > 0) counter(METRICS.recipients).add(recipients, { outcome });
}

export function recordSendResult(result: SendResult): void {
  counter(METRICS.sendRequests).add(1, { result });
}

export function recordReconcileResult(result: ReconcileResult): void {
  counter(METRICS.reconciliations).add(1, { result });
}

/** A refused send and the wait before the next attempt; RESOURCE_EXHAUSTED is counted on its own. */
export function recordRefusal(codeName: string, waitMs: number): void {
  if (codeName !== 'RESOURCE_EXHAUSTED') return;
  counter(METRICS.resourceExhausted).add(1);
  metricMeter.createHistogram(METRICS.resourceExhaustedWait.name, 'float', 's', METRICS.resourceExhaustedWait.help).record(waitMs / 1000);
}
