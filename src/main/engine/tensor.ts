// The symbolic tensor (one op's output in a Graph), the build-time error, and the topological order that
// grad() and the ONNX lowering share.
import { UserError } from '../errors';
import { fmtShape, type Shape } from './dims';
import type { DType } from './dtypes';
import type { Graph } from './graph';
import type { Op } from './ops';

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
    readonly op: Op,
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

const LEAF_OPS = new Set<Op>(['input', 'weight', 'constant']);
export const isLeaf = (t: Tensor) => LEAF_OPS.has(t.op);

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
