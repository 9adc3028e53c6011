// The LOWER table (engine/lower/rules.ts): one rule per op of ops.ts plus the generic onnx:* row, typed so
// a gap is a type error (the ts-expect-error lines fail the typecheck if a planted gap stops being one),
// checked at run time, and the one path toOnnx lowers by (a replaced rule changes what a real ORT session
// computes).
import { describe, expect, it } from 'vitest';
import { createSession, Graph, GraphError, hostTensor, toOnnx } from '../../../src/main/engine';
import { checkLowerTable, GENERIC, LOWER, type LowerTable } from '../../../src/main/engine/lower/rules';
import { CORE_OPS, missingRows } from '../../../src/main/engine/ops';

function expGraph() {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  return { x, y: g.exp(x) };
}

async function runX(table: LowerTable, x: number[]): Promise<number[]> {
  const { y } = expGraph();
  const s = await createSession(toOnnx({ y }, {}, table), { inThread: true, providers: ['cpu'] });
  try {
    const out = await s.run({ x: hostTensor('float32', [x.length], Float32Array.from(x)) });
    return [...(out.y.data as Float32Array)];
  } finally {
    await s.release();
  }
}

describe('LOWER table', () => {
  it('has a rule for every op of the op table and the generic row, and no other', () => {
    expect(missingRows(LOWER, [...CORE_OPS, GENERIC])).toEqual([]);
    expect(Object.keys(LOWER).sort()).toEqual([...CORE_OPS, GENERIC].sort());
    expect(() => checkLowerTable()).not.toThrow();
  });

  it('a planted missing rule fails the type, the table check and toOnnx, naming the op', () => {
    const { exp: _dropped, ...rest } = LOWER;
    // @ts-expect-error: the LowerTable type demands a rule for every op
    const planted: LowerTable = rest;
    expect(() => checkLowerTable(planted)).toThrow(GraphError);
    expect(() => checkLowerTable(planted)).toThrow(/LOWER: no rule for exp \(lower\/rules\.ts\)/);
    const { y } = expGraph();
    expect(() => toOnnx({ y }, {}, planted)).toThrow(/cannot lower op 'exp' to ONNX: no LOWER rule/);
    // The generic row too: an onnx:* op has nothing to lower by without it.
    const { [GENERIC]: _g, ...noGeneric } = LOWER;
    // @ts-expect-error: the generic row is part of the table's type
    expect(() => checkLowerTable(noGeneric)).toThrow(/no rule for onnx:\*/);
  });

  it('a rule for an op the table does not know is refused', () => {
    const extra = { ...LOWER, frobnicate: LOWER.exp };
    expect(() => checkLowerTable(extra)).toThrow(/rules for unknown ops frobnicate \(ops\.ts\)/);
  });

  it('a rule with the wrong output count fails the type, and toOnnx refuses its result', () => {
    const two: LowerTable = {
      ...LOWER,
      // @ts-expect-error: a rule binds one value to its tensor, not a list
      exp: (L, n) => [L.emit('Exp', [...n.x]), L.emit('Neg', [...n.x])],
    };
    const { y } = expGraph();
    expect(() => toOnnx({ y }, {}, two)).toThrow(/LOWER 'exp' returned 2 outputs for 1 tensor/);
    // A name that no node, initializer or input defines (the rule emitted nothing) is refused as well.
    const none: LowerTable = { ...LOWER, exp: () => 'nowhere' };
    expect(() => toOnnx({ y: expGraph().y }, {}, none)).toThrow(
      /LOWER 'exp' returned undefined value 'nowhere'/,
    );
  });

  it('toOnnx lowers through the table: a replaced rule changes what a real session computes', async () => {
    const x = [0, 1, -2];
    const real = await runX(LOWER, x);
    for (const [i, v] of x.entries()) expect(real[i]).toBeCloseTo(Math.exp(v), 5);
    const neg = await runX({ ...LOWER, exp: (L, n) => L.E(n, 'Neg', n.x) }, x);
    expect(neg).toEqual(x.map((v) => -v));
  });
});
