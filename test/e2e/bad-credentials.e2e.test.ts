// Wrong API credentials are a fault of the set-up, never a recipient's outcome. The whole stack runs
// as real processes (Temporal dev server, sandbox, worker, listener): a campaign is paused, its
// worker killed and started again with a wrong PAS_PCS_CLIENT_SECRET, the campaign resumed. It must
// park with the reason and fail nobody; once the worker runs with the right secret again, it
// carries on by itself and completes with exact outcomes, nobody messaged twice.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CampaignSpec } from '../../src/campaign/spec';
import { countRecipients } from '../../src/campaign/outcomes';
import { chunkProgressQuery, chunkRecipientsQuery, chunkWorkflowId } from '../../src/contracts/chunk';
import { ManagedProcess } from '../../dev/stack/managed-process';
import { ledgerOutcome } from '../../dev/chaos/checks';
import { useDeliveringStack } from '../support/process-stack';
import { pollUntil } from '../support/temporal';

// Every derived ppnum is delivered: any 'failed' would be ours.
const processes = useDeliveringStack('bad-credentials');
const { dir } = processes;

/** The same worker process (script, heap cap) with other environment and its own log. */
function workerWith(name: string, env: NodeJS.ProcessEnv): ManagedProcess {
  const spec = processes.stack.workers[0]!.spec;
  return new ManagedProcess({ ...spec, name, env, logFile: join(dir, `${name}.log`) });
}

describe('a worker restarted with a wrong client secret', () => {
  it('parks the campaign with the reason and fails nobody; with the right secret it completes, nobody messaged twice', async () => {
    const { stack } = processes;
    const ppnums = Array.from({ length: 30 }, (_, i) => String(45810000000 + i));
    const file = join(dir, 'recipients.csv');
    writeFileSync(file, `ppnum,name\n${ppnums.map((p, i) => `${p},P${i}`).join('\n')}\n`);
    const campaignId = 'bad-credentials';
    const spec: CampaignSpec = {
      campaignId,
      template: { name: 'bad-credentials', components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { file, format: 'csv' },
      consentWindow: '1m',
      limits: { chunkSize: 5, sendsPerChunk: 1, chunksInFlight: 1 },
    };
    const { campaigns } = stack;
    await campaigns.startCampaign(spec);
    await pollUntil('two chunks sent', () => campaigns.getProgress(campaignId), (p) => p.chunksSent >= 2, 120_000);
    await campaigns.pause(campaignId);

    const [goodWorker] = stack.workers;
    await goodWorker!.kill('SIGKILL');
    const badWorker = workerWith('worker-bad-secret', { ...stack.env, PAS_PCS_CLIENT_SECRET: 'not-the-secret' });
    await badWorker.start();
    try {
      await campaigns.resume(campaignId);
      const parked = await pollUntil('parked on credentials', () => campaigns.getProgress(campaignId), (p) => p.status === 'parked' && p.parkedReason === 'credentials', 90_000);
      expect(parked.parkedMessage).toContain('invalid_client');
      expect(parked.counts.failed).toBe(0);
      const status = await campaigns.status(campaignId);
      expect(status.workflowStatus).toBe('RUNNING');
      // The held chunk's recipients wait without an outcome. Between its tries they are queued
      // (during one they are 'sending', and its try may wait for the rate-limited send queue). If
      // its send had reached the killed worker, the chunk reconciles instead, and that needs the API
      // too: its recipients stay 'sending' until the secret is right (a busy machine makes this
      // likelier: the send is more often out before the pause).
      const heldChunk = stack.client.workflow.getHandle(chunkWorkflowId(campaignId, parked.chunksSent));
      const held = await pollUntil(
        'the held chunk waiting (between tries, or reconciling)',
        async () => ({ phase: (await heldChunk.query(chunkProgressQuery)).phase, records: await heldChunk.query(chunkRecipientsQuery) }),
        ({ phase, records }) => phase === 'reconciling' || records.every((r) => r.state === 'queued'),
        60_000,
      );
      expect(held.records.map((r) => r.outcome ?? null)).toEqual(held.records.map(() => null));
      if (held.phase === 'reconciling') expect(held.records.map((r) => r.state)).toEqual(held.records.map(() => 'sending'));
      else expect(held.records[0]!.history.map((h) => h.event)).toContain('held: API credentials refused (UNAUTHENTICATED)');
      // It stays parked while the secret is wrong, still failing nobody.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(await campaigns.getProgress(campaignId)).toMatchObject({ status: 'parked', counts: { failed: 0 } });
    } finally {
      await badWorker.kill('SIGKILL');
    }

    await goodWorker!.start(); // the right secret again: no resume needed
    const result = await campaigns.result(campaignId);
    expect(result).toMatchObject({ status: 'completed', total: 30, chunks: 6 });
    expect(result.counts).toMatchObject({ delivered: 30, failed: 0, expired: 0, invalid: 0, cancelled: 0 });
    expect(countRecipients(result.counts)).toBe(30);

    const ledger = (await stack.inspector.messages()).filter((entry) => ppnums.includes(entry.ppnum));
    expect(ledger.map((entry) => entry.ppnum).sort()).toEqual([...ppnums].sort()); // each exactly once
    expect(await stack.inspector.duplicates()).toEqual([]);
    expect(ledger.every((entry) => ledgerOutcome(entry) === 'delivered')).toBe(true);
  }, 420_000);
});
