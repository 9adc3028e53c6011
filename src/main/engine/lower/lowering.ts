// The state of one lowering (toOnnx): the nodes, initializers and graph inputs emitted so far, fresh
// names, the int64 constant pool, and named dims resolved to Shape(input)[axis]. LOWER rules (rules.ts)
// emit through it only, so it knows every value name that exists (the rule result check in toOnnx).
import { type Dim, type DimExpr, dimAtoms, isStatic, parseDim, type Shape } from '../dims';
import { type DType, GraphError, type Tensor } from '../graph';
import {
  attrI,
  bytesOf,
  DT,
  type IAttr,
  type INode,
  type ITensor,
  type IValueInfo,
  ONNX_DTYPE,
} from './proto';

/** A graph input or output of the lowered model. */
export interface IOInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

/** One graph node as its rule sees it. */
export interface LowerNode {
  readonly t: Tensor;
  /** ONNX value names of the node's inputs. */
  readonly x: readonly string[];
  readonly a: Record<string, unknown>;
  /** The name the node's value should take (an output name, the input/weight name, or `<op>_<id>`). */
  readonly name: string;
  readonly scope: string;
}

export class Lowering {
  readonly nodes: INode[] = [];
  readonly initializers: ITensor[] = [];
  readonly inputs: IValueInfo[] = [];
  readonly inputInfo: IOInfo[] = [];
  /** Every value name defined so far (node outputs, initializers, graph inputs). */
  readonly defined = new Set<string>();
  /** Memo of rules whose ONNX node serves several tensors (Split parts, generic multi-output ops). */
  readonly shared = new Map<unknown, string[]>();
  /** Inline (non-external) weight bytes so far. */
  inlineBytes = 0;
  private readonly constCache = new Map<string, string>();
  private readonly dimCache = new Map<string, string>();
  private readonly shapeCache = new Map<string, string>();
  /** Named dims resolve to Shape(input)[axis] of a fed input that carries them. */
  private readonly atomSource = new Map<string, { input: string; axis: number }>();
  private tmp = 0;

  constructor(
    order: readonly Tensor[],
    /** Directory that external-data locations are relative to; null when no weight comes from a file. */
    readonly externalDir: string | null,
  ) {
    for (const t of order) {
      if (t.op !== 'input') continue;
      t.shape.forEach((d, axis) => {
        if (
          typeof d === 'string' &&
          dimAtoms(d).length === 1 &&
          dimAtoms(d)[0] === d &&
          !this.atomSource.has(d)
        ) {
          this.atomSource.set(d, { input: t.name!, axis });
        }
      });
    }
  }

  fresh(base: string): string {
    return `${base}__${this.tmp++}`;
  }

  /** A node with any number of outputs; its name is its first output's base, under the scope. */
  node(
    opType: string,
    input: string[],
    output: string[],
    attribute: IAttr[],
    name: string,
    scope = '',
  ): void {
    this.nodes.push({ opType, input, output, attribute, name: `${scope ? `${scope}/` : ''}${name}` });
    for (const o of output) this.defined.add(o);
  }

  /** A one-output node; the output gets `out` or a fresh name. */
  emit(opType: string, ins: string[], attrs: IAttr[] = [], out?: string, scope = ''): string {
    const o = out ?? this.fresh(opType);
    this.node(opType, ins, [o], attrs, o, scope);
    return o;
  }

  /** The node's own one-output ONNX node, named as the node's value. */
  E(n: LowerNode, opType: string, ins: readonly string[], attrs: IAttr[] = []): string {
    return this.emit(opType, [...ins], attrs, n.name, n.scope);
  }

  initializer(t: ITensor): string {
    this.initializers.push(t);
    this.defined.add(t.name!);
    return t.name!;
  }

  graphInput(name: string, dtype: DType, shape: Shape): string {
    this.inputs.push({ name, type: this.typeProto(dtype, shape) });
    this.inputInfo.push({ name, dtype, shape: [...shape] });
    this.defined.add(name);
    return name;
  }

  typeProto(dtype: DType, shape: Shape) {
    return {
      tensorType: {
        elemType: ONNX_DTYPE[dtype],
        shape: { dim: shape.map((d) => (isStatic(d) ? { dimValue: d } : { dimParam: String(d) })) },
      },
    };
  }

  /** An int64 initializer (shared by equal values): a 1-D vector, or a scalar. */
  constI64(values: number[], scalar = false): string {
    const key = `${scalar ? 's' : 'v'}${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = `const_i64_${this.constCache.size}`;
    this.initializer({
      name,
      dataType: DT.INT64,
      dims: scalar ? [] : [values.length],
      rawData: bytesOf(BigInt64Array.from(values.map((v) => BigInt(v)))),
    });
    this.constCache.set(key, name);
    return name;
  }

  /** A dim as an int64 [1] value: a constant, or computed from the Shape of inputs (cached per dim). */
  dimTensor(d: Dim): string {
    if (isStatic(d)) return this.constI64([d]);
    const hit = this.dimCache.get(d);
    if (hit) return hit;
    const n = this.buildDim(parseDim(d));
    this.dimCache.set(d, n);
    return n;
  }

  private buildDim(e: DimExpr): string {
    switch (e.k) {
      case 'num':
        return this.constI64([e.v]);
      case 'atom': {
        const src = this.atomSource.get(e.name);
        if (!src)
          throw new GraphError(`dim '${e.name}' appears on no graph input; declare an input that carries it`);
        const key = `atom:${e.name}`;
        const h = this.dimCache.get(key);
        if (h) return h;
        const n = this.emit('Shape', [src.input], [attrI('start', src.axis), attrI('end', src.axis + 1)]);
        this.dimCache.set(key, n);
        return n;
      }
      case 'mul':
        return e.parts.map((p) => this.buildDim(p)).reduce((a, b) => this.emit('Mul', [a, b]));
      case 'add':
        return e.parts.map((p) => this.buildDim(p)).reduce((a, b) => this.emit('Add', [a, b]));
    }
  }

  /** A shape as an int64 vector; with allowInfer one dynamic dim becomes -1 (Reshape infers it). */
  shapeTensor(shape: Shape, allowInfer = false): string {
    const dyn = shape.filter((d) => !isStatic(d)).length;
    if (dyn === 0) return this.constI64(shape as number[]);
    if (allowInfer && dyn === 1) return this.constI64(shape.map((d) => (isStatic(d) ? d : -1)));
    // One Concat per distinct shape: each value is one more entry in ORT's allocation planner, whose
    // buffer-reuse search is quadratic in the values (backward session creation time).
    const key = shape.join(',');
    const hit = this.shapeCache.get(key);
    if (hit) return hit;
    const n = this.emit(
      'Concat',
      shape.map((d) => this.dimTensor(d)),
      [attrI('axis', 0)],
    );
    this.shapeCache.set(key, n);
    return n;
  }
}
