import {
  createSession,
  crossEntropy,
  type EngineSession,
  grad,
  Graph,
  hostTensor,
  type Provider,
  toOnnx,
} from '../engine';
import type { ContrastiveLoss, LossInput, LossOutput } from './loss';

/**
 * The same loss built with the engine (graph builder + grad()): scores = q·cᵀ/τ plus a fed additive mask
 * (0 allowed, −1e30 masked), mean cross-entropy against labels 0..B−1, and dLoss/dq, dLoss/dc by the
 * engine's reverse mode. One session per temperature; runs on the given providers.
 */
export class EngineInfoNce implements ContrastiveLoss {
  private readonly sessions = new Map<number, Promise<EngineSession>>();

  constructor(private readonly providers: Provider[] | 'auto' = ['cpu']) {}

  private session(tau: number): Promise<EngineSession> {
    let s = this.sessions.get(tau);
    if (!s) {
      const g = new Graph();
      const q = g.input('q', 'float32', ['B', 'd']);
      const c = g.input('c', 'float32', ['M', 'd']);
      const bias = g.input('mask_bias', 'float32', ['B', 'M']);
      const labels = g.input('labels', 'int64', ['B']);
      const scores = g.add(g.mul(g.matmul(q, g.transpose(c)), 1 / tau), bias);
      const loss = crossEntropy(g, scores, labels);
      const [dq, dc] = grad(loss, [q, c]);
      s = createSession(toOnnx({ loss, dq, dc }, { name: 'infonce' }), {
        inThread: true,
        providers: this.providers,
      });
      this.sessions.set(tau, s);
    }
    return s;
  }

  async compute(x: LossInput): Promise<LossOutput> {
    const s = await this.session(x.temperature);
    const toF32 = (a: Float32Array | Float64Array) => (a instanceof Float32Array ? a : Float32Array.from(a));
    const bias = new Float32Array(x.B * x.M);
    for (let i = 0; i < bias.length; i++) if (!x.mask[i]) bias[i] = -1e30;
    const out = await s.run({
      q: hostTensor('float32', [x.B, x.d], toF32(x.q)),
      c: hostTensor('float32', [x.M, x.d], toF32(x.c)),
      mask_bias: hostTensor('float32', [x.B, x.M], bias),
      labels: hostTensor(
        'int64',
        [x.B],
        BigInt64Array.from({ length: x.B }, (_, i) => BigInt(i)),
      ),
    });
    return {
      loss: Number((out.loss.data as Float32Array)[0]),
      dq: out.dq.data as Float32Array,
      dc: out.dc.data as Float32Array,
    };
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
