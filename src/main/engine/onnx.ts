// Lowering of a built graph to an ONNX ModelProto (opset 18, IR version 8) with onnx-proto.
// Opset 18 facts relied on: ReduceSum/ReduceMean/ReduceMax take axes as an input; Squeeze/Unsqueeze take
// axes as an input; Slice/Pad/Expand/Reshape take their shapes and bounds as inputs; Shape has start/end;
// ScatterND/ScatterElements have reduction='add'.
// Frozen weights sourced from files become external-data initializers that point into those files
// (location relative to `externalDir`, offset, length), so a checkpoint is never copied or inlined.
import fs from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { type Dim, type DimExpr, dimAtoms, fmtShape, isStatic, parseDim, type Shape } from './dims';
import { type DType, GraphError, type Tensor, type TypedArray, topoOrder } from './graph';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IAttr = onnxProto.onnx.IAttributeProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;

export const OPSET = 18;
/** Inline weight budget: protobuf caps a ModelProto at 2 GB, and big weights belong in external files. */
const MAX_INLINE_BYTES = 1 << 30;
export const IR_VERSION = 8;

const DT = onnx.TensorProto.DataType;
export const ONNX_DTYPE: Record<DType, number> = {
  float32: DT.FLOAT,
  float64: DT.DOUBLE,
  float16: DT.FLOAT16,
  bfloat16: DT.BFLOAT16,
  int64: DT.INT64,
  int32: DT.INT32,
  uint32: DT.UINT32,
  int8: DT.INT8,
  uint8: DT.UINT8,
  bool: DT.BOOL,
};

export interface IOInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export interface OnnxModel {
  /** Serialized ModelProto (weights from files are external, not in here). */
  bytes: Uint8Array;
  inputs: IOInfo[];
  outputs: IOInfo[];
  /** Directory that external-data `location`s are relative to; null when there is no external data. */
  externalDir: string | null;
  nodeCount: number;
}

export interface LowerOptions {
  /** Base directory for external data; default: the deepest directory holding every weight file. */
  externalDir?: string;
  name?: string;
}

const AT = onnx.AttributeProto.AttributeType;
const attrI = (name: string, i: number): IAttr => ({ name, type: AT.INT, i });
const attrF = (name: string, f: number): IAttr => ({ name, type: AT.FLOAT, f });
const attrS = (name: string, s: string): IAttr => ({ name, type: AT.STRING, s: new TextEncoder().encode(s) });
const attrIs = (name: string, ints: number[]): IAttr => ({ name, type: AT.INTS, ints });
const attrT = (name: string, t: ITensor): IAttr => ({ name, type: AT.TENSOR, t });

const bytesOf = (a: TypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function f32ToF16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (mant >>> 13);
}

function scalarBytes(dtype: DType, v: number): Uint8Array {
  switch (dtype) {
    case 'float32':
      return bytesOf(new Float32Array([v]));
    case 'float64':
      return bytesOf(new Float64Array([v]));
    case 'float16':
      return bytesOf(new Uint16Array([f32ToF16Bits(v)]));
    case 'bfloat16':
      return bytesOf(new Uint16Array([new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16]));
    case 'int64':
      return bytesOf(new BigInt64Array([BigInt(Math.trunc(v))]));
    case 'int32':
      return bytesOf(new Int32Array([v]));
    case 'uint32':
      return bytesOf(new Uint32Array([v >>> 0]));
    case 'int8':
      return bytesOf(new Int8Array([v]));
    default:
      return new Uint8Array([v ? 1 : 0]);
  }
}

