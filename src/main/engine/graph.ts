// The graph builder: symbolic tensors (dtype + shape with named dynamic dims), primitive ops with shape
// checks at build time, and composites (attention, norms, losses) written in primitives. Every primitive
// here has one ONNX lowering (onnx.ts) and, when differentiable, one VJP row (gradient.ts).
import { UserError } from '../errors';
import { type Dim, dimAdd, dimDiv, dimProd, fmtShape, isStatic, type Shape } from './dims';

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'uint32'
  | 'int8'
  | 'uint8'
  | 'bool';
export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16'];
export const isFloat = (d: DType) => FLOAT_DTYPES.includes(d);

export type TypedArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Uint32Array
  | Int8Array
  | Uint8Array;

/** Where a frozen weight's bytes live: a byte range in a file (kept external, never copied) or inline data. */
export type WeightSource = { file: string; offset: number; length: number } | { data: TypedArray };

export type Attrs = Record<string, unknown>;

/** Build-time error naming the user-level layer (scope) and the op. */
export class GraphError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

/** A symbolic tensor: the output of one op in a Graph. Immutable once built. */
export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly op: string,
    readonly inputs: readonly Tensor[],
    readonly attrs: Attrs,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly scope: string,
    /** Innermost recompute region, or -1; the backward recomputes region values instead of keeping them. */
    readonly region: number,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  /** Name for graph inputs and weights (what feeds and safetensors use). */
  get name(): string | undefined {
    return this.attrs.name as string | undefined;
  }
  toString(): string {
    return `${this.op}#${this.id}${fmtShape(this.shape)}:${this.dtype}`;
  }
  // Fluent forms of the most common ops, for readable model code.
  add(o: Tensor | number) {
    return this.graph.add(this, o);
  }
  sub(o: Tensor | number) {
    return this.graph.sub(this, o);
  }
  mul(o: Tensor | number) {
    return this.graph.mul(this, o);
  }
  div(o: Tensor | number) {
    return this.graph.div(this, o);
  }
  matmul(o: Tensor) {
    return this.graph.matmul(this, o);
  }
  reshape(shape: Shape) {
    return this.graph.reshape(this, shape);
  }
  transpose(perm?: number[]) {
    return this.graph.transpose(this, perm);
  }
  cast(dtype: DType) {
    return this.graph.cast(this, dtype);
  }
}

const LEAF_OPS = new Set(['input', 'weight', 'constant']);
export const isLeaf = (t: Tensor) => LEAF_OPS.has(t.op);

