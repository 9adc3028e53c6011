// Clustering (EVALUATION.md §1.6): V-measure of a seeded mini-batch k-means, with MTEB's legacy protocol
// (one k-means per set) and the bootstrap protocol (rounds of indices drawn with replacement).
// The k-means follows sklearn's MiniBatchKMeans outline (greedy k-means++ on an init sample, mini-batch
// centre updates with per-centre counts, EWA-inertia early stopping) driven by numpy's RandomState, but
// it is not a line-by-line port: the random draws and the low-count reassignment differ, so cluster
// assignments (and V-measure) can differ slightly from sklearn's.
import { RandomState } from './rng';
import { mean, std } from './stats';

const entropy = (counts: Iterable<number>, n: number) => {
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return h;
};

/** sklearn homogeneity_completeness_v_measure (β = 1), natural log. */
export function vMeasure(labelsTrue: readonly (number | string)[], labelsPred: readonly (number | string)[]) {
  const n = labelsTrue.length;
  if (n === 0) return { homogeneity: 1, completeness: 1, v_measure: 1 };
  const ids = (xs: readonly (number | string)[]) => {
    const m = new Map<string, number>();
    return xs.map((v) => {
      const key = `${typeof v}:${v}`;
      let id = m.get(key);
      if (id === undefined) {
        id = m.size;
        m.set(key, id);
      }
      return id;
    });
  };
  const a = ids(labelsTrue);
  const b = ids(labelsPred);
  const nb = b.reduce((x, y) => Math.max(x, y), 0) + 1;
  const cont = new Map<number, number>();
  const ct = new Map<number, number>();
  const cp = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = a[i] * nb + b[i];
    cont.set(key, (cont.get(key) ?? 0) + 1);
    ct.set(a[i], (ct.get(a[i]) ?? 0) + 1);
    cp.set(b[i], (cp.get(b[i]) ?? 0) + 1);
  }
  const hC = entropy(ct.values(), n);
  const hK = entropy(cp.values(), n);
  let mi = 0;
  for (const [key, nij] of cont) {
    const ni = ct.get(Math.floor(key / nb))!;
    const nj = cp.get(key % nb)!;
    mi += (nij / n) * Math.log((n * nij) / (ni * nj));
  }
  const homogeneity = hC ? mi / hC : 1;
  const completeness = hK ? mi / hK : 1;
  const v =
    homogeneity + completeness > 0 ? (2 * homogeneity * completeness) / (homogeneity + completeness) : 0;
  return { homogeneity, completeness, v_measure: v };
}

const sqdist = (x: Float32Array, c: Float64Array, off: number, d: number) => {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = x[j] - c[off + j];
    s += t * t;
  }
  return s;
};

/** Index of the center nearest to x (the first on ties, as sklearn's argmin). */
const nearest = (x: Float32Array, centers: Float64Array, k: number, d: number) => {
  let arg = 0;
  let bd = Number.POSITIVE_INFINITY;
  for (let c = 0; c < k; c++) {
    const s = sqdist(x, centers, c * d, d);
    if (s < bd) {
      bd = s;
      arg = c;
    }
  }
  return arg;
};

export interface KMeansOptions {
  batchSize?: number;
  maxIter?: number;
  seed?: number;
  maxNoImprovement?: number;
}

