// Every primitive's VJP (and the composites built on them) against central finite differences in float64,
// on random inputs, with broadcasting, masking and named dynamic dims.
import { describe, expect, it } from 'vitest';
import {
  attention,
  crossEntropy,
  dropout,
  gelu,
  grad,
  Graph,
  GraphError,
  l2Normalize,
  rmsNorm,
  rope,
  ropeCosSin,
  silu,
  VJP,
} from '../../../src/main/engine';
import { type GradCase, gradCheck } from './helpers';

const pos = (r: () => number) => 0.5 + r() * 2; // strictly positive inputs for log/sqrt/pow

const cases: Record<string, GradCase> = {
  'add/sub with broadcasting': {
    inputs: { a: { shape: [2, 3, 4] }, b: { shape: [3, 1] }, c: { shape: [4] } },
    build: (g, { a, b, c }) => g.sub(g.add(a, b), c),
  },
  'mul/div with broadcasting': {
    inputs: { a: { shape: [2, 3, 4] }, b: { shape: [1, 3, 1] }, c: { shape: [4], init: pos } },
    build: (g, { a, b, c }) => g.div(g.mul(a, b), c),
  },
  'pow (both operands)': {
    inputs: { a: { shape: [3, 4], init: pos }, b: { shape: [4] } },
    build: (g, { a, b }) => g.pow(a, b),
  },
  'pow with a constant exponent': {
    inputs: { a: { shape: [5], init: pos } },
    build: (g, { a }) => g.pow(a, 3),
  },
  'maximum (elementwise)': {
    inputs: { a: { shape: [3, 4] }, b: { shape: [4] } },
    build: (g, { a, b }) => g.maximum(a, b),
  },
  'neg exp tanh sigmoid': {
    inputs: { a: { shape: [2, 5] } },
    build: (g, { a }) => g.add(g.add(g.neg(g.exp(a)), g.tanh(a)), g.sigmoid(a)),
  },
  'log sqrt reciprocal rsqrt': {
    inputs: { a: { shape: [2, 5], init: pos } },
    build: (g, { a }) => g.add(g.add(g.log(a), g.sqrt(a)), g.add(g.reciprocal(a), g.rsqrt(a))),
  },
  'cos sin': {
    inputs: { a: { shape: [6] } },
    build: (g, { a }) => g.mul(g.cos(a), g.sin(a)),
  },
  'silu and gelu(tanh)': {
    inputs: { a: { shape: [2, 6] } },
    build: (g, { a }) => g.add(silu(g, a), gelu(g, a, 'tanh')),
  },
  'batched matmul with broadcasting': {
    inputs: { a: { shape: [2, 1, 3, 4] }, b: { shape: [3, 4, 2] } },
    build: (g, { a, b }) => g.matmul(a, b),
  },
  'gemm, all transpositions': {
    inputs: { a: { shape: [3, 4] }, b: { shape: [4, 5] }, at: { shape: [4, 3] }, bt: { shape: [5, 4] } },
    build: (g, { a, b, at, bt }) =>
      g.add(
        g.add(g.gemm(a, b), g.gemm(at, b, { transA: true })),
        g.add(g.gemm(a, bt, { transB: true }), g.gemm(at, bt, { transA: true, transB: true })),
      ),
  },
  'linear over [batch, seq, in] with bias (named dims)': {
    inputs: {
      x: { shape: [2, 3, 4], decl: ['batch', 'seq', 4] },
      w: { shape: [5, 4] },
      b: { shape: [5] },
    },
    build: (g, { x, w, b }) => g.linear(x, w, b),
    outShape: [2, 3, 5],
  },
  'transpose reshape squeeze unsqueeze': {
    inputs: { a: { shape: [2, 3, 4] } },
    build: (g, { a }) => g.squeeze(g.unsqueeze(g.reshape(g.transpose(a, [2, 0, 1]), [4, 6]), [0]), [0]),
  },
  expand: {
    inputs: { a: { shape: [3, 1] } },
    build: (g, { a }) => g.expand(a, [2, 3, 4]),
  },
  'concat and slice': {
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 2] } },
    build: (g, { a, b }) => {
      const c = g.concat([a, b], 1); // [2, 5]
      return g.concat([g.slice(c, 1, 1, 4), g.slice(c, 1, -3), g.slice(c, 1, 0, 3)], 0); // [6, 3]
    },
  },
  'concat along named dims (queries then documents)': {
    inputs: {
      q: { shape: [2, 3], decl: ['nq', 3] },
      d: { shape: [3, 3], decl: ['nd', 3] },
      w: { shape: [3, 3] },
    },
    build: (g, { q, d, w }) => g.tanh(g.linear(g.concat([q, d], 0), w)),
    outShape: [5, 3],
  },
  'slice on a dynamic dim': {
    inputs: { a: { shape: [6, 2], decl: ['batch', 2] } },
    build: (g, { a }) => g.reshape(g.slice(a, 0, 2, 5), [3, 2]),
  },
  'gather (embedding lookup)': {
    inputs: {
      table: { shape: [5, 3] },
      ids: { shape: [2, 3], dtype: 'int64', init: (_, i) => [0, 3, 3, 1, 4, 0][i] },
    },
    build: (g, { table, ids }) => g.gather(table, ids),
  },
  'where / masking': {
    inputs: {
      a: { shape: [3, 4] },
      b: { shape: [4] },
      m: { shape: [3, 4], dtype: 'bool', init: (r) => (r() > 0.5 ? 1 : 0) },
    },
    build: (g, { a, b, m }) => g.where(m, a, b),
  },
  'cast (float64 → float32 → float64)': {
    inputs: { a: { shape: [4] } },
    build: (g, { a }) => g.cast(g.mul(g.cast(a, 'float32'), 3), 'float64'),
    h: 1e-3,
  },
  'reduceSum / reduceMean (keepdims and not)': {
    inputs: { a: { shape: [2, 3, 4] } },
    build: (g, { a }) => g.add(g.reduceSum(a, [0, 2], true), g.unsqueeze(g.reduceMean(a, [0, 2]), [0, 2])),
  },
  'reduceMean over a named dim': {
    inputs: { a: { shape: [2, 5, 3], decl: [2, 'seq', 3] } },
    build: (g, { a }) => g.reduceMean(a, [1]),
  },
  reduceMax: {
    inputs: { a: { shape: [3, 5] } },
    build: (g, { a }) => g.reduceMax(a, [1]),
  },
  'softmax and logSoftmax': {
    inputs: { a: { shape: [3, 5] } },
    build: (g, { a }) => g.add(g.softmax(a, 1), g.logSoftmax(a, 0)),
  },
  'layerNorm (x, weight, bias)': {
    inputs: { x: { shape: [2, 3, 6] }, w: { shape: [6] }, b: { shape: [6] } },
    build: (g, { x, w, b }) => g.layerNorm(x, w, b, 1e-5),
  },
  rmsNorm: {
    inputs: { x: { shape: [2, 3, 6] }, w: { shape: [6] } },
    build: (g, { x, w }) => rmsNorm(g, x, w, 1e-6),
  },
  l2Normalize: {
    inputs: { x: { shape: [3, 5] } },
    build: (g, { x }) => l2Normalize(g, x, -1),
  },
  'crossEntropy with ignored (padding) labels': {
    inputs: {
      logits: { shape: [2, 3, 5] },
      labels: { shape: [2, 3], dtype: 'int64', init: (_, i) => [1, 4, -100, 0, -100, 2][i] },
    },
    build: (g, { logits, labels }) => crossEntropy(g, logits, labels, { ignoreIndex: -100 }),
  },
  'crossEntropy (InfoNCE-style scores)': {
    inputs: {
      logits: { shape: [4, 4] },
      labels: { shape: [4], dtype: 'int64', init: (_, i) => i },
    },
    build: (g, { logits, labels }) => crossEntropy(g, g.mul(logits, 20), labels),
  },
  'dropout with a fed keep-mask': {
    inputs: {
      x: { shape: [3, 4] },
      keep: { shape: [3, 4], dtype: 'uint8', init: (r) => (r() > 0.3 ? 1 : 0) },
    },
    build: (g, { x, keep }) => dropout(g, x, keep, 0.3),
  },
  'rope with in-graph cos/sin': {
    inputs: {
      x: { shape: [2, 2, 3, 4] },
      pos: { shape: [2, 3], dtype: 'int64', init: (_, i) => [0, 1, 2, 5, 6, 7][i] },
    },
    build: (g, { x, pos }) => {
      const { cos, sin } = ropeCosSin(g, pos, 4, 10000, 'float64');
      return rope(g, x, cos, sin);
    },
  },
  'attention: GQA, causal + padding masks, named dims': {
    inputs: {
      q: { shape: [2, 4, 3, 2], decl: ['batch', 4, 'seq', 2] },
      k: { shape: [2, 2, 3, 2], decl: ['batch', 2, 'seq', 2] },
      v: { shape: [2, 2, 3, 2], decl: ['batch', 2, 'seq', 2] },
      mask: { shape: [2, 3], decl: ['batch', 'seq'], dtype: 'int64', init: (_, i) => [1, 1, 1, 0, 1, 1][i] },
    },
    build: (g, { q, k, v, mask }) => attention(g, q, k, v, { causal: true, paddingMask: mask }),
    outShape: [2, 4, 3, 2],
  },
};

