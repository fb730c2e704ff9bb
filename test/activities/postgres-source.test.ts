// PostgreSQL recipient sources against a real PostgreSQL (a scratch cluster, dev/scratch-postgres.ts):
// keyset-planned by ppnum into key ranges that hold no recipient data, read back exactly; rows
// without a valid ppnum or a needed variable counted and skipped the same way at every read;
// repeated ppnums sent once; a named query from the worker's configuration; a table whose rows
// changed refused at the chunk read; names that are not plain identifiers never reach SQL;
// recipients grouped by a time zone column into key ranges per zone (recipients.timeZoneColumn).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRecipients, readChunkPpnums, readChunkRecipients } from '../../activities/recipients';
import type { RecipientPlan } from '../../activities/recipients';
import { closeRecipientDatabase } from '../../activities/sources/postgres';
import { validateSpec } from '../../src/cli/validate';
import { startScratchPostgres, type ScratchPostgres } from '../../dev/scratch-postgres';

const dir = mkdtempSync(join(tmpdir(), 'pg-source-'));
let postgres: ScratchPostgres;
const env = { url: process.env.RECIPIENT_DATABASE_URL, queries: process.env.RECIPIENT_QUERIES_FILE };

beforeAll(async () => {
  postgres = await startScratchPostgres({ dir: join(dir, 'pg') });
  postgres.createDatabase('audience');
  postgres.psql(
    'audience',
    `CREATE TABLE customers (ppnum text, first_name text, city text, tier text);
     INSERT INTO customers VALUES
       ('12300000003', 'Cy', 'Busan', 'vip'),
       ('12300000001', 'Ada', 'Seoul', 'vip'),
       ('123', 'Short', 'Jeju', 'basic'),
       (NULL, 'Nobody', 'Ulsan', 'basic'),
       ('12300000002', NULL, 'Daegu', 'vip'),
       ('12300000004', 'Dee', 'Incheon', 'basic'),
       ('12300000004', 'Dee again', 'Incheon', 'basic'),
       ('12300000005', 'Eve', NULL, 'vip'),
       ('12300000006', 'Fay', 'Suwon', 'basic');
     CREATE SCHEMA marketing;
     CREATE TABLE marketing.numbered (phone bigint PRIMARY KEY, name text);
     INSERT INTO marketing.numbered SELECT 45600000000 + i, 'N' || i FROM generate_series(1, 2500) AS i;`,
  );
  process.env.RECIPIENT_DATABASE_URL = postgres.url('audience');
  const queries = join(dir, 'queries.yaml');
  writeFileSync(queries, 'vip-customers: |\n  SELECT ppnum, first_name AS name FROM customers WHERE tier = \'vip\';\n');
  process.env.RECIPIENT_QUERIES_FILE = queries;
}, 60_000);

afterAll(async () => {
  await closeRecipientDatabase();
  postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
  process.env.RECIPIENT_DATABASE_URL = env.url;
  process.env.RECIPIENT_QUERIES_FILE = env.queries;
});

const options = { campaignId: 'pg-test', requiredVars: ['first_name'], chunkSize: 2, maxIssues: 100 };

async function readAll(plan: RecipientPlan) {
  const all = [];
  for (const chunk of plan.chunks) all.push(...(await readChunkRecipients({ source: chunk })));
  return all;
}

