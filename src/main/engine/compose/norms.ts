// Normalisations built on the primitives: RMSNorm, LayerNorm in a compute dtype, L2 normalisation.
import type { DType } from '../dtypes';
import type { Graph } from '../graph';
import type { Tensor } from '../tensor';

export interface NormOptions {
  /** Dtype the statistics are computed in (transformers: float32 under half precision); default x's. */
  computeIn?: DType;
}

/**
 * RMSNorm (Llama/Mistral/Qwen, transformers' LlamaRMSNorm): x·rsqrt(mean(x², −1) + eps) computed in
 * `computeIn`, cast back to x's dtype, times the weight in x's dtype (every cast a no-op when dtypes agree).
 */
export function rmsNorm(g: Graph, x: Tensor, weight: Tensor, eps = 1e-6, opts: NormOptions = {}): Tensor {
  const xc = g.cast(x, opts.computeIn ?? x.dtype);
  const ms = g.reduceMean(g.square(xc), [-1], true);
  const n = g.cast(g.mul(xc, g.rsqrt(g.add(ms, eps))), x.dtype);
  return g.mul(n, g.cast(weight, x.dtype));
}

/**
 * LayerNorm over the last axis (the fused primitive Graph.layerNorm) computed in `computeIn` (as autocast
 * does), result in x's dtype.
 */
export function layerNorm(
  g: Graph,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | undefined,
  eps = 1e-5,
  opts: NormOptions = {},
): Tensor {
  const dt = opts.computeIn ?? x.dtype;
  const w = g.cast(weight, dt);
  const b = bias && g.cast(bias, dt);
  return g.cast(g.layerNorm(g.cast(x, dt), w, b, eps), x.dtype);
}

/** x / max(‖x‖₂, eps) along axis (torch.nn.functional.normalize). */
export function l2Normalize(g: Graph, x: Tensor, axis = -1, eps = 1e-12): Tensor {
  const ss = g.reduceSum(g.square(x), [axis], true);
  return g.mul(x, g.rsqrt(g.maximum(ss, eps * eps)));
}
