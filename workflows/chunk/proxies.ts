// The chunk workflow's activity proxies: their queues, timeouts and retry policies in one place.
import { proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities/index';
import { sendTaskQueueFromMemo } from '../../src/contracts/campaign';
import type { ChunkInput } from '../../src/contracts/chunk';
import { TASK_QUEUES, fairnessKey } from '../../src/temporal/names';

/**
 * Short reads run as local activities: one history event each instead of a task round trip. What
 * follows each must not depend on the time or on signals (see ChunkInput.afterLocalActivities).
 */
export const { readChunkPpnums, readFollowUpOutcomes, beginSend } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Reconciliation reads the event stream for a settle period: a regular activity. */
export const { reconcileSend, snapshotOutcomes } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  // The activity heartbeats every few seconds: a dead worker costs seconds, not the full 5 minutes.
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Fallbacks are idempotent per recipient (key campaignId:ppnum), so Temporal may retry them. */
export const { sendFallbacks } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
});
/**
 * The same as a local activity, for chunks started without afterLocalActivities 'fixed' (see
 * ChunkInput: what follows a batch looks at signals, so it cannot follow a local activity safely).
 */
export const { sendFallbacks: sendFallbacksLocally } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
});

/**
 * One attempt per schedule: the workflow, not Temporal, decides whether a send may be repeated.
 * The queue is the rate-limited send queue, or the one the campaign's memo names. Its fairness key
 * is the campaign: with matching.enableFairness on the server, campaigns sending at once share the
 * queue's rate by their weights instead of first come, first served (the priority does not change
 * the commands, so recorded histories replay).
 */
export function sendActivities(input: Pick<ChunkInput, 'campaignId' | 'weight'>) {
  return proxyActivities<Activities>({
    taskQueue: sendTaskQueueFromMemo(workflowInfo().memo) ?? TASK_QUEUES.send,
    priority: { fairnessKey: fairnessKey(input.campaignId), fairnessWeight: input.weight ?? 1 },
    startToCloseTimeout: '30 seconds',
    // A dead worker mid-send is found in seconds (a send that waits heartbeats from 2.5 s on), then reconciled.
    heartbeatTimeout: '5 seconds',
    retry: { maximumAttempts: 1 },
  });
}
