// A PostgreSQL table or named query as a campaign's audience, keyset-paged by ppnum: the plan
// holds key ranges (after < ppnum <= last) and each chunk reads its rows again by range, so no
// recipient's data enters a history. Variables come from columns (name = variable name).
//
// The spec never holds SQL or a connection: the worker reads RECIPIENT_DATABASE_URL from its own
// environment, a table name and column names must be plain identifiers (and are quoted), and a
// query is one the worker's operator configured by name in RECIPIENT_QUERIES_FILE (YAML: name: SQL).
// A repeated ppnum is sent once, with the row that sorts first by its columns; rows without a
// ppnum are counted invalid.
//
// With recipients.timeZoneColumn, chunks are per zone (zones by name, then ppnum): a zone's chunk
// is a key range of that zone's rows, and its read filters the range to the zone in SQL.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import type { RecipientInput } from '../../src/api/types';
import { checkVars, isValidPpnum, missingVars, recipientSizeIssue, redactPpnum } from '../../src/api/validation';
import { inZoneOrder, recipientTimeZone, unknownTimeZone } from '../../src/campaign/chunk-source';
import type { PostgresChunkSource, PostgresRelation, TimeZoneGrouping } from '../../src/campaign/chunk-source';
import { DEFAULT_PPNUM_COLUMN, QUERY_NAME, SQL_IDENTIFIER, SQL_TABLE_NAME } from '../../src/campaign/recipient-source';
import type { PostgresSourceSpec } from '../../src/campaign/recipient-source';
import { heartbeat } from '../heartbeat';
import { PlanAccount, RECIPIENT_SOURCE_FAILURES, checkChunkSize, sourceChanged, sourceUnreadable } from './source';
import type { PlanOptions, RecipientPlan, RecipientSourceReader } from './source';

export type PostgresSourceSpecInput = { postgres: PostgresSourceSpec };

/** Rows per keyset page while planning. */
const PAGE_ROWS = 5_000;

async function plan(spec: PostgresSourceSpecInput, options: PlanOptions): Promise<RecipientPlan<PostgresChunkSource>> {
  checkChunkSize(options.chunkSize);
  const source = spec.postgres;
  const relation: PostgresRelation = 'table' in source ? { table: source.table } : { query: source.query };
  const ppnumColumn = 'table' in source ? (source.ppnumColumn ?? DEFAULT_PPNUM_COLUMN) : DEFAULT_PPNUM_COLUMN;
  // The email fallback's address column is read too (it may be NULL or empty: that recipient's own fallback fails).
  const needed = [...new Set([...options.requiredVars, ...(options.requiredColumns ?? [])])];
  const columns = source.columns ?? needed;
  const unlisted = needed.filter((name) => !columns.includes(name));
  if (unlisted.length > 0) {
    throw ApplicationFailure.nonRetryable(`the template or the fallback needs column(s) ${unlisted.map((n) => `"${n}"`).join(', ')} but recipients.postgres.columns does not list them`, RECIPIENT_SOURCE_FAILURES.invalidPlan);
  }
  const zones = options.timeZones;
  const base = {
    relation,
    ppnumColumn,
    columns,
    requiredVars: options.requiredVars,
    ...(options.urlTemplates?.length ? { urlTemplates: options.urlTemplates } : {}),
    ...(zones ? { timeZoneColumn: zones.column, emptyZone: zones.fallback } : {}),
  };
  const sql = new RecipientSql(base);
  const account = new PlanAccount(options.maxIssues);

  return withDatabase(sql.describe, async (db) => {
    await db.query(sql.probe()); // a missing table or column is named here, before anything else
    const stats = (await db.query<{ rows: string; keyed: string; distinct: string }>(sql.stats())).rows[0]!;
    const [rows, keyed, distinct] = [Number(stats.rows), Number(stats.keyed), Number(stats.distinct)];
    account.totals.total = rows;
    account.totals.duplicateCount = keyed - distinct;
    if (rows > keyed) account.invalid({ field: 'ppnum', message: `${rows - keyed} row(s) of ${sql.describe} have no ppnum (NULL in "${ppnumColumn}"); they are skipped` });
    account.totals.invalidCount = rows - keyed;
    for (const row of (await db.query<{ ppnum: string; times: string }>(sql.duplicates(options.maxIssues))).rows) {
      account.issue({ ppnum: row.ppnum, field: 'ppnum', message: `this ppnum appears in ${row.times} rows; one is used (the first by its columns)` });
    }

    // One pass in ppnum order; each zone ('' without zones) cuts its own chunks, each a key range of its rows.
    const groups = new Map<string, ZoneGroup>();
    const closeChunk = (zone: string, group: ZoneGroup) => {
      const { after, ppnums } = group.open;
      group.chunks.push({ ...chunkOf(base, after, ppnums), ...(zones ? { timeZone: zone } : {}) });
      group.open = { after: ppnums[ppnums.length - 1]!, ppnums: [] };
    };
    let after: string | undefined;
    for (;;) {
      const page = (await db.query<Record<string, string | null>>(sql.page(after !== undefined, PAGE_ROWS), after === undefined ? [] : [after])).rows;
      for (const row of page) {
        after = row.ppnum!;
        const checked = checkRow(row, base);
        const zone = zones ? zoneOf(row.zone ?? null, zones) : '';
        if (!checked.ok) account.invalid({ ppnum: checked.ppnum, field: checked.field, message: checked.message });
        else if (zone === undefined) account.invalid({ ppnum: checked.recipient.ppnum, ...unknownTimeZone(zones!.column) });
        else {
          account.totals.valid += 1;
          let group = groups.get(zone);
          if (!group) groups.set(zone, (group = { open: { ppnums: [] }, chunks: [] }));
          group.open.ppnums.push(checked.recipient.ppnum);
          if (group.open.ppnums.length === options.chunkSize) closeChunk(zone, group);
        }
      }
      heartbeat({ rows: account.totals.valid + account.totals.invalidCount });
      if (page.length < PAGE_ROWS) break;
    }
    for (const [zone, group] of groups) if (group.open.ppnums.length > 0) closeChunk(zone, group);
    const chunks = inZoneOrder(groups).flatMap(([, group]) => group.chunks);
    return account.plan(chunks, zones ? chunks.map((chunk) => chunk.count) : undefined);
  });
}

