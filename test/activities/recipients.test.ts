import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReadsForSend, planRecipients, readChunkPpnums, readChunkRecipients } from '../../activities/recipients';
import type { RecipientPlan } from '../../activities/recipients';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import { parseCsvFields, readRecordBatches } from '../../activities/recipient-file';
import type { FileRecord } from '../../activities/recipient-file';

const dir = mkdtempSync(join(tmpdir(), 'recipients-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function writeTemp(content: string, ext = 'csv'): string {
  const path = join(dir, `file-${fileCounter++}.${ext}`);
  writeFileSync(path, content);
  return path;
}

const plan = (file: string, format: 'csv' | 'ndjson', opts: { requiredVars?: string[]; chunkSize?: number; maxIssues?: number } = {}) =>
  planRecipients({ campaignId: 'c1', file, format, requiredVars: opts.requiredVars ?? [], chunkSize: opts.chunkSize ?? 1000, maxIssues: opts.maxIssues ?? 100 });

async function readAll(p: RecipientPlan) {
  const all = [];
  for (const chunk of p.chunks) all.push(...(await readChunkRecipients({ source: chunk })));
  return all;
}

describe('parseCsvFields', () => {
  it('handles quotes, escaped quotes, commas and newlines inside quotes', () => {
    expect(parseCsvFields('a,"b,c","say ""hi""","x\ny",')).toEqual({ fields: ['a', 'b,c', 'say "hi"', 'x\ny', ''] });
    expect(parseCsvFields('""')).toEqual({ fields: [''] });
  });
  it('cuts the same records however the bytes arrive in blocks (quotes, CRLF, quoted line breaks, bad UTF-8 across block edges)', async () => {
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pieces = ['a', ',', '"', '""', '\n', '\r\n', 'é', '\xff', '12300000001', ' '].map((p) => (p === '\xff' ? Buffer.from([0xff]) : Buffer.from(p)));
    const records = async (blocks: Buffer[], format: 'csv' | 'ndjson', encoding: 'utf8' | 'latin1') => {
      const out: FileRecord[] = [];
      for await (const batch of readRecordBatches((async function* () { yield* blocks; })(), format, { start: 5, firstLine: 3 }, encoding)) out.push(...batch);
      return out;
    };
    let compared = 0;
    for (let file = 0; file < 100; file++) {
      const bytes = Buffer.concat(Array.from({ length: random(300) }, () => pieces[random(pieces.length)]!));
      const cuts: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + random(40);
        cuts.push(bytes.subarray(at, at + size));
        at += size;
      }
      for (const format of ['csv', 'ndjson'] as const) {
        for (const encoding of ['utf8', 'latin1'] as const) {
          const whole = await records([bytes], format, encoding);
          expect(await records(cuts, format, encoding), `file ${file}, ${format}, ${encoding}`).toEqual(whole);
          compared += whole.length;
        }
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('rejects malformed quoting with a readable reason', () => {
    expect(parseCsvFields('a,b"c')).toEqual({ error: expect.stringContaining('field 2 contains a quote') });
    expect(parseCsvFields('"ab"c,d')).toEqual({ error: expect.stringContaining('text after its closing quote') });
    expect(parseCsvFields('"abc')).toEqual({ error: expect.stringContaining('never closed') });
  });
});

describe('planRecipients + readChunk* on CSV', () => {
  it('plans valid rows, reports bad rows by line and field, and reads chunks back identically', async () => {
    const csv = [
      'ppnum,first_name,city', // line 1
      '12300000001,Ada,Seoul', // 2
      '123,Bob,Busan', // 3 bad ppnum
      '12300000002,"Lee, Chan","Da""egu"', // 4 quoted
      '12300000003,,Incheon', // 5 missing first_name
      '12300000001,Ada again,Seoul', // 6 duplicate of line 2
      '12300000004,"Multi', // 7 quoted newline spans 7-8
      'line",Jeju',
      '12300000005,Eve', // 9 too few fields
      '', // 10 blank: ignored
      '12300000006,Kim,"x"y', // 11 malformed quoting
      '12300000007,Park,Gwangju', // 12
    ].join('\r\n') + '\r\n';
    const file = writeTemp(csv);
    const p = await plan(file, 'csv', { requiredVars: ['first_name'], chunkSize: 2 });
    expect(p).toMatchObject({ total: 9, valid: 4, invalidCount: 4, duplicateCount: 1 });
    expect(p.issues.map((i) => [i.line, i.field])).toEqual([
      [3, 'ppnum'], [5, 'vars.first_name'], [6, 'ppnum'], [9, 'row'], [11, 'row'],
    ]);
    expect(p.issues[2]?.message).toContain('line 2');
    expect(p.issues[1]?.ppnum).toBe('12300000003');
    expect(p.chunks).toHaveLength(2);
    expect(p.chunks[0]).toMatchObject({ kind: 'file', firstLine: 2, skipLines: [3] });
    expect(p.chunks[1]).toMatchObject({ firstLine: 7, skipLines: [9, 11] });

    const recipients = await readAll(p);
    expect(recipients).toEqual([
      { ppnum: '12300000001', vars: { first_name: 'Ada', city: 'Seoul' } },
      { ppnum: '12300000002', vars: { first_name: 'Lee, Chan', city: 'Da"egu' } },
      { ppnum: '12300000004', vars: { first_name: 'Multi\r\nline', city: 'Jeju' } },
      { ppnum: '12300000007', vars: { first_name: 'Park', city: 'Gwangju' } },
    ]);
    expect(await readChunkPpnums(p.chunks[1]!)).toEqual(['12300000004', '12300000007']);
    expect(await readChunkRecipients({ source: p.chunks[1]!, ppnums: ['12300000007'] })).toHaveLength(1);
  });

  it('rejects a header without the ppnum column or a required variable column', async () => {
    const noPpnum = await plan(writeTemp('phone,name\n12300000001,A\n'), 'csv');
    expect(noPpnum).toMatchObject({ total: 1, valid: 0, invalidCount: 1, chunks: [] });
    expect(noPpnum.issues).toEqual([expect.objectContaining({ line: 1, field: 'ppnum' })]);
    const noVar = await plan(writeTemp('ppnum,name\n12300000001,A\n'), 'csv', { requiredVars: ['first_name'] });
    expect(noVar.issues).toEqual([expect.objectContaining({ line: 1, field: 'vars.first_name', message: expect.stringContaining('first_name') })]);
  });

  it('caps issues but keeps counting', async () => {
    const rows = ['ppnum'];
    for (let i = 0; i < 50; i++) rows.push('bad');
    const p = await plan(writeTemp(rows.join('\n')), 'csv', { maxIssues: 5 });
    expect(p.issues).toHaveLength(5);
    expect(p.invalidCount).toBe(50);
  });

  it('reports a missing file as a non-retryable failure', async () => {
    await expect(plan(join(dir, 'nope.csv'), 'csv')).rejects.toMatchObject({ type: 'RecipientSourceUnreadable', nonRetryable: true });
  });

  it('detects a file that changed after planning', async () => {
    const file = writeTemp('ppnum,name\n12300000001,A\n12300000002,B\n');
    const p = await plan(file, 'csv');
    writeFileSync(file, 'ppnum,name\n12300000001,A\nxxxxxxxxxxx,B\n');
    await expect(readChunkPpnums(p.chunks[0]!)).rejects.toMatchObject({ type: 'RecipientSourceChanged' });
  });

  it('hands the rows the chunk read to the send that follows, once: the send sends what the chunk loaded', async () => {
    const file = writeTemp('ppnum,name\n12300000001,A\n12300000002,B\n');
    const p = await plan(file, 'csv', { requiredVars: ['name'] });
    expect(await readChunkPpnums(p.chunks[0]!)).toEqual(['12300000001', '12300000002']);
    writeFileSync(file, 'ppnum,name\n12300000001,A\nxxxxxxxxxxx,B\n'); // changed after the chunk's read
    expect(await readChunkRecipients({ source: p.chunks[0]! })).toEqual([
      { ppnum: '12300000001', vars: { name: 'A' } },
      { ppnum: '12300000002', vars: { name: 'B' } },
    ]);
    // Handed over once: a second send (a retry) reads the file itself, and finds the change.
    await expect(readChunkRecipients({ source: p.chunks[0]! })).rejects.toMatchObject({ type: 'RecipientSourceChanged' });
  });
});

describe('ReadsForSend', () => {
  const source = (byteStart: number): ChunkSource => ({ kind: 'file', path: '/x.csv', format: 'csv', skipLines: [], byteStart, byteEnd: byteStart + 10, firstLine: 2, count: 1 });
  const rows = [{ ppnum: '12300000001', vars: {} }];

  it('hands rows over once, within its time, and keeps only the newest entries', () => {
    const reads = new ReadsForSend(2, 1_000);
    reads.put(source(0), rows, 0);
    expect(reads.take(source(0), undefined, 999)).toEqual(rows);
    expect(reads.take(source(0), undefined, 999)).toBeUndefined(); // once
    reads.put(source(0), rows, 0);
    expect(reads.take(source(0), undefined, 1_000)).toBeUndefined(); // too old
    for (const start of [0, 10, 20]) reads.put(source(start), rows, 0);
    expect([0, 10, 20].map((start) => reads.take(source(start), undefined, 1) !== undefined)).toEqual([false, true, true]);
    reads.put({ kind: 'inline', recipients: rows }, rows, 0);
    expect(reads.take({ kind: 'inline', recipients: rows }, undefined, 1)).toBeUndefined(); // inline rows are in the input anyway
  });

  it("hands a chunk sent as several requests each request's turn once, until every part had it", () => {
    const reads = new ReadsForSend(2, 1_000);
    const three = [...rows, { ppnum: '12300000002', vars: {} }, { ppnum: '12300000003', vars: {} }];
    reads.put(source(0), three, 0);
    expect(reads.take(source(0), { offset: 0, count: 2 }, 10)).toEqual(three);
    expect(reads.take(source(0), { offset: 0, count: 2 }, 20)).toBeUndefined(); // the first request again (a retry) reads the source
    expect(reads.take(source(0), { offset: 2, count: 1 }, 30)).toEqual(three);
    reads.put(source(10), three, 0);
    expect(reads.take(source(10), { offset: 2, count: 1 }, 1_000)).toBeUndefined(); // too old
  });
});

describe('planRecipients + readChunk* on NDJSON', () => {
  it('accepts nested and flat objects and reports bad lines', async () => {
    const lines = [
      '{"ppnum":"12300000001","vars":{"first_name":"Ada","n":3}}', // 1
      '{"ppnum":"12300000002","first_name":"Bo"}', // 2 flat
      '{"ppnum":12300000003,"first_name":"C"}', // 3 number ppnum
      'not json', // 4
      '{"ppnum":"12300000004"}', // 5 missing var
      '{"ppnum":"12300000002","first_name":"dup"}', // 6 duplicate
      '{"ppnum":"12300000005","vars":{"first_name":"E","x":{"y":1}}}', // 7 object var
      '{"ppnum":"12300000006","vars":{"first_name":"F"}}', // 8
    ];
    const file = writeTemp(lines.join('\n'), 'ndjson'); // no trailing newline
    const p = await plan(file, 'ndjson', { requiredVars: ['first_name'], chunkSize: 1000 });
    expect(p).toMatchObject({ total: 8, valid: 3, invalidCount: 4, duplicateCount: 1 });
    expect(p.issues.map((i) => [i.line, i.field])).toEqual([[3, 'ppnum'], [4, 'row'], [5, 'vars.first_name'], [6, 'ppnum'], [7, 'vars.x']]);
    expect(p.chunks).toEqual([expect.objectContaining({ firstLine: 1, skipLines: [3, 4, 5, 6, 7] })]);
    expect(await readAll(p)).toEqual([
      { ppnum: '12300000001', vars: { first_name: 'Ada', n: '3' } },
      { ppnum: '12300000002', vars: { first_name: 'Bo' } },
      { ppnum: '12300000006', vars: { first_name: 'F' } },
    ]);
  });
});

describe('large files', () => {
  it('plans 50,000 CSV rows into chunks that read back every valid recipient exactly once', async () => {
    const file = join(dir, 'big.csv');
    const out = createWriteStream(file);
    out.write('ppnum,first_name,note\n');
    const rows = 50_000;
    for (let i = 0; i < rows; i++) {
      // every 997th row is invalid, every 1,009th row duplicates the row before it
      const ppnum = i % 997 === 500 ? 'x' : String(20000000000 + (i % 1009 === 7 ? i - 1 : i));
      if (!out.write(`${ppnum},Name ${i},"quoted, ""${i}"""\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');

    const p = await plan(file, 'csv', { requiredVars: ['first_name'], chunkSize: 1000, maxIssues: 10 });
    const invalid = Array.from({ length: rows }, (_, i) => i).filter((i) => i % 997 === 500).length;
    const dups = Array.from({ length: rows }, (_, i) => i).filter((i) => i % 1009 === 7 && (i - 1) % 997 !== 500 && i % 997 !== 500).length;
    expect(p.total).toBe(rows);
    expect(p.invalidCount).toBe(invalid);
    expect(p.duplicateCount).toBe(dups);
    expect(p.valid).toBe(rows - invalid - dups);
    expect(p.issues).toHaveLength(10);
    expect(p.chunks).toHaveLength(Math.ceil(p.valid / 1000));

    const seen = new Set<string>();
    let count = 0;
    for (const chunk of p.chunks) {
      const ppnums = await readChunkPpnums(chunk);
      expect(ppnums.length).toBeLessThanOrEqual(1000);
      for (const ppnum of ppnums) seen.add(ppnum);
      count += ppnums.length;
    }
    expect(count).toBe(p.valid);
    expect(seen.size).toBe(p.valid);
  });
});

describe('what a plan refuses before anything is sent', () => {
  const latin1 = (text: string) => {
    const path = join(dir, `file-${fileCounter++}.csv`);
    writeFileSync(path, Buffer.from(text, 'latin1'));
    return path;
  };

  it('names each Latin-1 row (not UTF-8) by line, and reads the file right when told its encoding', async () => {
    const file = latin1('ppnum,name\n12300000001,José\n12300000002,Ann\n12300000003,Zoë\n');
    const asUtf8 = await plan(file, 'csv', { requiredVars: ['name'] });
    expect(asUtf8).toMatchObject({ valid: 1, invalidCount: 2 });
    expect(asUtf8.issues.map((issue) => [issue.line, issue.field])).toEqual([
      [2, 'row'],
      [4, 'row'],
    ]);
    expect(asUtf8.issues[0]!.message).toBe('the row is not UTF-8 text (it looks like Latin-1 or Windows-1252): save the file as UTF-8, or set "encoding": "latin1" in recipients');

    const asLatin1 = await planRecipients({ campaignId: 'c1', file, format: 'csv', encoding: 'latin1', requiredVars: ['name'], chunkSize: 2, maxIssues: 10 });
    expect(asLatin1).toMatchObject({ valid: 3, invalidCount: 0 });
    expect(asLatin1.chunks.every((chunk) => chunk.kind === 'file' && chunk.encoding === 'latin1')).toBe(true);
    expect((await readAll(asLatin1)).map((r) => r.vars.name)).toEqual(['José', 'Ann', 'Zoë']);
  });

  it('refuses a Latin-1 header with the same clear reason', async () => {
    const file = latin1('ppnum,prénom\n12300000001,Ann\n');
    const result = await plan(file, 'csv');
    expect(result.issues).toEqual([{ line: 1, field: 'row', message: expect.stringContaining('not UTF-8') }]);
    expect(result.valid).toBe(0);
  });

  it('marks a row too large for one request invalid, naming its line and variable', async () => {
    const file = writeTemp(`ppnum,name,note\n12300000001,Ann,short\n12300000002,Bob,${'x'.repeat(10_000_000)}\n12300000003,Cy,ok\n`);
    const result = await plan(file, 'csv', { requiredVars: ['name'] });
    expect(result).toMatchObject({ valid: 2, invalidCount: 1 });
    expect(result.issues).toEqual([{ line: 3, ppnum: '12300000002', field: 'vars.note', message: expect.stringMatching(/^the recipient takes 10,000,0\d\d bytes \(vars\.note alone 10,000,000\); at most 4,000 fit/) }]);
    expect((await readAll(result)).map((r) => r.ppnum)).toEqual(['12300000001', '12300000003']);
  });

  it('needs the email fallback\'s address column: in the CSV header, and in every NDJSON line', async () => {
    const csv = await planRecipients({ campaignId: 'c1', file: writeTemp('ppnum,name\n12300000001,Ann\n'), format: 'csv', requiredVars: [], requiredColumns: ['email'], chunkSize: 10, maxIssues: 10 });
    expect(csv.issues).toEqual([{ line: 1, field: 'vars.email', message: 'the header row has no "email" column, which the email fallback reads addresses from' }]);
    const ndjson = await planRecipients({
      campaignId: 'c1',
      file: writeTemp('{"ppnum":"12300000001","email":""}\n{"ppnum":"12300000002"}\n', 'ndjson'),
      format: 'ndjson',
      requiredVars: [],
      requiredColumns: ['email'],
      chunkSize: 10,
      maxIssues: 10,
    });
    expect(ndjson).toMatchObject({ valid: 1, invalidCount: 1, issues: [{ line: 2, field: 'vars.email' }] });
  });

  it('counts no rows in an empty or header-only file', async () => {
    expect((await plan(writeTemp(''), 'csv')).total).toBe(0);
    expect((await plan(writeTemp('ppnum,name\n'), 'csv')).total).toBe(0);
  });
});

describe('grouping recipients by their time zone (recipients.timeZoneColumn)', () => {
  const timeZones = { column: 'tz', fallback: 'Asia/Seoul' };
  const zonedPlan = (file: string, format: 'csv' | 'ndjson', chunkSize = 2) =>
    planRecipients({ campaignId: 'c1', file, format, requiredVars: ['name'], chunkSize, maxIssues: 100, timeZones });

  it('cuts chunks per zone (zones by name, rows in file order), refuses an unknown zone by line, and each chunk reads back exactly its own zone', async () => {
    const csv = [
      'ppnum,name,tz', // 1
      '12300000001,A,Europe/Berlin', // 2
      '12300000002,B,', // 3 empty: sendWindow.timeZone (Asia/Seoul)
      '12300000007,G', // 4 too few fields: no read can tell its zone
      '12300000004,D,Asia/Seoul', // 5 written out: the same zone as an empty cell
      '12300000005,,Europe/Berlin', // 6 missing name (a Berlin row left out)
      '12300000006,F,Europe/Berlin', // 7
      '12300000001,A again,Asia/Seoul', // 8 duplicate of line 2 (in another zone)
      '12300000003,C,Mars/Olympus', // 9 no IANA zone: no chunk's, so none skips it
      '12300000008,H,America/New_York', // 10
      '12300000009,I,Europe/Berlin', // 11
      '12300000010,J, Asia/Seoul ', // 12 spaces around the name
    ].join('\n') + '\n';
    const p = await zonedPlan(writeTemp(csv), 'csv');
    expect(p).toMatchObject({ total: 11, valid: 7, invalidCount: 3, duplicateCount: 1 });
    expect(p.issues.map((i) => [i.line, i.field])).toEqual([[4, 'row'], [6, 'vars.name'], [8, 'ppnum'], [9, 'vars.tz']]);
    expect(p.issues[3]!.message).toBe('the time zone in "tz" is not an IANA name like "Asia/Seoul" or "America/New_York" (leave it empty for sendWindow.timeZone)');
    expect(p.chunks.map((c) => c.kind === 'file' && c.timeZone)).toEqual(['America/New_York', 'Asia/Seoul', 'Asia/Seoul', 'Europe/Berlin', 'Europe/Berlin']);
    expect(p.sizes).toEqual([1, 2, 1, 2, 1]);
    const perChunk = [];
    for (const chunk of p.chunks) perChunk.push((await readChunkRecipients({ source: chunk })).map((r) => r.ppnum.slice(-2)));
    expect(perChunk).toEqual([['08'], ['02', '04'], ['10'], ['01', '06'], ['09']]);
    // Berlin's first chunk spans lines 2-7: its own left-out row (6) and the unreadable one (4) are skipped; Seoul's rows are filtered by zone.
    expect(p.chunks[3]).toMatchObject({ firstLine: 2, skipLines: [4, 6], count: 2, timeZoneColumn: 'tz', emptyZone: 'Asia/Seoul' });
    expect(p.chunks[1]).toMatchObject({ firstLine: 3, skipLines: [4], count: 2 });
    expect(p.chunks[4]).toMatchObject({ firstLine: 11, skipLines: [] });
  });

  it('plans the same chunks every time (a restart that plans again adopts them)', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => `${12300010000 + i},N${i},${['Asia/Seoul', 'Europe/Berlin', '', 'America/New_York'][i % 4]}`);
    const file = writeTemp(`ppnum,name,tz\n${rows.join('\n')}\n`);
    const first = await zonedPlan(file, 'csv', 7);
    expect(await zonedPlan(file, 'csv', 7)).toEqual(first);
    const read = (await readAll(first)).map((r) => r.ppnum);
    expect(read).toHaveLength(200);
    expect(new Set(read).size).toBe(200);
  });

  it('needs the zone column in a CSV header; an NDJSON line without it is in sendWindow.timeZone', async () => {
    const csv = await zonedPlan(writeTemp('ppnum,name\n12300000001,Ann\n'), 'csv');
    expect(csv.issues).toEqual([{ line: 1, field: 'vars.tz', message: 'the header row has no "tz" column, which recipients.timeZoneColumn names' }]);
    const ndjson = await zonedPlan(writeTemp('{"ppnum":"12300000001","name":"A"}\n{"ppnum":"12300000002","name":"B","tz":"UTC"}\n', 'ndjson'), 'ndjson');
    expect(ndjson.chunks.map((c) => c.kind === 'file' && c.timeZone)).toEqual(['Asia/Seoul', 'UTC']);
  });

  it('refuses to read a chunk whose rows changed zone since planning', async () => {
    const file = writeTemp('ppnum,name,tz\n12300000001,A,UTC\n12300000002,B,Asia/Seoul\n12300000003,C,UTC\n');
    const p = await zonedPlan(file, 'csv');
    writeFileSync(file, 'ppnum,name,tz\n12300000001,A,UTC\n12300000002,B,Asia/Seoul\n12300000003,C,Asia/Seoul\n');
    const utc = p.chunks.find((c) => c.kind === 'file' && c.timeZone === 'UTC')!;
    await expect(readChunkPpnums(utc)).rejects.toMatchObject({ type: 'RecipientSourceChanged', message: expect.stringContaining('planned 2 recipient(s) in UTC and now holds 1') });
  });
});
