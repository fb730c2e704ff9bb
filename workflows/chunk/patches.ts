// Patch ids of the chunk workflow: histories recorded before each change replay without it. One
// list for the workflow, its send and its fallbacks (each asks where its code differs).
export const CHUNK_PATCHES = {
  /** Chunks report their own failure by signal (the campaign may have continued as new). */
  reportChunkFailure: 'report-chunk-failure',
  /** GetSendRequestStatus for the unsettled before the consent window closes. */
  snapshotBeforeExpiry: 'snapshot-before-expiry',
  /** A reconciling chunk tells the campaign, which lets another chunk into the window meanwhile. */
  reconcileOutsideWindow: 'reconcile-outside-window',
  /** A long trickle of events: continue as new (ChunkCarry) when Temporal suggests it. */
  continueAsNew: 'chunk-continue-as-new',
  /** Fallback batches as local activities (not in chunks started with afterLocalActivities 'fixed'). */
  localFallbacks: 'local-fallbacks',
  /** Consent figures reported to the campaign while outcomes come in. */
  consentReports: 'consent-reports',
  /** Fallback batches wait out channel faults; late events apply after the window; expiry is never 'failed'. */
  operatorFaults: 'operator-faults',
  /** A report to the campaign is due when only the settled counts changed too (a delivery after a grant). */
  countsInReports: 'counts-in-reports',
  /** A long fallback dispatch stops between batches to continue as new (the queue is carried). */
  continueBetweenFallbacks: 'continue-between-fallbacks',
} as const;
