// Classification by linear probe (EVALUATION.md §1.5): MTEB's undersampling with numpy's RandomState(42)
// shuffle, then a multinomial logistic regression (L2, C = 1, intercept, L-BFGS, max_iter 100) like
// sklearn's LogisticRegression defaults. sklearn's lbfgs (scipy L-BFGS-B with a Moré–Thuente-type line
// search) is not ported line by line, so coefficients agree only to the optimiser's tolerance.
import { averagePrecision } from './pairs';
import { RandomState } from './rng';
import { mean, std } from './stats';

export interface LogRegOptions {
  C?: number;
  maxIter?: number;
  /** Stop when the max |projected gradient| falls below this (sklearn tol 1e-4). */
  tol?: number;
}

export interface LogRegModel {
  classes: number[];
  /** [nClasses × dim] row-major, then an intercept per class. */
  W: Float64Array;
  b: Float64Array;
  dim: number;
  iterations: number;
}

/**
 * Minimises ½‖W‖² + C·Σ_i CE(softmax(W x_i + b), y_i) (intercept not penalised) with L-BFGS (memory 10,
 * backtracking Armijo line search).
 */
export function fitLogisticRegression(
  X: readonly Float32Array[],
  y: readonly number[],
  opts: LogRegOptions = {},
): LogRegModel {
  const C = opts.C ?? 1;
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-4;
  const classes = [...new Set(y)].sort((a, b) => a - b);
  const K = classes.length;
  const d = X[0]?.length ?? 0;
  const n = X.length;
  const yi = y.map((v) => classes.indexOf(v));
  const P = K * d + K;
  const theta = new Float64Array(P);
  if (K < 2) return { classes, W: new Float64Array(K * d), b: new Float64Array(K), dim: d, iterations: 0 };
  const logits = new Float64Array(K);

  const fg = (th: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let f = 0;
    for (let i = 0; i < n; i++) {
      const x = X[i];
      let mx = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < K; k++) {
        let s = th[K * d + k];
        const off = k * d;
        for (let j = 0; j < d; j++) s += th[off + j] * x[j];
        logits[k] = s;
        if (s > mx) mx = s;
      }
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(logits[k] - mx);
      const lz = mx + Math.log(z);
      f += C * (lz - logits[yi[i]]);
      for (let k = 0; k < K; k++) {
        const p = Math.exp(logits[k] - lz) - (k === yi[i] ? 1 : 0);
        const cp = C * p;
        const off = k * d;
        for (let j = 0; j < d; j++) g[off + j] += cp * x[j];
        g[K * d + k] += cp;
      }
    }
    for (let j = 0; j < K * d; j++) {
      f += 0.5 * th[j] * th[j];
      g[j] += th[j];
    }
    return f;
  };

  const m = 10;
  const S: Float64Array[] = [];
  const Yh: Float64Array[] = [];
  const rho: number[] = [];
  let g = new Float64Array(P);
  let f = fg(theta, g);
  const dir = new Float64Array(P);
  const alpha = new Float64Array(m);
  let iter = 0;
  const dotp = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };
  for (; iter < maxIter; iter++) {
    let gmax = 0;
    for (let i = 0; i < P; i++) gmax = Math.max(gmax, Math.abs(g[i]));
    if (gmax <= tol) break;
    // Two-loop recursion: dir = −H·g.
    for (let i = 0; i < P; i++) dir[i] = -g[i];
    for (let t = S.length - 1; t >= 0; t--) {
      alpha[t] = rho[t] * dotp(S[t], dir);
      for (let i = 0; i < P; i++) dir[i] -= alpha[t] * Yh[t][i];
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dotp(S[last], Yh[last]) / dotp(Yh[last], Yh[last]);
      for (let i = 0; i < P; i++) dir[i] *= gamma;
    } else {
      // First step: unit-length steepest descent keeps the initial step sane.
      const gn = Math.sqrt(dotp(g, g));
      for (let i = 0; i < P; i++) dir[i] /= Math.max(gn, 1e-12);
    }
    for (let t = 0; t < S.length; t++) {
      const beta = rho[t] * dotp(Yh[t], dir);
      for (let i = 0; i < P; i++) dir[i] += S[t][i] * (alpha[t] - beta);
    }
    let slope = dotp(g, dir);
    if (slope >= 0) {
      for (let i = 0; i < P; i++) dir[i] = -g[i];
      slope = dotp(g, dir);
      S.length = 0;
      Yh.length = 0;
      rho.length = 0;
    }
    let step = 1;
    const next = new Float64Array(P);
    const gNext = new Float64Array(P);
    let fNext = f;
    let ok = false;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < P; i++) next[i] = theta[i] + step * dir[i];
      fNext = fg(next, gNext);
      if (fNext <= f + 1e-4 * step * slope) {
        ok = true;
        break;
      }
      step *= 0.5;
    }
    if (!ok) break;
    const s = new Float64Array(P);
    const yv = new Float64Array(P);
    for (let i = 0; i < P; i++) {
      s[i] = next[i] - theta[i];
      yv[i] = gNext[i] - g[i];
    }
    const sy = dotp(s, yv);
    if (sy > 1e-12) {
      S.push(s);
      Yh.push(yv);
      rho.push(1 / sy);
      if (S.length > m) {
        S.shift();
        Yh.shift();
        rho.shift();
      }
    }
    theta.set(next);
    const df = f - fNext;
    f = fNext;
    g = gNext;
    // scipy's factr criterion: relative reduction below ~2.2e-9 (sklearn passes ftol 64 · eps).
    if (df <= 64 * Number.EPSILON * Math.max(Math.abs(f), Math.abs(fNext), 1)) {
      iter++;
      break;
    }
  }
  return { classes, W: theta.slice(0, K * d), b: theta.slice(K * d), dim: d, iterations: iter };
}

