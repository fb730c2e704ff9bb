// URL recipient sources against a real web server (Debian's nginx, dev/nginx.ts): planned from a
// range-capable URL, each chunk read back with its own byte-range request, exactly as from the same
// file on disk; a server that ignores ranges is refused at planning; a replaced object is refused
// at the chunk read; a presigned URL's query string never shows in a message.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRecipients, readChunkPpnums, readChunkRecipients, readDataRow } from '../../activities/recipients';
import type { RecipientPlan } from '../../activities/recipients';
import { validateSpec } from '../../src/cli/validate';
import { startNginx, type Nginx } from '../../dev/nginx';

const dir = mkdtempSync(join(tmpdir(), 'url-source-'));
const files = join(dir, 'files');
let nginx: Nginx;

beforeAll(async () => {
  mkdirSync(files);
  nginx = await startNginx({ root: files, dir: join(dir, 'nginx') });
});

afterAll(async () => {
  await nginx?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const CSV = [
  'ppnum,name,city',
  '12300000001,Ada,Seoul',
  '123,Bob,Busan', // invalid ppnum
  '12300000002,"Lee, Chan",Daegu',
  '12300000001,Ada again,Seoul', // duplicate
  '12300000003,"Multi',
  'line",Jeju',
  '12300000004,,Incheon', // missing name
  '12300000005,Eve,Ulsan',
].join('\n') + '\n';

const options = { campaignId: 'url-test', requiredVars: ['name'], chunkSize: 2, maxIssues: 100 };

async function readAll(plan: RecipientPlan) {
  const all = [];
  for (const chunk of plan.chunks) all.push(...(await readChunkRecipients({ source: chunk })));
  return all;
}

describe('a URL recipient source on nginx', () => {
  it('plans and reads every chunk back by byte range, exactly as the same file on disk', async () => {
    writeFileSync(join(files, 'list.csv'), CSV);
    const fromUrl = await planRecipients({ ...options, url: `${nginx.filesUrl}list.csv`, format: 'csv' });
    const fromFile = await planRecipients({ ...options, file: join(files, 'list.csv'), format: 'csv' });

    expect(fromUrl).toMatchObject({ total: 7, valid: 4, invalidCount: 2, duplicateCount: 1 });
    expect(fromUrl.issues).toEqual(fromFile.issues);
    expect(fromUrl.chunks.map(({ kind }) => kind)).toEqual(['url', 'url']);
    const ranges = (plan: RecipientPlan) => plan.chunks.map((c) => ('byteStart' in c ? [c.byteStart, c.byteEnd, c.firstLine, c.skipLines] : []));
    expect(ranges(fromUrl)).toEqual(ranges(fromFile));
    expect(fromUrl.chunks[0]).toMatchObject({ version: { etag: expect.stringMatching(/^"/), lastModified: expect.any(String) } });
    expect(await readAll(fromUrl)).toEqual(await readAll(fromFile));
    expect((await readAll(fromUrl)).map((r) => r.ppnum)).toEqual(['12300000001', '12300000002', '12300000003', '12300000005']);

    // Each chunk read asked for its own range (the header's range, then the chunk's), never the whole file.
    const log = readFileSync(join(dir, 'nginx', 'access.log'), 'utf8');
    expect(log).toMatch(/" 206 /);
  });

  it('refuses, at planning, a server that does not honour byte-range requests', async () => {
    writeFileSync(join(files, 'plain.csv'), CSV);
    await expect(planRecipients({ ...options, url: `${nginx.noRangesUrl}plain.csv` })).rejects.toMatchObject({
      type: 'RecipientSourceUnreadable',
      nonRetryable: true,
      message: expect.stringContaining('does not honour byte-range requests'),
    });
  });

  it('refuses to read a chunk once the object was replaced', async () => {
    const path = join(files, 'replaced.csv');
    writeFileSync(path, CSV);
    const plan = await planRecipients({ ...options, url: `${nginx.filesUrl}replaced.csv` });
    writeFileSync(path, CSV.replace('Ada', 'Adaline'));
    utimesSync(path, new Date(), new Date(Date.now() + 5_000)); // a new version even within the same second
    await expect(readChunkPpnums(plan.chunks[1]!)).rejects.toMatchObject({ type: 'RecipientSourceChanged', nonRetryable: true });
  });

  it('never shows a presigned query string, and says what a refusal means', async () => {
    const signed = `${nginx.filesUrl}missing.csv?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=deadbeefsignature`;
    const failure = await planRecipients({ ...options, url: signed }).catch((err: Error) => err);
    expect(failure).toMatchObject({ type: 'RecipientSourceUnreadable', message: expect.stringContaining('HTTP 404') });
    expect((failure as Error).message).toContain(`${nginx.filesUrl}missing.csv`);
    expect((failure as Error).message).not.toContain('deadbeefsignature');
  });

  it('refuses a loopback or private server unless RECIPIENT_URL_ALLOWED_HOSTS lists it, and follows no redirect', async () => {
    writeFileSync(join(files, 'guarded.csv'), CSV);
    const saved = process.env.RECIPIENT_URL_ALLOWED_HOSTS;
    try {
      process.env.RECIPIENT_URL_ALLOWED_HOSTS = '';
      for (const url of [`${nginx.filesUrl}guarded.csv`, 'http://169.254.169.254/latest/meta-data/iam.csv']) {
        const refused = await planRecipients({ ...options, url }).catch((err: Error) => err);
        expect(refused).toMatchObject({ type: 'RecipientSourceUnreadable', nonRetryable: true, message: expect.stringContaining('is a private or loopback address: list it in RECIPIENT_URL_ALLOWED_HOSTS to allow it') });
      }
      process.env.RECIPIENT_URL_ALLOWED_HOSTS = 'lists.example.com';
      await expect(planRecipients({ ...options, url: `${nginx.filesUrl}guarded.csv` })).rejects.toMatchObject({ message: expect.stringContaining('is not in RECIPIENT_URL_ALLOWED_HOSTS') });
    } finally {
      process.env.RECIPIENT_URL_ALLOWED_HOSTS = saved;
    }
    // A listed server that redirects (here, to the same file) is not followed.
    const redirecting = createServer((_req, res) => res.writeHead(302, { location: `${nginx.filesUrl}guarded.csv` }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/list.csv`;
      await expect(planRecipients({ ...options, url })).rejects.toMatchObject({ type: 'RecipientSourceUnreadable', message: expect.stringContaining('answered with a redirect (HTTP 302)') });
    } finally {
      await new Promise((resolve) => redirecting.close(resolve));
    }
  });

  it('is checked by `campaign validate` through the same planning', async () => {
    writeFileSync(join(files, 'validate.csv'), CSV);
    const report = await validateSpec({
      campaignId: 'url-validate',
      template: { name: 't', components: [{ type: 'text', content: 'Hi {{name}}' }] },
      recipients: { url: `${nginx.filesUrl}validate.csv?sig=abc` },
    });
    expect(report).toMatchObject({ ok: false, valid: 4, invalid: 2, duplicates: 1 });
    expect(report.rowIssues.map((issue) => [issue.line, issue.field])).toEqual([[3, 'ppnum'], [5, 'ppnum'], [8, 'vars.name']]);
  });

  it('groups recipients by time zone as a file does, and `campaign validate` names a row with an unknown zone by line', async () => {
    const zoned = 'ppnum,name,tz\n12300000001,A,Europe/Berlin\n12300000002,B,\n12300000003,C,Europe/Berln\n12300000004,D,Europe/Berlin\n';
    writeFileSync(join(files, 'zoned.csv'), zoned);
    const timeZones = { column: 'tz', fallback: 'Asia/Seoul' };
    const fromUrl = await planRecipients({ ...options, url: `${nginx.filesUrl}zoned.csv`, format: 'csv', timeZones });
    const fromFile = await planRecipients({ ...options, file: join(files, 'zoned.csv'), format: 'csv', timeZones });
    expect(fromUrl.chunks.map((c) => (c.kind === 'url' ? [c.timeZone, c.count] : []))).toEqual([['Asia/Seoul', 1], ['Europe/Berlin', 2]]);
    expect(fromUrl.issues).toEqual(fromFile.issues);
    expect((await readAll(fromUrl)).map((r) => r.ppnum)).toEqual(['12300000002', '12300000001', '12300000004']);
    const report = await validateSpec(
      {
        campaignId: 'url-zones',
        template: { name: 't', components: [{ type: 'text', content: 'Hi {{name}}' }] },
        recipients: { url: `${nginx.filesUrl}zoned.csv`, timeZoneColumn: 'tz' },
        sendWindow: { from: '09:00', until: '20:00', timeZone: 'Asia/Seoul' },
      },
      {},
    );
    expect(report).toMatchObject({ ok: false, valid: 3, invalid: 1 });
    expect(report.rowIssues).toEqual([{ line: 4, ppnum: '12300000003', field: 'vars.tz', message: expect.stringContaining('is not an IANA name') }]);
  });

  it('applies the row checks of a file: Latin-1 when told, the size limit by line and variable, the fallback address column; previews a row', async () => {
    writeFileSync(join(files, 'latin1.csv'), Buffer.from('ppnum,name,email\n12300000001,José,\n12300000002,Zoë,z@x.example\n', 'latin1'));
    const latin1 = await planRecipients({ ...options, url: `${nginx.filesUrl}latin1.csv`, format: 'csv', encoding: 'latin1', requiredColumns: ['email'] });
    expect(latin1).toMatchObject({ valid: 2, invalidCount: 0 });
    expect(latin1.chunks).toEqual([expect.objectContaining({ kind: 'url', encoding: 'latin1' })]);
    expect((await readAll(latin1)).map((r) => r.vars.name)).toEqual(['José', 'Zoë']);
    const asUtf8 = await planRecipients({ ...options, url: `${nginx.filesUrl}latin1.csv`, format: 'csv' });
    expect(asUtf8.issues.map((issue) => [issue.line, issue.field, issue.message])).toEqual([
      [2, 'row', expect.stringContaining('not UTF-8')],
      [3, 'row', expect.stringContaining('not UTF-8')],
    ]);
    const noAddress = await planRecipients({ ...options, url: `${nginx.filesUrl}list.csv`, format: 'csv', requiredColumns: ['email'] });
    expect(noAddress.issues[0]).toMatchObject({ line: 1, field: 'vars.email' });

    writeFileSync(join(files, 'big.csv'), `ppnum,name,note\n12300000001,Ann,short\n12300000002,Bob,${'x'.repeat(10_000_000)}\n`);
    const big = await planRecipients({ ...options, url: `${nginx.filesUrl}big.csv`, format: 'csv' });
    expect(big).toMatchObject({ valid: 1, invalidCount: 1 });
    expect(big.issues).toEqual([{ line: 3, ppnum: '12300000002', field: 'vars.note', message: expect.stringMatching(/^the recipient takes 10,000,0\d\d bytes \(vars\.note alone 10,000,000\)/) }]);

    const row = await readDataRow({ url: `${nginx.filesUrl}latin1.csv?X-Amz-Signature=s`, format: 'csv', encoding: 'latin1', row: 2 });
    expect(row).toEqual({ line: 3, parsed: { ok: true, recipient: { ppnum: '12300000002', vars: { name: 'Zoë', email: 'z@x.example' } } } });
    expect(await readDataRow({ url: `${nginx.filesUrl}latin1.csv`, format: 'csv', encoding: 'latin1', row: 3 })).toBeUndefined();
  });
});
