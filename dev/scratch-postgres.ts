// A throwaway PostgreSQL cluster (Debian's PostgreSQL, `initdb` + `pg_ctl`) on a private port and
// data directory, for the production-topology lane and the PostgreSQL recipient-source tests. It
// never touches a system cluster. PostgreSQL refuses to run as root: as root (CI), the cluster
// belongs to the `postgres` user the Debian package creates. Loopback only, trust authentication.
//
// Reads: PG_BIN (directory of initdb/pg_ctl), otherwise PATH, otherwise the newest /usr/lib/postgresql/*/bin.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import { freePort } from './ports';

export interface ScratchPostgres {
  host: string;
  port: number;
  /** Superuser of the cluster (no password: trust on loopback). */
  user: string;
  dataDir: string;
  /** Connection string for a database of the cluster (default `postgres`). */
  url(database?: string): string;
  /** Creates a database (no error if it exists). */
  createDatabase(name: string): void;
  /** Runs SQL with psql, stops at the first error; returns what psql printed. */
  psql(database: string, sql: string): string;
  stop(): void;
}

export interface ScratchPostgresOptions {
  /** The cluster's directory (created; data in `<dir>/data`, log in `<dir>/postgres.log`). */
  dir: string;
  port?: number;
  user?: string;
}

const HOST = '127.0.0.1';

export async function startScratchPostgres(options: ScratchPostgresOptions): Promise<ScratchPostgres> {
  const bin = postgresBinDir();
  const port = options.port ?? (await freePort());
  const user = options.user ?? 'ppoppo';
  const owner = clusterOwner();
  const dataDir = join(options.dir, 'data');
  const logFile = join(options.dir, 'postgres.log');
  mkdirSync(options.dir, { recursive: true });
  if (owner) {
    // The cluster's owner must reach its directory: under the temp dir (where mkdtemp makes private
    // dirs), let others traverse (not list) each parent; elsewhere, say what to change.
    for (let path = dirname(resolve(options.dir)); path !== '/'; path = dirname(path)) {
      const mode = statSync(path).mode;
      if ((mode & 0o001) !== 0) continue;
      if (!path.startsWith(`${tmpdir()}${sep}`)) throw new Error(`PostgreSQL runs as the "postgres" user here and cannot enter ${path}: put the cluster under ${tmpdir()}, or run chmod o+x ${path}`);
      chmodSync(path, (mode & 0o7777) | 0o011);
    }
    chownSync(options.dir, owner.uid, owner.gid);
  }
  const run = (command: string, args: string[], what: string) => {
    const result = spawnSync(join(bin, command), args, { encoding: 'utf8', ...(owner ? { uid: owner.uid, gid: owner.gid } : {}), env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    if (result.status !== 0) throw new Error(`${what} failed (${command} exited ${result.status ?? result.signal}): ${(result.stderr || result.stdout || String(result.error ?? '')).trim()}`);
    return result.stdout;
  };

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    run('initdb', ['-D', dataDir, '-U', user, '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'], 'initdb');
  }
  // Durability off: a scratch cluster trades crash safety for speed (tests restart the server, not the machine).
  const settings = [`-p ${port}`, `-c listen_addresses=${HOST}`, "-c unix_socket_directories=''", '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=300'];
  run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', settings.join(' '), 'start'], `starting PostgreSQL on ${HOST}:${port}`);
  let running = true;
  const stopNow = (mode: 'fast' | 'immediate') => {
    if (!running) return;
    running = false;
    process.off('exit', stopOnExit);
    spawnSync(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', 'stop'], { ...(owner ? { uid: owner.uid, gid: owner.gid } : {}), stdio: 'ignore' });
  };
  const stopOnExit = () => stopNow('immediate'); // never leave a postmaster behind
  process.on('exit', stopOnExit);

  const url = (database = 'postgres') => `postgres://${user}@${HOST}:${port}/${database}`;
  const psql = (database: string, sql: string) =>
    execFileSync(join(bin, 'psql'), ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', url(database), '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    host: HOST,
    port,
    user,
    dataDir,
    url,
    psql,
    createDatabase(name) {
      const exists = psql('postgres', `SELECT 1 FROM pg_database WHERE datname = '${name.replace(/'/g, "''")}'`).trim() !== '';
      if (!exists) psql('postgres', `CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    },
    stop: () => stopNow('fast'),
  };
}

/** PG_BIN, the directory of `initdb` on PATH, or the newest Debian PostgreSQL. */
export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'initdb'))) return dirname(realpathSync(join(dir, 'initdb'))); // Debian links into its bin dir
  }
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian) ? readdirSync(debian).filter((v) => existsSync(join(debian, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server binaries not found: install postgresql-15 (scripts/system-deps.sh) or set PG_BIN');
  return join(debian, versions[0]!, 'bin');
}

/** As root, the `postgres` system user (PostgreSQL will not run as root); otherwise ourselves. */
function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.startsWith('postgres:'));
  if (!entry) throw new Error('running as root and there is no "postgres" user to own the PostgreSQL cluster: install postgresql-15 (it creates one)');
  const [, , uid, gid] = entry.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