/** Deepest common directory of some absolute paths. */
function commonDir(files: string[]): string {
  let parts = path.dirname(files[0]).split(path.sep);
  for (const f of files.slice(1)) {
    const p = path.dirname(f).split(path.sep);
    let i = 0;
    while (i < parts.length && i < p.length && parts[i] === p[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}

/** Lower the graph reachable from `outputs` to ONNX. Output names are the keys of `outputs`. */
export function toOnnx(outputs: Record<string, Tensor>, opts: LowerOptions = {}): OnnxModel {
  const outEntries = Object.entries(outputs);
  if (outEntries.length === 0) throw new GraphError('toOnnx: no outputs');

  // The reachable subgraph.
  const order = topoOrder(outEntries.map(([, root]) => root));

  // Creation order is a topological order (a node is built after its inputs) and it is the order the user
  // and grad() built things: forward, then the backward layer by layer, each weight gradient right after the
  // values it needs. ORT's sequential executor keeps it, so activations die early (what recompute() needs).
  order.sort((p, q) => p.id - q.id);

  const nodes: INode[] = [];
  const initializers: ITensor[] = [];
  const inputs: IValueInfo[] = [];
  const inputInfo: IOInfo[] = [];
  const names = new Map<number, string>();
  const constCache = new Map<string, string>();
  let tmp = 0;
  const fresh = (base: string) => `${base}__${tmp++}`;
  const emit = (opType: string, ins: string[], attrs: IAttr[] = [], out?: string, scope = ''): string => {
    const o = out ?? fresh(opType);
    nodes.push({
      opType,
      input: ins,
      output: [o],
      attribute: attrs,
      name: `${scope ? `${scope}/` : ''}${o}`,
    });
    return o;
  };
  const constI64 = (values: number[], scalar = false): string => {
    const key = `${scalar ? 's' : 'v'}${values.join(',')}`;
    const hit = constCache.get(key);
    if (hit) return hit;
    const name = `const_i64_${constCache.size}`;
    initializers.push({
      name,
      dataType: DT.INT64,
      dims: scalar ? [] : [values.length],
      rawData: bytesOf(BigInt64Array.from(values.map((v) => BigInt(v)))),
    });
    constCache.set(key, name);
    return name;
  };
  const typeProto = (dtype: DType, shape: Shape) => ({
    tensorType: {
      elemType: ONNX_DTYPE[dtype],
      shape: { dim: shape.map((d) => (isStatic(d) ? { dimValue: d } : { dimParam: String(d) })) },
    },
  });

  // Named dims resolve to Shape(input)[axis] of a fed input that carries them.
  const atomSource = new Map<string, { input: string; axis: number }>();
  for (const t of order) {
    if (t.op !== 'input') continue;
    t.shape.forEach((d, axis) => {
      if (typeof d === 'string' && dimAtoms(d).length === 1 && dimAtoms(d)[0] === d && !atomSource.has(d)) {
        atomSource.set(d, { input: t.name!, axis });
      }
    });
  }
  const dimCache = new Map<string, string>();
  const dimTensor = (d: Dim): string => {
    if (isStatic(d)) return constI64([d]);
    const hit = dimCache.get(d);
    if (hit) return hit;
    const build = (e: DimExpr): string => {
      switch (e.k) {
        case 'num':
          return constI64([e.v]);
        case 'atom': {
          const src = atomSource.get(e.name);
          if (!src)
            throw new GraphError(
              `dim '${e.name}' appears on no graph input; declare an input that carries it`,
            );
          const key = `atom:${e.name}`;
          const h = dimCache.get(key);
          if (h) return h;
          const n = emit('Shape', [src.input], [attrI('start', src.axis), attrI('end', src.axis + 1)]);
          dimCache.set(key, n);
          return n;
        }
        case 'mul':
          return e.parts.map(build).reduce((a, b) => emit('Mul', [a, b]));
        case 'add':
          return e.parts.map(build).reduce((a, b) => emit('Add', [a, b]));
      }
    };
    const n = build(parseDim(d));
    dimCache.set(d, n);
    return n;
  };
  const shapeTensor = (shape: Shape, allowInfer = false): string => {
    const dyn = shape.filter((d) => !isStatic(d)).length;
    if (dyn === 0) return constI64(shape as number[]);
    if (allowInfer && dyn === 1) return constI64(shape.map((d) => (isStatic(d) ? d : -1)));
    return emit(
      'Concat',
      shape.map((d) => dimTensor(d)),
      [attrI('axis', 0)],
    );
  };

  // External data: locations relative to one directory.
  const files = order.flatMap((t) => {
    const src = t.op === 'weight' ? (t.attrs.source as { file?: string }) : undefined;
    return src?.file ? [fs.realpathSync(src.file)] : [];
  });
  const externalDir = files.length ? path.resolve(opts.externalDir ?? commonDir(files)) : null;

  let inlineBytes = 0;
  const splits = new Map<string, string[]>();
  const groups = new Map<object, string[]>();
  const outputNameOf = new Map<number, string>();
  for (const [name, t] of outEntries)
    if (!outputNameOf.has(t.id) && t.op !== 'input') outputNameOf.set(t.id, name);

  for (const t of order) {
    const nm =
      outputNameOf.get(t.id) ?? (t.op === 'input' || t.op === 'weight' ? t.name! : `${t.op}_${t.id}`);
    const a = t.attrs;
    const x = t.inputs.map((i) => names.get(i.id)!);
    const sc = t.scope;
    const E = (op: string, ins: string[], attrs: IAttr[] = []) => emit(op, ins, attrs, nm, sc);
    switch (t.op) {
      case 'input':
        inputs.push({ name: nm, type: typeProto(t.dtype, t.shape) });
        inputInfo.push({ name: nm, dtype: t.dtype, shape: [...t.shape] });
        break;
      case 'weight': {
        const src = a.source as { file: string; offset: number; length: number } | { data: TypedArray };
        const base: ITensor = { name: nm, dataType: ONNX_DTYPE[t.dtype], dims: t.shape as number[] };
        if ('file' in src) {
          const rel = path.relative(externalDir!, fs.realpathSync(src.file));
          if (rel.startsWith('..') || path.isAbsolute(rel)) {
            throw new GraphError(
              `weight '${nm}': ${src.file} is outside the external data folder ${externalDir}`,
            );
          }
          initializers.push({
            ...base,
            dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
            externalData: [
              { key: 'location', value: rel },
              { key: 'offset', value: String(src.offset) },
              { key: 'length', value: String(src.length) },
            ],
          });
        } else {
          inlineBytes += src.data.byteLength;
          if (inlineBytes > MAX_INLINE_BYTES) {
            throw new GraphError(
              `weight '${nm}': over ${MAX_INLINE_BYTES >> 20} MB of inline weights; a ModelProto cannot pass 2 GB — give big weights a { file, offset, length } source`,
            );
          }
          initializers.push({ ...base, rawData: bytesOf(src.data) });
        }
        break;
      }
      case 'constant':
        initializers.push({
          name: nm,
          dataType: ONNX_DTYPE[t.dtype],
          dims: t.shape as number[],
          rawData: bytesOf(a.data as TypedArray),
        });
        break;
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
      case 'pow':
      case 'max':
      case 'equal':
      case 'less':
      case 'greater':
      case 'greaterOrEqual':
      case 'bitwiseXor':
      case 'and':
      case 'not':
      case 'neg':
      case 'exp':
      case 'log':
      case 'sqrt':
      case 'reciprocal':
      case 'tanh':
      case 'sigmoid':
      case 'erf':
      case 'cos':
      case 'sin':
      case 'identity':
      case 'where':
      case 'matmul':
        E(ONNX_OP[t.op], x);
        break;
      case 'shiftRight':
        E('BitShift', x, [attrS('direction', 'RIGHT')]);
        break;
      case 'cast':
        E('Cast', x, [attrI('to', ONNX_DTYPE[a.to as DType])]);
        break;
      case 'gemm':
        E('Gemm', x, [attrI('transA', a.transA ? 1 : 0), attrI('transB', a.transB ? 1 : 0)]);
        break;
      case 'transpose':
        E('Transpose', x, [attrIs('perm', a.perm as number[])]);
        break;
      case 'reshape':
        E('Reshape', [x[0], shapeTensor(a.shape as Dim[], true)]);
        break;
      case 'expand':
        E('Expand', [x[0], shapeTensor(a.shape as Dim[])]);
        break;
      case 'squeeze':
        E('Squeeze', [x[0], constI64(a.axes as number[])]);
        break;
      case 'unsqueeze':
        E('Unsqueeze', [x[0], constI64(a.axes as number[])]);
        break;
      case 'concat':
        E('Concat', x, [attrI('axis', a.axis as number)]);
        break;
      case 'slice': {
        const end = a.end === null ? Number.MAX_SAFE_INTEGER : (a.end as number);
        E('Slice', [
          x[0],
          constI64([a.start as number]),
          constI64([end]),
          constI64([a.axis as number]),
          constI64([a.step as number]),
        ]);
        break;
      }
      case 'splitPart': {
        // All parts of one split come from a single Split node.
        const sizes = a.sizes as Dim[];
        const key = `${x[0]}|${a.axis}|${sizes.join(',')}`;
        let outs = splits.get(key);
        if (!outs) {
          const base = fresh('Split');
          outs = sizes.map((_, j) => `${base}_${j}`);
          nodes.push({
            opType: 'Split',
            input: [x[0], shapeTensor(sizes)],
            output: outs,
            attribute: [attrI('axis', a.axis as number)],
            name: `${sc ? `${sc}/` : ''}${base}`,
          });
          splits.set(key, outs);
        }
        names.set(t.id, outs[a.index as number]);
        continue;
      }
      case 'gather':
        E('Gather', x, [attrI('axis', a.axis as number)]);
        break;
      case 'gatherElements':
        E('GatherElements', x, [attrI('axis', a.axis as number)]);
        break;
      case 'scatterElementsAdd':
        E('ScatterElements', x, [attrI('axis', a.axis as number), attrS('reduction', 'add')]);
        break;
      case 'scatterNDAdd':
        E('ScatterND', x, [attrS('reduction', 'add')]);
        break;
      case 'pad': {
        const pads = a.pads as [Dim, Dim][];
        E('Pad', [x[0], shapeTensor([...pads.map((p) => p[0]), ...pads.map((p) => p[1])])]);
        break;
      }
      case 'full':
        E(
          'ConstantOfShape',
          [shapeTensor(a.shape as Dim[])],
          [
            attrT('value', {
              dataType: ONNX_DTYPE[t.dtype],
              dims: [1],
              rawData: scalarBytes(t.dtype, a.value as number),
            }),
          ],
        );
        break;
      case 'arange': {
        const lim = emit('Squeeze', [dimTensor(a.n as Dim), constI64([0])]);
        const limT = t.dtype === 'int64' ? lim : emit('Cast', [lim], [attrI('to', ONNX_DTYPE[t.dtype])]);
        const zero = `${nm}__start`;
        const one = `${nm}__delta`;
        initializers.push({
          name: zero,
          dataType: ONNX_DTYPE[t.dtype],
          dims: [],
          rawData: scalarBytes(t.dtype, 0),
        });
        initializers.push({
          name: one,
          dataType: ONNX_DTYPE[t.dtype],
          dims: [],
          rawData: scalarBytes(t.dtype, 1),
        });
        E('Range', [zero, limT, one]);
        break;
      }
      case 'dimValue': {
        const s = emit('Squeeze', [dimTensor(a.dim as Dim), constI64([0])]);
        E('Cast', [s], [attrI('to', ONNX_DTYPE[t.dtype])]);
        break;
      }
      case 'reduceSum':
      case 'reduceMean':
      case 'reduceMax':
        E(ONNX_OP[t.op], [x[0], constI64(a.axes as number[])], [attrI('keepdims', a.keepdims ? 1 : 0)]);
        break;
      case 'softmax':
      case 'logSoftmax':
        E(ONNX_OP[t.op], x, [attrI('axis', a.axis as number)]);
        break;
      case 'layerNorm':
        E('LayerNormalization', x, [attrI('axis', -1), attrF('epsilon', a.eps as number)]);
        break;
      default: {
        if (!t.op.startsWith('onnx:'))
          throw new GraphError(`${sc ? `${sc}: ` : ''}cannot lower op '${t.op}' to ONNX`);
        // Generic ONNX op: one node for all outputs of its group.
        const group = a.group as {
          opType: string;
          attrs: Record<string, number | string | number[]>;
          count: number;
        };
        let outs = groups.get(group);
        if (!outs) {
          const base = fresh(group.opType);
          const o = Array.from({ length: group.count }, (_, j) => `${base}_${j}`);
          outs = o;
          const attrs = Object.entries(group.attrs).map(([k, v]): IAttr => {
            if (typeof v === 'string') return attrS(k, v);
            if (Array.isArray(v)) {
              return v.every(Number.isInteger) ? attrIs(k, v) : { name: k, type: AT.FLOATS, floats: v };
            }
            return Number.isInteger(v) ? attrI(k, v) : attrF(k, v);
          });
          nodes.push({
            opType: group.opType,
            input: x,
            output: o,
            attribute: attrs,
            name: `${sc ? `${sc}/` : ''}${base}`,
          });
          groups.set(group, o);
        }
        names.set(t.id, outs[a.index as number]);
        continue;
      }
    }
    names.set(t.id, nm);
  }

  // Outputs: a tensor already named as an output keeps that name; inputs or duplicates go through Identity.
  const outputs_: IValueInfo[] = [];
  const outputInfo: IOInfo[] = [];
  for (const [name, t] of outEntries) {
    const have = names.get(t.id)!;
    if (have !== name) emit('Identity', [have], [], name);
    outputs_.push({ name, type: typeProto(t.dtype, t.shape) });
    outputInfo.push({ name, dtype: t.dtype, shape: [...t.shape] });
  }

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'embedsmith',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: opts.name ?? 'embedsmith',
      node: nodes,
      initializer: initializers,
      input: inputs,
      output: outputs_,
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return { bytes, inputs: inputInfo, outputs: outputInfo, externalDir, nodeCount: nodes.length };
}

const ONNX_OP: Record<string, string> = {
  add: 'Add',
  sub: 'Sub',
  mul: 'Mul',
  div: 'Div',
  pow: 'Pow',
  max: 'Max',
  equal: 'Equal',
  less: 'Less',
  greater: 'Greater',
  greaterOrEqual: 'GreaterOrEqual',
  bitwiseXor: 'BitwiseXor',
  and: 'And',
  not: 'Not',
  neg: 'Neg',
  exp: 'Exp',
  log: 'Log',
  sqrt: 'Sqrt',
  reciprocal: 'Reciprocal',
  tanh: 'Tanh',
  sigmoid: 'Sigmoid',
  erf: 'Erf',
  cos: 'Cos',
  sin: 'Sin',
  identity: 'Identity',
  where: 'Where',
  matmul: 'MatMul',
  reduceSum: 'ReduceSum',
  reduceMean: 'ReduceMean',
  reduceMax: 'ReduceMax',
  softmax: 'Softmax',
  logSoftmax: 'LogSoftmax',
};

export { fmtShape };
