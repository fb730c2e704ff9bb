// Names shared by workflows, workers, the listener and the CLI: task queues, search attributes and
// workflow ids. Pure module (workflow code imports it): no Node imports, no I/O.
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

export const TASK_QUEUES = {
  /** Workflows and non-send activities. */
  campaigns: 'ppoppo-campaigns',
  /** Send activities only; the worker rate-limits this queue to the app's request rate. */
  send: 'ppoppo-send',
  /** The listener's long-running stream activity. */
  listener: 'ppoppo-listener',
} as const;

export type TaskQueueName = (typeof TASK_QUEUES)[keyof typeof TASK_QUEUES];

/** Custom search attributes and their types, as the server must register them (all Keyword). */
export const SEARCH_ATTRIBUTES = {
  PpoppoCampaignId: 'Keyword',
  PpoppoCampaignStatus: 'Keyword',
  PpoppoSendRequestId: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

/** Typed keys for `typedSearchAttributes` / `upsertSearchAttributes` with a TypedSearchAttributes value. */
export const CAMPAIGN_ID_KEY = defineSearchAttributeKey('PpoppoCampaignId', SearchAttributeType.KEYWORD);
export const CAMPAIGN_STATUS_KEY = defineSearchAttributeKey('PpoppoCampaignStatus', SearchAttributeType.KEYWORD);
export const SEND_REQUEST_ID_KEY = defineSearchAttributeKey('PpoppoSendRequestId', SearchAttributeType.KEYWORD);

/** The singleton listener workflow. */
export const LISTENER_WORKFLOW_ID = 'ppoppo-listener';

export function campaignWorkflowId(campaignId: string): string {
  return `campaign/${campaignId}`;
}

/** Chunk index zero-padded to 6 digits so ids of one campaign sort in chunk order. */
export function chunkWorkflowId(campaignId: string, index: number): string {
  return `${campaignWorkflowId(campaignId)}/chunk/${String(index).padStart(6, '0')}`;
}
