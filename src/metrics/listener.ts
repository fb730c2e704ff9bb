// The listener's metrics (src/contracts/metrics.ts), recorded on the Temporal runtime's meter so they
// are served on the process's METRICS_PORT beside the SDK's own.
import type { MetricMeter } from '@temporalio/common';
import { METRICS } from '../contracts/metrics';
import type { ListenerEventResult, MetricDefinition } from '../contracts/metrics';

export interface ListenerMetrics {
  /** Events handed to their chunk, or skipped. */
  handedOver(result: ListenerEventResult, events: number): void;
  /** After each flush: events still held, and when the most overdue of them was due at its chunk (ms). */
  waiting(events: number, dueAt: number | undefined, now: number): void;
  /** The stream run ended in this process: nothing waits here any more. */
  stopped(): void;
}

export function listenerMetrics(meter: MetricMeter): ListenerMetrics {
  const gauge = (definition: MetricDefinition, unit?: string) => meter.createGauge(definition.name, 'float', unit, definition.help);
  const events = meter.createCounter(METRICS.listenerEvents.name, undefined, METRICS.listenerEvents.help);
  const pending = gauge(METRICS.listenerPendingEvents);
  const lag = gauge(METRICS.listenerLag, 's');
  const lastFlush = gauge(METRICS.listenerLastFlush, 's');
  return {
    handedOver(result, count) {
      if (count > 0) events.add(count, { result });
    },
    waiting(count, dueAt, now) {
      pending.set(count);
      lag.set(dueAt === undefined || !Number.isFinite(dueAt) ? 0 : Math.max(0, now - dueAt) / 1000);
      lastFlush.set(now / 1000);
    },
    stopped() {
      pending.set(0);
      lag.set(0);
    },
  };
}
