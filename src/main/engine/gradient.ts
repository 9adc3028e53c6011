// Reverse-mode autodiff over the graph builder. One table of VJP rules (tinygrad style): each row gets the
// forward node's inputs `x`, its output `y`, the upstream gradient `g` and which inputs need a gradient,
// and returns one gradient (or null) per input. Composites (silu, gelu, rmsNorm, attention, cross-entropy…)
// (compose/) have no rows: they are built from primitives. Fused rows: softmax, logSoftmax, layerNorm, gemm.
// The table's type is derived from ops.ts: a missing row or a result of the wrong length fails the typecheck.
import { type Dim, dimAdd, type Shape } from './dims';
import { type Graph, GraphError, isFloat, isLeaf, type Tensor, topoOrder } from './graph';
import { type Arity, DIFF_OPS, type DiffOp, missingRows, type OPS } from './ops';

export interface VjpContext {
  g: Graph;
  /** Forward inputs (recomputed copies inside recompute regions). */
  x: readonly Tensor[];
  /** Forward output (recomputed inside recompute regions). */
  y: Tensor;
  attrs: Record<string, unknown>;
  /** Upstream gradient, shaped like y. */
  gy: Tensor;
  /** needs[i]: whether input i lies on a path from a requested tensor. */
  needs: readonly boolean[];
}

type Grad = Tensor | null;
/** One gradient (or null) per input: a tuple as long as the op's arity (ops.ts). */
type Grads<A> = A extends 1 ? [Grad] : A extends 2 ? [Grad, Grad] : A extends 3 ? [Grad, Grad, Grad] : Grad[];
export type Rule<A extends Arity = Arity> = (c: VjpContext) => Grads<A>;
export type VjpTable = { readonly [K in DiffOp]: Rule<(typeof OPS)[K]['arity']> };

/** Sum a broadcast gradient back down to an operand's shape. */
export function unbroadcast(g: Graph, t: Tensor, shape: Shape): Tensor {
  const extra = t.rank - shape.length;
  if (extra > 0) t = g.reduceSum(t, [...Array(extra).keys()], false);
  const axes: number[] = [];
  shape.forEach((d, i) => {
    if (d === 1 && t.shape[i] !== 1) axes.push(i);
  });
  if (axes.length) t = g.reduceSum(t, axes, true);
  return t;
}

const ub = (c: VjpContext, i: number, t: Tensor) => (c.needs[i] ? unbroadcast(c.g, t, c.x[i].shape) : null);

/** Gradient of a reduction: put reduced axes back and broadcast to the input shape. */
function unreduce(c: VjpContext, t: Tensor): Tensor {
  const axes = c.attrs.axes as number[];
  const kept = c.attrs.keepdims ? t : c.g.unsqueeze(t, axes);
  return c.g.expand(kept, c.x[0].shape);
}

