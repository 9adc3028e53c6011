import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importDataset } from '../../../src/main/import';
import { assignSplits, parseRatios, splitFor } from '../../../src/main/store/splits';
import { freshStore, writeJsonl } from '../import/helpers';

const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ anchor: `query ${from + i}`, positive: `doc ${from + i}` }));

describe('splits', () => {
  it('parses ratios and refuses ones that do not sum to 1', () => {
    expect(parseRatios('0.9,0.05,0.05')).toEqual([0.9, 0.05, 0.05]);
    expect(() => parseRatios('0.9,0.1,0.1')).toThrow(/sum to 1.1, not 1/);
    expect(() => parseRatios('0.9,0.1')).toThrow(/not three non-negative numbers/);
    expect(() => parseRatios('1.2,-0.1,-0.1')).toThrow(/not three non-negative numbers/);
    const err = (() => {
      try {
        parseRatios('0.5,0.5,0.5');
      } catch (e) {
        return e as { exitCode: number };
      }
    })();
    expect(err?.exitCode).toBe(2);
  });

  it('assigns by hash with the given ratios, keeps existing rows when rows are added, and splits new imports', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const f1 = path.join(dir, 'a.jsonl');
    writeJsonl(f1, lines(0, 4000));
    await importDataset(store, 'd', f1, { create: true, rejectedDir });
    const id = store.datasets.get('d').id;
    const settings = { ratios: [0.8, 0.1, 0.1] as [number, number, number], seed: 3 };
    const r = assignSplits(store.db, id, settings);
    expect(r.assigned).toBe(4000);
    // Within a few standard deviations of the ratios.
    expect(Math.abs(r.bySplit.train / 4000 - 0.8)).toBeLessThan(0.03);
    expect(Math.abs(r.bySplit.dev / 4000 - 0.1)).toBeLessThan(0.03);
    const before = new Map([...store.examples.iterate(id)].map((e) => [e.id, e.split]));
    for (const e of store.examples.iterate(id)) expect(e.split).toBe(splitFor(e.contentHash, settings));
    // New rows get a split on import, by the same rule; old rows keep theirs.
    const f2 = path.join(dir, 'b.jsonl');
    writeJsonl(f2, lines(3000, 5000));
    const imp = await importDataset(store, 'd', f2, { rejectedDir });
    expect(imp).toMatchObject({ inserted: 1000, duplicates: 1000 });
    for (const e of store.examples.iterate(id)) {
      if (before.has(e.id)) expect(e.split).toBe(before.get(e.id));
      else expect(e.split).toBe(splitFor(e.contentHash, settings));
    }
    // A different seed moves rows only with reassign.
    const other = { ratios: [0.8, 0.1, 0.1] as [number, number, number], seed: 4 };
    expect(assignSplits(store.db, id, other).assigned).toBe(0);
    expect(assignSplits(store.db, id, other, { reassign: true }).assigned).toBe(5000);
    const moved = [...store.examples.iterate(id)].filter(
      (e) => before.has(e.id) && e.split !== before.get(e.id),
    );
    expect(moved.length).toBeGreaterThan(100);
    store.close();
  });
});
