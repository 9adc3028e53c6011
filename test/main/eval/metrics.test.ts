import { describe, expect, it } from 'vitest';
import {
  classificationMetrics,
  fitLogisticRegression,
  linearProbe,
  predict,
  undersample,
} from '../../../src/main/eval/metrics/classification';
import { clusteringLegacy, miniBatchKMeans, vMeasure } from '../../../src/main/eval/metrics/clustering';
import {
  averagePrecision,
  bestAccuracyAndF1,
  bitextScores,
  pairClassificationScores,
  stsScores,
} from '../../../src/main/eval/metrics/pairs';
import {
  compareUtf8,
  evaluateRetrieval,
  type Qrels,
  rankDocs,
  type Run,
} from '../../../src/main/eval/metrics/retrieval';
import { RandomState } from '../../../src/main/eval/metrics/rng';
import { averageRanks, cosine, spearman } from '../../../src/main/eval/metrics/stats';

const qrels = (o: Record<string, Record<string, number>>): Qrels =>
  new Map(Object.entries(o).map(([q, d]) => [q, new Map(Object.entries(d))]));
const run = (o: Record<string, Record<string, number>>): Run => qrels(o) as Run;
const log2 = Math.log2;

describe('retrieval metrics (trec_eval semantics)', () => {
  // EVALUATION.md §1.1 worked example, numbers from trec_eval built from source.
  const Q = qrels({ q1: { d1: 2, d2: 1, d3: 0, d4: 1, d5: 2 }, q2: { a: 1, c: 0 } });
  const R = run({ q1: { d3: 0.9, d1: 0.8, d2: 0.8, d6: 0.7, d4: 0.5 }, q2: { b: 0.9, a: 0.4 } });

  it('reproduces the worked trec_eval example per query and on average', () => {
    const r = evaluateRetrieval(Q, R, { kValues: [3, 5] });
    const q1 = r.perQuery.get('q1')!;
    const q2 = r.perQuery.get('q2')!;
    const table = {
      q1: {
        ndcg: [0.4335, 0.4813],
        map: [0.2917, 0.4417],
        recall: [0.5, 0.75],
        precision: [0.6667, 0.6],
        mrr: 0.5,
      },
      q2: { ndcg: [0.6309, 0.6309], map: [0.5, 0.5], recall: [1, 1], precision: [0.3333, 0.2], mrr: 0.5 },
    };
    for (const [got, want] of [
      [q1, table.q1],
      [q2, table.q2],
    ] as const) {
      for (const k of ['ndcg', 'map', 'recall', 'precision'] as const)
        want[k].forEach((v, i) => {
          expect(got[k][i]).toBeCloseTo(v, 4);
        });
      expect(got.mrr[1]).toBeCloseTo(want.mrr, 10);
    }
    expect(r.scores.ndcg_at_3).toBeCloseTo(0.5322, 4);
    expect(r.scores.ndcg_at_5).toBeCloseTo(0.5561, 4);
    expect(r.scores.map_at_3).toBeCloseTo(0.3958, 4);
    expect(r.scores.map_at_5).toBeCloseTo(0.4708, 4);
    expect(r.scores.recall_at_3).toBe(0.75);
    expect(r.scores.recall_at_5).toBe(0.875);
    expect(r.scores.precision_at_3).toBeCloseTo(0.5, 5);
    expect(r.scores.precision_at_5).toBeCloseTo(0.4, 5);
    expect(r.scores.mrr_at_5).toBe(0.5);
    // q1 nDCG@5 = (1/log2 3 + 2/log2 4 + 1/log2 6) / (2 + 2/log2 3 + 1/2 + 1/log2 5)
    const ndcg5 = (1 / log2(3) + 2 / log2(4) + 1 / log2(6)) / (2 + 2 / log2(3) + 1 / 2 + 1 / log2(5));
    expect(q1.ndcg[1]).toBeCloseTo(ndcg5, 12);
  });

  it('breaks score ties by doc id descending (d2 before d1; d9 before d10)', () => {
    expect(rankDocs(R.get('q1')!).map(([d]) => d)).toEqual(['d3', 'd2', 'd1', 'd6', 'd4']);
    // With d1 before d2, nDCG@3 would be 0.4684: the tie order is what gives 0.4335.
    const r = evaluateRetrieval(Q, R, { kValues: [3] });
    expect(r.perQuery.get('q1')!.ndcg[0]).toBeCloseTo(0.4335, 4);
    expect(r.perQuery.get('q1')!.ndcg[0]).not.toBeCloseTo(0.4684, 3);
    expect(
      rankDocs(
        new Map([
          ['d10', 1],
          ['d9', 1],
        ]),
      ).map(([d]) => d),
    ).toEqual(['d9', 'd10']);
  });

  it('compares ids by UTF-8 bytes, not UTF-16 units', () => {
    // U+FF5E is EF BD 9E in UTF-8, U+1F600 is F0 9F 98 80: the emoji is larger in bytes but its UTF-16
    // lead surrogate D83D is smaller than FF5E.
    expect(compareUtf8('\u{1F600}', '\uFF5E')).toBeGreaterThan(0);
    expect('\u{1F600}' < '\uFF5E').toBe(true);
    expect(compareUtf8('ab', 'a')).toBeGreaterThan(0);
    expect(compareUtf8('é', 'z')).toBeGreaterThan(0);
    expect(
      rankDocs(
        new Map([
          ['\uFF5E', 0.5],
          ['\u{1F600}', 0.5],
        ]),
      ).map(([d]) => d),
    ).toEqual(['\u{1F600}', '\uFF5E']);
  });

  it('graded relevance: DCG uses the grade as gain, IDCG all judged grades sorted', () => {
    const r = evaluateRetrieval(qrels({ q: { a: 3, b: 1, c: 2 } }), run({ q: { b: 0.9, x: 0.8, a: 0.7 } }), {
      kValues: [2, 3],
    });
    const p = r.perQuery.get('q')!;
    // DCG@3 = 1/log2 2 + 0/log2 3 + 3/log2 4 = 2.5; IDCG@3 = 3 + 2/log2 3 + 1/2
    expect(p.ndcg[1]).toBeCloseTo(2.5 / (3 + 2 / log2(3) + 0.5), 12);
    // DCG@2 = 1; IDCG@2 = 3 + 2/log2 3
    expect(p.ndcg[0]).toBeCloseTo(1 / (3 + 2 / log2(3)), 12);
    // AP@3 = (1/1 + 2/3) / R, R = 3 relevant in qrels (c never retrieved still counts)
    expect(p.map[1]).toBeCloseTo((1 + 2 / 3) / 3, 12);
  });

  it('missing judgements count as non-relevant; P@k divides by k even with fewer results', () => {
    const r = evaluateRetrieval(qrels({ q: { a: 1 } }), run({ q: { u1: 0.9, a: 0.5 } }), { kValues: [10] });
    const p = r.perQuery.get('q')!;
    expect(p.precision[0]).toBe(1 / 10); // 1 relevant / k = 10
    expect(p.mrr[0]).toBe(1 / 2); // first relevant at rank 2
    expect(p.ndcg[0]).toBeCloseTo(1 / log2(3), 12); // DCG = 1/log2 3, IDCG = 1
    expect(p.hitRate[0]).toBe(1);
  });

  it('skips queries without qrels or without a run, keeps grade-0-only queries at 0, ignores negative grades', () => {
    const r = evaluateRetrieval(
      qrels({ q1: { a: 1 }, q2: { b: 0 }, q3: { c: 1 }, q4: {}, q5: { e: -1, f: 1 } }),
      run({ q1: { a: 1 }, q2: { b: 1 }, q4: { x: 1 }, q9: { a: 1 }, q5: { e: 0.9, f: 0.1 } }),
      { kValues: [1] },
    );
    // evaluated: q1 (1.0), q2 (0, only grade-0 docs), q5 (e unjudged, f relevant at rank 2 → 0 at k=1)
    expect([...r.perQuery.keys()].sort()).toEqual(['q1', 'q2', 'q5']);
    expect(r.scores.ndcg_at_1).toBeCloseTo(1 / 3, 5);
    expect(r.scores.recall_at_1).toBeCloseTo(1 / 3, 5);
    expect(r.perQuery.get('q2')!.map[0]).toBe(0); // R = 0 → AP = 0
  });

  it('a query id that is also a corpus id: kept by default, dropped with ignoreIdenticalIds', () => {
    const Qx = qrels({ q7: { d1: 1 } });
    const Rx = run({ q7: { q7: 0.99, d1: 0.5 } });
    // Kept: q7 at rank 1 is unjudged, d1 at rank 2 → RR = 1/2, nDCG@1 = 0
    const kept = evaluateRetrieval(Qx, Rx, { kValues: [1, 10] });
    expect(kept.scores.mrr_at_10).toBe(0.5);
    expect(kept.scores.ndcg_at_1).toBe(0);
    // Dropped: d1 moves to rank 1 → RR = 1, nDCG@1 = 1
    const dropped = evaluateRetrieval(Qx, Rx, { kValues: [1, 10], ignoreIdenticalIds: true });
    expect(dropped.scores.mrr_at_10).toBe(1);
    expect(dropped.scores.ndcg_at_1).toBe(1);
  });
});

