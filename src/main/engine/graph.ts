// The graph builder: primitive ops (the table in ops.ts) with shape and dtype checks at build time, over
// symbolic tensors (tensor.ts; dtype + shape with named dynamic dims). Every primitive has one ONNX
// lowering (ops-lower.ts) and, when differentiable, one VJP row (gradient.ts). Composites (attention,
// norms, RoPE, losses, dropout) are written in these primitives in compose/.
import { type Dim, dimAdd, dimDiv, dimProd, fmtShape, isStatic, type Shape } from './dims';
import {
  type DType,
  DTYPE_BYTES,
  isFloat,
  type TypedArray,
  typedArrayFor,
  type WeightSource,
} from './dtypes';
import { arityFits, type Op } from './ops';
import { type Attrs, GraphError, Tensor } from './tensor';

// Re-exported: the names engine files have always imported from here.
export * from './dtypes';
export { type Attrs, GraphError, isLeaf, Tensor, topoOrder } from './tensor';

function normAxis(axis: number, rank: number, where: () => string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphError(`${where()}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

export class Graph {
  readonly nodes: Tensor[] = [];
  private scopes: string[] = [];
  private regions: number[] = [];
  private nextRegion = 0;
  private inputNames = new Set<string>();

  // ---------------------------------------------------------------- structure

  /** Run fn with `name` pushed on the scope stack; errors and node names carry 'a.b.c'. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  get currentScope(): string {
    return this.scopes.join('.');
  }

  /**
   * Activation recomputation: values computed inside fn are not kept for the backward pass; grad()
   * rebuilds them from the region's inputs when the backward reaches the region.
   */
  recompute<T>(fn: () => T): T {
    this.regions.push(this.nextRegion++);
    try {
      return fn();
    } finally {
      this.regions.pop();
    }
  }

  /** Low-level node constructor; ops validate before calling it. */
  node(op: Op, inputs: readonly Tensor[], attrs: Attrs, dtype: DType, shape: Shape, scope?: string): Tensor {
    for (const i of inputs) {
      if (i.graph !== this)
        throw new GraphError(`${this.at(op, inputs)}: input ${i} belongs to another graph`);
    }
    const fits = arityFits(op, inputs.length);
    if (!fits) {
      const why = fits === null ? 'is not in the op table (ops.ts)' : `does not take ${inputs.length} inputs`;
      throw new GraphError(`${this.at(op, inputs)}: op '${op}' ${why}`);
    }
    const region = this.regions.length ? this.regions[this.regions.length - 1] : -1;
    const t = new Tensor(
      this,
      this.nodes.length,
      op,
      inputs,
      attrs,
      dtype,
      [...shape],
      scope ?? this.currentScope,
      region,
    );
    this.nodes.push(t);
    return t;
  }

  /** "scope: op [a,b] × [c,d]" prefix for errors. */
  at(op: string, inputs: readonly Tensor[]): string {
    const s = this.currentScope;
    return `${s ? `${s}: ` : ''}${op} ${inputs.map((t) => fmtShape(t.shape)).join(' × ')}`;
  }

  /** Throw a GraphError prefixed with the scope, op and operand shapes (composites use it too). */
  fail(op: string, inputs: readonly Tensor[], msg: string): never {
    throw new GraphError(`${this.at(op, inputs)}: ${msg}`);
  }

  // ---------------------------------------------------------------- leaves

  /** A graph input, fed by name at every run (activations, ids, masks, LoRA weights, seeds). */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    if (this.inputNames.has(name)) throw new GraphError(`input '${name}' declared twice`);
    this.inputNames.add(name);
    return this.node('input', [], { name }, dtype, shape);
  }

  /** A frozen weight: external bytes in a file (e.g. a .safetensors range) or small inline data. */
  weight(name: string, dtype: DType, shape: readonly number[], source: WeightSource): Tensor {
    if (this.inputNames.has(name)) throw new GraphError(`weight '${name}' declared twice`);
    this.inputNames.add(name);
    const bytes = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    const len = 'file' in source ? source.length : source.data.byteLength;
    if (len !== bytes) {
      throw new GraphError(
        `weight '${name}': ${fmtShape(shape)} ${dtype} needs ${bytes} bytes, source has ${len}`,
      );
    }
    return this.node('weight', [], { name, source }, dtype, shape);
  }

  /** A constant tensor (scalar when shape is omitted and value is a number). */
  constant(
    value: number | number[] | TypedArray,
    dtype: DType = 'float32',
    shape?: readonly number[],
  ): Tensor {
    const data =
      typeof value === 'number' || Array.isArray(value) ? typedArrayFor(dtype, [value].flat()) : value;
    // float16/bfloat16 scalars: build in float32 and Cast in the graph.
    if (!data) throw new GraphError(`constant: build ${dtype} constants as float32 and cast them`);
    const sh = shape ?? (typeof value === 'number' ? [] : [data.length]);
    if (sh.reduce((a, b) => a * b, 1) !== data.length) {
      throw new GraphError(`constant: shape ${fmtShape(sh)} does not hold ${data.length} values`);
    }
    return this.node('constant', [], { data }, dtype, sh);
  }

  scalar(v: number, dtype: DType): Tensor {
    if (dtype === 'float16' || dtype === 'bfloat16') return this.cast(this.constant(v, 'float32'), dtype);
    return this.constant(v, dtype);
  }

  private lift(v: Tensor | number, like: Tensor): Tensor {
    return typeof v === 'number' ? this.scalar(v, like.dtype) : v;
  }

  // ---------------------------------------------------------------- elementwise

  /** Numpy broadcasting of the tensors' shapes (or of explicit `shapes`); errors name op and operands. */
  broadcastShape(
    op: string,
    ts: readonly Tensor[],
    shapes: readonly Shape[] = ts.map((t) => t.shape),
  ): Dim[] {
    const rank = Math.max(...shapes.map((s) => s.length));
    const out: Dim[] = [];
    for (let i = 0; i < rank; i++) {
      let d: Dim = 1;
      for (const sh of shapes) {
        const j = i - (rank - sh.length);
        if (j < 0) continue;
        const e = sh[j];
        if (e === 1) continue;
        if (d === 1) d = e;
        else if (d !== e) this.fail(op, ts, `cannot broadcast dim ${i}: ${d} vs ${e}`);
      }
      out.push(d);
    }
    return out;
  }

  private binary(op: Op, a: Tensor | number, b: Tensor | number): Tensor {
    if (typeof a === 'number' && typeof b === 'number')
      throw new GraphError(`${op}: needs at least one tensor`);
    const ta = typeof a === 'number' ? this.lift(a, b as Tensor) : a;
    const tb = this.lift(b, ta);
    if (ta.dtype !== tb.dtype)
      this.fail(op, [ta, tb], `dtype mismatch ${ta.dtype} vs ${tb.dtype} (cast one)`);
    return this.node(op, [ta, tb], {}, ta.dtype, this.broadcastShape(op, [ta, tb]));
  }

  add(a: Tensor | number, b: Tensor | number) {
    return this.binary('add', a, b);
  }
  sub(a: Tensor | number, b: Tensor | number) {
    return this.binary('sub', a, b);
  }
  mul(a: Tensor | number, b: Tensor | number) {
    return this.binary('mul', a, b);
  }
  div(a: Tensor | number, b: Tensor | number) {
    return this.binary('div', a, b);
  }
  pow(a: Tensor | number, b: Tensor | number) {
    return this.binary('pow', a, b);
  }
  /** Elementwise maximum. */
  maximum(a: Tensor | number, b: Tensor | number) {
    return this.binary('max', a, b);
  }

  private compare(op: Op, a: Tensor | number, b: Tensor | number): Tensor {
    const t = this.binary(op, a, b);
    return this.node(op, t.inputs, {}, 'bool', t.shape);
  }
  equal(a: Tensor | number, b: Tensor | number) {
    return this.compare('equal', a, b);
  }
  less(a: Tensor | number, b: Tensor | number) {
    return this.compare('less', a, b);
  }
  greater(a: Tensor | number, b: Tensor | number) {
    return this.compare('greater', a, b);
  }
  greaterOrEqual(a: Tensor | number, b: Tensor | number) {
    return this.compare('greaterOrEqual', a, b);
  }

  private bitwise(op: Op, a: Tensor, b: Tensor | number): Tensor {
    if (a.dtype !== 'uint32') this.fail(op, [a], `needs uint32 tensors, got ${a.dtype}`);
    return this.binary(op, a, b);
  }
  /** a XOR b on uint32 (BitwiseXor). */
  bitwiseXor(a: Tensor, b: Tensor | number) {
    return this.bitwise('bitwiseXor', a, b);
  }
  /** a >>> n on uint32 (BitShift RIGHT). */
  shiftRight(a: Tensor, n: Tensor | number) {
    return this.bitwise('shiftRight', a, n);
  }
  and(a: Tensor, b: Tensor) {
    if (a.dtype !== 'bool' || b.dtype !== 'bool') this.fail('and', [a, b], 'needs bool tensors');
    return this.node('and', [a, b], {}, 'bool', this.broadcastShape('and', [a, b]));
  }
  not(a: Tensor) {
    if (a.dtype !== 'bool') this.fail('not', [a], 'needs a bool tensor');
    return this.node('not', [a], {}, 'bool', a.shape);
  }

  private unary(op: Op, x: Tensor, floatOnly = true): Tensor {
    if (floatOnly && !isFloat(x.dtype)) this.fail(op, [x], `needs a float tensor, got ${x.dtype}`);
    return this.node(op, [x], {}, x.dtype, x.shape);
  }
  neg(x: Tensor) {
    return this.unary('neg', x, false);
  }
  exp(x: Tensor) {
    return this.unary('exp', x);
  }
  log(x: Tensor) {
    return this.unary('log', x);
  }
  sqrt(x: Tensor) {
    return this.unary('sqrt', x);
  }
  reciprocal(x: Tensor) {
    return this.unary('reciprocal', x);
  }
  rsqrt(x: Tensor) {
    return this.reciprocal(this.sqrt(x));
  }
  tanh(x: Tensor) {
    return this.unary('tanh', x);
  }
  sigmoid(x: Tensor) {
    return this.unary('sigmoid', x);
  }
  erf(x: Tensor) {
    return this.unary('erf', x);
  }
  cos(x: Tensor) {
    return this.unary('cos', x);
  }
  sin(x: Tensor) {
    return this.unary('sin', x);
  }
  identity(x: Tensor) {
    return this.node('identity', [x], {}, x.dtype, x.shape);
  }
  square(x: Tensor) {
    return this.mul(x, x);
  }
  where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
    if (cond.dtype !== 'bool') this.fail('where', [cond], `condition must be bool, got ${cond.dtype}`);
    if (typeof a === 'number' && typeof b === 'number')
      throw new GraphError('where: needs at least one tensor branch');
    const ta = typeof a === 'number' ? this.lift(a, b as Tensor) : a;
    const tb = this.lift(b, ta);
    if (ta.dtype !== tb.dtype)
      this.fail('where', [cond, ta, tb], `branch dtypes differ ${ta.dtype} vs ${tb.dtype}`);
    return this.node('where', [cond, ta, tb], {}, ta.dtype, this.broadcastShape('where', [cond, ta, tb]));
  }

  cast(x: Tensor, dtype: DType): Tensor {
    if (x.dtype === dtype) return x;
    return this.node('cast', [x], { to: dtype }, dtype, x.shape);
  }

  // ---------------------------------------------------------------- linear algebra

  /** Batched matmul with numpy broadcasting of the batch dims; both operands rank ≥ 2. */
  matmul(a: Tensor, b: Tensor): Tensor {
    if (a.rank < 2 || b.rank < 2) this.fail('matmul', [a, b], 'operands need rank ≥ 2');
    if (a.dtype !== b.dtype) this.fail('matmul', [a, b], `dtype mismatch ${a.dtype} vs ${b.dtype}`);
    const k1 = a.shape[a.rank - 1];
    const k2 = b.shape[b.rank - 2];
    if (k1 !== k2) this.fail('matmul', [a, b], `inner dims differ (${k1} vs ${k2})`);
    const batch = this.broadcastShape('matmul', [a, b], [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
    return this.node('matmul', [a, b], {}, a.dtype, [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]]);
  }

  /** 2-D GEMM: op(a)·op(b) with op = transpose when the flag is set (no Transpose node is emitted). */
  gemm(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
    const transA = !!opts.transA;
    const transB = !!opts.transB;
    if (a.rank !== 2 || b.rank !== 2) this.fail('gemm', [a, b], 'operands must be 2-D');
    if (a.dtype !== b.dtype) this.fail('gemm', [a, b], `dtype mismatch ${a.dtype} vs ${b.dtype}`);
    const [m, k1] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [k2, n] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    if (k1 !== k2) this.fail('gemm', [a, b], `inner dims differ (${k1} vs ${k2})`);
    return this.node('gemm', [a, b], { transA, transB }, a.dtype, [m, n]);
  }

  /**
   * HF Linear: x[..., in] · Wᵀ (+ bias), W stored [out, in]. Lowered as Gemm(x2d, W, transB=1) so a
   * frozen W is never transposed in the graph; its input gradient is a plain MatMul(dY, W).
   */
  linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
    if (w.rank !== 2) this.fail('linear', [x, w], 'weight must be [out, in]');
    const inF = w.shape[1];
    const outF = w.shape[0];
    if (x.shape[x.rank - 1] !== inF)
      this.fail('linear', [x, w], `input features ${x.shape[x.rank - 1]} ≠ weight in ${inF}`);
    const lead = x.shape.slice(0, -1);
    const x2 = x.rank === 2 ? x : this.reshape(x, [dimProd(lead), inF]);
    let y = this.gemm(x2, w, { transB: true });
    if (bias) y = this.add(y, bias);
    return x.rank === 2 ? y : this.reshape(y, [...lead, outF]);
  }

  // ---------------------------------------------------------------- shape ops

  transpose(x: Tensor, perm?: number[]): Tensor {
    const p =
      perm ??
      [...Array(x.rank).keys()].map((i) =>
        i === x.rank - 2 ? x.rank - 1 : i === x.rank - 1 ? x.rank - 2 : i,
      );
    if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
      this.fail('transpose', [x], `bad permutation [${p}]`);
    }
    return this.node(
      'transpose',
      [x],
      { perm: p },
      x.dtype,
      p.map((i) => x.shape[i]),
    );
  }

  /** Reshape; one -1 is inferred (symbolically when dims are named). */
  reshape(x: Tensor, shape: Shape): Tensor {
    const total = dimProd(x.shape);
    const minus = shape.filter((d) => d === -1).length;
    if (minus > 1) this.fail('reshape', [x], `more than one -1 in ${fmtShape(shape)}`);
    let out = [...shape];
    if (minus === 1) {
      const known = dimProd(shape.filter((d) => d !== -1));
      const inferred = dimDiv(total, known);
      if (inferred === null) this.fail('reshape', [x], `cannot infer -1 in ${fmtShape(shape)}`);
      out = out.map((d) => (d === -1 ? inferred : d));
    } else if (dimProd(out) !== total) {
      this.fail('reshape', [x], `${fmtShape(shape)} has ${dimProd(out)} elements, input has ${total}`);
    }
    if (out.length === x.rank && out.every((d, i) => d === x.shape[i])) return x;
    return this.node('reshape', [x], { shape: out }, x.dtype, out);
  }

  squeeze(x: Tensor, axes: number[]): Tensor {
    const ax = axes.map((a) => normAxis(a, x.rank, () => this.at('squeeze', [x])));
    for (const a of ax)
      if (x.shape[a] !== 1) this.fail('squeeze', [x], `axis ${a} has size ${x.shape[a]}, not 1`);
    return this.node(
      'squeeze',
      [x],
      { axes: ax },
      x.dtype,
      x.shape.filter((_, i) => !ax.includes(i)),
    );
  }

  unsqueeze(x: Tensor, axes: number[]): Tensor {
    const rank = x.rank + axes.length;
    const ax = axes.map((a) => normAxis(a, rank, () => this.at('unsqueeze', [x]))).sort((a, b) => a - b);
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x.shape[j++]);
    return this.node('unsqueeze', [x], { axes: ax }, x.dtype, out);
  }

  concat(xs: Tensor[], axis: number): Tensor {
    if (xs.length === 0) throw new GraphError(`${this.currentScope}: concat of nothing`);
    if (xs.length === 1) return xs[0];
    const a = normAxis(axis, xs[0].rank, () => this.at('concat', xs));
    let size: Dim = 0;
    for (const t of xs) {
      if (t.rank !== xs[0].rank || t.dtype !== xs[0].dtype) this.fail('concat', xs, 'ranks or dtypes differ');
      t.shape.forEach((d, i) => {
        if (i !== a && d !== xs[0].shape[i])
          this.fail('concat', xs, `dim ${i} differs (${d} vs ${xs[0].shape[i]})`);
      });
      size = dimAdd(size, t.shape[a]);
    }
    const out = [...xs[0].shape];
    out[a] = size;
    return this.node('concat', xs, { axis: a }, xs[0].dtype, out);
  }

  /** x[..., start:end:step, ...] on one axis; end defaults to the end; start/end may be negative. */
  slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
    const a = normAxis(axis, x.rank, () => this.at('slice', [x]));
    const d = x.shape[a];
    if (step <= 0) this.fail('slice', [x], 'step must be positive');
    let size: Dim;
    if (isStatic(d)) {
      const s = Math.min(Math.max(start < 0 ? start + d : start, 0), d);
      const e = end === undefined ? d : Math.min(Math.max(end < 0 ? end + d : end, 0), d);
      size = Math.max(0, Math.ceil((e - s) / step));
    } else if (start >= 0 && end !== undefined && end >= 0 && step === 1) {
      size = end - start; // assumes the dynamic dim is at least `end`
    } else if (start >= 0 && end === undefined && step === 1) {
      size = start === 0 ? d : (dimAdd(d, -start) as Dim);
    } else if (start < 0 && end === undefined && step === 1) {
      size = -start;
    } else {
      this.fail('slice', [x], `cannot size slice ${start}:${end ?? ''}:${step} of dynamic dim '${d}'`);
    }
    const out = [...x.shape];
    out[a] = size;
    return this.node('slice', [x], { axis: a, start, end: end ?? null, step }, x.dtype, out);
  }

  /**
   * Escape hatch: any ONNX (opset 18) operator, with the caller declaring each output's dtype and shape.
   * Attributes: integer → INT, other number → FLOAT, string → STRING, number[] → INTS (FLOATS if any is
   * fractional). No gradient: grad() through it fails naming `onnx:<OpType>`.
   */
  onnxOp(
    opType: string,
    inputs: Tensor[],
    attrs: Record<string, number | string | number[]>,
    outputs: { dtype: DType; shape: Shape }[],
  ): Tensor[] {
    const group = { opType, attrs, count: outputs.length };
    return outputs.map((o, index) => this.node(`onnx:${opType}`, inputs, { group, index }, o.dtype, o.shape));
  }

  /** Part `index` of x split along axis into pieces of the given (possibly named) sizes. */
  splitPart(x: Tensor, axis: number, sizes: Shape, index: number): Tensor {
    const a = normAxis(axis, x.rank, () => this.at('splitPart', [x]));
    const total = sizes.reduce<Dim>((acc, d) => dimAdd(acc, d), 0);
    if (total !== x.shape[a])
      this.fail('splitPart', [x], `sizes ${fmtShape(sizes)} do not add up to ${x.shape[a]}`);
    const out = [...x.shape];
    out[a] = sizes[index];
    return this.node('splitPart', [x], { axis: a, sizes: [...sizes], index }, x.dtype, out);
  }

  /** table.take(indices, axis): embedding lookup when axis = 0. */
  gather(table: Tensor, indices: Tensor, axis = 0): Tensor {
    if (indices.dtype !== 'int64' && indices.dtype !== 'int32')
      this.fail('gather', [table, indices], 'indices must be int64/int32');
    const a = normAxis(axis, table.rank, () => this.at('gather', [table, indices]));
    const out = [...table.shape.slice(0, a), ...indices.shape, ...table.shape.slice(a + 1)];
    return this.node('gather', [table, indices], { axis: a }, table.dtype, out);
  }

  /** out[i][j] = x[i][idx[i][j]] along axis (torch.gather). */
  gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor {
    const a = normAxis(axis, x.rank, () => this.at('gatherElements', [x, indices]));
    if (indices.rank !== x.rank) this.fail('gatherElements', [x, indices], 'indices must have the same rank');
    return this.node('gatherElements', [x, indices], { axis: a }, x.dtype, indices.shape);
  }

  /** base with updates added at indices along axis (ScatterElements, reduction add). */
  scatterElementsAdd(base: Tensor, indices: Tensor, updates: Tensor, axis: number): Tensor {
    const a = normAxis(axis, base.rank, () => this.at('scatterElementsAdd', [base, indices, updates]));
    return this.node('scatterElementsAdd', [base, indices, updates], { axis: a }, base.dtype, base.shape);
  }

  /** base with updates added at index tuples (ScatterND, reduction add). */
  scatterNDAdd(base: Tensor, indices: Tensor, updates: Tensor): Tensor {
    return this.node('scatterNDAdd', [base, indices, updates], {}, base.dtype, base.shape);
  }

  expand(x: Tensor, shape: Shape): Tensor {
    const out = this.broadcastShape('expand', [x], [x.shape, shape]);
    if (out.length === x.rank && out.every((d, i) => d === x.shape[i])) return x;
    return this.node('expand', [x], { shape: out }, x.dtype, out);
  }

  /** Zero padding: pads[i] = [before, after] for axis i (amounts may be dims, e.g. 'batch+-6'). */
  pad(x: Tensor, pads: [Dim, Dim][]): Tensor {
    if (pads.length !== x.rank) this.fail('pad', [x], 'one [before, after] per axis');
    const out = x.shape.map((d, i) => dimAdd(dimAdd(d, pads[i][0]), pads[i][1]));
    return this.node('pad', [x], { pads }, x.dtype, out);
  }

  /** A tensor of `value` with the given (possibly dynamic) shape. */
  full(shape: Shape, value: number, dtype: DType): Tensor {
    return this.node('full', [], { value, shape: [...shape] }, dtype, shape);
  }
  zeros(shape: Shape, dtype: DType) {
    return this.full(shape, 0, dtype);
  }

  /** 0, 1, …, n−1 where n may be a named dim. */
  arange(n: Dim, dtype: DType = 'int64'): Tensor {
    return this.node('arange', [], { n }, dtype, [n]);
  }

  /** The run-time value of a dim as a scalar (e.g. a mean's divisor over 'seq'). */
  dimValue(d: Dim, dtype: DType): Tensor {
    if (isStatic(d)) return this.scalar(d, dtype);
    return this.node('dimValue', [], { dim: d }, dtype, []);
  }

  // ---------------------------------------------------------------- reductions

  private reduce(op: Op, x: Tensor, axes: number[], keepdims: boolean): Tensor {
    const ax = [...new Set(axes.map((a) => normAxis(a, x.rank, () => this.at(op, [x]))))].sort(
      (a, b) => a - b,
    );
    const out = keepdims
      ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !ax.includes(i));
    return this.node(op, [x], { axes: ax, keepdims }, x.dtype, out);
  }
  reduceSum(x: Tensor, axes: number[], keepdims = false) {
    return this.reduce('reduceSum', x, axes, keepdims);
  }
  reduceMean(x: Tensor, axes: number[], keepdims = false) {
    return this.reduce('reduceMean', x, axes, keepdims);
  }
  reduceMax(x: Tensor, axes: number[], keepdims = false) {
    return this.reduce('reduceMax', x, axes, keepdims);
  }
  /** Sum of all elements → scalar. */
  sum(x: Tensor) {
    return this.reduceSum(x, [...Array(x.rank).keys()]);
  }
  mean(x: Tensor) {
    return this.reduceMean(x, [...Array(x.rank).keys()]);
  }

  // ---------------------------------------------------------------- fused/composite layers

  softmax(x: Tensor, axis = -1): Tensor {
    const a = normAxis(axis, x.rank, () => this.at('softmax', [x]));
    return this.node('softmax', [x], { axis: a }, x.dtype, x.shape);
  }

  logSoftmax(x: Tensor, axis = -1): Tensor {
    const a = normAxis(axis, x.rank, () => this.at('logSoftmax', [x]));
    return this.node('logSoftmax', [x], { axis: a }, x.dtype, x.shape);
  }

  /** LayerNorm over the last axis (ONNX LayerNormalization forward; VJP built from primitives). */
  layerNorm(x: Tensor, weight: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
    const h = x.shape[x.rank - 1];
    if (weight.rank !== 1 || weight.shape[0] !== h || (bias && (bias.rank !== 1 || bias.shape[0] !== h))) {
      this.fail('layerNorm', bias ? [x, weight, bias] : [x, weight], `weight/bias must be [${h}]`);
    }
    return this.node('layerNorm', bias ? [x, weight, bias] : [x, weight], { eps }, x.dtype, x.shape);
  }
}