/** One zone's chunks while planning: the open one (its ppnums so far, after the last closed chunk's) and those closed. */
interface ZoneGroup {
  open: { after?: string; ppnums: string[] };
  chunks: PostgresChunkSource[];
}

/**
 * A row's zone: its cell as SQL trimmed it (`zone`), or the empty cell's zone; undefined when it
 * is no IANA name. A name JavaScript would trim further counts as none: reads compare SQL's trim.
 */
function zoneOf(cell: string | null, zones: TimeZoneGrouping): string | undefined {
  const zone = recipientTimeZone(cell ?? undefined, zones);
  return cell === null || zone === cell ? zone : undefined;
}

async function* read(chunk: PostgresChunkSource): AsyncGenerator<RecipientInput[]> {
  const sql = new RecipientSql(chunk);
  const bounds = chunk.after === undefined ? [chunk.last] : [chunk.after, chunk.last];
  const zone = chunk.timeZone !== undefined && chunk.emptyZone !== undefined ? [chunk.timeZone, chunk.emptyZone] : [];
  const rows = await withDatabase(sql.describe, async (db) => (await db.query<Record<string, string | null>>(sql.range(chunk.after !== undefined, zone.length > 0), [...bounds, ...zone])).rows);
  const recipients: RecipientInput[] = [];
  for (const row of rows) {
    const checked = checkRow(row, chunk);
    if (checked.ok) recipients.push(checked.recipient);
  }
  const ppnums = recipients.map((r) => r.ppnum);
  if (ppnums.length !== chunk.count || digestOf(ppnums) !== chunk.digest) {
    // Failure texts reach worker logs: the range's ppnums only by their last digits.
    const range = `ppnum ${chunk.after === undefined ? '≤' : `> ${redactPpnum(chunk.after)} and ≤`} ${redactPpnum(chunk.last)}${chunk.timeZone === undefined ? '' : ` in ${chunk.timeZone}`}`;
    throw sourceChanged(sql.describe, `the valid rows with ${range} are not the planned ones: ${ppnums.length} now, ${chunk.count} planned`, "restore those rows, or start a new campaign");
  }
  yield recipients;
}

export const postgresSource: RecipientSourceReader<PostgresSourceSpecInput, PostgresChunkSource> = { plan, read };

type RowCheck = { ok: true; recipient: RecipientInput } | { ok: false; ppnum?: string; field: string; message: string };

