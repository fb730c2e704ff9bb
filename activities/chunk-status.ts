// What became of a chunk workflow that an earlier run of the campaign started. A restarted
// campaign (the old run was terminated, or the same campaign id is started again) finds its chunk
// ids taken (REJECT_DUPLICATE: a chunk is never started, so never sent, twice) and asks here
// instead: a closed chunk never signals again, so the campaign adopts its result.
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { chunkProgressQuery } from '../src/contracts/chunk';
import type { ChunkResult } from '../src/contracts/chunk';
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
  return { describeChunk };
}
