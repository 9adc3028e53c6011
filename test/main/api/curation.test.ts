// Curation procedures over a real SQLite store (issue #18.4): bulk review undone as one entry, filters and
// facets on stored attributes, token counts with a real tokenizer.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createServices } from '../../../src/main/api/services';
import { openWorkbench } from '../../../src/main/workbench';
import { EmbedTokenizer } from '../../../src/main/models/tokenizer';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

const BERT = path.join(FIXTURES, 'parity/bert');

function setup() {
  const wb = openWorkbench({ home: tmpDir() });
  const d = wb.store.datasets.create('d');
  wb.store.examples.insertMany(
    d.id,
    Array.from({ length: 12 }, (_, i) => ({
      kind: 'short-long' as const,
      language: 'en',
      query: `query ${i}`,
      positive: `a positive document number ${i} ${'word '.repeat(i * 3)}`,
      negative: i % 2 ? `negative ${i}` : null,
      // `language` repeats the column (generation stores it): no second language menu.
      attributes: {
        difficulty: ['high school', 'college', 'PhD'][i % 3],
        query_length: 'less than 5 words',
        language: 'English',
      },
    })),
  );
  const svc = createServices(wb, { transport: 'http' });
  return { wb, d, svc };
}

describe('curation procedures', () => {
  it('undoes a bulk review as one entry: statuses and reject reasons as they were', () => {
    const { wb, d, svc } = setup();
    try {
      const ids = [...wb.store.examples.iterate(d.id)].map((e) => e.id);
      svc.examples.review({ id: ids[0], action: 'reject', reason: 'off-task' });
      svc.examples.review({ id: ids[1], action: 'accept' });
      const r = svc.examples.bulkReview({ dataset: 'd', filter: {}, action: 'reject', reason: 'duplicate' });
      expect(r.changed).toBe(12);
      expect(r.undo!.upTo - r.undo!.after).toBe(12);
      svc.examples.review({ id: ids[5], action: 'accept' });
      // Reviewed again since: refused, nothing changed.
      expect(() => svc.examples.undoBulk({ dataset: 'd', ...r.undo! })).toThrow(/reviewed again since/);
      svc.examples.review({ id: ids[5], action: 'reject', reason: 'duplicate' });
      // That row's re-review is still newer than the bulk: undo it back to 'rejected' first, as a user would.
      const got = svc.examples.get({ id: ids[5] }).example;
      expect(got.status).toBe('rejected');
      const u = svc.examples.undoBulk({ dataset: 'd', ...r.undo! });
      expect(u.restored).toBe(12);
      const after = ids.map((id) => wb.store.examples.get(id));
      expect(after[0]).toMatchObject({ status: 'rejected', rejectReason: 'off-task' });
      expect(after[1]).toMatchObject({ status: 'accepted', rejectReason: null });
      expect(after.slice(2).every((e) => e.status === 'unreviewed' && e.rejectReason === null)).toBe(true);
      expect(wb.store.examples.history(ids[0]).at(-1)).toMatchObject({
        action: 'reject',
        old_value: 'rejected',
        new_value: 'rejected',
        reason: 'off-task',
      });
      expect(wb.store.examples.history(ids[2]).at(-1)).toMatchObject({
        action: 'reset',
        new_value: 'unreviewed',
      });
    } finally {
      wb.close();
    }
  });

  it('filters on stored attributes and offers them as facets with counts', () => {
    const { wb, svc } = setup();
    try {
      expect(svc.examples.count({ dataset: 'd', filter: { attributes: { difficulty: 'PhD' } } })).toBe(4);
      expect(
        svc.examples.count({
          dataset: 'd',
          filter: { attributes: { difficulty: 'PhD', query_length: 'less than 5 words' } },
        }),
      ).toBe(4);
      expect(svc.examples.count({ dataset: 'd', filter: { attributes: { difficulty: 'nope' } } })).toBe(0);
      const f = svc.examples.facets({ name: 'd' });
      expect(f.attributes).toEqual([
        {
          key: 'difficulty',
          values: expect.arrayContaining([
            { value: 'PhD', count: 4 },
            { value: 'college', count: 4 },
            { value: 'high school', count: 4 },
          ]),
        },
        { key: 'query_length', values: [{ value: 'less than 5 words', count: 12 }] },
      ]);
    } finally {
      wb.close();
    }
  });

  it('counts tokens with the model folder tokenizer, against the training length', () => {
    const { wb, d, svc } = setup();
    try {
      const ex = [...wb.store.examples.iterate(d.id)];
      const r = svc.examples.tokens({ ids: [ex[0].id, ex[11].id], model: BERT });
      const tok = EmbedTokenizer.load(BERT);
      expect(r.rows[1]).toEqual({
        id: ex[11].id,
        query: tok.encode(ex[11].query).length,
        positive: tok.encode(ex[11].positive).length,
        negative: tok.encode(ex[11].negative!).length,
      });
      expect(r.rows[0].negative).toBeNull();
      expect(r.rows[1].positive).toBeGreaterThan(r.rows[0].positive);
      expect(r.maxLength).toBe(Math.min(tok.modelMaxLength ?? 512, 512));
      expect(() => svc.examples.tokens({ ids: [ex[0].id], model: tmpDir() })).toThrow(/tokenizer/);
    } finally {
      wb.close();
    }
  });
});
