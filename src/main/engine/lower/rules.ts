// The LOWER table: one rule per op of the op table (ops.ts) plus one for the generic `onnx:*` ops. A rule
// emits the op's ONNX node(s) through the Lowering and returns the one value name its tensor takes. The
// table's type is derived from ops.ts, so a new op fails the typecheck until it has a row; checkLowerTable
// is the run-time half, and toOnnx refuses a rule that returns anything but one defined value name.
// Opset 18 facts relied on: ReduceSum/ReduceMean/ReduceMax take axes as an input; Squeeze/Unsqueeze take
// axes as an input; Slice/Pad/Expand/Reshape take their shapes and bounds as inputs; Shape has start/end;
// ScatterND/ScatterElements have reduction='add'.
import fs from 'node:fs';
import path from 'node:path';
import type { Dim } from '../dims';
import { type DType, GraphError, type TypedArray } from '../graph';
import { CORE_OPS, type CoreOp, missingRows } from '../ops';
import type { Lowering, LowerNode } from './lowering';
import {
  AT,
  attrF,
  attrI,
  attrIs,
  attrS,
  attrT,
  bytesOf,
  type IAttr,
  type ITensor,
  ONNX_DTYPE,
  onnx,
  scalarBytes,
} from './proto';

/** Emits a node's ONNX and returns the value name of its (one) output. */
export type LowerRule = (L: Lowering, n: LowerNode) => string;
/** The row for generic ONNX ops (Graph.onnxOp), which have no row of their own in ops.ts. */
export const GENERIC = 'onnx:*';
export type LowerTable = { readonly [K in CoreOp]: LowerRule } & { readonly [GENERIC]: LowerRule };

/** Inline weight budget: protobuf caps a ModelProto at 2 GB, and big weights belong in external files. */
const MAX_INLINE_BYTES = 1 << 30;

/** Same inputs, no attributes: the op is one ONNX node of this type. */
const same =
  (opType: string): LowerRule =>
  (L, n) =>
    L.E(n, opType, n.x);
const withAxis =
  (opType: string): LowerRule =>
  (L, n) =>
    L.E(n, opType, n.x, [attrI('axis', n.a.axis as number)]);
const reduce =
  (opType: string): LowerRule =>
  (L, n) =>
    L.E(n, opType, [n.x[0], L.constI64(n.a.axes as number[])], [attrI('keepdims', n.a.keepdims ? 1 : 0)]);
const axesInput =
  (opType: string): LowerRule =>
  (L, n) =>
    L.E(n, opType, [n.x[0], L.constI64(n.a.axes as number[])]);

const weight: LowerRule = (L, n) => {
  const src = n.a.source as { file: string; offset: number; length: number } | { data: TypedArray };
  const base: ITensor = { name: n.name, dataType: ONNX_DTYPE[n.t.dtype], dims: n.t.shape as number[] };
  if ('file' in src) {
    const rel = path.relative(L.externalDir!, fs.realpathSync(src.file));
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new GraphError(
        `weight '${n.name}': ${src.file} is outside the external data folder ${L.externalDir}`,
      );
    }
    return L.initializer({
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: rel },
        { key: 'offset', value: String(src.offset) },
        { key: 'length', value: String(src.length) },
      ],
    });
  }
  L.inlineBytes += src.data.byteLength;
  if (L.inlineBytes > MAX_INLINE_BYTES) {
    throw new GraphError(
      `weight '${n.name}': over ${MAX_INLINE_BYTES >> 20} MB of inline weights; a ModelProto cannot pass 2 GB — give big weights a { file, offset, length } source`,
    );
  }
  return L.initializer({ ...base, rawData: bytesOf(src.data) });
};

/** All parts of one split come from a single Split node. */
const splitPart: LowerRule = (L, n) => {
  const sizes = n.a.sizes as Dim[];
  const key = `${n.x[0]}|${n.a.axis}|${sizes.join(',')}`;
  let outs = L.shared.get(key);
  if (!outs) {
    const base = L.fresh('Split');
    outs = sizes.map((_, j) => `${base}_${j}`);
    L.node('Split', [n.x[0], L.shapeTensor(sizes)], outs, [attrI('axis', n.a.axis as number)], base, n.scope);
    L.shared.set(key, outs);
  }
  return outs[n.a.index as number];
};

const arange: LowerRule = (L, n) => {
  const dt = n.t.dtype;
  const lim = L.emit('Squeeze', [L.dimTensor(n.a.n as Dim), L.constI64([0])]);
  const limT = dt === 'int64' ? lim : L.emit('Cast', [lim], [attrI('to', ONNX_DTYPE[dt])]);
  const zero = L.initializer({
    name: `${n.name}__start`,
    dataType: ONNX_DTYPE[dt],
    dims: [],
    rawData: scalarBytes(dt, 0),
  });
  const one = L.initializer({
    name: `${n.name}__delta`,
    dataType: ONNX_DTYPE[dt],
    dims: [],
    rawData: scalarBytes(dt, 1),
  });
  return L.E(n, 'Range', [zero, limT, one]);
};

/** Generic ONNX op: one node for all outputs of its group. */
const generic: LowerRule = (L, n) => {
  const group = n.a.group as {
    opType: string;
    attrs: Record<string, number | string | number[]>;
    count: number;
  };
  let outs = L.shared.get(group);
  if (!outs) {
    const base = L.fresh(group.opType);
    outs = Array.from({ length: group.count }, (_, j) => `${base}_${j}`);
    const attrs = Object.entries(group.attrs).map(([k, v]): IAttr => {
      if (typeof v === 'string') return attrS(k, v);
      if (Array.isArray(v))
        return v.every(Number.isInteger) ? attrIs(k, v) : { name: k, type: AT.FLOATS, floats: v };
      return Number.isInteger(v) ? attrI(k, v) : attrF(k, v);
    });
    L.node(group.opType, [...n.x], outs, attrs, base, n.scope);
    L.shared.set(group, outs);
  }
  return outs[n.a.index as number];
};

