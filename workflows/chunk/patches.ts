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
  /** Fallback batches as local activities. */
  localFallbacks: 'local-fallbacks',
  /** Consent figures reported to the campaign while outcomes come in. */
  consentReports: 'consent-reports',
  /** Fallback batches wait out channel faults; late events apply after the window; expiry is never 'failed'. */
  operatorFaults: 'operator-faults',
  /**
   * SDK core (1.24) may record a local activity's marker in one workflow task but hand its result to
   * the workflow in the next, when a query is answered meanwhile; replay hands it over a task
   * earlier. So nothing after a local activity may depend on the time or on signals: the recipients
   * are read after the pre-send checks, the send follows its cursor unconditionally, and fallback
   * batches are regular activities again.
   */
  lateLocalResults: 'late-local-results',
} as const;
