// A full attention block (q/k/v/o projections in HF [out, in] layout, RoPE rotate-half, GQA, causal +
// padding masks) against a direct TypeScript reference, and its gradients against finite differences.
import { describe, expect, it } from 'vitest';
import {
  attention,
  createSession,
  type Graph,
  Graph as G,
  hostTensor,
  rope,
  ropeCosSin,
  type Tensor,
  toOnnx,
} from '../../../src/main/engine';
import { gradCheck, normal, rng } from './helpers';

const B = 2;
const S = 4;
const HQ = 4;
const HKV = 2;
const D = 4;
const HID = HQ * D;
const THETA = 10000;
const MASK = [1, 1, 1, 0, 0, 1, 1, 1]; // right padding in row 0, left padding in row 1

function block(g: Graph, t: Record<string, Tensor>): Tensor {
  const { x, wq, wk, wv, wo, mask, pos } = t;
  const heads = (y: Tensor, h: number) => g.transpose(g.reshape(y, ['batch', 'seq', h, D]), [0, 2, 1, 3]);
  return g.scope('layers.0.self_attn', () => {
    const q = heads(
      g.scope('q_proj', () => g.linear(x, wq)),
      HQ,
    );
    const k = heads(
      g.scope('k_proj', () => g.linear(x, wk)),
      HKV,
    );
    const v = heads(
      g.scope('v_proj', () => g.linear(x, wv)),
      HKV,
    );
    const { cos, sin } = ropeCosSin(g, pos, D, THETA, 'float64');
    const a = attention(g, rope(g, q, cos, sin), rope(g, k, cos, sin), v, {
      causal: true,
      paddingMask: mask,
    });
    const merged = g.reshape(g.transpose(a, [0, 2, 1, 3]), ['batch', 'seq', HID]);
    return g.scope('o_proj', () => g.linear(merged, wo));
  });
}

const decl = {
  x: ['batch', 'seq', HID],
  wq: [HQ * D, HID],
  wk: [HKV * D, HID],
  wv: [HKV * D, HID],
  wo: [HID, HID],
  mask: ['batch', 'seq'],
  pos: ['batch', 'seq'],
} as const;
const concrete: Record<string, number[]> = {
  x: [B, S, HID],
  wq: [HQ * D, HID],
  wk: [HKV * D, HID],
  wv: [HKV * D, HID],
  wo: [HID, HID],
  mask: [B, S],
  pos: [B, S],
};
const positions = (_b: number, s: number) => s; // plain 0..S-1 positions

function reference(p: Record<string, Float64Array>): Float64Array {
  const lin = (x: Float64Array, w: Float64Array, rows: number, inF: number, outF: number) => {
    const y = new Float64Array(rows * outF);
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < outF; o++) {
        let acc = 0;
        for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
        y[r * outF + o] = acc;
      }
    return y;
  };
  const rows = B * S;
  const q = lin(p.x, p.wq, rows, HID, HQ * D);
  const k = lin(p.x, p.wk, rows, HID, HKV * D);
  const v = lin(p.x, p.wv, rows, HID, HKV * D);
  const rope = (buf: Float64Array, heads: number) => {
    const out = new Float64Array(buf.length);
    for (let b = 0; b < B; b++)
      for (let s = 0; s < S; s++)
        for (let h = 0; h < heads; h++) {
          const base = ((b * S + s) * heads + h) * D;
          for (let i = 0; i < D; i++) {
            const j = i % (D / 2);
            const ang = positions(b, s) * THETA ** (-(2 * j) / D);
            const rot = i < D / 2 ? -buf[base + i + D / 2] : buf[base + i - D / 2];
            out[base + i] = buf[base + i] * Math.cos(ang) + rot * Math.sin(ang);
          }
        }
    return out;
  };
  const qr = rope(q, HQ);
  const kr = rope(k, HKV);
  const merged = new Float64Array(rows * HID);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < HQ; h++) {
      const kh = Math.floor(h / (HQ / HKV));
      for (let i = 0; i < S; i++) {
        const sc: number[] = [];
        for (let j = 0; j < S; j++) {
          const keep = j <= i && MASK[b * S + j] !== 0;
          let dot = 0;
          for (let d = 0; d < D; d++)
            dot += qr[((b * S + i) * HQ + h) * D + d] * kr[((b * S + j) * HKV + kh) * D + d];
          sc.push(keep ? dot / Math.sqrt(D) : -1e300);
        }
        const mx = Math.max(...sc);
        const e = sc.map((z) => Math.exp(z - mx));
        const tot = e.reduce((a, c) => a + c, 0);
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < S; j++) acc += (e[j] / tot) * v[((b * S + j) * HKV + kh) * D + d];
          merged[(b * S + i) * HID + h * D + d] = acc;
        }
      }
    }
  return lin(merged, p.wo, rows, HID, HID);
}

describe('attention block (RoPE, GQA, causal + padding)', () => {
  it('forward matches a direct TypeScript computation', async () => {
    const r = normal(rng(11));
    const p: Record<string, Float64Array> = {};
    for (const k of ['x', 'wq', 'wk', 'wv', 'wo']) {
      p[k] = Float64Array.from({ length: concrete[k].reduce((a, b) => a * b, 1) }, () => r() * 0.5);
    }
    const g = new G();
    const t: Record<string, Tensor> = {};
    for (const [k, d] of Object.entries(decl))
      t[k] = g.input(k, k === 'mask' || k === 'pos' ? 'int64' : 'float64', d);
    const y = block(g, t);
    const s = await createSession(toOnnx({ y }), { inThread: true, providers: ['cpu'] });
    const feeds = {
      ...Object.fromEntries(Object.entries(p).map(([k, v]) => [k, hostTensor('float64', concrete[k], v)])),
      mask: hostTensor('int64', [B, S], BigInt64Array.from(MASK.map(BigInt))),
      pos: hostTensor(
        'int64',
        [B, S],
        BigInt64Array.from({ length: B * S }, (_, i) => BigInt(i % S)),
      ),
    };
    const out = (await s.run(feeds)).y.data as Float64Array;
    await s.release();
    const ref = reference(p);
    expect(out.length).toBe(ref.length);
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(out[i] - ref[i]));
    expect(err).toBeLessThan(1e-12);
    expect(Math.max(...Array.from(ref).map(Math.abs))).toBeGreaterThan(0.01);
  });

  it('gradients (input and all projections) match finite differences', async () => {
    const res = await gradCheck({
      inputs: {
        x: { shape: concrete.x, decl: [...decl.x], init: (rr) => rr() - 0.5 },
        wq: { shape: concrete.wq, init: (rr) => rr() - 0.5 },
        wk: { shape: concrete.wk, init: (rr) => rr() - 0.5 },
        wv: { shape: concrete.wv, init: (rr) => rr() - 0.5 },
        wo: { shape: concrete.wo, init: (rr) => rr() - 0.5 },
        mask: { shape: [B, S], decl: [...decl.mask], dtype: 'int64', init: (_, i) => MASK[i] },
        pos: { shape: [B, S], decl: [...decl.pos], dtype: 'int64', init: (_, i) => i % S },
      },
      build: block,
      outShape: [B, S, HID],
      samples: 10,
    });
    expect(res.maxAbs).toBeGreaterThan(0);
    expect(res.maxErr).toBeLessThan(1e-6);
  });
});