describe('STS', () => {
  it('Spearman averages tied ranks', () => {
    expect([...averageRanks([1, 2, 2, 3])]).toEqual([1, 2.5, 2.5, 4]);
    // ranks a = [1, 2.5, 2.5, 4], b = [1, 3, 2, 4]; ρ = Σ da·db / sqrt(Σda² Σdb²) = 4.5 / sqrt(4.5 · 5)
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 12);
  });

  it('scores cosine / euclidean / manhattan variants', () => {
    const v = (...x: number[]) => Float32Array.from(x);
    const a = [v(1, 0), v(1, 0), v(1, 0)];
    const b = [v(1, 0), v(1, 1), v(0, 1)];
    const s = stsScores([5, 3, 0], a, b);
    // cosines 1, 1/√2, 0 are in the gold order → ρ = 1
    expect(s.cosine_spearman).toBeCloseTo(1, 12);
    expect(s.main_score).toBe(s.cosine_spearman);
    // −euclidean: 0, −1, −√2 → same order
    expect(s.euclidean_spearman).toBeCloseTo(1, 12);
    // Pearson of gold [5,3,0] vs cos [1, .7071, 0]
    const cos = [1, Math.SQRT1_2, 0];
    const mg = 8 / 3;
    const mc = (1 + Math.SQRT1_2) / 3;
    const num = [5, 3, 0].reduce((s, g, i) => s + (g - mg) * (cos[i] - mc), 0);
    const den = Math.sqrt(
      [5, 3, 0].reduce((s, g) => s + (g - mg) ** 2, 0) * cos.reduce((s, c) => s + (c - mc) ** 2, 0),
    );
    expect(s.cosine_pearson).toBeCloseTo(num / den, 6);
  });
});

