// The op table (ops.ts) and the tables keyed by it: every differentiable op has a VJP rule returning one
// gradient per input, every op is known to Graph.node() with its arity. Checked by the types (the ts-
// expect-error lines fail the typecheck if a planted gap stops being an error) and at run time.
import { describe, expect, it } from 'vitest';
import { Graph, GraphError, grad } from '../../../src/main/engine';
import { checkGrads, checkVjpTable, VJP, type VjpTable } from '../../../src/main/engine/gradient';
import { arityFits, CORE_OPS, DIFF_OPS, missingRows, OPS } from '../../../src/main/engine/ops';

describe('op table', () => {
  it('every differentiable op has a VJP rule and every rule belongs to a differentiable op', () => {
    expect(missingRows(VJP, DIFF_OPS)).toEqual([]);
    expect(Object.keys(VJP).sort()).toEqual([...DIFF_OPS].sort());
    expect(() => checkVjpTable()).not.toThrow();
  });

  it('a planted missing rule fails the type and the runtime check, naming the op', () => {
    const { exp: _dropped, ...rest } = VJP;
    // @ts-expect-error: the VjpTable type demands a rule for every DiffOp
    const planted: VjpTable = rest;
    expect(() => checkVjpTable(planted)).toThrow(GraphError);
    expect(() => checkVjpTable(planted)).toThrow(/no rule for exp \(gradient\.ts\)/);
  });

  it('a rule of the wrong arity fails the type, and grad() refuses a result of the wrong length', () => {
    // @ts-expect-error: a binary op's rule returns two gradients
    const _bad: VjpTable['add'] = (c) => [c.gy];
    const g = new Graph();
    const a = g.input('a', 'float32', [2]);
    const y = g.add(a, a);
    expect(() => checkGrads(y, [a])).toThrow(/VJP 'add' returned 1 gradients for 2 inputs/);
    expect(() => checkGrads(y, [a, null])).not.toThrow();
  });

  it('Graph.node() checks each op against the table: arity, and unknown ops', () => {
    for (const op of CORE_OPS) {
      const a = OPS[op].arity;
      const n = a === 'n' ? 2 : typeof a === 'number' ? a : a[0];
      expect(arityFits(op, n)).toBe(true);
      expect(arityFits(op, n + (a === 'n' ? -2 : 5))).toBe(false);
    }
    expect(arityFits('onnx:TopK', 2)).toBe(true);
    expect(arityFits('nope', 1)).toBeNull();
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    expect(() => g.node('where', [x, x], {}, 'float32', [3])).toThrow(/op 'where' does not take 2 inputs/);
  });

  it('every differentiable op is reachable by grad() through its rule (no op without a gradient path)', () => {
    // A non-differentiable op with a float output on the path fails naming it.
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 3]);
    const s = g.splitPart(x, 0, [1, 1], 0);
    expect(() => grad(g.sum(s), [x])).toThrow(/no gradient rule for op 'splitPart'/);
  });
});
