// The bench's CPU figure for Temporal on PostgreSQL counts the database's work: the postmaster, its
// live backends, and the backends that already ended (dev/bench/measure.ts, postgresCpuSeconds).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresCpuSeconds } from '../../dev/bench/measure';
import { startScratchPostgres, type ScratchPostgres } from '../../dev/scratch-postgres';

const dir = mkdtempSync(join(tmpdir(), 'pg-cpu-'));
let postgres: ScratchPostgres;

beforeAll(async () => {
  postgres = await startScratchPostgres({ dir: join(dir, 'pg') });
}, 60_000);

afterAll(() => {
  postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** About a CPU-second of work in one backend (md5 of three million numbers). */
const BUSY_QUERY = 'SELECT count(DISTINCT md5(i::text)) FROM generate_series(1, 3000000) AS i';

describe('postgresCpuSeconds', () => {
  it('counts a backend still connected, and the same once it has ended', async () => {
    const before = postgresCpuSeconds(postgres.dataDir);
    const client = new pg.Client({ connectionString: postgres.url() });
    await client.connect();
    let live: number;
    try {
      await client.query(BUSY_QUERY);
      // The backend is alive: its time is its own.
      live = postgresCpuSeconds(postgres.dataDir) - before;
      expect(live).toBeGreaterThan(0.3);
    } finally {
      await client.end();
    }
    // Ended and reaped, its time is in the postmaster's count of its children: neither lost nor counted twice.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ended = postgresCpuSeconds(postgres.dataDir) - before;
    expect(ended).toBeGreaterThanOrEqual(live - 0.02);
    expect(ended).toBeLessThan(live + 0.3);
  }, 60_000);

  it('is 0 for a directory that holds no running cluster', () => {
    expect(postgresCpuSeconds(join(dir, 'nothing-here'))).toBe(0);
  });
});
