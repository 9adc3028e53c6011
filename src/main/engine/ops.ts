// The engine's op set, in one table. Every primitive a Graph can hold is a row here: how many inputs it
// takes and whether it has a VJP row (gradient.ts VJP). The types below are derived from this table, so a
// new op added here fails the typecheck until it has a LOWER row (lower/rules.ts) and, when `grad` is true,
// a VJP row (gradient.ts); Graph.node() checks the arity at build time.
// `onnx:<OpType>` nodes (Graph.onnxOp) are the escape hatch: any arity, no gradient, one generic lowering.

/** Input count: a number, [min, max], or 'n' (one or more). */
export type Arity = number | readonly [number, number] | 'n';

export const OPS = {
  // leaves
  input: { arity: 0, grad: false },
  weight: { arity: 0, grad: false },
  constant: { arity: 0, grad: false },
  full: { arity: 0, grad: false },
  arange: { arity: 0, grad: false },
  dimValue: { arity: 0, grad: false },
  // elementwise
  identity: { arity: 1, grad: true },
  add: { arity: 2, grad: true },
  sub: { arity: 2, grad: true },
  mul: { arity: 2, grad: true },
  div: { arity: 2, grad: true },
  pow: { arity: 2, grad: true },
  max: { arity: 2, grad: true },
  neg: { arity: 1, grad: true },
  exp: { arity: 1, grad: true },
  log: { arity: 1, grad: true },
  sqrt: { arity: 1, grad: true },
  reciprocal: { arity: 1, grad: true },
  tanh: { arity: 1, grad: true },
  sigmoid: { arity: 1, grad: true },
  erf: { arity: 1, grad: true },
  cos: { arity: 1, grad: true },
  sin: { arity: 1, grad: true },
  where: { arity: 3, grad: true },
  cast: { arity: 1, grad: true },
  // comparisons and bit ops (bool / uint32 results: nothing to differentiate)
  equal: { arity: 2, grad: false },
  less: { arity: 2, grad: false },
  greater: { arity: 2, grad: false },
  greaterOrEqual: { arity: 2, grad: false },
  and: { arity: 2, grad: false },
  not: { arity: 1, grad: false },
  bitwiseXor: { arity: 2, grad: false },
  shiftRight: { arity: 2, grad: false },
  // linear algebra
  matmul: { arity: 2, grad: true },
  gemm: { arity: 2, grad: true },
  // shape ops
  transpose: { arity: 1, grad: true },
  reshape: { arity: 1, grad: true },
  squeeze: { arity: 1, grad: true },
  unsqueeze: { arity: 1, grad: true },
  expand: { arity: 1, grad: true },
  concat: { arity: 'n', grad: true },
  slice: { arity: 1, grad: true },
  pad: { arity: 1, grad: true },
  // splitPart is what concat's gradient emits (named sizes); nothing differentiates through it today.
  splitPart: { arity: 1, grad: false },
  gather: { arity: 2, grad: true },
  gatherElements: { arity: 2, grad: true },
  // What gather/gatherElements' gradients emit.
  scatterElementsAdd: { arity: 3, grad: false },
  scatterNDAdd: { arity: 3, grad: false },
  // reductions
  reduceSum: { arity: 1, grad: true },
  reduceMean: { arity: 1, grad: true },
  reduceMax: { arity: 1, grad: true },
  // fused: one ONNX node forward, a VJP row of primitives backward
  softmax: { arity: 1, grad: true },
  logSoftmax: { arity: 1, grad: true },
  layerNorm: { arity: [2, 3], grad: true },
} as const satisfies Record<string, { arity: Arity; grad: boolean }>;

/** A primitive of the table. */
export type CoreOp = keyof typeof OPS;
/** Any op a Tensor can carry: a primitive, or a generic ONNX op (Graph.onnxOp). */
export type Op = CoreOp | `onnx:${string}`;
/** The primitives with a VJP row. */
export type DiffOp = { [K in CoreOp]: (typeof OPS)[K]['grad'] extends true ? K : never }[CoreOp];

export const CORE_OPS = Object.keys(OPS) as CoreOp[];
export const DIFF_OPS = CORE_OPS.filter((o) => OPS[o].grad) as DiffOp[];

export const isCoreOp = (op: string): op is CoreOp => Object.hasOwn(OPS, op);

/** Whether `n` inputs fit an op's arity (any count for onnx:* ops); null when the op is unknown. */
export function arityFits(op: string, n: number): boolean | null {
  if (op.startsWith('onnx:')) return true;
  if (!isCoreOp(op)) return null;
  const a: Arity = OPS[op].arity;
  if (a === 'n') return n >= 1;
  if (typeof a === 'number') return n === a;
  return n >= a[0] && n <= a[1];
}

/** Rows a table lacks for the ops it must cover (the runtime half of the Record<…> types). */
export function missingRows(table: Record<string, unknown>, ops: readonly string[]): string[] {
  return ops.filter((o) => typeof table[o] !== 'function');
}