/**
 * The same check in the plan and in every read: a row the plan counted invalid is skipped again.
 * Messages name the column, never a value (an invalid ppnum is not repeated).
 */
function checkRow(row: Record<string, string | null>, source: Pick<PostgresChunkSource, 'columns' | 'requiredVars' | 'urlTemplates'>): RowCheck {
  const ppnum = (row.ppnum ?? '').trim();
  if (!isValidPpnum(ppnum)) return { ok: false, field: 'ppnum', message: 'ppnum is not valid: it must be 11 or more digits' };
  const vars: Record<string, string> = {};
  for (const column of source.columns) {
    const value = row[`v_${column}`];
    if (value !== null && value !== undefined) vars[column] = value;
  }
  const [missing] = missingVars(source.requiredVars, vars);
  if (missing !== undefined) return { ok: false, ppnum, field: `vars.${missing}`, message: `the template needs "${missing}" but column "${missing}" is NULL or empty` };
  const link = checkVars(vars, { urlTemplates: source.urlTemplates });
  if (link) return { ok: false, ppnum, ...link };
  const size = recipientSizeIssue({ ppnum, vars }); // too big for one request: invalid, in the plan and in every read alike
  if (size) return { ok: false, ppnum, ...size };
  return { ok: true, recipient: { ppnum, vars } };
}

function chunkOf(base: Omit<PostgresChunkSource, 'kind' | 'after' | 'last' | 'count' | 'digest' | 'timeZone'>, after: string | undefined, ppnums: string[]): PostgresChunkSource {
  return { kind: 'postgres', ...base, ...(after === undefined ? {} : { after }), last: ppnums[ppnums.length - 1]!, count: ppnums.length, digest: digestOf(ppnums) };
}

function digestOf(ppnums: string[]): string {
  return createHash('sha256').update(ppnums.join('\n')).digest('hex').slice(0, 32);
}

/**
 * The statements for one relation. Identifiers are checked again here (the activity may be called
 * with any input) and always double-quoted; values are parameters; a named query is SQL the
 * worker's operator wrote, used as a subquery.
 */
class RecipientSql {
  readonly describe: string;
  private readonly from: string;
  private readonly key: string;
  private readonly selected: string;
  private readonly order: string;
  /** The zone column's cell trimmed, NULL when empty; absent without zones. */
  private readonly zone?: string;

  constructor(source: Pick<PostgresChunkSource, 'relation' | 'ppnumColumn' | 'columns' | 'timeZoneColumn'>) {
    const { relation, ppnumColumn, columns, timeZoneColumn } = source;
    if (!SQL_IDENTIFIER.test(ppnumColumn)) throw invalidName(`ppnum column "${ppnumColumn}"`);
    if (timeZoneColumn !== undefined && !SQL_IDENTIFIER.test(timeZoneColumn)) throw invalidName(`time zone column "${timeZoneColumn}"`);
    for (const column of columns) if (!SQL_IDENTIFIER.test(column)) throw invalidName(`column "${column}"`);
    if ('table' in relation) {
      if (!SQL_TABLE_NAME.test(relation.table)) throw invalidName(`table "${relation.table}"`);
      this.describe = `PostgreSQL table ${relation.table}`;
      this.from = relation.table.split('.').map(quote).join('.');
    } else {
      if (!QUERY_NAME.test(relation.query)) throw invalidName(`query name "${relation.query}"`);
      this.describe = `PostgreSQL query "${relation.query}"`;
      this.from = `(${namedQuery(relation.query)}) AS recipients`;
    }
    this.key = quote(ppnumColumn);
    if (timeZoneColumn !== undefined) this.zone = `NULLIF(btrim(${quote(timeZoneColumn)}::text, E' \\t\\n\\r\\f\\v'), '')`;
    this.selected = [`${this.key}::text AS ppnum`, ...columns.map((c) => `${quote(c)}::text AS ${quote(`v_${c}`)}`), ...(this.zone ? [`${this.zone} AS zone`] : [])].join(', ');
    // The zone last: of a repeated ppnum's rows that differ only in their zone, the same one every time.
    this.order = [this.key, ...columns.map((c) => `${quote(c)}::text`), ...(this.zone ? [this.zone] : [])].join(', ');
  }

