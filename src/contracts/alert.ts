// The alert workflow's contract: a one-off text to some ppnums, sent through the rate-limited send
// queue ahead of bulk sends (task-queue priority), so an alert and the campaigns sharing the app's
// limit never race each other at the API. The client (src/client/alerts.ts) and the CLI's `alert`
// start it; the workers run it. PURE: no I/O; workflow code imports this module.

export const ALERT_WORKFLOW_TYPE = 'alertWorkflow';

/** "alert/20261207T090000123Z-k3j9x2": unique per alert, sortable by time. */
export function alertWorkflowId(now: Date, random: string): string {
  return `alert/${now.toISOString().replace(/[-:.]/g, '')}-${random}`;
}

export interface AlertWorkflowInput {
  text: string;
  ppnums: string[];
}

/**
 * How long an alert may wait. No send worker takes it within `pickUpMs`: nothing was sent, and the
 * alert fails saying so. The whole alert (workflow) ends after `totalMs` at the latest, so an alert
 * nobody could run is never sent hours late.
 */
export const ALERT_WAIT = { pickUpMs: 60_000, totalMs: 5 * 60_000 } as const;
