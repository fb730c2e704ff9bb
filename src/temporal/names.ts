// Names the whole deployment shares: task queues and search attributes. Workflow types, ids,
// messages and memo keys belong to each workflow's contract (src/contracts/).
// PURE: workflow code imports this module.
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import type { Priority } from '@temporalio/common';

export const TASK_QUEUES = {
  /** Workflows and non-send activities. */
  campaigns: 'ppoppo-campaigns',
  /** Send activities only; the worker rate-limits this queue to the app's request rate. */
  send: 'ppoppo-send',
  /** The listener's long-running stream activity. */
  listener: 'ppoppo-listener',
} as const;

/** The send queue's fairness key of a campaign. Temporal takes keys of at most 64 bytes: a longer campaign id keeps its start and a hash of the whole. */
export function fairnessKey(campaignId: string): string {
  if (campaignId.length <= 64) return campaignId;
  let hash = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < campaignId.length; i++) hash = Math.imul(hash ^ campaignId.charCodeAt(i), 0x01000193) >>> 0;
  return `${campaignId.slice(0, 55)}~${hash.toString(16).padStart(8, '0')}`;
}

/**
 * Task-queue priority of alerts on the send queue. 1 is Temporal's highest; the bulk sends carry no
 * priority key, so they run at the default (3): the server dispatches a queued alert before any of
 * them (with matching.useNewMatcher on, the same setting fairness needs).
 */
export const ALERT_PRIORITY: Priority = { priorityKey: 1 };

/**
 * Workflow task timeout of our workflows (Temporal's default is 10 s). A worker killed in the middle
 * of a workflow task holds that task this long before another worker may take it, and until then
 * the campaign starts no chunk. Our tasks take milliseconds; the longest is a replay on another
 * worker: half a second on a busy 2-core machine for a campaign run (at most 1,000 events before
 * it continues as new), a second or two for a chunk run (at most ~4,000).
 */
export const WORKFLOW_TASK_TIMEOUT_MS = 3_000;

/** Set on campaign and chunk workflows. */
export const CAMPAIGN_ID_KEY = defineSearchAttributeKey('PpoppoCampaignId', SearchAttributeType.KEYWORD);
/** The campaign's own status (CampaignStatus), on campaign workflows. */
export const CAMPAIGN_STATUS_KEY = defineSearchAttributeKey('PpoppoCampaignStatus', SearchAttributeType.KEYWORD);
/** Set on a chunk workflow once its send request is known. */
export const SEND_REQUEST_ID_KEY = defineSearchAttributeKey('PpoppoSendRequestId', SearchAttributeType.KEYWORD);

/** Our custom search attributes as a server must register them (name → type), all Keyword. */
export const SEARCH_ATTRIBUTES: Readonly<Record<string, 'Keyword'>> = Object.fromEntries(
  [CAMPAIGN_ID_KEY, CAMPAIGN_STATUS_KEY, SEND_REQUEST_ID_KEY].map((key) => [key.name, 'Keyword']),
);