  probe = () => `SELECT ${this.selected} FROM ${this.from} LIMIT 0`;
  stats = () => `SELECT count(*) AS rows, count(${this.key}) AS keyed, count(DISTINCT ${this.key}) AS distinct FROM ${this.from}`;
  duplicates = (limit: number) => `SELECT ${this.key}::text AS ppnum, count(*) AS times FROM ${this.from} WHERE ${this.key} IS NOT NULL GROUP BY ${this.key} HAVING count(*) > 1 ORDER BY ${this.key} LIMIT ${Math.max(0, Math.min(limit, 1000))}`;
  /** One page after the key $1 (or from the start), one row per ppnum. */
  page = (afterKey: boolean, rows: number) =>
    `SELECT DISTINCT ON (${this.key}) ${this.selected} FROM ${this.from} WHERE ${afterKey ? `${this.key} > $1` : `${this.key} IS NOT NULL`} ORDER BY ${this.order} LIMIT ${rows}`;
  /**
   * The rows of one chunk: after < key <= last; with `inZone`, those whose zone (NULL: the next
   * parameter after the bounds) is the parameter after that. The repeated ppnum's row is chosen
   * before the zone filter, as in the plan, so a ppnum is in one zone only.
   */
  range = (afterKey: boolean, inZone = false) => {
    const bounds = afterKey ? `${this.key} > $1 AND ${this.key} <= $2` : `${this.key} <= $1`;
    if (!inZone) return `SELECT DISTINCT ON (${this.key}) ${this.selected} FROM ${this.from} WHERE ${bounds} ORDER BY ${this.order}`;
    const zone = afterKey ? 3 : 2;
    const rows = `SELECT DISTINCT ON (${this.key}) ${this.selected}, ${this.key} AS sort_key FROM ${this.from} WHERE ${bounds} ORDER BY ${this.order}`;
    return `SELECT * FROM (${rows}) AS chunk WHERE COALESCE(chunk.zone, $${zone + 1}) = $${zone} ORDER BY chunk.sort_key`;
  };
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function invalidName(what: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${what} is not a valid PostgreSQL name here (letters, digits and underscores)`, RECIPIENT_SOURCE_FAILURES.invalidPlan);
}

/** The SQL of a query the worker's operator configured under `name` (RECIPIENT_QUERIES_FILE). */
function namedQuery(name: string): string {
  const file = process.env.RECIPIENT_QUERIES_FILE;
  if (!file) throw sourceUnreadable(`recipient query "${name}" is not configured on this worker: set RECIPIENT_QUERIES_FILE to a YAML file of name: SQL`);
  let queries: unknown;
  try {
    queries = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw sourceUnreadable(`cannot read RECIPIENT_QUERIES_FILE ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const sql = (queries as Record<string, unknown> | null)?.[name];
  if (typeof sql !== 'string' || sql.trim() === '') throw sourceUnreadable(`recipient query "${name}" is not in RECIPIENT_QUERIES_FILE ${file}`);
  return sql.trim().replace(/;+\s*$/, '');
}

let pool: pg.Pool | undefined;

/** Runs `work` on a pooled connection to RECIPIENT_DATABASE_URL; maps PostgreSQL's refusals to plain, final failures. */
async function withDatabase<T>(describe: string, work: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  const url = process.env.RECIPIENT_DATABASE_URL;
  if (!url) throw sourceUnreadable(`this worker cannot read ${describe}: set RECIPIENT_DATABASE_URL in its environment`);
  if (!pool) {
    pool = new pg.Pool({ connectionString: url, max: 4, allowExitOnIdle: true });
    pool.on('error', () => undefined); // an idle connection the server closed: the pool opens a new one when needed
  }
  let db: pg.PoolClient | undefined;
  try {
    db = await pool.connect();
    return await work(db);
  } catch (err) {
    throw databaseFailure(describe, err);
  } finally {
    db?.release();
  }
}

/** Closes the worker's connections (tests, shutdown). */
export async function closeRecipientDatabase(): Promise<void> {
  const closing = pool;
  pool = undefined;
  await closing?.end();
}

/**
 * SQLSTATE classes 28 (authorization), 3D (no such database) and 42 (no such table or column,
 * syntax, privileges) will not pass by retrying; connection trouble and the rest may.
 */
function databaseFailure(describe: string, err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message;
  if (typeof code === 'string' && /^(28|3D|42)/.test(code)) return sourceUnreadable(`PostgreSQL refused to read ${describe}: ${message} (SQLSTATE ${code})`);
  return new Error(`cannot read ${describe} from PostgreSQL: ${message}`);
}