describe('STS and pair scores as MTEB computes them', () => {
  // MTEB's STS and pair-classification evaluators score `1 - paired_cosine_distances(e1, e2)` (sklearn:
  // 0.5·‖normalize(x) − normalize(y)‖², a zero row left at zero), so identical pairs score exactly 1 and tie.
  const rnd = (seed: number, n: number) => {
    let x = seed;
    return Float32Array.from({ length: n }, () => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x / 2 ** 31 - 0.5;
    });
  };

  it('identical pairs tie at exactly 1 (our old cosine gave 1 ± ulp and split the tie)', () => {
    const same = Array.from({ length: 40 }, (_, i) => rnd(i + 1, 37));
    // The precondition that makes this test meaningful: a·a/(|a||a|) is not exactly 1 for some of them.
    expect(same.some((v) => cosine(v, v) !== 1)).toBe(true);
    const other = Array.from({ length: 10 }, (_, i) => [rnd(100 + i, 37), rnd(200 + i, 37)]);
    const a = [...same, ...other.map((p) => p[0])];
    const b = [...same.map((v) => Float32Array.from(v)), ...other.map((p) => p[1])];
    // Gold spreads over the identical pairs, so their (tied) ranks matter.
    const gold = a.map((_, i) => (i < same.length ? 3 + (i % 3) : i % 4));
    const s = stsScores(gold, a, b);
    const want = spearman(gold, [...same.map(() => 1), ...other.map(([x, y]) => cosine(x, y))]);
    expect(s.cosine_spearman).toBe(want);
  });

  it('a zero embedding (empty text) scores 0.5 against anything, like MTEB', () => {
    const z = new Float32Array(8);
    const u = rnd(7, 8);
    const a = [z, u, rnd(8, 8)];
    const b = [u, z, rnd(9, 8)];
    const s = stsScores([1, 2, 3], a, b);
    // pairs 0 and 1 both score 0.5 → tied; Spearman vs [0.5, 0.5, cos] computed independently.
    expect(s.cosine_spearman).toBeCloseTo(spearman([1, 2, 3], [0.5, 0.5, cosine(a[2], b[2])]), 12);
    const pc = pairClassificationScores([0, 1, 1], a, b);
    expect(pc.cosine_ap).toBeCloseTo(averagePrecision([0, 1, 1], [0.5, 0.5, cosine(a[2], b[2])]), 12);
  });
});

