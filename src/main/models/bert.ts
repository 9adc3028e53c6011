// The bert family (BertModel, XLMRobertaModel) mirroring transformers' modeling_bert.py: word + position +
// token-type embeddings → LayerNorm → N × (self-attention → dense → residual → LayerNorm → intermediate
// GELU → output dense → residual → LayerNorm). Post-norm, absolute positions, bidirectional attention.
import { attention, gelu, type Tensor } from '../engine';
import type { BertConfig } from './configs';
import type { ModelContext, ModelInputs } from './modeling';

function selfAttention(
  m: ModelContext,
  c: BertConfig,
  i: number,
  x: Tensor,
  inp: ModelInputs,
  causal: boolean,
): Tensor {
  const { g } = m;
  const p = `encoder.layer.${i}.attention`;
  const H = c.hiddenSize;
  const [b, s] = x.shape;
  // [b, s, H] → [b, s, heads, hd] → [b, heads, s, hd]
  const heads = (name: string) =>
    g.transpose(
      g.reshape(m.linear(x, `${p}.self.${name}`, H, H, true), [b, s, c.numHeads, c.headDim]),
      [0, 2, 1, 3],
    );
  const o = attention(m.g, heads('query'), heads('key'), heads('value'), {
    causal,
    paddingMask: inp.attentionMask,
  });
  // [b, heads, s, hd] → [b, s, H] → dense → residual → LayerNorm
  const ctx = g.reshape(g.transpose(o, [0, 2, 1, 3]), [b, s, H]);
  const d = m.linear(ctx, `${p}.output.dense`, H, H, true);
  return m.layerNorm(g.add(d, x), `${p}.output.LayerNorm`, H, c.layerNormEps);
}

function feedForward(m: ModelContext, c: BertConfig, i: number, x: Tensor): Tensor {
  const { g } = m;
  const p = `encoder.layer.${i}`;
  const H = c.hiddenSize;
  // [b, s, H] → GELU(erf) [b, s, I] → [b, s, H] → residual → LayerNorm
  const inter = gelu(g, m.linear(x, `${p}.intermediate.dense`, H, c.intermediateSize, true));
  const out = m.linear(inter, `${p}.output.dense`, c.intermediateSize, H, true);
  return m.layerNorm(g.add(out, x), `${p}.output.LayerNorm`, H, c.layerNormEps);
}

/** Returns last_hidden_state [b, s, H]. Positions come in as fed ids (BERT arange, XLM-R pad-offset cumsum). */
export function bertForward(
  m: ModelContext,
  c: BertConfig,
  inp: ModelInputs,
  opts: { causal: boolean },
): Tensor {
  const { g } = m;
  const H = c.hiddenSize;
  const e = 'embeddings';
  // [b, s] → [b, s, H] each, summed
  let h = m.embedding(`${e}.word_embeddings.weight`, [c.vocabSize, H], inp.inputIds);
  h = g.add(h, m.embedding(`${e}.position_embeddings.weight`, [c.maxPositions, H], inp.positionIds));
  if (inp.tokenTypeIds)
    h = g.add(h, m.embedding(`${e}.token_type_embeddings.weight`, [c.typeVocabSize, H], inp.tokenTypeIds));
  h = m.layerNorm(h, `${e}.LayerNorm`, H, c.layerNormEps);
  for (let i = 0; i < c.numLayers; i++)
    h = m.layer(`encoder.layer.${i}`, () =>
      feedForward(m, c, i, selfAttention(m, c, i, h, inp, opts.causal)),
    );
  return h;
}
