// STS, pair classification and bitext-mining metrics (EVALUATION.md §1.3, §1.4, §1.8).
import { dot, euclidean, manhattan, pairedCosine, pearson, spearman } from './stats';

/** STS: Spearman/Pearson of gold scores vs cosine, −euclidean, −manhattan (and the model similarity). */
export function stsScores(
  gold: readonly number[],
  a: readonly Float32Array[],
  b: readonly Float32Array[],
): Record<string, number> {
  const cos = a.map((x, i) => pairedCosine(x, b[i]));
  const euc = a.map((x, i) => -euclidean(x, b[i]));
  const man = a.map((x, i) => -manhattan(x, b[i]));
  const s = {
    cosine_pearson: pearson(gold, cos),
    cosine_spearman: spearman(gold, cos),
    euclidean_pearson: pearson(gold, euc),
    euclidean_spearman: spearman(gold, euc),
    manhattan_pearson: pearson(gold, man),
    manhattan_spearman: spearman(gold, man),
  };
  // The models here have cosine as their similarity function.
  return { pearson: s.cosine_pearson, spearman: s.cosine_spearman, ...s, main_score: s.cosine_spearman };
}

/**
 * sklearn average_precision_score: Σ_n (R_n − R_{n−1})·P_n over distinct thresholds, descending; tied
 * scores form one threshold. 0 when there is no positive.
 */
export function averagePrecision(labels: readonly number[], scores: readonly number[]): number {
  const idx = labels.map((_, i) => i).sort((x, y) => scores[y] - scores[x]);
  const P = labels.reduce((s, l) => s + (l === 1 ? 1 : 0), 0);
  if (P === 0) return 0;
  let tp = 0;
  let fp = 0;
  let prevR = 0;
  let ap = 0;
  let i = 0;
  while (i < idx.length) {
    const s = scores[idx[i]];
    while (i < idx.length && scores[idx[i]] === s) {
      if (labels[idx[i]] === 1) tp++;
      else fp++;
      i++;
    }
    const r = tp / P;
    ap += (r - prevR) * (tp / (tp + fp));
    prevR = r;
  }
  return ap;
}

/**
 * MTEB's threshold sweeps: rows sorted by score (Python's stable sort, so tied rows keep input order),
 * a cut tried after each row except the last; best accuracy and, separately, best F1.
 */
export function bestAccuracyAndF1(
  scores: readonly number[],
  labels: readonly number[],
  highMoreSimilar: boolean,
) {
  const order = scores
    .map((_, i) => i)
    .sort((x, y) => (highMoreSimilar ? scores[y] - scores[x] : scores[x] - scores[y]));
  const n = labels.length;
  const totalPos = labels.reduce((s, l) => s + (l === 1 ? 1 : 0), 0);
  let remainingNeg = n - totalPos;
  let posSoFar = 0;
  let accuracy = 0;
  let accThreshold = -1;
  let f1 = 0;
  let precision = 0;
  let recall = 0;
  let f1Threshold = 0;
  let extracted = 0;
  for (let i = 0; i < n - 1; i++) {
    const label = labels[order[i]];
    if (label === 1) posSoFar++;
    else remainingNeg--;
    const acc = (posSoFar + remainingNeg) / n;
    const mid = (scores[order[i]] + scores[order[i + 1]]) / 2;
    if (acc > accuracy) {
      accuracy = acc;
      accThreshold = mid;
    }
    extracted++;
    if (posSoFar > 0) {
      const p = posSoFar / extracted;
      const r = posSoFar / totalPos;
      const f = (2 * p * r) / (p + r);
      if (f > f1) {
        f1 = f;
        precision = p;
        recall = r;
        f1Threshold = mid;
      }
    }
  }
  return { accuracy, accuracyThreshold: accThreshold, f1, precision, recall, f1Threshold };
}

/** Pair classification over the five scorers, then max_* over scorers (each maximised independently). */
export function pairClassificationScores(
  labels: readonly number[],
  a: readonly Float32Array[],
  b: readonly Float32Array[],
): Record<string, number> {
  const cos = a.map((x, i) => pairedCosine(x, b[i]));
  const scorers: [string, number[], boolean][] = [
    ['similarity', cos, true],
    ['cosine', cos, true],
    ['manhattan', a.map((x, i) => manhattan(x, b[i])), false],
    ['euclidean', a.map((x, i) => euclidean(x, b[i])), false],
    ['dot', a.map((x, i) => dot(x, b[i])), true],
  ];
  const out: Record<string, number> = {};
  const max: Record<string, number> = {};
  for (const [name, s, high] of scorers) {
    const r = bestAccuracyAndF1(s, labels, high);
    const ap = averagePrecision(labels, high ? s : s.map((v) => -v));
    const m: Record<string, number> = {
      accuracy: r.accuracy,
      accuracy_threshold: r.accuracyThreshold,
      f1: r.f1,
      f1_threshold: r.f1Threshold,
      precision: r.precision,
      recall: r.recall,
      ap,
    };
    for (const [k, v] of Object.entries(m)) {
      out[`${name}_${k}`] = v;
      if (!k.endsWith('threshold')) max[k] = Math.max(max[k] ?? Number.NEGATIVE_INFINITY, v);
    }
  }
  for (const [k, v] of Object.entries(max)) out[`max_${k}`] = v;
  out.main_score = out.max_ap;
  return out;
}

/**
 * Bitext mining from the nearest-neighbour predictions: pred[i] = index of the sentence2 found for
 * sentence1 i, gold = i. sklearn weighted metrics with every index a class: F1 = (1/n)·Σ_{i correct}
 * 2/(1+m_i), m_i = how many queries predicted i.
 */
export function bitextScores(pred: readonly number[], gold?: readonly number[]): Record<string, number> {
  const n = pred.length;
  const g = gold ?? pred.map((_, i) => i);
  const predCount = new Map<number, number>();
  for (const p of pred) predCount.set(p, (predCount.get(p) ?? 0) + 1);
  const support = new Map<number, number>();
  for (const x of g) support.set(x, (support.get(x) ?? 0) + 1);
  const tp = new Map<number, number>();
  for (let i = 0; i < n; i++) if (pred[i] === g[i]) tp.set(g[i], (tp.get(g[i]) ?? 0) + 1);
  let f1 = 0;
  let precision = 0;
  let recall = 0;
  for (const [label, sup] of support) {
    const t = tp.get(label) ?? 0;
    const m = predCount.get(label) ?? 0;
    const p = m ? t / m : 0;
    const r = t / sup;
    f1 += (sup * (p + r > 0 ? (2 * p * r) / (p + r) : 0)) / n;
    precision += (sup * p) / n;
    recall += (sup * r) / n;
  }
  const accuracy = n ? [...tp.values()].reduce((s, v) => s + v, 0) / n : 0;
  return { precision, recall, f1, accuracy, main_score: f1 };
}
