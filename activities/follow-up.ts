// Follow-up campaigns (`campaign retry <id> --outcome …`): their recipients are those of an earlier
// campaign that ended with one outcome. Only ids travel in the follow-up's histories (the original
// campaign, chunk index and outcome): this reader asks the original's closed chunk workflows who
// they were (the `recipients` query), and reads their variables from each original chunk's own
// source (the `source` query: an inline list, a file byte range, or an earlier follow-up).
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import type { RecipientInput } from '../src/api/types';
import type { ChunkSource, FollowUpChunkSource } from '../src/campaign/chunk-source';
import type { RecipientOutcome, RetryOutcome } from '../src/campaign/outcomes';
import { campaignWorkflowId, progressQuery } from '../src/contracts/campaign';
import { chunkRecipientsQuery, chunkSourceQuery, chunkWorkflowId } from '../src/contracts/chunk';
import type { RecipientRecord } from '../src/contracts/chunk';
import { heartbeat, withKeepAlive } from './heartbeat';

export interface FollowUpPlan {
  /** The original chunks that hold recipients with the outcome, one follow-up chunk each. */
  chunks: FollowUpChunkSource[];
  /** Recipients per follow-up chunk. */
  sizes: number[];
  total: number;
}

/** Whether a recipient of the original campaign is one to retry for `outcome`; a delivered one never is. */
export function isRetried(record: RecipientRecord, outcome: RetryOutcome): boolean {
  if (record.outcome === 'delivered') return false;
  return outcome === 'fallback-failed' ? record.fallback === 'failed' : record.outcome === outcome;
}

export type FollowUpReader = ReturnType<typeof createFollowUpReader>;

export function createFollowUpReader(client: Client) {
  const chunk = (source: Pick<FollowUpChunkSource, 'campaignId' | 'chunkIndex'>) => client.workflow.getHandle(chunkWorkflowId(source.campaignId, source.chunkIndex));

  async function retried(source: FollowUpChunkSource): Promise<RecipientRecord[]> {
    const records = await withKeepAlive(() => chunk(source).query(chunkRecipientsQuery));
    return records.filter((record) => isRetried(record, source.outcome));
  }

  /** The original campaign must have ended: its chunks' outcomes are then final, and reading them again finds the same. */
  async function plan(input: { campaignId: string; outcome: RetryOutcome }): Promise<FollowUpPlan> {
    const original = client.workflow.getHandle(campaignWorkflowId(input.campaignId));
    const description = await original.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) throw ApplicationFailure.nonRetryable(`there is no campaign "${input.campaignId}" to retry`, 'FollowUpSourceMissing');
      throw err;
    });
    if (description.status.name === 'RUNNING') {
      throw ApplicationFailure.nonRetryable(`campaign ${input.campaignId} is still running: retry its recipients once it has finished`, 'FollowUpSourceRunning');
    }
    const { chunksTotal } = await original.query(progressQuery);
    const followUp: FollowUpPlan = { chunks: [], sizes: [], total: 0 };
    for (let chunkIndex = 0; chunkIndex < chunksTotal; chunkIndex++) {
      heartbeat({ chunkIndex });
      const source: FollowUpChunkSource = { kind: 'followUp', campaignId: input.campaignId, chunkIndex, outcome: input.outcome, count: 0 };
      let count: number;
      try {
        count = (await retried(source)).length;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) continue; // never started (the original was cancelled first)
        throw err;
      }
      if (count === 0) continue;
      followUp.chunks.push({ ...source, count });
      followUp.sizes.push(count);
      followUp.total += count;
    }
    return followUp;
  }

  /** Who to retry from this original chunk, and how they ended there. */
  async function outcomes(source: FollowUpChunkSource): Promise<{ ppnum: string; outcome: RecipientOutcome }[]> {
    return (await retried(source)).map((record) => ({ ppnum: record.ppnum, outcome: record.outcome! }));
  }

  /** Their variables, from the original chunk's own source (read by `readOriginal`). */
  async function recipients(source: FollowUpChunkSource, readOriginal: (original: ChunkSource, ppnums: string[]) => Promise<RecipientInput[]>): Promise<RecipientInput[]> {
    const ppnums = (await retried(source)).map((record) => record.ppnum);
    const original = await withKeepAlive(() => chunk(source).query(chunkSourceQuery));
    return readOriginal(original, ppnums);
  }

  return { plan, outcomes, recipients };
}
