// Small float64 statistics shared by the metrics: ranks with ties averaged, Pearson, Spearman,
// and paired similarities of embedding rows.

/** 1-based ranks, ties get the average of the ranks they span (scipy.stats.rankdata 'average'). */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) r[idx[t]] = avg;
    i = j + 1;
  }
  return r;
}

/** Pearson correlation; NaN when either side is constant (as scipy). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new Error('pearson: length mismatch');
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Spearman ρ = Pearson of average ranks (scipy.stats.spearmanr). */
export const spearman = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  pearson(averageRanks(a), averageRanks(b));

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const d = Math.sqrt(na) * Math.sqrt(nb);
  return d > 0 ? s / d : 0;
}

/**
 * The cosine MTEB's STS and pair-classification evaluators use: `1 - paired_cosine_distances(x, y)`
 * (mteb/evaluation/evaluators/STSEvaluator.py, PairClassificationEvaluator.py), where sklearn computes
 * 0.5·‖normalize(x) − normalize(y)‖² in the embeddings' float32 and normalize() leaves a zero row at zero.
 * So identical vectors score exactly 1 (they tie in Spearman) and a zero vector scores 0.5 against anything.
 */
export function pairedCosine(a: Float32Array, b: Float32Array): number {
  const norm = (v: Float32Array) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    return Math.fround(Math.sqrt(s)) || 1;
  };
  const na = norm(a);
  const nb = norm(b);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.fround(a[i] / na) - Math.fround(b[i] / nb);
    d += x * x;
  }
  return 1 - 0.5 * d;
}

export function euclidean(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

export function manhattan(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s;
}

/** Row-wise L2 normalisation into a new array (x / max(‖x‖, 1e-12)). */
export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.max(Math.sqrt(s), 1e-12);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] / n;
  return out;
}

export const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
/** Population standard deviation (numpy's default ddof=0). */
export const std = (xs: readonly number[]) => {
  const m = mean(xs);
  return xs.length ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) : 0;
};
