// What became of a chunk workflow that an earlier run of the campaign started. A restarted
// campaign (the old run was terminated, or the same campaign id is started again) finds its chunk
// ids taken (REJECT_DUPLICATE: a chunk is never started, so never sent, twice) and asks here
// instead: a closed chunk never signals again, so the campaign adopts its result.
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { chunkProgressQuery, chunkWorkflowId } from '../src/contracts/chunk';
import type { ChunkInput, ChunkResult } from '../src/contracts/chunk';
import { decodePayloads } from '../src/temporal/data-converter';
import { withKeepAlive } from './heartbeat';

export type ChunkStatus =
  /** Still running: it will signal the campaign (by workflow id) as usual. */
  | { state: 'running'; sendRequestId?: string; recipients: number }
  | { state: 'completed'; result: ChunkResult }
  /** Failed, terminated, cancelled or timed out: no result to adopt. */
  | { state: 'closed'; status: string };

export function createChunkStatusActivities(deps: { temporalClient?: Client }) {
  async function describeChunk(input: { workflowId: string }): Promise<ChunkStatus> {
    const client = deps.temporalClient;
    if (!client) throw ApplicationFailure.nonRetryable('describeChunk needs a Temporal client (ActivityDeps.temporalClient)', 'MissingDependency');
    const handle = client.workflow.getHandle(input.workflowId);
    // A query waits for a worker to answer: keep heartbeating meanwhile.
    return withKeepAlive(async (): Promise<ChunkStatus> => {
      const { status } = await handle.describe();
      if (status.name === 'COMPLETED') return { state: 'completed', result: (await handle.result()) as ChunkResult };
      if (status.name !== 'RUNNING') return { state: 'closed', status: status.name };
      const progress = await handle.query(chunkProgressQuery);
      // 'finished': its chunkFinished signal may have gone to the old run; it completes at once.
      if (progress.phase === 'finished') return { state: 'completed', result: (await handle.result()) as ChunkResult };
      // Sent as several requests and still sending: its chunkSent comes with the last.
      const sending = progress.sendRequests !== undefined && progress.sendRequests.sent < progress.sendRequests.total && progress.phase !== 'sent';
      return { state: 'running', sendRequestId: sending ? undefined : progress.sendRequestId, recipients: progress.recipients };
    });
  }
  /**
   * The requests per chunk an earlier run of this campaign planned, read from the input its first
   * chunk was started with (null: no earlier run started a chunk). A restart plans the same way, so
   * every chunk id it finds taken holds the recipients it plans for it, whatever the default is now.
   */
  async function plannedSendsPerChunk(input: { campaignId: string }): Promise<number | null> {
    const client = deps.temporalClient;
    if (!client) throw ApplicationFailure.nonRetryable('plannedSendsPerChunk needs a Temporal client (ActivityDeps.temporalClient)', 'MissingDependency');
    const handle = client.workflow.getHandle(chunkWorkflowId(input.campaignId, 0));
    try {
      await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
    // Every run of a chunk (continued as new too) starts with the input the campaign gave it.
    const started = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
    const { payloadCodecs, payloadConverter } = client.options.loadedDataConverter;
    const payloads = await decodePayloads(payloadCodecs, started?.input?.payloads ?? []);
    if (payloads.length === 0) return null;
    const chunk = payloadConverter.fromPayload<ChunkInput>(payloads[0]!);
    if (chunk.requestSize === undefined) return 1;
    const recipients = chunk.plannedRecipients ?? (chunk.source.kind === 'inline' ? chunk.source.recipients.length : undefined);
    // A chunk of n recipients sent as requests of requestSize: the same plan as ceil(n / requestSize) per chunk.
    return recipients === undefined ? null : Math.max(1, Math.ceil(recipients / chunk.requestSize));
  }

  return { describeChunk, plannedSendsPerChunk };
}