describe('pair classification', () => {
  it('AP treats tied scores as one threshold', () => {
    // thresholds .9 (tp1 fp0: P=1, R=.5), .5 (tp2 fp1: P=2/3, R=1), .1 → AP = .5·1 + .5·2/3
    expect(averagePrecision([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1])).toBeCloseTo(0.5 + 0.5 * (2 / 3), 12);
    // Breaking the tie positive-first would give 1.0.
    expect(averagePrecision([1, 1, 0, 0], [0.9, 0.5, 0.4, 0.1])).toBe(1);
  });

  it('sweeps thresholds between consecutive items like MTEB', () => {
    // sorted desc labels 1,0,1,0; acc after each cut: 3/4, 2/4, 3/4 → best .75 at (.9+.8)/2
    // F1 after each cut: 2/3, 1/2, 4/5 (P=2/3, R=1) → best .8 at (.3+.2)/2
    const r = bestAccuracyAndF1([0.9, 0.8, 0.3, 0.2], [1, 0, 1, 0], true);
    expect(r.accuracy).toBe(0.75);
    expect(r.accuracyThreshold).toBeCloseTo(0.85, 12);
    expect(r.f1).toBeCloseTo(0.8, 12);
    expect(r.precision).toBeCloseTo(2 / 3, 12);
    expect(r.recall).toBe(1);
    expect(r.f1Threshold).toBeCloseTo(0.25, 12);
    // distances: low = similar; same data negated must give the same results
    const d = bestAccuracyAndF1([0.1, 0.2, 0.7, 0.8], [1, 0, 1, 0], false);
    expect(d.accuracy).toBe(0.75);
    expect(d.f1).toBeCloseTo(0.8, 12);
  });

  it('max_* are maxima over the five scorers', () => {
    const v = (...x: number[]) => Float32Array.from(x);
    const s = pairClassificationScores(
      [1, 0, 1, 0],
      [v(1, 0), v(1, 0), v(2, 0), v(0, 3)],
      [v(1, 0), v(0, 1), v(2, 0.1), v(3, 0)],
    );
    for (const m of ['ap', 'accuracy', 'f1']) {
      const each = ['similarity', 'cosine', 'manhattan', 'euclidean', 'dot'].map((n) => s[`${n}_${m}`]);
      expect(s[`max_${m}`]).toBe(Math.max(...each));
    }
    expect(s.main_score).toBe(s.max_ap);
  });
});