describe('VJP rules vs finite differences (float64)', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(name, async () => {
      const r = await gradCheck(c);
      expect(r.checked).toBeGreaterThan(0);
      expect(r.maxAbs).toBeGreaterThan(0); // a zero gradient would pass trivially
      expect(r.maxErr).toBeLessThan(c.h && c.h > 1e-5 ? 1e-3 : 1e-6);
    });
  }

  it('exact GELU (Erf has no float64 kernel): float32 with a looser tolerance', async () => {
    const r = await gradCheck({
      dtype: 'float32',
      inputs: { a: { shape: [8], init: (rr) => rr() * 4 - 2 } },
      build: (g, { a }) => gelu(g, a, 'none'),
      h: 1e-2,
    });
    expect(r.maxAbs).toBeGreaterThan(0);
    expect(r.maxErr).toBeLessThan(5e-3);
  });
});

describe('grad() driver', () => {
  it('seeds: grad(y, wrt, {seeds: [s]}) equals grad(Σ y·s)', async () => {
    const { createSession, hostTensor, toOnnx } = await import('../../../src/main/engine');
    const g = new Graph();
    const x = g.input('x', 'float64', [3, 4]);
    const A = g.input('A', 'float64', [2, 4]);
    const s = g.input('s', 'float64', [3, 2]);
    const y = g.tanh(g.linear(x, A));
    const [viaSeed] = grad(y, [A], { seeds: [s] });
    const [viaSum] = grad(g.sum(g.mul(y, s)), [A]);
    const sess = await createSession(toOnnx({ viaSeed, viaSum }), { inThread: true, providers: ['cpu'] });
    const f = (n: number, k: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * k + 1));
    const o = await sess.run({
      x: hostTensor('float64', [3, 4], f(12, 1)),
      A: hostTensor('float64', [2, 4], f(8, 2)),
      s: hostTensor('float64', [3, 2], f(6, 3)),
    });
    await sess.release();
    expect(Array.from(o.viaSeed.data as Float64Array)).toEqual(Array.from(o.viaSum.data as Float64Array));
    expect(Math.max(...Array.from(o.viaSeed.data as Float64Array).map(Math.abs))).toBeGreaterThan(0);
  });

  it('frozen weights get no gradient tensors; the input gradient is a plain product with W', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 5]);
    const W = g.weight('W', 'float32', [7, 5], { data: new Float32Array(35) });
    const A = g.input('A', 'float32', [2, 5]);
    const B = g.input('B', 'float32', [7, 2]);
    const h = g.add(g.linear(x, W), g.linear(g.linear(x, A), B));
    const W2 = g.weight('W2', 'float32', [3, 7], { data: new Float32Array(21) });
    const y = g.linear(h, W2);
    const fwd = g.nodes.length;
    const seed = g.input('dy', 'float32', y.shape);
    grad(y, [A, B], { seeds: [seed] });
    const back = g.nodes.slice(fwd + 1);
    // Nothing in the backward has a weight's shape (no dW), and no weight is ever transposed.
    const isWShape = (t: { shape: readonly unknown[] }) =>
      String(t.shape) === '7,5' || String(t.shape) === '3,7';
    expect(back.some(isWShape)).toBe(false);
    expect(g.nodes.some((t) => t.op === 'transpose' && (t.inputs[0] === W || t.inputs[0] === W2))).toBe(
      false,
    );
    expect(back.some((t) => t.op === 'gemm' && t.inputs[1] === W2 && !t.attrs.transB)).toBe(true); // dh = dY·W2
    expect(back.some((t) => t.inputs.includes(W))).toBe(false); // W1's input x needs no gradient
  });

  it('an op without a rule fails loudly naming the op and the layer', () => {
    const g = new Graph();
    const x = g.input('x', 'float64', [3]);
    const [y] = g.scope('layers.3.mlp', () => g.onnxOp('Relu', [x], {}, [{ dtype: 'float64', shape: [3] }]));
    expect(() => grad(g.sum(y), [x])).toThrow(GraphError);
    expect(() => grad(g.sum(y), [x])).toThrow(/layers\.3\.mlp: no gradient rule for op 'onnx:Relu'/);
    expect((VJP as Record<string, unknown>)['onnx:Relu']).toBeUndefined();
  });

  it('non-scalar outputs need a seed', () => {
    const g = new Graph();
    const x = g.input('x', 'float64', [3]);
    expect(() => grad(g.exp(x), [x])).toThrow(/not a scalar; pass a seed/);
  });
});
