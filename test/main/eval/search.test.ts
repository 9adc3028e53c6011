import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/main/errors';
import { RandomState } from '../../../src/main/eval/metrics/rng';
import { evaluateRetrieval, type Qrels, rankDocs, type Run } from '../../../src/main/eval/metrics/retrieval';
import { bruteForceTopK, type Matrix, mergeTopK, searchTopK } from '../../../src/main/eval/search';

/** Small integer entries: dot products are exact in float32 and ties are frequent. */
function intMatrix(rng: RandomState, rows: number, dim: number, lo = -2, hi = 2): Matrix {
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = lo + rng.randint(hi - lo + 1);
  return { data, rows, dim };
}

describe('ORT k-NN search', () => {
  it('equals the brute-force reference, ties included, across chunks and query batches (worker)', async () => {
    const rng = new RandomState(1);
    const Q = intMatrix(rng, 37, 6);
    const C = intMatrix(rng, 1500, 6);
    // duplicate rows guarantee exact ties that straddle chunk borders
    C.data.copyWithin(700 * 6, 10 * 6, 11 * 6);
    C.data.copyWithin(1400 * 6, 10 * 6, 11 * 6);
    const ref = bruteForceTopK(Q, C, 25);
    const got = await searchTopK(Q, C, 25, { chunkRows: 333, queryBatch: 10 });
    let tiesSeen = 0;
    for (let q = 0; q < Q.rows; q++) {
      expect([...got.indices[q]]).toEqual([...ref.indices[q]]);
      expect([...got.scores[q]]).toEqual([...ref.scores[q]]);
      for (let j = 1; j < 25; j++) if (got.scores[q][j] === got.scores[q][j - 1]) tiesSeen++;
    }
    expect(tiesSeen).toBeGreaterThan(100);
  });

  it('random float data in the calling thread, k larger than the corpus', async () => {
    const rng = new RandomState(2);
    const mk = (rows: number, dim: number): Matrix => ({
      data: Float32Array.from({ length: rows * dim }, () => rng.random() - 0.5),
      rows,
      dim,
    });
    const Q = mk(5, 16);
    const C = mk(40, 16);
    const got = await searchTopK(Q, C, 100, { inThread: true, chunkRows: 7 });
    const ref = bruteForceTopK(Q, C, 100);
    for (let q = 0; q < 5; q++) {
      expect(got.indices[q].length).toBe(40);
      expect([...got.indices[q]]).toEqual([...ref.indices[q]]);
      got.scores[q].forEach((s, j) => {
        expect(s).toBeCloseTo(ref.scores[q][j], 5);
      });
    }
  });

  it('a corpus ordered by doc id descending yields trec_eval tie order end to end', async () => {
    // Every document ties with every other for the one query: trec_eval ranks by id descending.
    const ids = ['d1', 'd10', 'd2', 'd9', 'd100'];
    const sorted = [...ids].sort().reverse(); // ASCII ids: JS order = byte order
    const C: Matrix = { data: new Float32Array(ids.length * 2).fill(1), rows: ids.length, dim: 2 };
    const Q: Matrix = { data: Float32Array.from([1, 1]), rows: 1, dim: 2 };
    const r = await searchTopK(Q, C, 3, { inThread: true });
    const run: Run = new Map([['q', new Map([...r.indices[0]].map((i, j) => [sorted[i], r.scores[0][j]]))]]);
    const full = new Map(ids.map((d) => [d, 2]));
    expect([...r.indices[0]].map((i) => sorted[i])).toEqual(
      rankDocs(full)
        .slice(0, 3)
        .map(([d]) => d),
    );
    const qrels: Qrels = new Map([['q', new Map([['d9', 1]])]]);
    expect(evaluateRetrieval(qrels, run, { kValues: [1] }).scores.ndcg_at_1).toBe(1); // d9 ranks first
  });

  it('later chunks with nothing above the running k-th score add nothing (empty filter output)', async () => {
    const d = 4;
    const C: Matrix = { data: new Float32Array(300 * d), rows: 300, dim: d };
    for (let r = 0; r < 50; r++) C.data.set([1, 1, 0, 0], r * d); // chunk 0 holds every hit
    const Q: Matrix = { data: Float32Array.from([1, 1, 0, 0, 1, 0, 0, 0]), rows: 2, dim: d };
    const got = await searchTopK(Q, C, 10, { chunkRows: 64 });
    expect([...got.indices[0]]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...got.indices[1]]).toEqual([...bruteForceTopK(Q, C, 10).indices[1]]);
  });

  it('merges running top-k lists, earlier chunk first on ties', () => {
    const [v, i] = mergeTopK(
      Float32Array.from([3, 1]),
      Int32Array.from([0, 1]),
      Float32Array.from([3, 2]),
      Int32Array.from([5, 6]),
      3,
    );
    expect([...v]).toEqual([3, 3, 2]);
    expect([...i]).toEqual([0, 5, 6]);
  });

  it('refuses an empty corpus and a dimension mismatch with a UserError', async () => {
    const Q: Matrix = { data: new Float32Array(4), rows: 1, dim: 4 };
    await expect(searchTopK(Q, { data: new Float32Array(0), rows: 0, dim: 4 }, 10)).rejects.toThrow(
      UserError,
    );
    await expect(searchTopK(Q, { data: new Float32Array(3), rows: 1, dim: 3 }, 10)).rejects.toThrow(
      /dimension/,
    );
  });
});
