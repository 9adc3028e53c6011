// Device dropout (compose hashKeepMask): the mask computed by ORT equals the same hash computed here, keeps
// 1 − p of the elements, and is independent across streams (modules), rows (texts/tokens) and seeds (steps).
import { describe, expect, it } from 'vitest';
import {
  createSession,
  dropoutSalt,
  dropoutThreshold,
  Graph,
  hash32,
  hashKeepMask,
  hashString,
  hostTensor,
  toOnnx,
} from '../../../src/main/engine';

const W = 1000;
const ROWS = 1000; // 10⁶ draws per stream

async function masks(keys: Uint32Array, p: number, streams: string[]) {
  const g = new Graph();
  const k = g.input('keys', 'uint32', ['batch', 'seq']);
  const thr = g.input('threshold', 'uint32', []);
  const out: Record<string, ReturnType<typeof hashKeepMask>> = {};
  streams.forEach((s, i) => {
    out[`m${i}`] = hashKeepMask(g, k, g.constant(dropoutSalt(hashString(s), W), 'uint32', [W]), thr);
  });
  const sess = await createSession(toOnnx(out), { inThread: true, providers: ['cpu'] });
  const r = await sess.run({
    keys: hostTensor('uint32', [1, keys.length], keys),
    threshold: hostTensor('uint32', [], Uint32Array.of(dropoutThreshold(p))),
  });
  await sess.release();
  return streams.map((_, i) => r[`m${i}`].data as Uint8Array);
}

/** The same hash in JS (key XOR salt, times the odd constant), for one element. */
function jsKeep(key: number, salt: number, thr: number): boolean {
  return Math.imul((key ^ salt) >>> 0, 0x9e3779b1) >>> 0 >= thr;
}

const keysFor = (seed: number) => Uint32Array.from({ length: ROWS }, (_, t) => hash32(seed, t));
const rate = (m: Uint8Array) => m.reduce((a, v) => a + v, 0) / m.length;
const agreement = (a: Uint8Array, b: Uint8Array) =>
  a.reduce((n, v, i) => n + (v === b[i] ? 1 : 0), 0) / a.length;

describe('hashKeepMask (dropout on the device)', () => {
  it('keeps 1 − p of 10⁶ draws (within 0.5%) and equals the host-side hash exactly', async () => {
    for (const p of [0.1, 0.5]) {
      const keys = keysFor(7);
      const [m] = await masks(keys, p, ['layers.0.self_attn.q_proj']);
      expect(m.length).toBe(ROWS * W);
      console.log(`[dropout p=${p}] keep rate ${rate(m).toFixed(5)} over ${m.length} draws`);
      expect(Math.abs(rate(m) - (1 - p))).toBeLessThan(0.005 * (1 - p));
      const salt = dropoutSalt(hashString('layers.0.self_attn.q_proj'), W);
      const thr = dropoutThreshold(p);
      for (let i = 0; i < m.length; i += 997)
        expect(m[i] === 1).toBe(jsKeep(keys[Math.floor(i / W)], salt[i % W], thr));
    }
  });

  it('masks differ across modules, texts and steps as independent draws would (agreement p² + (1−p)²)', async () => {
    const p = 0.1;
    const indep = p * p + (1 - p) * (1 - p);
    const [q, k] = await masks(keysFor(7), p, ['layers.0.self_attn.q_proj', 'layers.0.self_attn.k_proj']);
    const [otherText] = await masks(keysFor(8), p, ['layers.0.self_attn.q_proj']);
    // Same run seed, next step: the trainer's seeds differ per step, so the keys do.
    const [nextStep] = await masks(keysFor(hash32(7, 1)), p, ['layers.0.self_attn.q_proj']);
    const [again] = await masks(keysFor(7), p, ['layers.0.self_attn.q_proj']);
    expect(agreement(q, again)).toBe(1); // deterministic: a GradCache re-run sees the same mask
    for (const [what, other] of [
      ['module', k],
      ['text', otherText],
      ['step', nextStep],
    ] as const) {
      const a = agreement(q, other);
      console.log(`[dropout] agreement across ${what}: ${a.toFixed(5)} (independent: ${indep.toFixed(5)})`);
      expect(Math.abs(a - indep)).toBeLessThan(0.003);
    }
    // No XOR-linear structure: the keep bits of two tokens × two features do not XOR to a constant
    // (at p = 0.5 the bit is the hash's top bit, where such a structure would show exactly).
    const [half] = await masks(keysFor(9), 0.5, ['layers.1.mlp.up_proj']);
    let even = 0;
    let n = 0;
    for (let r = 0; r + 1 < ROWS; r += 2)
      for (let k = 0; k + 1 < W; k += 2) {
        const a = r * W + k;
        even += (half[a] ^ half[a + 1] ^ half[a + W] ^ half[a + W + 1]) === 0 ? 1 : 0;
        n++;
      }
    console.log(`[dropout] 2×2 blocks with even parity: ${(even / n).toFixed(5)} (independent: 0.5)`);
    expect(Math.abs(even / n - 0.5)).toBeLessThan(0.005);
    // Neighbouring tokens and features are not correlated either.
    let same = 0;
    for (let i = 0; i + W < q.length; i += 1) same += q[i] === q[i + W] ? 1 : 0;
    expect(Math.abs(same / (q.length - W) - indep)).toBeLessThan(0.003);
  });

  it('threshold 0 keeps everything (eval mode)', async () => {
    const [m] = await masks(keysFor(3), 0, ['x']);
    expect(rate(m)).toBe(1);
  });
});
