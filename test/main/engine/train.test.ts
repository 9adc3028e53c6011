// End-to-end: a two-layer MLP trained by our own forward+backward graph in an ORT worker session, with an
// Adam step in TypeScript. The loss must fall.
import { describe, expect, it } from 'vitest';
import { createSession, Graph, grad, hostTensor, toOnnx } from '../../../src/main/engine';
import { normal, rng } from './helpers';

describe('training a two-layer MLP', () => {
  it('loss falls over a few hundred Adam steps', async () => {
    const N = 64;
    const IN = 4;
    const H = 16;
    const r = rng(3);
    const nrm = normal(r);
    const xs = Float32Array.from({ length: N * IN }, () => nrm());
    const ys = Float32Array.from(
      { length: N },
      (_, i) => Math.sin(xs[i * IN] + 0.5 * xs[i * IN + 1]) * xs[i * IN + 2],
    );

    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', IN]);
    const y = g.input('y', 'float32', ['batch', 1]);
    const shapes: Record<string, number[]> = { W1: [H, IN], b1: [H], W2: [1, H], b2: [1] };
    const p = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, g.input(k, 'float32', s)]));
    const h = g.scope('layer1', () => g.tanh(g.linear(x, p.W1, p.b1)));
    const out = g.scope('layer2', () => g.linear(h, p.W2, p.b2));
    const loss = g.mean(g.square(g.sub(out, y)));
    const names = Object.keys(shapes);
    const grads = grad(
      loss,
      names.map((k) => p[k]),
    );
    const outputs = Object.fromEntries([['loss', loss], ...names.map((k, i) => [`d_${k}`, grads[i]])]);
    const s = await createSession(toOnnx(outputs), { providers: ['cpu'], threads: 1 });

    const params: Record<string, Float32Array> = {};
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const [k, sh] of Object.entries(shapes)) {
      const n = sh.reduce((a, b) => a * b, 1);
      const fanIn = sh.length === 2 ? sh[1] : 1;
      params[k] = Float32Array.from({ length: n }, () => (k.startsWith('W') ? nrm() / Math.sqrt(fanIn) : 0));
      m[k] = new Float32Array(n);
      v[k] = new Float32Array(n);
    }
    const lr = 0.02;
    const losses: number[] = [];
    for (let step = 1; step <= 300; step++) {
      const feeds = {
        x: hostTensor('float32', [N, IN], xs.slice()),
        y: hostTensor('float32', [N, 1], ys.slice()),
        ...Object.fromEntries(names.map((k) => [k, hostTensor('float32', shapes[k], params[k].slice())])),
      };
      const o = await s.run(feeds);
      losses.push((o.loss.data as Float32Array)[0]);
      for (const k of names) {
        const gk = o[`d_${k}`].data as Float32Array;
        for (let i = 0; i < gk.length; i++) {
          m[k][i] = 0.9 * m[k][i] + 0.1 * gk[i];
          v[k][i] = 0.999 * v[k][i] + 0.001 * gk[i] * gk[i];
          const mh = m[k][i] / (1 - 0.9 ** step);
          const vh = v[k][i] / (1 - 0.999 ** step);
          params[k][i] -= (lr * mh) / (Math.sqrt(vh) + 1e-8);
        }
      }
    }
    await s.release();
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(0.2 * losses[0]);
    expect(losses[299]).toBeLessThan(losses[150]);
  });
});
