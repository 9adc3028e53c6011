import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Kind } from '../../../src/shared/domain';
import { Store } from '../../../src/main/store';
import { assignSplits } from '../../../src/main/store/splits';
import { tmpDir } from '../../helpers/tmp';

const KINDS: Kind[] = ['short-long', 'sts', 'bitext'];

/** Stats from the maintained counts must equal a GROUP BY over the rows (forced by an `origin` filter). */
function expectConsistent(store: Store, id: number) {
  const fast = store.examples.stats(id, 'ds');
  const slow = store.examples.stats(id, 'ds', { origin: 'import' });
  expect(fast).toEqual(slow);
  // Same key order too (the counts path groups in JS, the slow path in SQL): JSON output must not change.
  expect(JSON.stringify(fast)).toBe(JSON.stringify(slow));
  for (const filter of [
    { kind: 'sts' as Kind },
    { status: 'accepted' as const, language: 'de' },
    { split: 'none' as const },
  ])
    expect(store.examples.stats(id, 'ds', filter)).toEqual(
      store.examples.stats(id, 'ds', { ...filter, origin: 'import' }),
    );
  return fast;
}

describe('stats counts', () => {
  it('stay equal to a full GROUP BY through inserts, reviews, edits, splits, deletes and id reuse', () => {
    const store = Store.open(path.join(tmpDir(), 's.db'));
    const d = store.datasets.create('ds');
    const other = store.datasets.create('other');
    const rows = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) => {
        const kind = KINDS[i % 3];
        return kind === 'bitext'
          ? { kind, query: `${tag} q${i}`, positive: `p${i}`, srcLang: 'en', tgtLang: i % 2 ? 'fr' : 'de' }
          : { kind, query: `${tag} q${i}`, positive: `p${i}`, language: i % 4 ? 'en' : 'de' };
      });
    const r = store.examples.insertMany(d.id, rows(60, 'a'));
    store.examples.insertMany(other.id, rows(10, 'o'));
    let s = expectConsistent(store, d.id);
    expect(s.total).toBe(60);
    expect(s.byLanguage['en-fr']).toBe(10);
    // Updates of counted rows go through the triggers.
    store.examples.review(r.ids[0], 'accept');
    store.examples.bulkReview(d.id, { kind: 'sts' }, 'reject', 'dup');
    store.examples.edit(r.ids[3], 'query', 'edited');
    assignSplits(store.db, d.id, { ratios: [0.5, 0.3, 0.2], seed: 1 });
    store.examples.insertMany(d.id, rows(9, 'b')); // not yet folded...
    store.examples.bulkReview(d.id, { kind: 'bitext' }, 'accept'); // ...and updated before the fold
    s = expectConsistent(store, d.id);
    expect(s.total).toBe(69);
    expect(s.byStatus.rejected).toBe(20);
    // Deleting the highest rows lowers the watermark; their reused ids are counted as new rows.
    const top = store.db.prepare('SELECT max(id) AS m FROM examples').get() as { m: number };
    store.db.prepare('DELETE FROM examples WHERE id > ?').run(top.m - 12);
    store.examples.insertMany(d.id, rows(5, 'c'));
    s = expectConsistent(store, d.id);
    expect(s.total).toBe(store.examples.count(d.id));
    store.datasets.delete('other');
    expectConsistent(store, d.id);
    store.datasets.delete('ds');
    expect(store.db.prepare('SELECT count(*) AS n FROM example_counts').get()).toEqual({ n: 0 });
    store.close();
  });

  it('sum the counts rows that share a cell (a language with several src/tgt pairs) and keep the cells sorted', () => {
    const store = Store.open(path.join(tmpDir(), 's.db'));
    const d = store.datasets.create('ds');
    const rows = [
      { kind: 'bitext' as Kind, query: 'a', positive: 'a', srcLang: 'pt-BR', tgtLang: 'en' },
      { kind: 'bitext' as Kind, query: 'b', positive: 'b', srcLang: 'pt', tgtLang: 'BR-en' },
      { kind: 'bitext' as Kind, query: 'c', positive: 'c', language: 'de', srcLang: 'de', tgtLang: 'fr' },
      { kind: 'bitext' as Kind, query: 'd', positive: 'd', language: 'de', srcLang: 'de', tgtLang: 'it' },
      { kind: 'bitext' as Kind, query: 'e', positive: 'e', language: 'de' },
      { kind: 'sts' as Kind, query: 'f', positive: 'f', language: 'de', status: 'accepted' as const },
      { kind: 'sts' as Kind, query: 'g', positive: 'g' },
    ];
    store.examples.insertMany(d.id, rows);
    const s = expectConsistent(store, d.id);
    expect(s.total).toBe(rows.length);
    expect(s.cells.map((c) => [c.kind, c.language, c.status, c.count])).toEqual(
      [...s.cells]
        .map((c) => [c.kind, c.language, c.status, c.count])
        .sort((a, b) => {
          for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
          return 0;
        }),
    );
    expect(s.byLanguage.de).toBe(4);
    expect(s.cells.find((c) => c.kind === 'bitext' && c.language === 'de')?.count).toBe(3);
    store.close();
  });

  it('sorts by created_at as by id and pages identically by offset and keyset', () => {
    const store = Store.open(path.join(tmpDir(), 'p.db'));
    const d = store.datasets.create('ds');
    store.examples.insertMany(
      d.id,
      Array.from({ length: 300 }, (_, i) => ({
        kind: KINDS[i % 3],
        query: `q${i}`,
        positive: `p${i}`,
        language: i % 5 ? 'en' : 'de',
        status: i % 7 ? ('unreviewed' as const) : ('accepted' as const),
      })),
    );
    const filter = {
      kind: ['short-long', 'sts'] as Kind[],
      language: ['en', 'de'],
      status: 'unreviewed' as const,
    };
    const all = store.examples.page(d.id, { filter, limit: 10_000 });
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));
    const desc = store.examples.page(d.id, { filter, sort: 'created_at', desc: true, limit: 25, offset: 50 });
    expect(desc.map((e) => e.id)).toEqual(
      [...all]
        .reverse()
        .slice(50, 75)
        .map((e) => e.id),
    );
    const prev = all[99];
    const keyset = store.examples.page(d.id, { filter, limit: 25, after: { value: prev.id, id: prev.id } });
    expect(keyset.map((e) => e.id)).toEqual(all.slice(100, 125).map((e) => e.id));
    expect(store.examples.page(d.id, { filter, limit: 25, offset: 100 }).map((e) => e.id)).toEqual(
      keyset.map((e) => e.id),
    );
    store.close();
  });

  it('serves deep offset pages over multi-value filters from the id-ordered index with the same rows', () => {
    const store = Store.open(path.join(tmpDir(), 'deep.db'));
    const d = store.datasets.create('ds');
    store.examples.insertMany(
      d.id,
      Array.from({ length: 21_000 }, (_, i) => ({
        kind: KINDS[i % 3],
        query: `q${i}`,
        positive: `p${i}`,
        language: ['en', 'de', 'fr'][i % 4] ?? 'ja',
      })),
    );
    const filter = { kind: ['short-long', 'bitext'] as Kind[], language: ['en', 'de', 'ja'] };
    const ids = store.db
      .prepare(
        `SELECT id FROM examples WHERE kind IN ('short-long','bitext') AND language IN ('en','de','ja') ORDER BY id`,
      )
      .pluck()
      .all() as number[];
    expect(ids.length).toBeGreaterThan(10_100);
    const page = store.examples.page(d.id, { filter, limit: 50, offset: 10_000 });
    expect(page.map((e) => e.id)).toEqual(ids.slice(10_000, 10_050));
    const prev = ids[9_999];
    expect(
      store.examples.page(d.id, { filter, limit: 50, after: { value: prev, id: prev } }).map((e) => e.id),
    ).toEqual(ids.slice(10_000, 10_050));
    store.close();
  });
});
