import type { ParamSpec } from '../models/encoder';

/**
 * AdamW with PyTorch's semantics (torch.optim.AdamW, single-tensor path): decoupled weight decay
 * p *= 1 − lr·wd before the Adam update, bias corrections, eps added outside the sqrt. Every stored
 * value is rounded to float32 after each operation, as PyTorch's in-place float32 ops do, so the
 * parity fixtures reproduce to float tolerance.
 */
export interface AdamWOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

const fr = Math.fround;

export class AdamW {
  step = 0;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();

  constructor(
    readonly specs: ParamSpec[],
    readonly opts: AdamWOptions,
  ) {
    for (const s of specs) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      this.m.set(s.name, new Float32Array(n));
      this.v.set(s.name, new Float32Array(n));
    }
  }

  /** One update of every parameter in place. */
  update(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): void {
    this.step++;
    const t = this.step;
    const [b1, b2] = this.opts.betas;
    const { eps, weightDecay: wd } = this.opts;
    const decay = fr(1 - lr * wd);
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    const stepSize = lr / bc1;
    for (const s of this.specs) {
      const p = params.get(s.name);
      const g = grads.get(s.name);
      const m = this.m.get(s.name);
      const v = this.v.get(s.name);
      if (!p || !g || !m || !v) throw new Error(`AdamW: missing parameter or gradient ${s.name}`);
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        p[i] = fr(p[i] * decay);
        m[i] = fr(fr(m[i] * b1) + fr(gi * fr(1 - b1)));
        v[i] = fr(fr(v[i] * b2) + fr(fr(gi * gi) * fr(1 - b2)));
        const denom = fr(fr(fr(Math.sqrt(v[i])) / bc2Sqrt) + eps);
        p[i] = fr(p[i] - fr(stepSize * fr(m[i] / denom)));
      }
    }
  }
}

/**
 * Global L2 norm of all gradients, and in-place clipping to maxNorm as torch.nn.utils.clip_grad_norm_
 * does (coefficient maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
 */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number | null): number {
  let sq = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (maxNorm !== null && maxNorm > 0 && Number.isFinite(norm)) {
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= coef;
  }
  return norm;
}

/**
 * Linear warm-up then linear decay to 0, as transformers' get_linear_schedule_with_warmup: the lr used
 * by optimiser step k (0-based) is base · k/warmup during warm-up, then base · (total − k)/(total − warmup).
 */
export function linearSchedule(base: number, warmup: number, total: number, k: number): number {
  if (k < warmup) return (base * k) / Math.max(1, warmup);
  return base * Math.max(0, (total - k) / Math.max(1, total - warmup));
}

/**
 * Dynamic loss scaling for float16 (torch.cuda.amp.GradScaler defaults): scale the loss gradient, skip
 * the step and halve the scale on inf/NaN gradients, double it after `growthInterval` clean steps.
 */
export class DynamicLossScaler {
  constructor(
    public scale = 2 ** 16,
    public goodSteps = 0,
    readonly growthInterval = 2000,
    readonly backoff = 0.5,
    readonly growth = 2,
  ) {}

  /** Unscales grads in place; returns false (skip the step) when any is not finite. */
  unscale(grads: Map<string, Float32Array>): boolean {
    const inv = 1 / this.scale;
    let finite = true;
    for (const g of grads.values())
      for (let i = 0; i < g.length; i++) {
        g[i] *= inv;
        if (!Number.isFinite(g[i])) finite = false;
      }
    if (!finite) {
      this.scale *= this.backoff;
      this.goodSteps = 0;
    } else if (++this.goodSteps >= this.growthInterval) {
      this.scale *= this.growth;
      this.goodSteps = 0;
    }
    return finite;
  }
}
