// Activation memory of a graph as ORT's sequential executor runs it (toOnnx orders nodes by creation, the
// order grad() scheduled the backward in): every node's output is allocated when it runs and freed after
// its last reader; views (Reshape, Squeeze, Unsqueeze, Identity) allocate nothing. The peak of the live
// total is the estimate — of what the session allocates per run, beside the weights and the feeds.
import { type Dim, parseDim, type DimExpr } from './dims';
import { DTYPE_BYTES, isLeaf, type Tensor, topoOrder } from './graph';

const VIEWS = new Set(['reshape', 'squeeze', 'unsqueeze', 'identity']);

function evalDim(e: DimExpr, dims: Record<string, number>): number {
  switch (e.k) {
    case 'num':
      return e.v;
    case 'atom': {
      const v = dims[e.name];
      if (v === undefined) throw new Error(`peakActivationBytes: no value for dim '${e.name}'`);
      return v;
    }
    case 'mul':
      return e.parts.reduce((a, p) => a * evalDim(p, dims), 1);
    case 'add':
      return e.parts.reduce((a, p) => a + evalDim(p, dims), 0);
  }
}

export interface ActivationEstimate {
  /** Peak bytes of intermediate values alive at once. */
  peakBytes: number;
  /** Bytes of the fed inputs (ids, masks, LoRA weights, upstream gradient…). */
  feedBytes: number;
}

/** Peak live bytes of the values computed for `outputs`, with named dims set to `dims`. */
export function peakActivationBytes(
  outputs: Record<string, Tensor> | Tensor[],
  dims: Record<string, number>,
): ActivationEstimate {
  const roots = Array.isArray(outputs) ? outputs : Object.values(outputs);
  const order = topoOrder(roots).sort((a, b) => a.id - b.id);
  const dimCache = new Map<string, number>();
  const dimValue = (d: Dim): number => {
    if (typeof d === 'number') return d;
    let v = dimCache.get(d);
    if (v === undefined) {
      v = evalDim(parseDim(d), dims);
      dimCache.set(d, v);
    }
    return v;
  };
  const bytes = (t: Tensor) => t.shape.reduce<number>((n, d) => n * dimValue(d), 1) * DTYPE_BYTES[t.dtype];
  // A view shares its input's buffer: reads of the view keep the underlying value alive.
  const owner = new Map<number, number>();
  const base = (t: Tensor): number => owner.get(t.id) ?? t.id;
  const lastUse = new Map<number, number>();
  order.forEach((t, i) => {
    if (VIEWS.has(t.op)) owner.set(t.id, base(t.inputs[0]));
    for (const x of t.inputs) lastUse.set(base(x), i);
  });
  for (const r of roots) lastUse.set(base(r), order.length);
  let live = 0;
  let peak = 0;
  let feedBytes = 0;
  const size = new Map<number, number>();
  order.forEach((t, i) => {
    if (t.op === 'input') feedBytes += bytes(t);
    else if (!isLeaf(t) && !VIEWS.has(t.op)) {
      const b = bytes(t);
      size.set(t.id, b);
      live += b;
      peak = Math.max(peak, live);
    }
    // Free what this node was the last reader of (its own output too, when nothing reads it).
    for (const x of [...t.inputs, t]) {
      const id = base(x);
      if (lastUse.get(id) === i || (id === t.id && !lastUse.has(id))) {
        live -= size.get(id) ?? 0;
        size.delete(id);
      }
    }
  });
  return { peakBytes: peak, feedBytes };
}
