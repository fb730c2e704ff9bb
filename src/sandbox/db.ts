// Opens the sandbox's SQLite database and creates its tables. All times are epoch milliseconds.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS templates (
  id TEXT PRIMARY KEY, app_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
  components TEXT NOT NULL, is_active INTEGER NOT NULL, version INTEGER NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  UNIQUE (app_id, name));
CREATE INDEX IF NOT EXISTS templates_by_app ON templates (app_id, id);

CREATE TABLE IF NOT EXISTS send_requests (
  id TEXT PRIMARY KEY, app_id TEXT NOT NULL, template_id TEXT NOT NULL, status INTEGER NOT NULL,
  total INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, pending_consent INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, completed_at INTEGER);
CREATE INDEX IF NOT EXISTS send_requests_by_app ON send_requests (app_id, id);

-- One row per (send request, ppnum): the recipient's state and the delivery ledger in one.
-- step/due_at is the recipient's next scheduled transition (NULL when nothing is left to do).
-- Only the indexes a query uses: each costs every insert (id is a monotonic ULID, unique as made).
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, send_request_id TEXT NOT NULL,
  app_id TEXT NOT NULL, template_id TEXT NOT NULL, ppnum TEXT NOT NULL, rendered TEXT NOT NULL,
  outcome TEXT NOT NULL, status INTEGER NOT NULL, message_id TEXT, error_code TEXT,
  step TEXT, due_at INTEGER, accepted_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  UNIQUE (send_request_id, ppnum));
CREATE INDEX IF NOT EXISTS messages_due ON messages (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_by_ppnum ON messages (ppnum);

CREATE TABLE IF NOT EXISTS events (
  event_id TEXT PRIMARY KEY, app_id TEXT NOT NULL, send_request_id TEXT NOT NULL, type INTEGER NOT NULL,
  recipient TEXT, summary TEXT, occurred_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_app ON events (app_id, event_id);
CREATE INDEX IF NOT EXISTS events_by_request ON events (send_request_id, event_id);

CREATE TABLE IF NOT EXISTS consents (
  app_id TEXT NOT NULL, ppnum TEXT NOT NULL, decision TEXT NOT NULL, decided_at INTEGER NOT NULL,
  PRIMARY KEY (app_id, ppnum)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS poll_responses (
  send_request_id TEXT NOT NULL, ppnum TEXT NOT NULL, option_index INTEGER NOT NULL,
  option_text TEXT NOT NULL, responded_at INTEGER NOT NULL,
  PRIMARY KEY (send_request_id, ppnum)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS quota_use (
  app_id TEXT NOT NULL, month TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (app_id, month)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS app_counters (
  app_id TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (app_id, name)) WITHOUT ROWID;
`;

export function openDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  return db;
}
