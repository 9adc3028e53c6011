import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../../../src/main/store/db';
import { MIGRATIONS } from '../../../src/main/store/migrations';
import { Store } from '../../../src/main/store';
import { tmpDir } from '../../helpers/tmp';

/**
 * FTS5's integrity check throws "database disk image is malformed" on a broken index; with `againstContent`
 * it also compares the index with the examples table (only meaningful once the queue is empty).
 */
const ftsOk = (store: Store, againstContent: boolean) => {
  store.db.exec(
    `INSERT INTO examples_fts (examples_fts, rank) VALUES ('integrity-check', ${againstContent ? 1 : 0})`,
  );
  return true;
};

describe('deferred full-text index', () => {
  it('queues inserts, indexes them before any search, and survives edits and deletes of queued rows', () => {
    const store = Store.open(path.join(tmpDir(), 'f.db'));
    const d = store.datasets.create('ds');
    const r = store.examples.insertMany(
      d.id,
      Array.from({ length: 30 }, (_, i) => ({
        kind: 'short-long' as const,
        query: `magnet question ${i}`,
        positive: `iron answer ${i}`,
      })),
    );
    expect(store.examples.pendingIndex()).toBe(30);
    // Edit and delete rows that are still queued: no 'delete' reaches the index for them.
    store.examples.edit(r.ids[0], 'query', 'compass question');
    store.db.prepare('DELETE FROM examples WHERE id IN (?, ?)').run(r.ids[1], r.ids[2]);
    expect(store.examples.pendingIndex()).toBe(28);
    expect(ftsOk(store, false)).toBe(true);
    // A search drains the queue first.
    expect(store.examples.count(d.id, { search: 'magnet' })).toBe(27);
    expect(store.examples.pendingIndex()).toBe(0);
    expect(store.examples.page(d.id, { filter: { search: 'compass' } }).map((e) => e.id)).toEqual([r.ids[0]]);
    // Indexed rows: edits and deletes keep the index in step.
    store.examples.edit(r.ids[3], 'query', 'lodestone question');
    store.db.prepare('DELETE FROM examples WHERE id = ?').run(r.ids[4]);
    expect(store.examples.count(d.id, { search: 'lodestone' })).toBe(1);
    expect(store.examples.count(d.id, { search: 'magnet' })).toBe(25);
    expect(ftsOk(store, true)).toBe(true);
    // Deleting the highest rows lowers the watermark: their reused ids are new rows, indexed on demand.
    const top = r.ids.slice(-3);
    store.db.prepare(`DELETE FROM examples WHERE id IN (${top.join(',')})`).run();
    const again = store.examples.insertMany(d.id, [
      { kind: 'short-long', query: 'gyroscope question', positive: 'spin answer' },
    ]);
    expect(again.ids[0]).toBe(top[0]);
    expect(store.examples.pendingIndex()).toBe(1);
    expect(store.examples.count(d.id, { search: 'gyroscope' })).toBe(1);
    expect(store.examples.count(d.id, { search: 'magnet' })).toBe(22);
    store.datasets.delete('ds');
    expect(ftsOk(store, true)).toBe(true);
    store.close();
  });

  it('indexes in chunks with progress', () => {
    const store = Store.open(path.join(tmpDir(), 'g.db'));
    const d = store.datasets.create('ds');
    store.examples.insertMany(
      d.id,
      Array.from({ length: 250 }, (_, i) => ({ kind: 'sts' as const, query: `q ${i}`, positive: `p ${i}` })),
    );
    const seen: number[] = [];
    expect(store.examples.indexPending({ chunk: 100, onProgress: (done) => seen.push(done) })).toBe(250);
    expect(seen).toEqual([100, 200, 250]);
    expect(store.examples.count(d.id, { search: 'p' })).toBe(250);
    store.close();
  });
});

describe('migrations ledger', () => {
  it('applies a lower-numbered migration that landed after a higher one', () => {
    const file = path.join(tmpDir(), 'm.db');
    const early = MIGRATIONS.filter((m) => m.version !== 2);
    const db = openDatabase(file, { migrations: early });
    expect(db.prepare('SELECT name FROM sqlite_master WHERE name = ?').get('fts_state')).toBeUndefined();
    expect(migrate(db, MIGRATIONS)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(db.prepare('SELECT name FROM sqlite_master WHERE name = ?').get('fts_state')).toEqual({
      name: 'fts_state',
    });
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
    // Nothing is applied twice.
    expect(() => migrate(db, MIGRATIONS)).not.toThrow();
    db.close();
  });
});
