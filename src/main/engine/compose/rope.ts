// Rotary position embeddings as transformers computes them (rotate-half).
import { isStatic } from '../dims';
import type { DType } from '../dtypes';
import type { Graph } from '../graph';
import type { Tensor } from '../tensor';

/**
 * RoPE tables for HF rotate-half: cos/sin [..., seq, headDim] from integer positions [..., seq]
 * computed in-graph (inv_freq = theta^(-2i/d), duplicated for both halves).
 */
export function ropeCosSin(
  g: Graph,

  positions: Tensor,
  headDim: number,
  theta = 10000,
  dtype: DType = 'float32',
): { cos: Tensor; sin: Tensor } {
  return g.scope('rope', () => {
    const half = headDim / 2;
    const inv = Array.from({ length: half }, (_, i) => theta ** (-(2 * i) / headDim));
    const invT = g.constant([...inv, ...inv], dtype === 'float64' ? 'float64' : 'float32', [headDim]);
    const pos = g.unsqueeze(g.cast(positions, invT.dtype), [-1]);
    const freqs = g.mul(pos, invT);
    return { cos: g.cast(g.cos(freqs), dtype), sin: g.cast(g.sin(freqs), dtype) };
  });
}

/** HF apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, x [b, h, s, d], cos/sin [b|1, s, d] (or [s, d]). */
export function rope(g: Graph, x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return g.scope('rope', () => {
    const d = x.shape[x.rank - 1];
    if (!isStatic(d) || d % 2) g.fail('rope', [x, cos], 'head dim must be static and even');
    const c = cos.rank === 3 ? g.unsqueeze(cos, [1]) : cos;
    const s = sin.rank === 3 ? g.unsqueeze(sin, [1]) : sin;
    const x1 = g.slice(x, -1, 0, d / 2);
    const x2 = g.slice(x, -1, d / 2);
    const rot = g.concat([g.neg(x2), x1], -1);
    return g.add(g.mul(x, c), g.mul(rot, s));
  });
}
