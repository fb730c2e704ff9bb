// CampaignClient.recipients reads each chunk by query. A chunk that cannot answer (its history no
// longer replays on a worker) is named in the error, with the worker's reason: `report` and the
// chaos checks say which chunk, instead of a bare query failure. The Client here is a stand-in.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { CampaignClient, ChunkUnreadableError } from '../../src/client/campaigns';
import type { RecipientRecord } from '../../src/contracts/chunk';

const record = (ppnum: string) => ({ ppnum, state: 'delivered', outcome: 'delivered' }) as unknown as RecipientRecord;

function clientWith(chunks: Record<number, () => Promise<RecipientRecord[]>>): Client {
  const getHandle = (workflowId: string) => ({
    workflowId,
    query: async () => {
      if (!workflowId.includes('/chunk/')) return { chunksTotal: 3 }; // the campaign's progress
      const answer = chunks[Number(workflowId.slice(workflowId.lastIndexOf('/') + 1))];
      if (!answer) throw new WorkflowNotFoundError('not started', workflowId, undefined);
      return answer();
    },
  });
  return { workflow: { getHandle } } as unknown as Client;
}

async function readAll(campaigns: CampaignClient): Promise<RecipientRecord[]> {
  const records: RecipientRecord[] = [];
  for await (const r of campaigns.recipients('spring')) records.push(r);
  return records;
}

describe('CampaignClient.recipients', () => {
  it('reads every started chunk in order and skips the ones not started yet', async () => {
    const campaigns = new CampaignClient(clientWith({ 0: async () => [record('45600000001')], 2: async () => [record('45600000003')] }));
    expect((await readAll(campaigns)).map((r) => r.ppnum)).toEqual(['45600000001', '45600000003']);
  });

  it('names the chunk that cannot answer, with the reason, instead of a bare query failure', async () => {
    const campaigns = new CampaignClient(
      clientWith({
        0: async () => [record('45600000001')],
        1: async () => {
          throw new Error('[TMPRL1100] Nondeterminism error: Missing associated machine for LocalActivity(5)');
        },
      }),
    );
    const failure = await readAll(campaigns).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ChunkUnreadableError);
    expect(failure).toMatchObject({ campaignId: 'spring', chunkIndex: 1, workflowId: 'campaign/spring/chunk/000001' });
    expect((failure as Error).message).toBe(
      'could not read the recipients of chunk 1 of campaign spring (workflow campaign/spring/chunk/000001): [TMPRL1100] Nondeterminism error: Missing associated machine for LocalActivity(5)',
    );
  });
});
