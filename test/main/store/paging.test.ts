import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Kind, NewExample, ReviewStatus } from '../../../src/shared/domain';
import { Store } from '../../../src/main/store';
import { filterSql } from '../../../src/main/store/examples';
import { tmpDir } from '../../helpers/tmp';

const KINDS: Kind[] = ['short-long', 'long-short', 'sts', 'long-long'];
const LANGS = ['en', 'de', 'fr', 'ja'];
const STATUSES: ReviewStatus[] = ['unreviewed', 'accepted', 'rejected'];

// Rows whose filter columns cycle; `skew` makes the first half never match the filter below, so a guess
// from uniform density lands on the wrong side of the offset.
const rows = (n: number, from: number, skew: boolean): NewExample[] =>
  Array.from({ length: n }, (_, j) => {
    const i = from + j;
    const late = !skew || i >= from + n / 2;
    return {
      kind: late ? KINDS[i % 4] : 'long-long',
      language: LANGS[(i >> 2) % 4],
      status: STATUSES[(i >> 4) % 3],
      query: `query ${i}`,
      positive: `positive ${i}`,
    };
  });

describe('deep offset pages over multi-value filters', () => {
  it('return the same rows as the plain OFFSET query, with fresh, stale or empty counts and skewed ids', () => {
    const store = Store.open(path.join(tmpDir(), 'p.db'));
    const a = store.datasets.create('a');
    const b = store.datasets.create('b');
    const filter = {
      kind: ['short-long', 'sts', 'long-short'] as Kind[],
      language: ['en', 'ja', 'de'],
      status: ['unreviewed', 'accepted'] as ReviewStatus[],
    };
    const reference = (ds: number, offset: number, limit: number) => {
      const { where, params } = filterSql(ds, filter);
      return store.db
        .prepare(`SELECT e.id FROM examples e NOT INDEXED WHERE ${where} ORDER BY e.id LIMIT ? OFFSET ?`)
        .pluck()
        .all(...params, limit, offset);
    };
    const sqls: string[] = [];
    const prepare = store.db.prepare.bind(store.db);
    vi.spyOn(store.db, 'prepare').mockImplementation(((sql: string) => {
      sqls.push(sql);
      return prepare(sql);
    }) as typeof store.db.prepare);
    const check = (ds: number, total: number) => {
      for (const offset of [10_000, Math.floor(total / 2), total - 50, total + 10]) {
        const got = store.examples.page(ds, { filter, limit: 100, offset }).map((e) => e.id);
        expect(got).toEqual(reference(ds, offset, 100));
      }
    };

    // Empty counts table (never folded): falls back to the plain query.
    store.examples.insertMany(a.id, rows(120_000, 0, false));
    store.examples.insertMany(b.id, rows(120_000, 0, true));
    const total = (ds: number) => store.examples.count(ds, filter);
    check(a.id, total(a.id));
    // Fresh counts: the guessed id is used.
    store.examples.foldCounts();
    sqls.length = 0;
    check(a.id, total(a.id));
    expect(sqls.some((s) => s.includes('INDEXED BY examples_curation'))).toBe(true);
    check(b.id, total(b.id));
    // Stale counts (rows above the watermark): still the same rows.
    store.examples.insertMany(a.id, rows(30_000, 120_000, true));
    check(a.id, total(a.id));
    store.close();
  });
});
