// Per-recipient send windows on the real stack, as separate processes (Temporal dev server, sandbox,
// worker, listener): recipients in two time zones, the window open in one and opening in ~40 s in
// the other. The open zone's recipients go at once; the other zone's chunks wait in the campaign
// while its worker is killed (SIGKILL) and started again, and go only once their window opens.
// Checked against the sandbox's ledger: every recipient accepted once, nobody before their window.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { countRecipients } from '../../src/campaign/outcomes';
import type { CampaignSpec } from '../../src/campaign/spec';
import { timingText } from '../../src/campaign/timing';
import { useDeliveringStack } from '../support/process-stack';
import { pollUntil } from '../support/temporal';
import { fixedZone, offsetWhereItIs } from '../support/time-zones';

const processes = useDeliveringStack('time-zones');

describe('recipients in two time zones', () => {
  it('sends the open zone at once and the closed zone only once its window opens, across a worker kill while it waits; nobody twice or early', async () => {
    const { stack, dir } = processes;
    // 10:xx where the window is about to open, 11:xx one zone east, where the same local hours are open now.
    const offset = offsetWhereItIs(10);
    const later = fixedZone(offset);
    const east = fixedZone(offset + 1);
    const opensAt = Math.ceil((Date.now() + 40_000) / 1_000) * 1_000;
    const sendWindow = { from: later.local(opensAt), until: later.local(opensAt + 2 * 3_600_000), timeZone: east.timeZone };

    const eastPpnums = Array.from({ length: 7 }, (_, i) => String(45910000000 + i));
    const laterPpnums = Array.from({ length: 6 }, (_, i) => String(45920000000 + i));
    // Interleaved rows; two east rows leave the zone empty (sendWindow.timeZone is theirs).
    const rows = eastPpnums.map((ppnum, i) => `${ppnum},E${i},${i < 2 ? '' : east.timeZone}`).flatMap((row, i) => (laterPpnums[i] ? [row, `${laterPpnums[i]},L${i},${later.timeZone}`] : [row]));
    const file = join(dir, 'recipients.csv');
    writeFileSync(file, `ppnum,name,tz\n${rows.join('\n')}\n`);
    const campaignId = 'two-time-zones';
    const spec: CampaignSpec = {
      campaignId,
      template: { name: 'two-time-zones', components: [{ type: 'text', content: 'Hello {{name}}' }] },
      recipients: { file, format: 'csv', timeZoneColumn: 'tz' },
      sendWindow,
      consentWindow: '1m',
      // Chunks of two requests of 3: a zone's chunk holds its window for each of its requests.
      limits: { chunkSize: 3, sendsPerChunk: 2, chunksInFlight: 2 },
    };
    const { campaigns } = stack;
    await campaigns.startCampaign(spec);

    // East: 7 recipients in chunks of 6 (requests of 3, 3) and 1; the later zone's 6 in one chunk (3, 3) wait.
    const waiting = await pollUntil('the open zone sent, the other waiting', () => campaigns.getProgress(campaignId), (p) => p.chunksSent >= 2, 120_000);
    expect(Date.now()).toBeLessThan(opensAt); // else the test proves nothing: the window was open already
    expect(waiting).toMatchObject({ chunksTotal: 3, chunksStarted: 2, pendingTimeZones: [later.timeZone] });
    expect(timingText(waiting)).toContain(`send window opens ${later.local(opensAt).slice(0, 5)} ${later.timeZone} (${new Date(opensAt).toISOString()}`);

    // The worker dies while the chunks wait for their window, and comes back.
    const [worker] = stack.workers;
    await worker!.kill('SIGKILL');
    await sleep(2_000);
    await worker!.start();

    const result = await campaigns.result(campaignId);
    expect(result).toMatchObject({ status: 'completed', total: 13, chunks: 3 });
    expect(result.counts).toMatchObject({ delivered: 13, failed: 0, invalid: 0 });
    expect(countRecipients(result.counts)).toBe(13);

    const ledger = (await stack.inspector.messages()).filter((entry) => eastPpnums.includes(entry.ppnum) || laterPpnums.includes(entry.ppnum));
    expect(ledger.map((entry) => entry.ppnum).sort()).toEqual([...eastPpnums, ...laterPpnums].sort()); // each exactly once
    expect(await stack.inspector.duplicates()).toEqual([]);
    const acceptedAt = (ppnum: string) => Date.parse(ledger.find((entry) => entry.ppnum === ppnum)!.acceptedAt!);
    for (const ppnum of eastPpnums) expect(acceptedAt(ppnum), ppnum).toBeLessThan(opensAt);
    for (const ppnum of laterPpnums) expect(acceptedAt(ppnum), ppnum).toBeGreaterThanOrEqual(opensAt);
  }, 420_000);
});
