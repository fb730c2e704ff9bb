// Our Prometheus metrics: names, label values and help texts, defined once. Dashboards and the alert
// rules (deploy/prometheus/alerts.yml) use these names. Each process serves them on its METRICS_PORT
// at /metrics beside the Temporal SDK's own (temporal_*), through the SDK runtime's exporter, which
// adds `_total` to counters: the counter named `ppoppo_recipients` is scraped as
// `ppoppo_recipients_total`. Workflow code records through the SDK's workflow meter (nothing is
// recorded while a workflow replays). PURE: no I/O; workflow code imports this module.
export interface MetricDefinition {
  /** As created on the meter; counters are scraped with `_total` appended. */
  name: string;
  kind: 'counter' | 'gauge' | 'histogram';
  help: string;
  /** Label names the metric is recorded with. */
  labels: readonly string[];
}

const metric = (name: string, kind: MetricDefinition['kind'], help: string, labels: readonly string[] = []): MetricDefinition => ({ name, kind, help, labels });

export type SendResult = 'accepted' | 'refused' | 'rejected' | 'ambiguous';
export type ReconcileResult = 'adopted' | 'not_accepted';
export type ListenerEventResult = 'signalled' | 'skipped';

export const METRICS = {
  // ---------------------------------------------------------------- worker (chunk and campaign workflows)
  /** label outcome: a RecipientOutcome. Invalid rows skipped at planning count too, once. */
  recipients: metric('ppoppo_recipients', 'counter', 'Recipients that reached a final outcome, by outcome', ['outcome']),
  /** label result: 'sent' | 'failed'. */
  fallbacks: metric('ppoppo_fallbacks', 'counter', 'Fallback messages by result', ['result']),
  /** label result: SendResult. */
  sendRequests: metric('ppoppo_send_requests', 'counter', 'CreateSendRequest attempts by result (ambiguous: the answer was lost or the worker died mid-call)', ['result']),
  /** label result: ReconcileResult. */
  reconciliations: metric('ppoppo_reconciliations', 'counter', 'Reconciliations of ambiguous sends by result', ['result']),
  resourceExhausted: metric('ppoppo_resource_exhausted', 'counter', 'CreateSendRequest refusals with RESOURCE_EXHAUSTED (rate limit or monthly quota)'),
  resourceExhaustedWait: metric('ppoppo_resource_exhausted_wait_seconds', 'histogram', 'Wait before retrying after RESOURCE_EXHAUSTED (the retry-after-ms hint), seconds'),
  // ---------------------------------------------------------------- listener
  /** label status: 'running' | 'parked' | 'paused'. */
  campaigns: metric('ppoppo_campaigns', 'gauge', 'Open campaigns by status (from Temporal visibility)', ['status']),
  /** label result: ListenerEventResult. */
  listenerEvents: metric('ppoppo_listener_events', 'counter', 'Stream events handed to their chunk (signalled) or skipped (chunk closed, or no campaign owns them)', ['result']),
  listenerPendingEvents: metric('ppoppo_listener_pending_events', 'gauge', 'Events read from the stream and not yet handed to their chunk'),
  listenerLag: metric('ppoppo_listener_lag_seconds', 'gauge', 'Seconds the most overdue held event is past its hand-over time (events are held on purpose: denials and failures up to 30 s, others up to 10 min); 0 when none is overdue'),
  listenerLastFlush: metric('ppoppo_listener_last_flush_timestamp_seconds', 'gauge', 'When the stream consumer last handed events over (or found none), Unix seconds'),
} as const satisfies Record<string, MetricDefinition>;

/** Campaign statuses the listener counts for `ppoppo_campaigns`. */
export const COUNTED_CAMPAIGN_STATUSES = ['scheduled', 'running', 'parked', 'paused'] as const;

/** Bucket bounds of our histograms, in seconds (retry-after hints run from milliseconds to a month). */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [METRICS.resourceExhaustedWait.name]: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86_400],
};

/** The name Prometheus scrapes: counters get `_total`. */
export function scrapedName(definition: MetricDefinition): string {
  return definition.kind === 'counter' ? `${definition.name}_total` : definition.name;
}