function normAxis(axis: number, rank: number, where: () => string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphError(`${where()}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

function typedArrayFor(dtype: DType, values: number[]): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v))));
    case 'int32':
      return Int32Array.from(values);
    case 'uint32':
      return Uint32Array.from(values.map((v) => v >>> 0));
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    default:
      // float16/bfloat16 scalars: build in float32 and Cast in the graph.
      throw new GraphError(`constant: build ${dtype} constants as float32 and cast them`);
  }
}

/** Lowest finite value used to mask attention scores (finite so fully masked rows stay NaN-free). */
const MASK_VALUE: Record<string, number> = {
  float64: -1e300,
  float32: -3.0e38,
  float16: -65000,
  bfloat16: -3.0e38,
};

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
  node(
    op: string,
    inputs: readonly Tensor[],
    attrs: Attrs,
    dtype: DType,
    shape: Shape,
    scope?: string,
  ): Tensor {
    for (const i of inputs) {
      if (i.graph !== this)
        throw new GraphError(`${this.at(op, inputs)}: input ${i} belongs to another graph`);
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

  private fail(op: string, inputs: readonly Tensor[], msg: string): never {
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
      typeof value === 'number'
        ? typedArrayFor(dtype, [value])
        : Array.isArray(value)
          ? typedArrayFor(dtype, value)
          : value;
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

  private binary(op: string, a: Tensor | number, b: Tensor | number): Tensor {
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

  private compare(op: string, a: Tensor | number, b: Tensor | number): Tensor {
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

  private bitwise(op: string, a: Tensor, b: Tensor | number): Tensor {
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

  private unary(op: string, x: Tensor, floatOnly = true): Tensor {
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
  silu(x: Tensor) {
    return this.mul(x, this.sigmoid(x));
  }
  /** GELU: 'none' = exact x·Φ(x) via Erf (HF "gelu"); 'tanh' = the tanh approximation (HF "gelu_new"). */
  gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none') {
    if (approximate === 'tanh') {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const inner = this.mul(
        this.add(x, this.mul(this.mul(this.square(x), x), 0.044715)),
        Math.sqrt(2 / Math.PI),
      );
      return this.mul(this.mul(x, 0.5), this.add(this.tanh(inner), 1));
    }
    return this.mul(this.mul(x, 0.5), this.add(this.erf(this.mul(x, Math.SQRT1_2)), 1));
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

  private reduce(op: string, x: Tensor, axes: number[], keepdims: boolean): Tensor {
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

  /** RMSNorm (Llama/Mistral/Qwen): x · rsqrt(mean(x², -1) + eps) · weight, from primitives. */
  rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
    const ms = this.reduceMean(this.square(x), [-1], true);
    return this.mul(this.mul(x, this.rsqrt(this.add(ms, eps))), weight);
  }

  /** x / max(‖x‖₂, eps) along axis (torch.nn.functional.normalize). */
  l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
    const ss = this.reduceSum(this.square(x), [axis], true);
    return this.mul(x, this.rsqrt(this.maximum(ss, eps * eps)));
  }

  /** Inverted dropout with a fed keep-mask (1 = keep) so GradCache can replay the exact same mask. */
  dropout(x: Tensor, keepMask: Tensor, p: number): Tensor {
    if (p <= 0) return x;
    return this.mul(this.mul(x, this.cast(keepMask, x.dtype)), 1 / (1 - p));
  }

  /**
   * A dropout keep-mask [...keys.shape, salt.length] computed on the device from a counter-based hash:
   * element (…, k) is kept iff (keys[…] XOR salt[k])·0x9e3779b1 mod 2³² ≥ threshold. keys and salt are
   * themselves full-avalanche hashes (hash.ts: of (text seed, token index) and of (module, feature)), so
   * their XOR is uniform; the odd multiply breaks the XOR-linear structure between elements (without it the
   * four keep bits of two rows × two features would XOR to a constant), and its top bits — the ones the
   * threshold reads — depend on every bit below. Three passes over [rows, features]: XOR, Mul, compare.
   * threshold: a uint32 scalar, round(p·2³²) — 0 keeps everything (eval mode). Same inputs → same mask on
   * any run of any session, so a GradCache re-run or a recomputed region sees exactly the first pass's mask;
   * only the keys cross to the device.
   */
  hashKeepMask(keys: Tensor, salt: Tensor, threshold: Tensor): Tensor {
    if (keys.dtype !== 'uint32' || salt.dtype !== 'uint32' || threshold.dtype !== 'uint32')
      this.fail('hashKeepMask', [keys, salt, threshold], 'keys, salt and threshold must be uint32');
    if (salt.rank !== 1) this.fail('hashKeepMask', [keys, salt], 'salt must be 1-D (one value per feature)');
    return this.scope('dropout_hash', () => {
      const h = this.mul(
        this.bitwiseXor(this.unsqueeze(keys, [-1]), salt),
        this.scalar(0x9e3779b1, 'uint32'),
      );
      return this.greaterOrEqual(h, threshold);
    });
  }

  /**
   * Mean cross-entropy of logits [..., C] against integer labels [...]; labels equal to ignoreIndex count
   * for nothing (the mean is over the others).
   */
  crossEntropy(logits: Tensor, labels: Tensor, opts: { ignoreIndex?: number } = {}): Tensor {
    return this.scope('cross_entropy', () => {
      if (labels.rank !== logits.rank - 1)
        this.fail('crossEntropy', [logits, labels], 'labels must be logits without the class axis');
      const lsm = this.logSoftmax(logits, -1);
      const lab = this.cast(labels, 'int64');
      if (opts.ignoreIndex === undefined) {
        const picked = this.gatherElements(lsm, this.unsqueeze(lab, [-1]), -1);
        return this.neg(this.mean(picked));
      }
      const keep = this.not(this.equal(lab, opts.ignoreIndex));
      const safe = this.where(keep, lab, 0);
      const picked = this.squeeze(this.gatherElements(lsm, this.unsqueeze(safe, [-1]), -1), [-1]);
      const w = this.cast(keep, logits.dtype);
      const total = this.sum(this.mul(picked, w));
      return this.neg(this.div(total, this.maximum(this.sum(w), 1)));
    });
  }

  /**
   * RoPE tables for HF rotate-half: cos/sin [..., seq, headDim] from integer positions [..., seq]
   * computed in-graph (inv_freq = theta^(-2i/d), duplicated for both halves).
   */
  ropeCosSin(
    positions: Tensor,
    headDim: number,
    theta = 10000,
    dtype: DType = 'float32',
  ): { cos: Tensor; sin: Tensor } {
    return this.scope('rope', () => {
      const half = headDim / 2;
      const inv = Array.from({ length: half }, (_, i) => theta ** (-(2 * i) / headDim));
      const invT = this.constant([...inv, ...inv], dtype === 'float64' ? 'float64' : 'float32', [headDim]);
      const pos = this.unsqueeze(this.cast(positions, invT.dtype), [-1]);
      const freqs = this.mul(pos, invT);
      return { cos: this.cast(this.cos(freqs), dtype), sin: this.cast(this.sin(freqs), dtype) };
    });
  }

  /** HF apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, x [b, h, s, d], cos/sin [b|1, s, d] (or [s, d]). */
  rope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
    return this.scope('rope', () => {
      const d = x.shape[x.rank - 1];
      if (!isStatic(d) || d % 2) this.fail('rope', [x, cos], 'head dim must be static and even');
      const c = cos.rank === 3 ? this.unsqueeze(cos, [1]) : cos;
      const s = sin.rank === 3 ? this.unsqueeze(sin, [1]) : sin;
      const x1 = this.slice(x, -1, 0, d / 2);
      const x2 = this.slice(x, -1, d / 2);
      const rot = this.concat([this.neg(x2), x1], -1);
      return this.add(this.mul(x, c), this.mul(rot, s));
    });
  }

  /**
   * Scaled dot-product attention. q [b, hq, s, d], k/v [b, hkv, s, d] with hq a multiple of hkv (GQA:
   * each group of hq/hkv query heads shares one kv head, as HF repeat_kv; K/V are broadcast, not copied).
   * causal: key j visible to query i iff j ≤ i. paddingMask [b, s] (1/true = real token) hides keys.
   */
  attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    opts: { causal?: boolean; paddingMask?: Tensor; scale?: number } = {},
  ): Tensor {
    return this.scope('sdpa', () => {
      if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4)
        this.fail('attention', [q, k, v], 'q, k, v must be [b, heads, seq, dim]');
      const [b, hq, s, d] = q.shape;
      const hkv = k.shape[1];
      if (!isStatic(hq) || !isStatic(hkv) || hq % hkv)
        this.fail('attention', [q, k, v], `query heads ${hq} not a multiple of kv heads ${hkv}`);
      if (!isStatic(d)) this.fail('attention', [q, k, v], 'head dim must be static');
      const rep = hq / hkv;
      const scale = opts.scale ?? 1 / Math.sqrt(d);
      const sk = k.shape[2];
      // Grouped heads as an extra axis: [b, hkv, rep, s, d] against [b, hkv, 1, s, d].
      const qg = rep === 1 ? q : this.reshape(q, [b, hkv, rep, s, d]);
      const kg = rep === 1 ? k : this.unsqueeze(k, [2]);
      const vg = rep === 1 ? v : this.unsqueeze(v, [2]);
      let scores = this.mul(this.matmul(qg, this.transpose(kg)), scale);
      let keep: Tensor | undefined;
      if (opts.causal) {
        const i = this.unsqueeze(this.arange(s), [1]);
        const j = this.unsqueeze(this.arange(sk), [0]);
        keep = this.not(this.greater(j, i)); // [s, sk]
      }
      if (opts.paddingMask) {
        const pm = opts.paddingMask;
        if (pm.rank !== 2) this.fail('attention', [q, pm], 'paddingMask must be [batch, seq]');
        let m = pm.dtype === 'bool' ? pm : this.not(this.equal(pm, 0));
        m = this.reshape(
          m,
          rep === 1 ? [pm.shape[0], 1, 1, pm.shape[1]] : [pm.shape[0], 1, 1, 1, pm.shape[1]],
        );
        keep = keep ? this.and(keep, m) : m;
      }
      if (keep) scores = this.where(keep, scores, MASK_VALUE[q.dtype] ?? -3e38);
      const probs = this.softmax(scores, -1);
      const out = this.matmul(probs, vg);
      return rep === 1 ? out : this.reshape(out, [b, hq, s, d]);
    });
  }
}

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  uint32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Element product of a static shape. */
export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Every tensor the roots depend on, inputs before users (post-order DFS, iterative so deep graphs of
 * thousands of nodes cannot overflow the stack). Shared by grad() and the ONNX lowering.
 */
export function topoOrder(roots: Iterable<Tensor>): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  for (const root of roots) {
    const stack: [Tensor, number][] = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [t, i] = top;
      if (i === 0 && seen.has(t.id)) {
        stack.pop();
        continue;
      }
      seen.add(t.id);
      if (i < t.inputs.length) {
        top[1]++;
        if (!seen.has(t.inputs[i].id)) stack.push([t.inputs[i], 0]);
      } else {
        stack.pop();
        order.push(t);
      }
    }
  }
  return order;
}
