// What a chunk tells its campaign about itself besides sent/finished: that a fault holds it (the
// campaign parks and shows why), and that it got going again. Signalled by workflow id, so the
// reports survive the campaign's continue-as-new.
import { getExternalWorkflowHandle, log } from '@temporalio/workflow';
import { chunkParkedSignal, chunkUnparkedSignal } from '../../src/contracts/campaign';
import type { ChunkParkedPayload } from '../../src/contracts/campaign';
import type { ChunkInput } from '../../src/contracts/chunk';
import { innermostMessage } from '../../src/temporal/failures';
import type { ChunkState } from './state';

/** Signals the campaign by workflow id (survives its continue-as-new); a missing campaign is only logged. */
export async function signalCampaign(input: ChunkInput, send: (campaign: ReturnType<typeof getExternalWorkflowHandle>) => Promise<void>): Promise<void> {
  try {
    await send(getExternalWorkflowHandle(input.parentWorkflowId));
  } catch (err) {
    log.warn('could not signal the campaign workflow', { campaign: input.parentWorkflowId, error: innermostMessage(err) });
  }
}

/** The campaign parks for this chunk's configuration fault (sent once per fault, not per retry). */
export function reportBlocked(input: ChunkInput, chunk: ChunkState): Promise<void> {
  const block = chunk.blocked;
  if (!block) return Promise.resolve();
  const parked: ChunkParkedPayload = { chunkIndex: input.chunkIndex, until: block.retryAt, reason: block.reason, message: block.message, since: block.since };
  return signalCampaign(input, (campaign) => campaign.signal(chunkParkedSignal, parked));
}

/** The fault cleared without a send to say so (e.g. the fallback channel answers again). */
export async function reportUnblocked(input: ChunkInput, chunk: ChunkState): Promise<void> {
  if (chunk.unblock()) await signalCampaign(input, (campaign) => campaign.signal(chunkUnparkedSignal, { chunkIndex: input.chunkIndex }));
}
