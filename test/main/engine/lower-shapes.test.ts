// What toOnnx tells ORT about value shapes: every node output carries the graph's shape with named dims
// (ORT's own inference loses derived dims such as 'batch*seq', and its allocation planner then scans every
// never-reusable buffer for each output: backward session creation quadratic in the graph, #20 start-up),
// and one shape tensor per distinct dynamic shape.
import { describe, expect, it } from 'vitest';
import { createSession, Graph, hostTensor, toOnnx } from '../../../src/main/engine';
import { type IValueInfo, onnx } from '../../../src/main/engine/lower/proto';

function mlp() {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  const w1 = g.input('w1', 'float32', [16, 8]);
  const w2 = g.input('w2', 'float32', [8, 16]);
  const h = g.linear(x, w1);
  const y = g.linear(g.mul(h, h), w2);
  return { y, model: toOnnx({ y }) };
}

const dims = (t: IValueInfo['type']) =>
  (t?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));

describe('toOnnx value shapes', () => {
  it('gives every intermediate node output its shape with named dims, and none to inputs or outputs', () => {
    const { model } = mlp();
    const g = onnx.ModelProto.decode(model.bytes).graph!;
    const info = new Map((g.valueInfo ?? []).map((v) => [v.name!, dims(v.type)]));
    const io = new Set([...(g.input ?? []), ...(g.output ?? [])].map((v) => v.name!));
    for (const k of io) expect(info.has(k)).toBe(false);
    const shapes = [...info.values()].map((d) => d.join(','));
    // The Linear's flattened rows keep their derived dim by name (ORT infers an unknown dim there).
    expect(shapes).toContain('batch*seq,16');
    expect(shapes).toContain('batch,seq,16');
    for (const n of g.node ?? [])
      for (const o of n.output ?? [])
        if (!io.has(o) && !o.startsWith('Shape') && !o.startsWith('Concat') && !o.startsWith('Mul__'))
          expect(info.has(o), `${n.opType} ${o} has no value_info`).toBe(true);
  });

  it('emits one Concat per distinct dynamic shape', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 4]);
    const a = g.reshape(g.exp(x), ['batch', 'seq', 2, 2]);
    const b = g.reshape(g.neg(x), ['batch', 'seq', 2, 2]);
    const m = toOnnx({ y: g.add(a, b) });
    const concats = onnx.ModelProto.decode(m.bytes).graph!.node!.filter((n) => n.opType === 'Concat');
    expect(concats).toHaveLength(1);
  });

  it('runs in ORT with the named shapes at two batch and sequence sizes', async () => {
    const { model } = mlp();
    const s = await createSession(model, { inThread: true, providers: ['cpu'] });
    try {
      for (const [B, T] of [
        [2, 3],
        [3, 5],
      ]) {
        const x = Float32Array.from({ length: B * T * 8 }, (_, i) => Math.sin(i));
        const w1 = Float32Array.from({ length: 128 }, (_, i) => Math.cos(i) / 4);
        const w2 = Float32Array.from({ length: 128 }, (_, i) => Math.sin(2 * i) / 4);
        const out = await s.run({
          x: hostTensor('float32', [B, T, 8], x),
          w1: hostTensor('float32', [16, 8], w1),
          w2: hostTensor('float32', [8, 16], w2),
        });
        expect(out.y.dims).toEqual([B, T, 8]);
        // Reference: y = (x W1ᵀ)² W2ᵀ per row.
        const y = out.y.data as Float32Array;
        for (let r = 0; r < B * T; r++)
          for (let o = 0; o < 8; o++) {
            let acc = 0;
            for (let j = 0; j < 16; j++) {
              let h = 0;
              for (let i = 0; i < 8; i++) h += x[r * 8 + i] * w1[j * 8 + i];
              acc += h * h * w2[o * 16 + j];
            }
            expect(y[r * 8 + o]).toBeCloseTo(acc, 4);
          }
      }
    } finally {
      await s.release();
    }
  });
});