function swapLast(rank: number): number[] {
  const p = [...Array(rank).keys()];
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

export const VJP: VjpTable = {
  identity: (c) => [c.gy],
  add: (c) => [ub(c, 0, c.gy), ub(c, 1, c.gy)],
  sub: (c) => [ub(c, 0, c.gy), c.needs[1] ? unbroadcast(c.g, c.g.neg(c.gy), c.x[1].shape) : null],
  mul: (c) => [
    ub(c, 0, c.needs[0] ? c.g.mul(c.gy, c.x[1]) : c.gy),
    ub(c, 1, c.needs[1] ? c.g.mul(c.gy, c.x[0]) : c.gy),
  ],
  div: (c) => {
    const b = c.x[1];
    return [
      c.needs[0] ? ub(c, 0, c.g.div(c.gy, b)) : null,
      c.needs[1] ? ub(c, 1, c.g.neg(c.g.div(c.g.mul(c.gy, c.y), b))) : null, // −g·a/b² = −g·y/b
    ];
  },
  pow: (c) => {
    const [a, b] = c.x;
    const G = c.g;
    return [
      c.needs[0] ? ub(c, 0, G.mul(G.mul(c.gy, b), G.pow(a, G.sub(b, 1)))) : null,
      c.needs[1] ? ub(c, 1, G.mul(G.mul(c.gy, c.y), G.log(a))) : null,
    ];
  },
  max: (c) => {
    // Ties send the gradient to the first operand (as torch.maximum splits; either is a subgradient).
    const G = c.g;
    const first = G.not(G.less(c.x[0], c.x[1]));
    return [
      c.needs[0] ? ub(c, 0, G.where(first, c.gy, 0)) : null,
      c.needs[1] ? ub(c, 1, G.where(first, 0, c.gy)) : null,
    ];
  },
  neg: (c) => [c.g.neg(c.gy)],
  exp: (c) => [c.g.mul(c.gy, c.y)],
  log: (c) => [c.g.div(c.gy, c.x[0])],
  sqrt: (c) => [c.g.div(c.gy, c.g.mul(c.y, 2))],
  reciprocal: (c) => [c.g.neg(c.g.mul(c.gy, c.g.mul(c.y, c.y)))],
  tanh: (c) => [c.g.mul(c.gy, c.g.sub(1, c.g.mul(c.y, c.y)))],
  sigmoid: (c) => [c.g.mul(c.gy, c.g.mul(c.y, c.g.sub(1, c.y)))],
  erf: (c) => {
    const G = c.g;
    return [G.mul(G.mul(c.gy, G.exp(G.neg(G.mul(c.x[0], c.x[0])))), 2 / Math.sqrt(Math.PI))];
  },
  cos: (c) => [c.g.neg(c.g.mul(c.gy, c.g.sin(c.x[0])))],
  sin: (c) => [c.g.mul(c.gy, c.g.cos(c.x[0]))],
  where: (c) => [null, ub(c, 1, c.g.where(c.x[0], c.gy, 0)), ub(c, 2, c.g.where(c.x[0], 0, c.gy))],
  cast: (c) => [c.g.cast(c.gy, c.x[0].dtype)],
  matmul: (c) => {
    const [a, b] = c.x;
    const G = c.g;
    return [
      c.needs[0] ? ub(c, 0, G.matmul(c.gy, G.transpose(b, swapLast(b.rank)))) : null,
      c.needs[1] ? ub(c, 1, G.matmul(G.transpose(a, swapLast(a.rank)), c.gy)) : null,
    ];
  },
  gemm: (c) => {
    // Y = op(A)·op(B). Written so that B is never transposed when only A needs a gradient: for
    // Linear (transB) dA = G·B is a plain product with the frozen weight.
    const [a, b] = c.x;
    const { transA, transB } = c.attrs as { transA: boolean; transB: boolean };
    const G = c.g;
    const gy = c.gy;
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (c.needs[0]) {
      da = transA ? G.gemm(b, gy, { transA: transB, transB: true }) : G.gemm(gy, b, { transB: !transB });
    }
    if (c.needs[1]) {
      db = transB ? G.gemm(gy, a, { transA: true, transB: transA }) : G.gemm(a, gy, { transA: !transA });
    }
    return [da, db];
  },
  transpose: (c) => {
    const perm = c.attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [c.g.transpose(c.gy, inv)];
  },
  reshape: (c) => [c.g.reshape(c.gy, c.x[0].shape)],
  squeeze: (c) => [c.g.unsqueeze(c.gy, c.attrs.axes as number[])],
  unsqueeze: (c) => [c.g.squeeze(c.gy, c.attrs.axes as number[])],
  expand: (c) => [unbroadcast(c.g, c.gy, c.x[0].shape)],
  concat: (c) => {
    const axis = c.attrs.axis as number;
    const sizes = c.x.map((t) => t.shape[axis]);
    if (sizes.every((d) => typeof d === 'number')) {
      let off = 0;
      return c.x.map((_, i) => {
        const start = off;
        off += sizes[i] as number;
        return c.needs[i] ? c.g.slice(c.gy, axis, start, start + (sizes[i] as number)) : null;
      });
    }
    // Named sizes (e.g. queries then documents along 'batch'): one Split with run-time sizes.
    return c.x.map((_, i) => (c.needs[i] ? c.g.splitPart(c.gy, axis, sizes, i) : null));
  },
  slice: (c) => {
    const { axis, start, end, step } = c.attrs as {
      axis: number;
      start: number;
      end: number | null;
      step: number;
    };
    const d = c.x[0].shape[axis];
    const x = c.x[0];
    if (step !== 1) throw new GraphError(`slice gradient: step ${step} not supported`);
    let before: number;
    let after: Dim;
    if (typeof d === 'number') {
      before = Math.min(Math.max(start < 0 ? start + d : start, 0), d);
      const e = end === null ? d : Math.min(Math.max(end < 0 ? end + d : end, 0), d);
      after = d - e;
    } else if (start >= 0 && (end === null || end >= 0)) {
      // Dynamic dim: the forward assumed d ≥ end, so the tail pad is d − end at run time.
      before = start;
      after = end === null ? 0 : dimAdd(d, -end);
    } else {
      throw new GraphError(
        `slice gradient: slice ${start}:${end} of dynamic dim '${d}' needs non-negative bounds`,
      );
    }
    const pads: [Dim, Dim][] = x.shape.map(() => [0, 0]);
    pads[axis] = [before, after];
    return [c.g.pad(c.gy, pads)];
  },
  gather: (c) => {
    const [table, idx] = c.x;
    if ((c.attrs.axis as number) !== 0)
      throw new GraphError('gather gradient: only axis 0 (embedding lookup)');
    const G = c.g;
    // ScatterND(add) of the gradient rows into a zero table.
    const upd = c.gy;
    const idx64 = G.cast(idx, 'int64');
    return [G.scatterNDAdd(G.zeros(table.shape, table.dtype), G.unsqueeze(idx64, [-1]), upd), null];
  },
  gatherElements: (c) => {
    const [x, idx] = c.x;
    const G = c.g;
    return [
      G.scatterElementsAdd(G.zeros(x.shape, x.dtype), G.cast(idx, 'int64'), c.gy, c.attrs.axis as number),
      null,
    ];
  },
  reduceSum: (c) => [unreduce(c, c.gy)],
  reduceMean: (c) => {
    const axes = c.attrs.axes as number[];
    const n = axes.reduce<Tensor | null>((acc, a) => {
      const v = c.g.dimValue(c.x[0].shape[a] as Dim, c.gy.dtype);
      return acc ? c.g.mul(acc, v) : v;
    }, null)!;
    return [unreduce(c, c.g.div(c.gy, n))];
  },
  reduceMax: (c) => {
    // Gradient split evenly among tied maxima.
    const G = c.g;
    const ymax = c.attrs.keepdims ? c.y : G.unsqueeze(c.y, c.attrs.axes as number[]);
    const hit = G.cast(G.equal(c.x[0], ymax), c.x[0].dtype);
    const cnt = G.reduceSum(hit, c.attrs.axes as number[], true);
    const gk = c.attrs.keepdims ? c.gy : G.unsqueeze(c.gy, c.attrs.axes as number[]);
    return [G.div(G.mul(hit, gk), cnt)];
  },
  softmax: (c) => {
    // dx = y·(g − Σ g·y)
    const G = c.g;
    const axis = c.attrs.axis as number;
    const s = G.reduceSum(G.mul(c.gy, c.y), [axis], true);
    return [G.mul(c.y, G.sub(c.gy, s))];
  },
  logSoftmax: (c) => {
    // dx = g − exp(y)·Σ g
    const G = c.g;
    const axis = c.attrs.axis as number;
    return [G.sub(c.gy, G.mul(G.exp(c.y), G.reduceSum(c.gy, [axis], true)))];
  },
  layerNorm: (c) => {
    // Forward is ONNX LayerNormalization; the backward recomputes x̂ and applies
    // dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = g·w.
    const G = c.g;
    const [x, w] = c.x;
    const eps = c.attrs.eps as number;
    const mu = G.reduceMean(x, [-1], true);
    const xc = G.sub(x, mu);
    const rstd = G.rsqrt(G.add(G.reduceMean(G.mul(xc, xc), [-1], true), eps));
    const xhat = G.mul(xc, rstd);
    const lead = [...Array(x.rank - 1).keys()];
    const out: (Tensor | null)[] = [null, null, null];
    if (c.needs[0]) {
      const dxh = G.mul(c.gy, w);
      const m1 = G.reduceMean(dxh, [-1], true);
      const m2 = G.reduceMean(G.mul(dxh, xhat), [-1], true);
      out[0] = G.mul(rstd, G.sub(G.sub(dxh, m1), G.mul(xhat, m2)));
    }
    if (c.needs[1]) out[1] = G.reduceSum(G.mul(c.gy, xhat), lead);
    if (c.x.length > 2 && c.needs[2]) out[2] = G.reduceSum(c.gy, lead);
    return out.slice(0, c.x.length);
  },
  pad: (c) => {
    const pads = c.attrs.pads as [Dim, Dim][];
    let t = c.gy;
    pads.forEach(([b, a], axis) => {
      if (b === 0 && a === 0) return;
      if (typeof b !== 'number' || typeof a !== 'number')
        throw new GraphError('pad gradient: dynamic pad amounts');
      t = c.g.slice(t, axis, b, a ? -a : undefined);
    });
    return [t];
  },
};

/** The runtime half of VjpTable's type: every differentiable op has a rule (throws naming the missing). */
export function checkVjpTable(table: Record<string, unknown> = VJP): void {
  const missing = missingRows(table, DIFF_OPS);
  if (missing.length) throw new GraphError(`VJP table: no rule for ${missing.join(', ')} (gradient.ts)`);
}
checkVjpTable();

/** A rule's result must hold one gradient (or null) per input of the node. */
export function checkGrads(t: Tensor, res: readonly Grad[]): void {
  if (res.length !== t.inputs.length)
    throw new GraphError(
      `VJP '${t.op}' returned ${res.length} gradients for ${t.inputs.length} inputs (${t})`,
    );
}

export interface GradOptions {
  /**
   * Upstream gradients, one per output (same shape and dtype): grad() then returns d(Σᵢ outputᵢ·seedᵢ)/dwrt.
   * GradCache pass 2 feeds dLoss/dEmbedding as a graph input and passes it here. Scalar outputs without a
   * seed get 1.
   */
  seeds?: (Tensor | undefined)[];
  /** Compute each requested gradient as soon as it is complete (default true; see the schedule note). */
  eager?: boolean;
}

/**
 * Gradients of `outputs` with respect to `wrt` (graph inputs such as LoRA weights), as new tensors in the
 * same graph. Only tensors on a path from `wrt` to the outputs get gradients: frozen weights never do.
 * Values computed inside `graph.recompute()` regions are recomputed for the backward instead of kept.
 */
export function grad(outputs: Tensor | Tensor[], wrt: Tensor[], opts: GradOptions = {}): Tensor[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  if (outs.length === 0) throw new GraphError('grad: no outputs');
  const G = outs[0].graph;
  for (const w of wrt) if (!isFloat(w.dtype)) throw new GraphError(`grad: ${w} is not a float tensor`);

  // Topological order of everything the outputs depend on.
  const order = topoOrder(outs);

  // Which tensors depend on a requested one (only those carry gradients).
  const wrtIds = new Set(wrt.map((w) => w.id));
  const needs = new Set<number>();
  for (const t of order) {
    if (wrtIds.has(t.id) || (isFloat(t.dtype) && t.inputs.some((i) => needs.has(i.id)))) needs.add(t.id);
  }

  const grads = new Map<number, Tensor>();
  const accumulate = (t: Tensor, gt: Tensor) => {
    const prev = grads.get(t.id);
    grads.set(t.id, prev ? G.add(prev, gt) : gt);
  };
  outs.forEach((o, i) => {
    const seed = opts.seeds?.[i];
    if (seed) {
      if (seed.dtype !== o.dtype || seed.rank !== o.rank || seed.shape.some((d, j) => d !== o.shape[j])) {
        throw new GraphError(`grad: seed ${seed} does not match output ${o}`);
      }
      accumulate(o, seed);
    } else if (o.rank === 0) {
      accumulate(o, G.scalar(1, o.dtype));
    } else {
      throw new GraphError(`grad: output ${o} is not a scalar; pass a seed (upstream gradient) for it`);
    }
  });

  // Recompute regions: forward values inside a region are rebuilt from the region's inputs. A barrier
  // (+0·first element of the incoming gradient) makes the copies depend on the backward, so ORT can neither
  // run them early nor merge them with the forward (common-subexpression elimination).
  const recomputed = new Map<number, Tensor>();
  const barrier = new Map<number, Tensor>();
  const guarded = new Map<string, Tensor>();
  const remap = (t: Tensor, region: number): Tensor => {
    if (t.region < 0 || isLeaf(t)) return t;
    if (isWeightOnly(t)) return rebuild(t);
    const hit = recomputed.get(t.id);
    if (hit) return hit;
    // Values of the same region are rebuilt; anything else (earlier regions' outputs, values outside any
    // region) is a kept boundary.
    const ins = t.inputs.map((i) => (i.region === region ? remap(i, region) : guard(i, region)));
    const copy = G.node(t.op, ins, t.attrs, t.dtype, t.shape, `recompute.${t.scope}`);
    recomputed.set(t.id, copy);
    return copy;
  };
  // Values computed only from frozen weights and constants (Cast of an fp16/bf16 weight to float32, a
  // reshaped table…) are rebuilt where the backward needs them instead of being kept from the forward:
  // keeping them would hold a converted copy of every weight from the forward until the backward.
  const weightOnly = new Map<number, boolean>();
  const isWeightOnly = (t: Tensor): boolean => {
    const hit = weightOnly.get(t.id);
    if (hit !== undefined) return hit;
    const v = !isLeaf(t) && t.inputs.every((i) => (isLeaf(i) ? i.op !== 'input' : isWeightOnly(i)));
    weightOnly.set(t.id, v);
    return v;
  };
  const rebuilt = new Map<number, Tensor>();
  const rebuild = (t: Tensor): Tensor => {
    if (!isWeightOnly(t)) return t;
    const hit = rebuilt.get(t.id);
    if (hit) return hit;
    const copy = G.node(t.op, t.inputs.map(rebuild), t.attrs, t.dtype, t.shape, `rebuild.${t.scope}`);
    rebuilt.set(t.id, copy);
    return copy;
  };

  const guard = (t: Tensor, region: number): Tensor => {
    if (isWeightOnly(t)) return rebuild(t);
    const b = barrier.get(region);
    if (!b || t.op === 'constant' || t.op === 'weight' || t.dtype === 'bool') return t;
    // Fed integer inputs are guarded too: a recomputed chain fed only by them (the device-dropout masks
    // hashed from uint32 keys) would otherwise be free to run early, every layer's copy alive at once.
    if (isLeaf(t) && (isFloat(t.dtype) || t.op !== 'input')) return t;
    if (!isLeaf(t) && !isFloat(t.dtype)) return t;
    const key = `${region}:${t.id}`;
    const hit = guarded.get(key);
    if (hit) return hit;
    const out = G.add(t, G.cast(b, t.dtype));
    guarded.set(key, out);
    return out;
  };

  // Schedule: ORT orders nodes by a DFS from the graph's leaves, which can postpone a weight gradient (and
  // keep alive every activation it reads) until the very end. Once a requested gradient is complete, the
  // rest of the backward is made to depend on it (+0·its first element), so each layer's weight gradients
  // are computed, and its activations freed, before the backward moves on to the layer below.
  const remaining = new Map<number, number>();
  for (const t of order)
    for (const i of t.inputs) if (wrtIds.has(i.id)) remaining.set(i.id, (remaining.get(i.id) ?? 0) + 1);
  let pending: Tensor[] = [];
  const first = (t: Tensor) => G.reshape(G.slice(G.reshape(t, [-1]), 0, 0, 1), []);
  const settle = (t: Tensor) => {
    if (opts.eager === false) return;
    for (const i of t.inputs) {
      if (!remaining.has(i.id)) continue;
      const left = remaining.get(i.id)! - 1;
      remaining.set(i.id, left);
      const gi = grads.get(i.id);
      if (left === 0 && gi) pending.push(gi);
    }
  };

  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    let gt = grads.get(t.id);
    if (!gt || !needs.has(t.id) || isLeaf(t)) {
      settle(t);
      continue;
    }
    if (pending.length) {
      const tie = pending.map((p) => G.cast(first(p), gt!.dtype)).reduce((a, b) => G.add(a, b));
      gt = G.add(gt, G.mul(tie, 0));
      pending = [];
    }
    const rule = (VJP as Record<string, Rule | undefined>)[t.op];
    if (!rule)
      throw new GraphError(`${t.scope ? `${t.scope}: ` : ''}no gradient rule for op '${t.op}' (${t})`);
    const need = t.inputs.map((i) => needs.has(i.id));
    let x = t.inputs;
    let y = t;
    if (t.region >= 0) {
      if (!barrier.has(t.region)) {
        const flat = G.reshape(gt, [-1]);
        barrier.set(t.region, G.mul(G.reshape(G.slice(flat, 0, 0, 1), []), 0));
      }
      x = t.inputs.map((i) => (i.region === t.region ? remap(i, t.region) : guard(i, t.region)));
      y = remap(t, t.region);
    } else if (t.inputs.some(isWeightOnly)) {
      x = t.inputs.map(rebuild);
    }
    const res = G.scope(`grad.${t.scope}`, () => rule({ g: G, x, y, attrs: t.attrs, gy: gt, needs: need }));
    checkGrads(t, res);
    res.forEach((r, i) => {
      if (r && need[i]) accumulate(t.inputs[i], r);
    });
    settle(t);
  }
  return wrt.map((w) => grads.get(w.id) ?? G.zeros(w.shape, w.dtype));
}
