// The fault campaign's recipients, from the source the run asks for: the CSV file itself (workers
// must see the same disk), the same file behind nginx (an http(s) URL any worker can read), or the
// same rows in a PostgreSQL table (workers get RECIPIENT_DATABASE_URL). Same recipients either way,
// so every source is checked against the same ledger.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RecipientSourceSpec } from '../../src/campaign/recipient-source';
import { startNginx } from '../nginx';
import { startScratchPostgres } from '../scratch-postgres';

export const RECIPIENT_SOURCES = ['file', 'url', 'postgres'] as const;
export type RecipientSourceKind = (typeof RECIPIENT_SOURCES)[number];

export interface ServedRecipients {
  recipients: RecipientSourceSpec;
  /** What the workers need in their environment to read it. */
  env: NodeJS.ProcessEnv;
  /** One line for the run's log. */
  description: string;
  /** In the spec (and so in histories) but never to be logged: a presigned URL's signature. */
  notLogged: string[];
  stop(): Promise<void>;
}

/** `csv` has a header `ppnum,name`; the served copy lives under `dir`. */
export async function serveRecipients(kind: RecipientSourceKind, csv: string, dir: string): Promise<ServedRecipients> {
  if (kind === 'file') return { recipients: { file: csv, format: 'csv' }, env: {}, description: `file ${csv}`, notLogged: [], stop: async () => undefined };

  if (kind === 'url') {
    const root = join(dir, 'www');
    mkdirSync(root, { recursive: true });
    copyFileSync(csv, join(root, 'recipients.csv'));
    const nginx = await startNginx({ root, dir: join(dir, 'nginx') });
    // A presigned-looking query string: it must never show in a message or log.
    const signature = 'chaos0signature0f3a9';
    const url = `${nginx.filesUrl}recipients.csv?X-Amz-Expires=86400&X-Amz-Signature=${signature}`;
    return { recipients: { url }, env: {}, description: `nginx ${nginx.filesUrl}recipients.csv`, notLogged: [signature], stop: () => nginx.stop() };
  }

  const postgres = await startScratchPostgres({ dir: join(dir, 'audience-postgres') });
  try {
    postgres.createDatabase('audience');
    postgres.psql('audience', 'CREATE TABLE recipients (ppnum text PRIMARY KEY, name text NOT NULL)');
    postgres.psql('audience', `\\copy recipients (ppnum, name) FROM '${csv.replace(/'/g, "''")}' WITH (FORMAT csv, HEADER true)`);
  } catch (err) {
    postgres.stop();
    throw err;
  }
  return {
    recipients: { postgres: { table: 'recipients', columns: ['name'] } },
    env: { RECIPIENT_DATABASE_URL: postgres.url('audience') },
    description: `PostgreSQL table recipients at ${postgres.url('audience')}`,
    notLogged: [],
    stop: async () => postgres.stop(),
  };
}