describe('bitext mining', () => {
  it('weighted F1 with many-to-one predictions: (1/n) Σ_correct 2/(1+m_i)', () => {
    // pred [0,0,2,2]: 0 and 2 correct, each predicted twice → F1 = (2/3 + 2/3) / 4
    const s = bitextScores([0, 0, 2, 2]);
    expect(s.f1).toBeCloseTo((2 / 3 + 2 / 3) / 4, 12);
    expect(s.accuracy).toBe(0.5);
    // one-to-one predictions: F1 = accuracy
    const t = bitextScores([0, 2, 1, 3]);
    expect(t.f1).toBeCloseTo(t.accuracy, 12);
    expect(t.accuracy).toBe(0.5);
  });
});

describe('clustering', () => {
  it('V-measure on a hand case', () => {
    // true [0,0,1,1], pred [0,0,0,1]: H(C) = ln 2; H(K) = −(¾ ln ¾ + ¼ ln ¼)
    // MI = ½ ln(4·2/(2·3)) + ¼ ln(4·1/(2·3)) + ¼ ln(4·1/(2·1))
    const hC = Math.log(2);
    const hK = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
    const mi = 0.5 * Math.log(8 / 6) + 0.25 * Math.log(4 / 6) + 0.25 * Math.log(2);
    const h = mi / hC;
    const c = mi / hK;
    const r = vMeasure([0, 0, 1, 1], ['x', 'x', 'x', 'y']);
    expect(r.homogeneity).toBeCloseTo(h, 12);
    expect(r.completeness).toBeCloseTo(c, 12);
    expect(r.v_measure).toBeCloseTo((2 * h * c) / (h + c), 12);
    expect(vMeasure([0, 0, 1, 1], [5, 5, 7, 7]).v_measure).toBeCloseTo(1, 12);
    // a single cluster: completeness 1 (H(K)=0), homogeneity 0 → v = 0
    expect(vMeasure([0, 1], [0, 0]).v_measure).toBe(0);
  });

  it('mini-batch k-means recovers well separated blobs, deterministically', () => {
    const rng = new RandomState(7);
    const X: Float32Array[] = [];
    const y: number[] = [];
    for (let i = 0; i < 300; i++) {
      const c = i % 3;
      X.push(Float32Array.from([c * 10 + rng.random(), (c % 2) * 10 + rng.random(), rng.random()]));
      y.push(c);
    }
    const a = miniBatchKMeans(X, 3, { batchSize: 64, seed: 42 });
    expect(miniBatchKMeans(X, 3, { batchSize: 64, seed: 42 })).toEqual(a);
    expect(vMeasure(y, a).v_measure).toBeCloseTo(1, 12);
    expect(clusteringLegacy([{ X, labels: y }]).v_measure).toBeCloseTo(1, 12);
  });
});

