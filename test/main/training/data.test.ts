import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Kind, NewExample } from '../../../src/shared/domain';
import { Store } from '../../../src/main/store';
import { loadTrainRows, planEpoch, stepsPerEpoch, type TrainRow } from '../../../src/main/training/data';
import { tmpDir } from '../../helpers/tmp';

const fmt = (ins: string, q: string) => `Instruct: ${ins}\nQuery: ${q}`;

describe('training rows', () => {
  it('takes accepted train rows with the right instruction per kind', () => {
    const store = Store.open(path.join(tmpDir(), 'db.sqlite'));
    const d = store.datasets.create('mix');
    const task = store.db
      .prepare(
        "INSERT INTO tasks (dataset_id, kind, text, origin) VALUES (?, 'short-long', 'Find recipes', 'brainstorm')",
      )
      .run(d.id).lastInsertRowid;
    const rows: NewExample[] = [
      {
        kind: 'short-long',
        taskId: Number(task),
        query: 'q1',
        positive: 'p1',
        negative: 'n1',
        status: 'accepted',
        split: 'train',
      },
      { kind: 'sts', query: 'q2', positive: 'p2', status: 'accepted', split: 'train' },
      { kind: 'bitext', query: 'q3', positive: 'p3', status: 'accepted', split: 'train' },
      {
        kind: 'short-short',
        instruction: 'Imported instruction',
        query: 'q4',
        positive: 'p4',
        status: 'accepted',
        split: 'train',
      },
      { kind: 'sts', query: 'q5', positive: 'p5', status: 'rejected', split: 'train' },
      { kind: 'sts', query: 'q6', positive: 'p6', status: 'accepted', split: 'test' },
    ];
    store.examples.insertMany(d.id, rows);
    const got = loadTrainRows(store, ['mix'], fmt);
    expect(got.map((r) => r.query)).toEqual([
      'Instruct: Find recipes\nQuery: q1',
      'Instruct: Retrieve semantically similar text.\nQuery: q2',
      'Instruct: Retrieve parallel sentences.\nQuery: q3',
      'Instruct: Imported instruction\nQuery: q4',
    ]);
    expect(got[0].negative).toBe('n1');
    expect(got[1].negative).toBeNull();
    store.close();
  });
});

describe('epoch plans', () => {
  const rows: TrainRow[] = Array.from({ length: 103 }, (_, i) => ({
    id: i + 1,
    kind: (['sts', 'bitext', 'short-long'] as Kind[])[i % 3],
    dataset: i < 60 ? 'a' : 'b',
    instruction: 'x',
    query: `q${i}`,
    positive: `p${i}`,
    negative: null,
  }));

  it('is a seeded permutation cut into full batches, different per epoch', () => {
    const a = planEpoch(rows, 10, 42, 0, 'none');
    expect(a.batches.length).toBe(10);
    expect(a.batches.every((b) => b.length === 10)).toBe(true);
    expect(new Set(a.batches.flat()).size).toBe(100);
    expect(planEpoch(rows, 10, 42, 0, 'none')).toEqual(a);
    expect(planEpoch(rows, 10, 42, 1, 'none').batches).not.toEqual(a.batches);
    expect(planEpoch(rows, 10, 43, 0, 'none').batches).not.toEqual(a.batches);
    expect(stepsPerEpoch(rows, 10, 'none')).toBe(10);
  });

  it('--group-by kind / dataset: every batch from one group', () => {
    for (const g of ['kind', 'dataset'] as const) {
      const p = planEpoch(rows, 8, 1, 0, g);
      expect(p.batches.length).toBe(stepsPerEpoch(rows, 8, g));
      for (const b of p.batches) {
        const keys = new Set(b.map((i) => (g === 'kind' ? rows[i].kind : rows[i].dataset)));
        expect(keys.size).toBe(1);
      }
      // Groups are interleaved, not run one after the other.
      const firstKeys = p.batches
        .slice(0, 6)
        .map((b) => (g === 'kind' ? rows[b[0]].kind : rows[b[0]].dataset));
      expect(new Set(firstKeys).size).toBeGreaterThan(1);
    }
  });
});
