// Scaled dot-product attention: the one copy every architecture uses, as transformers' eager path.
import { isStatic } from '../dims';
import type { Graph } from '../graph';
import type { Tensor } from '../tensor';

/** Lowest finite value used to mask attention scores (finite so fully masked rows stay NaN-free). */
const MASK_VALUE: Record<string, number> = {
  float64: -1e300,
  float32: -3.0e38,
  float16: -65000,
  bfloat16: -3.0e38,
};

export interface AttentionOptions {
  /** Key j visible to query i iff j ≤ i. */
  causal?: boolean;
  /** [b, s], 1/true = real token: hides padded keys. */
  paddingMask?: Tensor;
  /** Default 1/√head_dim. */
  scale?: number;
}

/**
 * q [b, hq, s, d], k/v [b, hkv, s, d] with hq a multiple of hkv (GQA: each group of hq/hkv query heads
 * shares one kv head, as HF repeat_kv; K/V are broadcast, not copied) → [b, hq, s, d]. In half precision
 * the scores stay in the model dtype but are masked and softmaxed in float32 and the probabilities cast
 * back (transformers' eager attention under fp16/bf16).
 */
export function attention(g: Graph, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  return g.scope('sdpa', () => {
    if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4)
      g.fail('attention', [q, k, v], 'q, k, v must be [b, heads, seq, dim]');
    const [b, hq, s, d] = q.shape;
    const hkv = k.shape[1];
    if (!isStatic(hq) || !isStatic(hkv) || hq % hkv)
      g.fail('attention', [q, k, v], `query heads ${hq} not a multiple of kv heads ${hkv}`);
    if (!isStatic(d)) g.fail('attention', [q, k, v], 'head dim must be static');
    const rep = hq / hkv;
    const scale = opts.scale ?? 1 / Math.sqrt(d);
    const sk = k.shape[2];
    const half = q.dtype === 'float16' || q.dtype === 'bfloat16';
    // Grouped heads as an extra axis: [b, hkv, rep, s, d] against [b, hkv, 1, s, d].
    const qg = rep === 1 ? q : g.reshape(q, [b, hkv, rep, s, d]);
    const kg = rep === 1 ? k : g.unsqueeze(k, [2]);
    const vg = rep === 1 ? v : g.unsqueeze(v, [2]);
    let scores = g.mul(g.matmul(qg, g.transpose(kg)), scale);
    if (half) scores = g.cast(scores, 'float32');
    let keep: Tensor | undefined;
    if (opts.causal) {
      const i = g.unsqueeze(g.arange(s), [1]);
      const j = g.unsqueeze(g.arange(sk), [0]);
      keep = g.not(g.greater(j, i)); // [s, sk]
    }
    if (opts.paddingMask) {
      const pm = opts.paddingMask;
      if (pm.rank !== 2) g.fail('attention', [q, pm], 'paddingMask must be [batch, seq]');
      let m = pm.dtype === 'bool' ? pm : g.not(g.equal(pm, 0));
      m = g.reshape(m, rep === 1 ? [pm.shape[0], 1, 1, pm.shape[1]] : [pm.shape[0], 1, 1, 1, pm.shape[1]]);
      keep = keep ? g.and(keep, m) : m;
    }
    if (keep) scores = g.where(keep, scores, MASK_VALUE[scores.dtype] ?? -3e38);
    let probs = g.softmax(scores, -1);
    if (half) probs = g.cast(probs, q.dtype);
    const out = g.matmul(probs, vg);
    return rep === 1 ? out : g.reshape(out, [b, hq, s, d]);
  });
}
