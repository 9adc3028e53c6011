import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/main/store/db';
import { MIGRATIONS } from '../../../src/main/store/migrations';
import { Store } from '../../../src/main/store';
import { tmpDir } from '../../helpers/tmp';

describe('store', () => {
  it('migrates an empty file to the latest version with WAL and foreign keys', () => {
    const file = path.join(tmpDir(), 'a.db');
    const db = openDatabase(file);
    expect(db.pragma('user_version', { simple: true })).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    // New files get 16 KiB pages (bulk imports and index scans); existing files keep theirs.
    expect(db.pragma('page_size', { simple: true })).toBe(16384);
    db.close();
    // Reopening applies nothing twice.
    const again = openDatabase(file);
    expect(again.pragma('user_version', { simple: true })).toBe(
      Math.max(...MIGRATIONS.map((m) => m.version)),
    );
    again.close();
  });

  it('skips duplicates by content hash, keeps FTS in sync and records review history', () => {
    const store = Store.open(path.join(tmpDir(), 'b.db'));
    const d = store.datasets.create('ds');
    const r = store.examples.insertMany(d.id, [
      { kind: 'short-long', query: 'how do magnets work', positive: 'Magnets attract iron.', language: 'en' },
      {
        kind: 'short-long',
        query: 'how do  magnets work ',
        positive: 'Magnets attract iron.',
        language: 'en',
      },
      {
        kind: 'sts',
        query: 'a cat sleeps',
        positive: 'a cat is sleeping',
        negative: 'a dog runs',
        language: 'en',
      },
    ]);
    expect(r).toMatchObject({ inserted: 2, duplicates: 1 });
    expect(store.examples.page(d.id, { filter: { search: 'how magnets' } }).map((e) => e.query)).toEqual([
      'how do magnets work',
    ]);
    const id = r.ids[0];
    store.examples.edit(id, 'query', 'why do compasses point north');
    expect(store.examples.page(d.id, { filter: { search: 'how magnets' } })).toHaveLength(0);
    expect(store.examples.page(d.id, { filter: { search: 'compasses' } })).toHaveLength(1);
    store.examples.review(id, 'reject', 'too_short');
    const h = store.examples.history(id) as { action: string; old_value: string }[];
    expect(h.map((x) => x.action)).toEqual(['edit', 'reject']);
    expect(h[0].old_value).toBe('how do magnets work');
    const s = store.examples.stats(d.id, d.name);
    expect(s.byStatus).toEqual({ rejected: 1, unreviewed: 1 });
    store.datasets.delete('ds');
    expect((store.db.prepare('select count(*) n from examples_fts').get() as { n: number }).n).toBe(0);
    store.close();
  });

  it('pages by offset and by keyset identically', () => {
    const store = Store.open(path.join(tmpDir(), 'c.db'));
    const d = store.datasets.create('ds');
    store.examples.insertMany(
      d.id,
      Array.from({ length: 250 }, (_, i) => ({
        kind: (i % 2 ? 'sts' : 'bitext') as 'sts' | 'bitext',
        query: `q${i}`,
        positive: `p${i}`,
        language: i % 3 ? 'en' : 'de',
      })),
    );
    const filter = { kind: 'sts' as const, language: 'en' };
    const byOffset = store.examples.page(d.id, { filter, sort: 'language', limit: 10, offset: 10 });
    const first = store.examples.page(d.id, { filter, sort: 'language', limit: 10 });
    const last = first[first.length - 1];
    const byKeyset = store.examples.page(d.id, {
      filter,
      sort: 'language',
      limit: 10,
      after: { value: last.language!, id: last.id },
    });
    expect(byKeyset.map((e) => e.id)).toEqual(byOffset.map((e) => e.id));
    store.close();
  });
});