export const LOWER: LowerTable = {
  // leaves
  input: (L, n) => L.graphInput(n.name, n.t.dtype, n.t.shape),
  weight,
  constant: (L, n) =>
    L.initializer({
      name: n.name,
      dataType: ONNX_DTYPE[n.t.dtype],
      dims: n.t.shape as number[],
      rawData: bytesOf(n.a.data as TypedArray),
    }),
  full: (L, n) =>
    L.E(
      n,
      'ConstantOfShape',
      [L.shapeTensor(n.a.shape as Dim[])],
      [
        attrT('value', {
          dataType: ONNX_DTYPE[n.t.dtype],
          dims: [1],
          rawData: scalarBytes(n.t.dtype, n.a.value as number),
        }),
      ],
    ),
  arange,
  dimValue: (L, n) => {
    const s = L.emit('Squeeze', [L.dimTensor(n.a.dim as Dim), L.constI64([0])]);
    return L.E(n, 'Cast', [s], [attrI('to', ONNX_DTYPE[n.t.dtype])]);
  },
  // elementwise
  identity: same('Identity'),
  add: same('Add'),
  sub: same('Sub'),
  mul: same('Mul'),
  div: same('Div'),
  pow: same('Pow'),
  max: same('Max'),
  neg: same('Neg'),
  exp: same('Exp'),
  log: same('Log'),
  sqrt: same('Sqrt'),
  reciprocal: same('Reciprocal'),
  tanh: same('Tanh'),
  sigmoid: same('Sigmoid'),
  erf: same('Erf'),
  cos: same('Cos'),
  sin: same('Sin'),
  where: same('Where'),
  cast: (L, n) => L.E(n, 'Cast', n.x, [attrI('to', ONNX_DTYPE[n.a.to as DType])]),
  // comparisons and bit ops
  equal: same('Equal'),
  less: same('Less'),
  greater: same('Greater'),
  greaterOrEqual: same('GreaterOrEqual'),
  and: same('And'),
  not: same('Not'),
  bitwiseXor: same('BitwiseXor'),
  shiftRight: (L, n) => L.E(n, 'BitShift', n.x, [attrS('direction', 'RIGHT')]),
  // linear algebra
  matmul: same('MatMul'),
  gemm: (L, n) =>
    L.E(n, 'Gemm', n.x, [attrI('transA', n.a.transA ? 1 : 0), attrI('transB', n.a.transB ? 1 : 0)]),
  // shape ops
  transpose: (L, n) => L.E(n, 'Transpose', n.x, [attrIs('perm', n.a.perm as number[])]),
  reshape: (L, n) => L.E(n, 'Reshape', [n.x[0], L.shapeTensor(n.a.shape as Dim[], true)]),
  squeeze: axesInput('Squeeze'),
  unsqueeze: axesInput('Unsqueeze'),
  expand: (L, n) => L.E(n, 'Expand', [n.x[0], L.shapeTensor(n.a.shape as Dim[])]),
  concat: withAxis('Concat'),
  slice: (L, n) => {
    const a = n.a;
    const end = a.end === null ? Number.MAX_SAFE_INTEGER : (a.end as number);
    const ins = [n.x[0], L.constI64([a.start as number]), L.constI64([end]), L.constI64([a.axis as number])];
    return L.E(n, 'Slice', [...ins, L.constI64([a.step as number])]);
  },
  pad: (L, n) => {
    const pads = n.a.pads as [Dim, Dim][];
    return L.E(n, 'Pad', [n.x[0], L.shapeTensor([...pads.map((p) => p[0]), ...pads.map((p) => p[1])])]);
  },
  splitPart,
  gather: withAxis('Gather'),
  gatherElements: withAxis('GatherElements'),
  scatterElementsAdd: (L, n) =>
    L.E(n, 'ScatterElements', n.x, [attrI('axis', n.a.axis as number), attrS('reduction', 'add')]),
  scatterNDAdd: (L, n) => L.E(n, 'ScatterND', n.x, [attrS('reduction', 'add')]),
  // reductions
  reduceSum: reduce('ReduceSum'),
  reduceMean: reduce('ReduceMean'),
  reduceMax: reduce('ReduceMax'),
  // fused
  softmax: withAxis('Softmax'),
  logSoftmax: withAxis('LogSoftmax'),
  layerNorm: (L, n) =>
    L.E(n, 'LayerNormalization', n.x, [attrI('axis', -1), attrF('epsilon', n.a.eps as number)]),
  [GENERIC]: generic,
};

/** The rule for an op: its row, the generic row for `onnx:*`, or undefined. */
export function ruleFor(table: LowerTable, op: string): LowerRule | undefined {
  if (op.startsWith('onnx:')) return table[GENERIC];
  return Object.hasOwn(table, op) ? table[op as CoreOp] : undefined;
}

/** Run-time half of LowerTable's type: every op has a rule, and every rule belongs to an op. */
export function checkLowerTable(table: LowerTable = LOWER): void {
  const rows = [...CORE_OPS, GENERIC];
  const missing = missingRows(table, rows);
  if (missing.length) throw new GraphError(`LOWER: no rule for ${missing.join(', ')} (lower/rules.ts)`);
  const extra = Object.keys(table).filter((k) => !rows.includes(k));
  if (extra.length) throw new GraphError(`LOWER: rules for unknown ops ${extra.join(', ')} (ops.ts)`);
}
