// Imports stage their rows in a hidden dataset and publish them at the end, so an import commits in short
// transactions (other writers wait at most one chunk) while readers, and a killed import, still see the whole
// file or nothing: staged rows belong to a dataset no name lookup or listing returns.
import os from 'node:os';
import { UserError } from '../errors';
import { type Db, nowIso } from './db';

/** Names of staging datasets; user names start with a letter or digit, so they can never collide. */
export const STAGING_PREFIX = '~import-';

/**
 * WAL pages between automatic checkpoints on an importing connection (SQLite's default is 1,000 = 16 MB with
 * 16 KiB pages): a 5k-row chunk writes ~10 MB, so the default checkpointed (copy + two fsyncs) after nearly every
 * chunk; 16k pages (256 MB) checkpoint ~16× less often, as rarely as the old one-transaction import did.
 */
export const IMPORT_WAL_AUTOCHECKPOINT = 16_384;

export interface Staging {
  id: number;
  name: string;
}

interface StagingInfo {
  target: string;
  pid: number;
  host: string;
  startedAt: string;
}

/** Staging datasets of imports running in this process (two app import jobs share a pid). */
const running = new Set<string>();

/** Creates the hidden dataset an import fills, owned by this process. */
export function createStaging(db: Db, target: string): Staging {
  const name = `${STAGING_PREFIX}${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const info: StagingInfo = { target, pid: process.pid, host: os.hostname(), startedAt: nowIso() };
  const id = Number(
    db
      .prepare('INSERT INTO datasets (name, settings_json) VALUES (?, ?)')
      .run(name, JSON.stringify({ staging: info })).lastInsertRowid,
  );
  running.add(name);
  return { id, name };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Deletes a staging dataset and its rows, `chunk` rows per transaction: the rows are invisible, so a partial
 * delete shows nothing, and other writers wait at most one chunk.
 */
export function dropStaging(db: Db, id: number, chunk = 2000): void {
  const name = db.prepare('SELECT name FROM datasets WHERE id = ?').pluck().get(id) as string | undefined;
  if (name) running.delete(name);
  const del = db.prepare(
    'DELETE FROM examples WHERE id IN (SELECT id FROM examples WHERE dataset_id = ? LIMIT ?)',
  );
  while (db.transaction(() => del.run(id, chunk).changes)() > 0) {}
  db.transaction(() => db.prepare('DELETE FROM datasets WHERE id = ?').run(id))();
}

/** Removes what imports killed before publishing left behind (their process is gone). Returns how many. */
export function purgeDeadStagings(db: Db): number {
  const rows = db
    .prepare("SELECT id, name, settings_json FROM datasets WHERE substr(name, 1, 8) = '~import-'")
    .all() as { id: number; name: string; settings_json: string }[];
  let n = 0;
  for (const r of rows) {
    const info = JSON.parse(r.settings_json || '{}').staging as StagingInfo | undefined;
    const live =
      running.has(r.name) ||
      (info && info.host === os.hostname() && info.pid !== process.pid && alive(info.pid));
    if (live) continue;
    dropStaging(db, r.id);
    n++;
  }
  return n;
}

/** Tables whose rows point at a dataset (besides examples and the derived counts), from the schema itself. */
function referencingColumns(db: Db): { table: string; column: string }[] {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .pluck()
    .all() as string[];
  const out: { table: string; column: string }[] = [];
  for (const t of tables) {
    if (t === 'examples' || t === 'example_counts') continue;
    for (const fk of db.prepare(`PRAGMA foreign_key_list("${t}")`).all() as { table: string; from: string }[])
      if (fk.table === 'datasets') out.push({ table: t, column: fk.from });
  }
  return out;
}

/**
 * Makes the staged rows part of `target`, in one transaction. Rows whose content the target already has are
 * dropped as duplicates. A missing target is created (the staging dataset is renamed: O(1)); an empty,
 * unreferenced target is replaced by the staging dataset, which takes over its name, description and settings
 * (O(1), the dataset id changes); otherwise the rows move to the target (one row update each: a long write for a
 * large import into a non-empty dataset). `inside` runs in the same transaction after the rows are published.
 */
export function publishStaging(
  db: Db,
  staging: Staging,
  target: string,
  opts: { create: boolean; inside?: (datasetId: number) => void },
): { datasetId: number; duplicates: number } {
  running.delete(staging.name);
  return db.transaction(() => {
    if (!db.prepare('SELECT 1 FROM datasets WHERE id = ? AND name = ?').get(staging.id, staging.name))
      throw new UserError(
        `the import's staged rows were removed meanwhile (another process took them for a killed import's); nothing was imported, run the import again`,
      );
    const t = db
      .prepare('SELECT id, description, settings_json, created_at FROM datasets WHERE name = ?')
      .get(target) as
      | { id: number; description: string; settings_json: string; created_at: string }
      | undefined;
    const now = nowIso();
    if (!t) {
      if (!opts.create)
        throw new UserError(
          `dataset "${target}" was deleted while the import ran; nothing was imported (pass --create to create it)`,
        );
      db.prepare("UPDATE datasets SET name = ?, settings_json = '{}', updated_at = ? WHERE id = ?").run(
        target,
        now,
        staging.id,
      );
      opts.inside?.(staging.id);
      return { datasetId: staging.id, duplicates: 0 };
    }
    const duplicates = db
      .prepare(
        `DELETE FROM examples WHERE id IN (
           SELECT s.id FROM examples s JOIN examples t ON t.dataset_id = ? AND t.content_hash = s.content_hash
           WHERE s.dataset_id = ?)`,
      )
      .run(t.id, staging.id).changes;
    const refs = referencingColumns(db);
    const empty =
      !db.prepare('SELECT 1 FROM examples WHERE dataset_id = ? LIMIT 1').get(t.id) &&
      refs.every((r) => !db.prepare(`SELECT 1 FROM "${r.table}" WHERE "${r.column}" = ? LIMIT 1`).get(t.id));
    let datasetId = t.id;
    if (empty) {
      db.prepare('DELETE FROM datasets WHERE id = ?').run(t.id);
      db.prepare(
        'UPDATE datasets SET name = ?, description = ?, settings_json = ?, created_at = ?, updated_at = ? WHERE id = ?',
      ).run(target, t.description, t.settings_json, t.created_at, now, staging.id);
      datasetId = staging.id;
    } else {
      db.prepare('UPDATE examples SET dataset_id = ? WHERE dataset_id = ?').run(t.id, staging.id);
      db.prepare('DELETE FROM datasets WHERE id = ?').run(staging.id);
      db.prepare('UPDATE datasets SET updated_at = ? WHERE id = ?').run(now, t.id);
    }
    opts.inside?.(datasetId);
    return { datasetId, duplicates };
  })();
}