describe('a PostgreSQL table as the audience', () => {
  it('plans key ranges in ppnum order and reads back exactly the valid rows, each ppnum once', async () => {
    const plan = await planRecipients({ ...options, postgres: { table: 'customers', columns: ['first_name', 'city'] } });
    expect(plan).toMatchObject({ total: 9, valid: 5, invalidCount: 3, duplicateCount: 1 });
    expect(plan.issues.map((issue) => [issue.ppnum, issue.field])).toEqual([
      [undefined, 'ppnum'], // the NULL ppnum row
      ['12300000004', 'ppnum'], // repeated
      [undefined, 'ppnum'], // an invalid ppnum is not repeated: the issue says why, not what
      ['12300000002', 'vars.first_name'],
    ]);
    expect(plan.issues.map((issue) => issue.message).join('\n')).not.toMatch(/\b123\b/);
    // Key ranges only: bounds, counts and digests; no names, no cities.
    expect(plan.chunks).toEqual([
      expect.objectContaining({ kind: 'postgres', last: '12300000003', count: 2 }),
      expect.objectContaining({ kind: 'postgres', after: '12300000003', last: '12300000005', count: 2 }),
      expect.objectContaining({ kind: 'postgres', after: '12300000005', last: '12300000006', count: 1 }),
    ]);
    expect(JSON.stringify(plan.chunks)).not.toMatch(/Ada|Seoul|Eve/);
    expect(await readAll(plan)).toEqual([
      { ppnum: '12300000001', vars: { first_name: 'Ada', city: 'Seoul' } },
      { ppnum: '12300000003', vars: { first_name: 'Cy', city: 'Busan' } },
      { ppnum: '12300000004', vars: { first_name: 'Dee', city: 'Incheon' } }, // of its two rows, the first by its columns ('Dee' < 'Dee again')
      { ppnum: '12300000005', vars: { first_name: 'Eve' } },
      { ppnum: '12300000006', vars: { first_name: 'Fay', city: 'Suwon' } },
    ]);
  });

  it('reads only the template variables by default, and pages a large schema-qualified table with a bigint key', async () => {
    const plan = await planRecipients({ ...options, requiredVars: ['name'], chunkSize: 1000, postgres: { table: 'marketing.numbered', ppnumColumn: 'phone' } });
    expect(plan).toMatchObject({ total: 2500, valid: 2500, invalidCount: 0, duplicateCount: 0 });
    expect(plan.chunks.map((chunk) => ('count' in chunk ? chunk.count : 0))).toEqual([1000, 1000, 500]);
    const ppnums = (await Promise.all(plan.chunks.map((chunk) => readChunkPpnums(chunk)))).flat();
    expect(new Set(ppnums).size).toBe(2500);
    expect(await readChunkRecipients({ source: plan.chunks[2]!, ppnums: ['45600002500'] })).toEqual([{ ppnum: '45600002500', vars: { name: 'N2500' } }]);
  });

  it('checks rendered links per row in the plan and again at every read, naming the variable', async () => {
    postgres.psql('audience', `CREATE TABLE linked (ppnum text, link text);
      INSERT INTO linked VALUES ('12300000011', 'https://shop.example/a'), ('12300000012', 'javascript:alert(document.cookie)'), ('12300000013', 'https://shop.example/c');`);
    const plan = await planRecipients({ ...options, requiredVars: ['link'], urlTemplates: ['{{link}}'], postgres: { table: 'linked' } });
    expect(plan).toMatchObject({ total: 3, valid: 2, invalidCount: 1 });
    expect(plan.issues).toEqual([{ ppnum: '12300000012', field: 'vars.link', message: expect.stringContaining('not an http:// or https:// address') }]);
    expect(JSON.stringify(plan)).not.toContain('javascript');
    expect((await readAll(plan)).map((r) => r.ppnum)).toEqual(['12300000011', '12300000013']); // the read skips the same row
  });

  it('runs a query the worker configured by name', async () => {
    const plan = await planRecipients({ ...options, requiredVars: ['name'], postgres: { query: 'vip-customers' } });
    expect(plan).toMatchObject({ total: 4, valid: 3, invalidCount: 1 }); // …02 has no name
    expect((await readAll(plan)).map((r) => r.ppnum)).toEqual(['12300000001', '12300000003', '12300000005']);
    await expect(planRecipients({ ...options, postgres: { query: 'not-configured' } })).rejects.toMatchObject({ type: 'RecipientSourceUnreadable', message: expect.stringContaining('"not-configured" is not in RECIPIENT_QUERIES_FILE') });
  });

  it('refuses a chunk whose rows changed after planning', async () => {
    postgres.psql('audience', 'CREATE TABLE changing AS SELECT * FROM customers');
    const plan = await planRecipients({ ...options, postgres: { table: 'changing' } });
    postgres.psql('audience', "INSERT INTO changing VALUES ('12300000004500', 'Late', 'Seoul', 'vip')"); // inside chunk 1's range
    await expect(readChunkPpnums(plan.chunks[0]!)).resolves.toEqual(['12300000001', '12300000003']);
    await expect(readChunkPpnums(plan.chunks[1]!)).rejects.toMatchObject({ type: 'RecipientSourceChanged', nonRetryable: true, message: expect.stringContaining('PostgreSQL table changing') });
  });

  it('groups recipients by their time zone column into key ranges per zone, the same every time, and reads each valid one back exactly once', async () => {
    postgres.psql('audience', `CREATE TABLE zoned (ppnum text, first_name text, tz text);
      INSERT INTO zoned VALUES
        ('12300000109', 'Ivy', 'Europe/Berlin'),
        ('12300000101', 'Ann', 'Europe/Berlin'),
        ('12300000102', 'Bo', 'Europe/Berlin'),
        ('12300000102', 'Bo', 'Asia/Seoul'),
        ('12300000103', 'Cy', NULL),
        ('12300000104', 'Di', '  America/New_York '),
        ('12300000105', 'Ed', ''),
        ('12300000106', 'Flo', 'Mars/Olympus'),
        ('12300000107', 'Gus', 'Europe/Berlin'),
        ('12300000108', 'Hal', 'America/New_York'),
        ('12300000110', 'Jo', '   ');`);
    const timeZones = { column: 'tz', fallback: 'Asia/Seoul' };
    const zonedOptions = { ...options, timeZones, postgres: { table: 'zoned' } };
    const plan = await planRecipients(zonedOptions);
    expect(plan).toMatchObject({ total: 11, valid: 9, invalidCount: 1, duplicateCount: 1, sizes: [2, 2, 2, 2, 1] });
    expect(plan.issues.map((issue) => [issue.ppnum, issue.field])).toEqual([
      ['12300000102', 'ppnum'],
      ['12300000106', 'vars.tz'],
    ]);
    expect(plan.issues[1]!.message).toContain('is not an IANA name');
    expect(JSON.stringify(plan)).not.toMatch(/Mars|Ann|Ivy/); // issues never quote a cell; chunks hold keys and zones
    // Zones by name, then ppnum; NULL, empty and blank cells are in sendWindow.timeZone; a cell is trimmed.
    const zone = { kind: 'postgres', timeZoneColumn: 'tz', emptyZone: 'Asia/Seoul' };
    expect(plan.chunks).toEqual([
      expect.objectContaining({ ...zone, timeZone: 'America/New_York', last: '12300000108', count: 2 }),
      expect.objectContaining({ ...zone, timeZone: 'Asia/Seoul', last: '12300000103', count: 2 }),
      expect.objectContaining({ ...zone, timeZone: 'Asia/Seoul', after: '12300000103', last: '12300000110', count: 2 }),
      expect.objectContaining({ ...zone, timeZone: 'Europe/Berlin', last: '12300000107', count: 2 }),
      expect.objectContaining({ ...zone, timeZone: 'Europe/Berlin', after: '12300000107', last: '12300000109', count: 1 }),
    ]);
    expect(plan.chunks[0]).not.toHaveProperty('after');
    expect(await planRecipients(zonedOptions)).toEqual(plan); // a restart that plans again adopts the same chunks

    const byChunk = await Promise.all(plan.chunks.map((chunk) => readChunkPpnums(chunk)));
    expect(byChunk).toEqual([
      ['12300000104', '12300000108'],
      ['12300000102', '12300000103'], // …102's two rows: the one that sorts first (Asia/Seoul), in its zone only
      ['12300000105', '12300000110'],
      ['12300000101', '12300000107'],
      ['12300000109'],
    ]);
    expect(await readChunkRecipients({ source: plan.chunks[0]! })).toEqual([
      { ppnum: '12300000104', vars: { first_name: 'Di' } },
      { ppnum: '12300000108', vars: { first_name: 'Hal' } },
    ]);

    // A row added to one zone's range is refused at that zone's read; another zone's chunk over the same keys still reads.
    postgres.psql('audience', "INSERT INTO zoned VALUES ('123000001075', 'Late', 'Europe/Berlin')");
    await expect(readChunkPpnums(plan.chunks[4]!)).rejects.toMatchObject({ type: 'RecipientSourceChanged', message: expect.stringContaining('in Europe/Berlin are not the planned ones: 2 now, 1 planned') });
    await expect(readChunkPpnums(plan.chunks[2]!)).resolves.toEqual(['12300000105', '12300000110']);
    await expect(planRecipients({ ...zonedOptions, timeZones: { column: 'zone', fallback: 'Asia/Seoul' } })).rejects.toMatchObject({ type: 'RecipientSourceUnreadable', message: expect.stringContaining('column "zone" does not exist') });
  });

  it('is checked by `campaign validate` through the same planning, naming an unknown zone by ppnum and column', async () => {
    const report = await validateSpec({
      campaignId: 'pg-zones',
      template: { name: 't', components: [{ type: 'text', content: 'Hi {{first_name}}' }] },
      recipients: { postgres: { table: 'zoned' }, timeZoneColumn: 'tz' },
      sendWindow: { from: '09:00', until: '20:00', timeZone: 'Asia/Seoul' },
    });
    expect(report).toMatchObject({ ok: false, invalid: 1, duplicates: 1 });
    expect(report.rowIssues).toEqual([
      expect.objectContaining({ ppnum: '12300000102', field: 'ppnum' }),
      { ppnum: '12300000106', field: 'vars.tz', message: expect.stringContaining('is not an IANA name') },
    ]);
  });

  it('keeps names that are not plain identifiers out of SQL, and names a missing table or column', async () => {
    const attempts = [{ table: 'customers; DROP TABLE customers' }, { table: 'customers', columns: ['first_name", (SELECT 1) AS "x'] }, { table: 'customers', ppnumColumn: 'ppnum OR 1=1' }];
    for (const postgresSpec of attempts) {
      await expect(planRecipients({ ...options, postgres: postgresSpec })).rejects.toMatchObject({ type: 'InvalidPlanInput', nonRetryable: true });
    }
    const zoneColumn = { column: 'tz") OR true; --', fallback: 'Asia/Seoul' };
    await expect(planRecipients({ ...options, timeZones: zoneColumn, postgres: { table: 'customers' } })).rejects.toMatchObject({ type: 'InvalidPlanInput', message: expect.stringContaining('time zone column') });
    expect(postgres.psql('audience', 'SELECT count(*) FROM customers').trim()).toBe('9');
    await expect(planRecipients({ ...options, postgres: { table: 'nope' } })).rejects.toMatchObject({ type: 'RecipientSourceUnreadable', message: expect.stringContaining('relation "nope" does not exist') });
    await expect(planRecipients({ ...options, postgres: { table: 'customers', columns: ['first_name', 'email'] } })).rejects.toMatchObject({ type: 'RecipientSourceUnreadable', message: expect.stringContaining('column "email" does not exist') });
    await expect(planRecipients({ ...options, postgres: { table: 'customers', columns: ['city'] } })).rejects.toMatchObject({ type: 'InvalidPlanInput', message: expect.stringContaining('"first_name"') });
  });

  it('marks a row too large for one request invalid by ppnum and variable, and reads the fallback address column', async () => {
    postgres.psql('audience', `CREATE TABLE notes (ppnum text, first_name text, note text, email text);
      INSERT INTO notes VALUES ('12300000001', 'Ann', 'short', NULL), ('12300000002', 'Bob', repeat('x', 10000000), 'b@x.example');`);
    const plan = await planRecipients({ ...options, requiredColumns: ['email'], postgres: { table: 'notes', columns: ['first_name', 'note', 'email'] } });
    expect(plan).toMatchObject({ valid: 1, invalidCount: 1 });
    expect(plan.issues).toEqual([{ ppnum: '12300000002', field: 'vars.note', message: expect.stringMatching(/^the recipient takes 10,000,0\d\d bytes \(vars\.note alone 10,000,000\)/) }]);
    expect(await readAll(plan)).toEqual([{ ppnum: '12300000001', vars: { first_name: 'Ann', note: 'short' } }]);
    await expect(planRecipients({ ...options, requiredColumns: ['email'], postgres: { table: 'notes', columns: ['first_name'] } })).rejects.toMatchObject({
      type: 'InvalidPlanInput',
      message: expect.stringContaining('needs column(s) "email" but recipients.postgres.columns does not list them'),
    });
    expect((await planRecipients({ ...options, requiredColumns: ['email'], postgres: { table: 'notes' } })).chunks[0]).toMatchObject({ columns: ['first_name', 'email'] });
  });

  it('says which variable the worker lacks when it has no database', async () => {
    const url = process.env.RECIPIENT_DATABASE_URL;
    delete process.env.RECIPIENT_DATABASE_URL;
    try {
      await expect(planRecipients({ ...options, postgres: { table: 'customers' } })).rejects.toMatchObject({ type: 'RecipientSourceUnreadable', message: expect.stringContaining('set RECIPIENT_DATABASE_URL') });
    } finally {
      process.env.RECIPIENT_DATABASE_URL = url;
    }
  });
});
