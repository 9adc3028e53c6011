import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { UserError } from '../errors';
import { MIGRATIONS, type Migration } from './migrations';

export type Db = Database.Database;

/** How long a writer waits for another connection's write transaction (SQLite busy timeout). */
export const BUSY_TIMEOUT_MS = Number(process.env.EMBEDSMITH_BUSY_TIMEOUT_MS) || 5000;

export { BUSY_MESSAGE, isSqliteBusy } from '../../shared/busy';

/**
 * Every `db.transaction(fn)()` begins IMMEDIATE: a deferred transaction that reads first and then writes
 * cannot wait for the lock (SQLite returns SQLITE_BUSY at once when another connection wrote meanwhile, so
 * review clicks failed within milliseconds during an import); taking the write lock up front makes the busy
 * timeout apply. Read-only transactions call `.deferred()` explicitly.
 */
function immediateByDefault(db: Db): void {
  const make = db.transaction.bind(db);
  // biome-ignore lint/suspicious/noExplicitAny: better-sqlite3's Transaction type is generic over fn
  (db as any).transaction = (fn: (...a: any[]) => any) => {
    const t = make(fn);
    return Object.assign((...a: unknown[]) => t.immediate(...a), {
      default: t.immediate,
      deferred: t.deferred,
      immediate: t.immediate,
      exclusive: t.exclusive,
    });
  };
}

/**
 * Opens (creating if needed) the workspace database: WAL, foreign keys, busy timeout, then migrations.
 * A file that is not a database, or one we cannot write, becomes a one-line UserError.
 */
export function openDatabase(file: string, opts: { readonly?: boolean; migrations?: Migration[] } = {}): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const fresh = file === ':memory:' || !fs.existsSync(file) || fs.statSync(file).size === 0;
  let db: Db;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (e) {
    throw new UserError(
      `${file}: cannot open the database (${(e as Error).message}); check the path and its permissions`,
    );
  }
  try {
    // New files get 16 KiB pages (before WAL fixes the size): examples average ~2 KB with documents, and
    // bigger pages cut B-tree splits and page I/O for bulk imports and index scans.
    if (fresh && !opts.readonly) db.pragma('page_size = 16384');
    if (!opts.readonly) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    immediateByDefault(db);
    db.pragma('synchronous = NORMAL');
    // SQLite's default page cache is 2 MB; at 500k rows the content-hash UNIQUE index takes random
    // inserts, and a cache that holds the hot index pages keeps imports and deep pages off the disk.
    db.pragma('cache_size = -131072');
    db.pragma('temp_store = MEMORY');
    if (!opts.readonly) migrate(db, opts.migrations ?? MIGRATIONS);
  } catch (e) {
    db.close();
    const msg = (e as Error).message;
    if (/not a database|malformed|file is encrypted/i.test(msg))
      throw new UserError(
        `${file}: not a valid Embedsmith database (${msg}); move it aside or point --home elsewhere`,
      );
    if (/readonly|read-only|attempt to write/i.test(msg))
      throw new UserError(
        `${file}: the database is read-only (${msg}); fix its permissions or use another --home`,
      );
    throw e;
  }
  return db;
}

/**
 * Applies every migration not yet recorded in schema_migrations, in ascending order, each in one
 * transaction; PRAGMA user_version follows the highest applied. A ledger rather than "newer than
 * user_version" because areas number migrations in separate ranges: a database that already has version 10
 * must still get a version 2 that landed later. Databases from before the ledger count every listed version
 * up to their user_version as applied.
 */
export function migrate(db: Db, migrations: Migration[]): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))`);
  const current = db.pragma('user_version', { simple: true }) as number;
  const ledger = db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[];
  const record = db.prepare('INSERT OR IGNORE INTO schema_migrations (version, name) VALUES (?, ?)');
  if (!ledger.length && current > 0)
    for (const m of migrations) if (m.version <= current) record.run(m.version, m.name);
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const pending = migrations.filter((m) => !applied.has(m.version)).sort((a, b) => a.version - b.version);
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql);
      m.run?.(db);
      record.run(m.version, m.name);
      const top = db.pragma('user_version', { simple: true }) as number;
      db.pragma(`user_version = ${Math.max(top, m.version)}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}

export const nowIso = () => new Date().toISOString();