export function decisionFunction(model: LogRegModel, x: Float32Array): Float64Array {
  const K = model.classes.length;
  const out = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let s = model.b[k];
    const off = k * model.dim;
    for (let j = 0; j < model.dim; j++) s += model.W[off + j] * x[j];
    out[k] = s;
  }
  return out;
}

export function predict(model: LogRegModel, X: readonly Float32Array[]): number[] {
  return X.map((x) => {
    const z = decisionFunction(model, x);
    let best = 0;
    for (let k = 1; k < z.length; k++) if (z[k] > z[best]) best = k;
    return model.classes[best];
  });
}

/**
 * sklearn accuracy, macro/weighted precision, recall and F1 (labels = union of true and predicted,
 * zero_division = 0), and AP on the hard predictions for binary tasks like MTEB.
 */
export function classificationMetrics(
  yTrue: readonly number[],
  yPred: readonly number[],
): Record<string, number> {
  const labels = [...new Set([...yTrue, ...yPred])].sort((a, b) => a - b);
  const n = yTrue.length;
  let correct = 0;
  const tp = new Map<number, number>();
  const predC = new Map<number, number>();
  const sup = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    if (yTrue[i] === yPred[i]) {
      correct++;
      tp.set(yTrue[i], (tp.get(yTrue[i]) ?? 0) + 1);
    }
    predC.set(yPred[i], (predC.get(yPred[i]) ?? 0) + 1);
    sup.set(yTrue[i], (sup.get(yTrue[i]) ?? 0) + 1);
  }
  let pM = 0;
  let rM = 0;
  let fM = 0;
  let pW = 0;
  let rW = 0;
  let fW = 0;
  for (const l of labels) {
    const t = tp.get(l) ?? 0;
    const pc = predC.get(l) ?? 0;
    const s = sup.get(l) ?? 0;
    const p = pc ? t / pc : 0;
    const r = s ? t / s : 0;
    const f = p + r > 0 ? (2 * p * r) / (p + r) : 0;
    pM += p / labels.length;
    rM += r / labels.length;
    fM += f / labels.length;
    pW += (p * s) / n;
    rW += (r * s) / n;
    fW += (f * s) / n;
  }
  const out: Record<string, number> = {
    accuracy: n ? correct / n : 0,
    f1: fM,
    f1_weighted: fW,
    precision: pM,
    precision_weighted: pW,
    recall: rM,
    recall_weighted: rW,
  };
  if (labels.length === 2 && new Set(yTrue).size === 2) {
    const pos = labels[1];
    const yt = yTrue.map((v) => (v === pos ? 1 : 0));
    const sp = yPred.map((v) => (v === pos ? 1 : 0));
    out.ap = averagePrecision(yt, sp);
  }
  return out;
}

/** MTEB's undersampling: shuffle idxs in place with a fresh RandomState(seed), take the first k per label. */
export function undersample(
  y: readonly number[],
  samplesPerLabel: number,
  idxs: number[],
  seed: number,
): number[] {
  new RandomState(seed).shuffle(idxs);
  const count = new Map<number, number>();
  const chosen: number[] = [];
  for (const i of idxs) {
    const c = count.get(y[i]) ?? 0;
    if (c < samplesPerLabel) {
      chosen.push(i);
      count.set(y[i], c + 1);
    }
  }
  return chosen;
}

export interface ClassificationOptions {
  nExperiments?: number;
  samplesPerLabel?: number;
  seed?: number;
  maxIter?: number;
}

/** The whole protocol: n experiments, each fit on an undersampled train set and scored on the whole eval set. */
export function linearProbe(
  trainX: readonly Float32Array[],
  trainY: readonly number[],
  testX: readonly Float32Array[],
  testY: readonly number[],
  opts: ClassificationOptions = {},
): Record<string, unknown> {
  const nExp = opts.nExperiments ?? 10;
  const k = opts.samplesPerLabel ?? 8;
  const seed = opts.seed ?? 42;
  const idxs = trainY.map((_, i) => i);
  const per: Record<string, number>[] = [];
  for (let e = 0; e < nExp; e++) {
    const chosen = undersample(trainY, k, idxs, seed);
    const model = fitLogisticRegression(
      chosen.map((i) => trainX[i]),
      chosen.map((i) => trainY[i]),
      { maxIter: opts.maxIter ?? 100 },
    );
    per.push(classificationMetrics(testY, predict(model, testX)));
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(per[0] ?? {})) out[key] = mean(per.map((p) => p[key]));
  out.accuracy_std = std(per.map((p) => p.accuracy));
  out.scores_per_experiment = per;
  out.main_score = out.accuracy;
  return out;
}
