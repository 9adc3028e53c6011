// Shared helpers for engine tests: seeded random data and a finite-difference gradient checker that builds
// a real graph, lowers it to ONNX and runs it in a real ORT session (in-thread).
import type { Dim, DType, Tensor, TypedArray } from '../../../src/main/engine';
import { createSession, Graph, grad, hostTensor, toOnnx } from '../../../src/main/engine';

export function rng(seed = 1): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const normal = (r: () => number) => () => {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
};

export interface CaseInput {
  shape: number[];
  /** Declared (possibly named) shape; defaults to `shape`. */
  decl?: Dim[];
  dtype?: DType;
  /** Differentiate with respect to this input (default true for float inputs). */
  diff?: boolean;
  /** Value generator (default standard normal) or fixed data. */
  init?: (r: () => number, i: number) => number;
  data?: TypedArray;
}

export interface GradCase {
  dtype?: 'float64' | 'float32';
  inputs: Record<string, CaseInput>;
  build: (g: Graph, t: Record<string, Tensor>) => Tensor;
  seed?: number;
  /** Max elements perturbed per input. */
  samples?: number;
  h?: number;
  /** Concrete output shape when the output has named dims. */
  outShape?: number[];
}

function makeData(dtype: DType, values: number[]): TypedArray {
  switch (dtype) {
    case 'float64':
      return Float64Array.from(values);
    case 'float32':
      return Float32Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map((v) => BigInt(v)));
    case 'int32':
      return Int32Array.from(values);
    default:
      return Uint8Array.from(values);
  }
}

/**
 * Builds loss = Σ out·R (R fixed random) and compares grad() against central differences.
 * Returns the largest error relative to (1 + |analytic|) and the largest analytic magnitude.
 */
export async function gradCheck(c: GradCase): Promise<{ maxErr: number; maxAbs: number; checked: number }> {
  const dt = c.dtype ?? 'float64';
  const r = rng(c.seed ?? 7);
  const nrm = normal(r);
  const g = new Graph();
  const t: Record<string, Tensor> = {};
  const feeds: Record<string, ReturnType<typeof hostTensor>> = {};
  const diff: string[] = [];
  for (const [name, inp] of Object.entries(c.inputs)) {
    const dtype = inp.dtype ?? dt;
    t[name] = g.input(name, dtype, inp.decl ?? inp.shape);
    const n = inp.shape.reduce((a, b) => a * b, 1);
    const data =
      inp.data ??
      makeData(
        dtype,
        Array.from({ length: n }, (_, i) => (inp.init ? inp.init(r, i) : nrm())),
      );
    feeds[name] = hostTensor(dtype, inp.shape, data);
    if (
      (inp.diff ?? (dtype === 'float64' || dtype === 'float32')) &&
      (dtype === 'float64' || dtype === 'float32')
    )
      diff.push(name);
  }
  const out = c.build(g, t);
  // Fixed random weights so every output element's gradient matters.
  const outShape =
    c.outShape ??
    out.shape.map((d) => {
      if (typeof d === 'number') return d;
      throw new Error(`case output has dynamic dim ${d}; give outShape`);
    });
  const rn = outShape.reduce((a, b) => a * b, 1);
  const R = g.input('__R', out.dtype, out.shape);
  feeds.__R = hostTensor(
    out.dtype,
    outShape,
    makeData(
      out.dtype,
      Array.from({ length: rn }, () => nrm()),
    ),
  );
  const loss = g.sum(g.mul(out, R));
  const grads = grad(
    loss,
    diff.map((n) => t[n]),
  );
  const outputs: Record<string, Tensor> = { loss };
  diff.forEach((n, i) => {
    outputs[`d_${n}`] = grads[i];
  });
  const s = await createSession(toOnnx(outputs), { inThread: true, providers: ['cpu'], threads: 1 });
  try {
    const base = await s.run(feeds);
    const h = c.h ?? (dt === 'float64' ? 1e-6 : 1e-2);
    let maxErr = 0;
    let maxAbs = 0;
    let checked = 0;
    for (const n of diff) {
      const data = feeds[n].data as Float64Array | Float32Array;
      const an = base[`d_${n}`].data as Float64Array | Float32Array;
      const count = data.length;
      const k = Math.min(count, c.samples ?? 12);
      const idx =
        count <= k ? [...Array(count).keys()] : Array.from({ length: k }, () => Math.floor(r() * count));
      for (const i of idx) {
        const orig = data[i];
        const evalAt = async (v: number) => {
          const copy = data.slice() as Float64Array | Float32Array;
          copy[i] = v;
          const o = await s.run({ ...feeds, [n]: hostTensor(feeds[n].dtype, feeds[n].dims, copy) }, ['loss']);
          return Number((o.loss.data as Float64Array)[0]);
        };
        const fd = ((await evalAt(orig + h)) - (await evalAt(orig - h))) / (2 * h);
        const a = Number(an[i]);
        maxErr = Math.max(maxErr, Math.abs(fd - a) / (1 + Math.abs(a)));
        maxAbs = Math.max(maxAbs, Math.abs(a));
        checked++;
      }
    }
    return { maxErr, maxAbs, checked };
  } finally {
    await s.release();
  }
}
