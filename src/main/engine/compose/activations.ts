// Activations written in primitives (their gradients come from the primitives' VJP rows).
import type { Graph } from '../graph';
import type { Tensor } from '../tensor';

/** x·sigmoid(x) (HF "silu", SwiGLU's gate). */
export function silu(g: Graph, x: Tensor) {
  return g.mul(x, g.sigmoid(x));
}

/** GELU: 'none' = exact x·Φ(x) via Erf (HF "gelu"); 'tanh' = the tanh approximation (HF "gelu_new"). */
export function gelu(g: Graph, x: Tensor, approximate: 'none' | 'tanh' = 'none') {
  if (approximate === 'tanh') {
    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    const inner = g.mul(g.add(x, g.mul(g.mul(g.square(x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return g.mul(g.mul(x, 0.5), g.add(g.tanh(inner), 1));
  }
  return g.mul(g.mul(x, 0.5), g.add(g.erf(g.mul(x, Math.SQRT1_2)), 1));
}
