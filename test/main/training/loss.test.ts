import { describe, expect, it } from 'vitest';
import type { TrainConfig } from '../../../src/main/training/config';
import { lossFor } from '../../../src/main/training/job';
import {
  falseNegativeMask,
  infoNceReference,
  type LossInput,
  referenceLoss,
} from '../../../src/main/training/loss';
import { EngineInfoNce } from '../../../src/main/training/loss-onnx';
import { OnnxInfoNce } from './onnx-infonce';
import { mulberry32 } from '../../../src/main/training/rng';

function unitRows(n: number, d: number, rand: () => number): Float64Array {
  const a = Float64Array.from({ length: n * d }, () => rand() * 2 - 1);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += a[i * d + k] ** 2;
    for (let k = 0; k < d; k++) a[i * d + k] /= Math.sqrt(s);
  }
  return a;
}

describe('InfoNCE with false-negative masking', () => {
  it('masking changes the loss exactly as computed by hand', () => {
    // Two rows sharing the positive text "same"; row 0 has a hard negative. τ = 0.5.
    const q = Float64Array.of(1, 0, 0, 1);
    const c = Float64Array.of(1, 0, 0.6, 0.8, 0, 1); // p0, p1, n0
    const positives = ['same', 'same'];
    const candidates = ['same', 'same', 'other'];
    const mask = falseNegativeMask(positives, candidates);
    expect(Array.from(mask)).toEqual([1, 0, 1, 0, 1, 1]);
    const base = { q, c, B: 2, M: 3, d: 2, temperature: 0.5 };
    const masked = infoNceReference({ ...base, mask }).loss;
    const unmasked = infoNceReference({ ...base, mask: new Uint8Array(6).fill(1) }).loss;
    // Scores: row 0 → [2, 1.2, 0]; row 1 → [0, 1.6, 2].
    const e = Math.exp;
    const handUnmasked = (Math.log(e(2) + e(1.2) + e(0)) - 2 + Math.log(e(0) + e(1.6) + e(2)) - 1.6) / 2;
    const handMasked = (Math.log(e(2) + e(0)) - 2 + Math.log(e(1.6) + e(2)) - 1.6) / 2;
    expect(unmasked).toBeCloseTo(handUnmasked, 12);
    expect(masked).toBeCloseTo(handMasked, 12);
    expect(unmasked - masked).toBeCloseTo(handUnmasked - handMasked, 12);
    expect(masked).toBeLessThan(unmasked);
  });

  it('a candidate equal to a row positive text is masked only for that row', () => {
    const mask = falseNegativeMask(['a', 'b', 'c'], ['a', 'b', 'c', 'b', 'x']);
    // row 1: its positive 'b' also appears as negative (col 3) → masked; row 0 and 2 see it.
    expect(Array.from(mask.subarray(5, 10))).toEqual([1, 1, 1, 0, 1]);
    expect(Array.from(mask.subarray(0, 5))).toEqual([1, 1, 1, 1, 1]);
  });

  it('dLoss/dEmbeddings match central finite differences', () => {
    const rand = mulberry32(7);
    const B = 3;
    const M = 5;
    const d = 4;
    const q = unitRows(B, d, rand);
    const c = unitRows(M, d, rand);
    const mask = falseNegativeMask(['a', 'a', 'b'], ['a', 'a', 'b', 'x', 'y']);
    const x: LossInput = { q, c, B, M, d, mask, temperature: 0.05 };
    const { dq, dc } = infoNceReference(x);
    const h = 1e-6;
    const fd = (arr: Float64Array, i: number) => {
      const keep = arr[i];
      arr[i] = keep + h;
      const up = infoNceReference(x).loss;
      arr[i] = keep - h;
      const dn = infoNceReference(x).loss;
      arr[i] = keep;
      return (up - dn) / (2 * h);
    };
    for (let i = 0; i < B * d; i++) expect(dq[i]).toBeCloseTo(fd(q, i), 5);
    for (let i = 0; i < M * d; i++) expect(dc[i]).toBeCloseTo(fd(c, i), 5);
  });

  it('the ONNX graphs (hand-built and engine-built) equal the float64 reference', async () => {
    const rand = mulberry32(11);
    const B = 16;
    const M = 28;
    const d = 32;
    const q = unitRows(B, d, rand);
    const c = unitRows(M, d, rand);
    const pos = Array.from({ length: B }, (_, i) => `p${i % 11}`);
    const cand = [...pos, ...Array.from({ length: M - B }, (_, i) => (i === 3 ? 'p2' : `n${i}`))];
    const x: LossInput = { q, c, B, M, d, mask: falseNegativeMask(pos, cand), temperature: 0.02 };
    const ref = infoNceReference(x);
    for (const backend of [await OnnxInfoNce.create(), new EngineInfoNce()]) {
      const got = await backend.compute(x);
      await backend.dispose();
      expect(Math.abs(got.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
      const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));
      const tol = 1e-4 * Math.max(maxAbs(ref.dq), maxAbs(ref.dc));
      for (let i = 0; i < B * d; i++) expect(Math.abs(got.dq[i] - ref.dq[i])).toBeLessThan(tol);
      for (let i = 0; i < M * d; i++) expect(Math.abs(got.dc[i] - ref.dc[i])).toBeLessThan(tol);
    }
  });
});

describe('loss backend choice', () => {
  it('small batches use the float64 reference, large ones the engine graph', async () => {
    const base = { batchSize: 16, device: 'cpu' } as TrainConfig;
    expect(await lossFor(base, 64)).toBe(referenceLoss);
    const big = await lossFor({ ...base, batchSize: 2048 }, 4096);
    expect(big).toBeInstanceOf(EngineInfoNce);
    await big.dispose?.();
  });
});