/** Mini-batch k-means; returns the label of every point. */
export function miniBatchKMeans(X: readonly Float32Array[], k: number, opts: KMeansOptions = {}): number[] {
  const n = X.length;
  const d = X[0]?.length ?? 0;
  if (n === 0) return [];
  k = Math.min(k, n);
  const batch = Math.min(opts.batchSize ?? 1024, n);
  const rng = new RandomState(opts.seed ?? 42);
  const centers = new Float64Array(k * d);

  // Greedy k-means++ on an init sample of 3·batch points (sklearn's init_size default).
  const initIdx =
    3 * batch < n ? Array.from({ length: 3 * batch }, () => rng.randint(n)) : X.map((_, i) => i);
  const pts = initIdx.map((i) => X[i]);
  const m = pts.length;
  const trials = 2 + Math.floor(Math.log(k));
  const first = rng.randint(m);
  for (let j = 0; j < d; j++) centers[j] = pts[first][j];
  const closest = new Float64Array(m);
  for (let i = 0; i < m; i++) closest[i] = sqdist(pts[i], centers, 0, d);
  for (let c = 1; c < k; c++) {
    const pot = closest.reduce((a, b) => a + b, 0);
    let bestCand = -1;
    let bestPot = Number.POSITIVE_INFINITY;
    let bestD: Float64Array | null = null;
    for (let t = 0; t < trials; t++) {
      // searchsorted(cumsum(closest), u · pot)
      const u = rng.random() * pot;
      let acc = 0;
      let cand = m - 1;
      for (let i = 0; i < m; i++) {
        acc += closest[i];
        if (acc > u) {
          cand = i;
          break;
        }
      }
      const nd = new Float64Array(m);
      let p = 0;
      for (let i = 0; i < m; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += (pts[i][j] - pts[cand][j]) ** 2;
        nd[i] = Math.min(closest[i], s);
        p += nd[i];
      }
      if (p < bestPot) {
        bestPot = p;
        bestCand = cand;
        bestD = nd;
      }
    }
    for (let j = 0; j < d; j++) centers[c * d + j] = pts[bestCand][j];
    closest.set(bestD!);
  }

  const counts = new Float64Array(k);
  const nSteps = Math.floor(((opts.maxIter ?? 100) * n) / batch);
  const maxNoImp = opts.maxNoImprovement ?? 10;
  let ewa: number | null = null;
  let best = Number.POSITIVE_INFINITY;
  let noImp = 0;
  const sums = new Float64Array(k * d);
  const bc = new Float64Array(k);
  for (let step = 0; step < nSteps; step++) {
    sums.fill(0);
    bc.fill(0);
    let inertia = 0;
    for (let b = 0; b < batch; b++) {
      const x = X[rng.randint(n)];
      const arg = nearest(x, centers, k, d);
      inertia += sqdist(x, centers, arg * d, d);
      bc[arg]++;
      for (let j = 0; j < d; j++) sums[arg * d + j] += x[j];
    }
    for (let c = 0; c < k; c++) {
      if (!bc[c]) continue;
      const total = counts[c] + bc[c];
      for (let j = 0; j < d; j++)
        centers[c * d + j] = (centers[c * d + j] * counts[c] + sums[c * d + j]) / total;
      counts[c] = total;
    }
    inertia /= batch;
    const alpha = Math.min(1, (batch * 2) / (n + 1));
    ewa = ewa === null ? inertia : ewa * (1 - alpha) + inertia * alpha;
    if (ewa < best) {
      best = ewa;
      noImp = 0;
    } else if (++noImp >= maxNoImp) break;
  }
  return X.map((x) => nearest(x, centers, k, d));
}

/** Legacy protocol: per set, MiniBatchKMeans(k = #labels, batch 500, seed 42), V-measure; mean and std. */
export function clusteringLegacy(sets: { X: Float32Array[]; labels: (string | number)[] }[]) {
  const v = sets.map((s) => {
    const k = new Set(s.labels).size;
    return vMeasure(s.labels, miniBatchKMeans(s.X, k, { batchSize: 500, seed: 42 })).v_measure;
  });
  return { v_measure: mean(v), v_measure_std: std(v), v_measures: v, main_score: mean(v) };
}

/** Bootstrap protocol: rounds × `size` indices drawn with replacement, MiniBatchKMeans(batch 512, seed 42). */
export function clusteringBootstrap(
  X: readonly Float32Array[],
  labels: readonly (string | number)[],
  opts: { rounds?: number; size?: number; seed?: number } = {},
) {
  const rng = new RandomState(opts.seed ?? 42);
  const k = new Set(labels).size;
  const v: number[] = [];
  for (let r = 0; r < (opts.rounds ?? 10); r++) {
    const idx = Array.from({ length: opts.size ?? 16_384 }, () => rng.randint(X.length));
    const pred = miniBatchKMeans(
      idx.map((i) => X[i]),
      k,
      { batchSize: 512, seed: 42 },
    );
    v.push(
      vMeasure(
        idx.map((i) => labels[i]),
        pred,
      ).v_measure,
    );
  }
  return { v_measure: mean(v), v_measure_std: std(v), v_measures: v, main_score: mean(v) };
}
