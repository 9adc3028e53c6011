// The llama family (LlamaModel, MistralModel, Qwen2Model, Qwen3Model) as one readable forward, mirroring
// transformers' modeling_llama.py: embed_tokens → N × (RMSNorm → attention with RoPE/GQA → residual →
// RMSNorm → SwiGLU MLP → residual) → norm. Family members differ only in their LlamaConfig flags.
import { attention, rope, ropeCosSin, silu, type Tensor } from '../engine';
import type { LlamaConfig } from './configs';
import type { ModelContext, ModelInputs } from './modeling';

function selfAttention(
  m: ModelContext,
  c: LlamaConfig,
  i: number,
  x: Tensor,
  cos: Tensor,
  sin: Tensor,
  inp: ModelInputs,
  causal: boolean,
): Tensor {
  const { g } = m;
  const p = `layers.${i}.self_attn`;
  const H = c.hiddenSize;
  const hd = c.headDim;
  const [b, s] = x.shape;
  // Projections: [b, s, H] → [b, s, heads·hd] → [b, s, heads, hd]
  let q = g.reshape(m.linear(x, `${p}.q_proj`, H, c.numHeads * hd, c.qkvBias), [b, s, c.numHeads, hd]);
  let k = g.reshape(m.linear(x, `${p}.k_proj`, H, c.numKvHeads * hd, c.qkvBias), [b, s, c.numKvHeads, hd]);
  const v = g.reshape(m.linear(x, `${p}.v_proj`, H, c.numKvHeads * hd, c.qkvBias), [b, s, c.numKvHeads, hd]);
  if (c.qkNorm) {
    // qwen3: RMSNorm over head_dim of each head, before RoPE.
    q = m.rmsNorm(q, `${p}.q_norm.weight`, hd, c.rmsNormEps);
    k = m.rmsNorm(k, `${p}.k_norm.weight`, hd, c.rmsNormEps);
  }
  // [b, s, heads, hd] → [b, heads, s, hd]
  const qh = rope(g, g.transpose(q, [0, 2, 1, 3]), cos, sin);
  const kh = rope(g, g.transpose(k, [0, 2, 1, 3]), cos, sin);
  const vh = g.transpose(v, [0, 2, 1, 3]);
  // GQA: numHeads/numKvHeads query heads share each kv head. → [b, heads, s, hd]
  const o = attention(m.g, qh, kh, vh, { causal, paddingMask: inp.attentionMask });
  // [b, heads, s, hd] → [b, s, heads·hd] → o_proj → [b, s, H]
  const merged = g.reshape(g.transpose(o, [0, 2, 1, 3]), [b, s, c.numHeads * hd]);
  return m.linear(merged, `${p}.o_proj`, c.numHeads * hd, H, c.oBias);
}

function mlp(m: ModelContext, c: LlamaConfig, i: number, x: Tensor): Tensor {
  const { g } = m;
  const p = `layers.${i}.mlp`;
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  // SwiGLU: down(silu(gate(x)) · up(x)), [b, s, H] → [b, s, I] → [b, s, H]
  const gate = silu(g, m.linear(x, `${p}.gate_proj`, H, I, c.mlpBias));
  const up = m.linear(x, `${p}.up_proj`, H, I, c.mlpBias);
  return m.linear(g.mul(gate, up), `${p}.down_proj`, I, H, c.mlpBias);
}

/** Returns last_hidden_state [b, s, H]. */
export function llamaForward(
  m: ModelContext,
  c: LlamaConfig,
  inp: ModelInputs,
  opts: { causal: boolean },
): Tensor {
  const { g } = m;
  const H = c.hiddenSize;
  // [b, s] ids → [b, s, H]
  let h = m.embedding('embed_tokens.weight', [c.vocabSize, H], inp.inputIds);
  // RoPE tables from the fed positions: [b, s, hd]
  const { cos, sin } = ropeCosSin(g, inp.positionIds, c.headDim, c.ropeTheta, m.dtype);
  for (let i = 0; i < c.numLayers; i++) {
    h = m.layer(`layers.${i}`, () => {
      const a = selfAttention(
        m,
        c,
        i,
        m.rmsNorm(h, `layers.${i}.input_layernorm.weight`, H, c.rmsNormEps),
        cos,
        sin,
        inp,
        opts.causal,
      );
      const r = g.add(h, a);
      const f = mlp(m, c, i, m.rmsNorm(r, `layers.${i}.post_attention_layernorm.weight`, H, c.rmsNormEps));
      return g.add(r, f);
    });
  }
  return m.rmsNorm(h, 'norm.weight', H, c.rmsNormEps);
}