describe('classification', () => {
  it('reproduces numpy RandomState(42)', () => {
    // np.random.RandomState(42).random_sample() and .shuffle(list(range(10)))
    const r = new RandomState(42);
    expect(r.random()).toBe(0.3745401188473625);
    expect(r.random()).toBe(0.9507143064099162);
    expect(new RandomState(42).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual([
      8, 1, 5, 0, 7, 2, 9, 4, 3, 6,
    ]);
  });

  it('undersamples like MTEB: the index list carries over between experiments', () => {
    const y = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
    const idxs = y.map((_, i) => i);
    const first = undersample(y, 2, idxs, 42);
    // after the first shuffle idxs = [8,1,5,0,7,2,9,4,3,6] → first two of each label in that order
    expect(first).toEqual([8, 1, 5, 0]);
    const second = undersample(y, 2, idxs, 42);
    expect(second).not.toEqual(first);
  });

  it('sklearn-style macro / weighted metrics', () => {
    // labels 0: P=1/2 R=1/2 F=1/2; 1: P=2/3 R=1 F=4/5; 2: P=0 R=0 F=0
    const m = classificationMetrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0]);
    expect(m.accuracy).toBe(3 / 5);
    expect(m.f1).toBeCloseTo((0.5 + 0.8 + 0) / 3, 12);
    expect(m.f1_weighted).toBeCloseTo((2 * 0.5 + 2 * 0.8 + 0) / 5, 12);
    expect(m.precision).toBeCloseTo((0.5 + 2 / 3) / 3, 12);
    expect(m.recall).toBeCloseTo((0.5 + 1) / 3, 12);
  });

  it('logistic regression reaches the L2-regularised optimum', () => {
    // x = ±1 with labels 1/0, C = 1: by symmetry W = [−a, a], b = 0, with a minimising
    // a² + 2·ln(1 + e^{−2a}) → 2a = 4σ(−2a); solve by bisection.
    const f = (a: number) => 2 * a - 4 / (1 + Math.exp(2 * a));
    let lo = 0;
    let hi = 2;
    for (let i = 0; i < 100; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) > 0) hi = mid;
      else lo = mid;
    }
    const m = fitLogisticRegression([Float32Array.from([1]), Float32Array.from([-1])], [1, 0]);
    expect(m.W[1]).toBeCloseTo(lo, 4);
    expect(m.W[0]).toBeCloseTo(-lo, 4);
    expect(Math.abs(m.b[0] - m.b[1])).toBeLessThan(1e-4);
    expect(predict(m, [Float32Array.from([2]), Float32Array.from([-0.5])])).toEqual([1, 0]);
  });

  it('logistic regression: the gradient of ½‖W‖² + C·Σ CE vanishes at the fit (3 classes, overlapping data)', () => {
    const rng = new RandomState(11);
    const X: Float32Array[] = [];
    const y: number[] = [];
    for (let i = 0; i < 45; i++) {
      y.push(i % 3);
      X.push(Float32Array.from({ length: 5 }, (_, j) => (j === i % 3 ? 1 : 0) + 1.5 * (rng.random() - 0.5)));
    }
    const m = fitLogisticRegression(X, y);
    // gradient: W_k += Σ_i (p_ik − [y_i = k]) x_i + W_k ; b_k += Σ_i (p_ik − [y_i = k])
    const gW = m.W.map((w) => w);
    const gb = new Float64Array(3);
    X.forEach((x, i) => {
      const z = [0, 1, 2].map((k) => m.b[k] + x.reduce((s, v, j) => s + v * m.W[k * 5 + j], 0));
      const mx = Math.max(...z);
      const e = z.map((v) => Math.exp(v - mx));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let k = 0; k < 3; k++) {
        const r = e[k] / sum - (y[i] === k ? 1 : 0);
        gb[k] += r;
        for (let j = 0; j < 5; j++) gW[k * 5 + j] += r * x[j];
      }
    });
    expect(Math.max(...[...gW, ...gb].map(Math.abs))).toBeLessThan(1e-3);
    expect(m.iterations).toBeLessThan(100);
  });

  it('linear probe: 10 experiments on separable data score 1', () => {
    const rng = new RandomState(3);
    const mk = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        x: Float32Array.from([(i % 3) * 4 + rng.random(), (i % 3 === 1 ? 4 : 0) + rng.random()]),
        y: i % 3,
      }));
    const tr = mk(60);
    const te = mk(30);
    const s = linearProbe(
      tr.map((r) => r.x),
      tr.map((r) => r.y),
      te.map((r) => r.x),
      te.map((r) => r.y),
    );
    expect(s.accuracy).toBe(1);
    expect((s.scores_per_experiment as unknown[]).length).toBe(10);
    expect(s.main_score).toBe(s.accuracy);
  });
});
