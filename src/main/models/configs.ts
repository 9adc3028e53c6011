import { UserError } from '../errors';
import type { HfConfig } from './model-folder';
import type { LinearModule } from './lora';

/**
 * Typed views of `config.json` for the two families. Field names follow transformers; a missing required
 * field is a UserError naming it.
 */

function num(c: HfConfig, key: string, fallback?: number): number {
  const v = c[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v !== undefined && v !== null)
    throw new UserError(`config.json: ${key} must be a number, got ${JSON.stringify(v)}`);
  if (fallback !== undefined) return fallback;
  throw new UserError(`config.json: missing ${key} (model_type ${c.model_type})`);
}

/** A size or count: a positive integer (0 heads or 1e12 hidden units would fail deep in graph building). */
function count(c: HfConfig, key: string, fallback?: number): number {
  const v = num(c, key, fallback);
  if (!Number.isSafeInteger(v) || v < 1 || v > 2 ** 31 - 1)
    throw new UserError(`config.json: ${key} must be a positive integer, got ${v}`);
  return v;
}

function headDimOf(c: HfConfig, hidden: number, heads: number): number {
  if (c.head_dim !== undefined && c.head_dim !== null) return count(c, 'head_dim');
  if (hidden % heads !== 0)
    throw new UserError(
      `config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`,
    );
  return hidden / heads;
}

/** llama, mistral, qwen2, qwen3: RoPE, GQA, SwiGLU, RMSNorm. */
export interface LlamaConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number;
  /** Biases on q/k/v (qwen2). */
  qkvBias: boolean;
  /** Biases on o_proj and the MLP (llama's `mlp_bias` / `attention_bias`). */
  oBias: boolean;
  mlpBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (qwen3). */
  qkNorm: boolean;
}

export function llamaConfig(c: HfConfig, delta: Partial<LlamaConfig> = {}): LlamaConfig {
  const hidden = count(c, 'hidden_size');
  const heads = count(c, 'num_attention_heads');
  const kvHeads = count(c, 'num_key_value_heads', heads);
  if (heads % kvHeads !== 0)
    throw new UserError(
      `config.json: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`,
    );
  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu')
    throw new UserError(`config.json: hidden_act ${String(act)} (only silu for ${c.model_type})`);
  const rs = c.rope_scaling as { rope_type?: string; type?: string } | null | undefined;
  const ropeType = rs?.rope_type ?? rs?.type;
  if (rs && ropeType && ropeType !== 'default')
    throw new UserError(`config.json: rope_scaling ${ropeType} is not supported (only default RoPE)`);
  const attnBias = Boolean(c.attention_bias);
  return {
    modelType: c.model_type,
    vocabSize: count(c, 'vocab_size'),
    hiddenSize: hidden,
    intermediateSize: count(c, 'intermediate_size'),
    numLayers: count(c, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim: headDimOf(c, hidden, heads),
    rmsNormEps: num(c, 'rms_norm_eps', 1e-6),
    ropeTheta: num(c, 'rope_theta', 10000),
    maxPositions: count(c, 'max_position_embeddings', 4096),
    qkvBias: attnBias,
    oBias: attnBias,
    mlpBias: Boolean(c.mlp_bias),
    qkNorm: false,
    ...delta,
  };
}

export function llamaLinears(c: LlamaConfig): LinearModule[] {
  const out: LinearModule[] = [];
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  for (let i = 0; i < c.numLayers; i++) {
    const a = `layers.${i}.self_attn`;
    const m = `layers.${i}.mlp`;
    out.push(
      { path: `${a}.q_proj`, inFeatures: H, outFeatures: q },
      { path: `${a}.k_proj`, inFeatures: H, outFeatures: kv },
      { path: `${a}.v_proj`, inFeatures: H, outFeatures: kv },
      { path: `${a}.o_proj`, inFeatures: q, outFeatures: H },
      { path: `${m}.gate_proj`, inFeatures: H, outFeatures: c.intermediateSize },
      { path: `${m}.up_proj`, inFeatures: H, outFeatures: c.intermediateSize },
      { path: `${m}.down_proj`, inFeatures: c.intermediateSize, outFeatures: H },
    );
  }
  return out;
}

/** bert, xlm-roberta: absolute positions, token types, post-LayerNorm, GELU (erf). */
export interface BertConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  layerNormEps: number;
  maxPositions: number;
  typeVocabSize: number;
  padTokenId: number;
  /** XLM-R numbers positions from padding_idx + 1 (cumsum over non-pad ids); BERT uses arange. */
  positionOffsetFromPad: boolean;
}

export function bertConfig(c: HfConfig, delta: Partial<BertConfig> = {}): BertConfig {
  const hidden = count(c, 'hidden_size');
  const heads = count(c, 'num_attention_heads');
  const act = c.hidden_act ?? 'gelu';
  if (act !== 'gelu')
    throw new UserError(`config.json: hidden_act ${String(act)} (only gelu for ${c.model_type})`);
  const pet = c.position_embedding_type ?? 'absolute';
  if (pet !== 'absolute')
    throw new UserError(`config.json: position_embedding_type ${String(pet)} (only absolute)`);
  return {
    modelType: c.model_type,
    vocabSize: count(c, 'vocab_size'),
    hiddenSize: hidden,
    intermediateSize: count(c, 'intermediate_size'),
    numLayers: count(c, 'num_hidden_layers'),
    numHeads: heads,
    headDim: headDimOf({ ...c, head_dim: undefined }, hidden, heads),
    layerNormEps: num(c, 'layer_norm_eps', 1e-12),
    maxPositions: count(c, 'max_position_embeddings', 512),
    typeVocabSize: count(c, 'type_vocab_size', 2),
    padTokenId: num(c, 'pad_token_id', 0),
    positionOffsetFromPad: false,
    ...delta,
  };
}

export function bertLinears(c: BertConfig): LinearModule[] {
  const out: LinearModule[] = [];
  const H = c.hiddenSize;
  for (let i = 0; i < c.numLayers; i++) {
    const l = `encoder.layer.${i}`;
    out.push(
      { path: `${l}.attention.self.query`, inFeatures: H, outFeatures: H },
      { path: `${l}.attention.self.key`, inFeatures: H, outFeatures: H },
      { path: `${l}.attention.self.value`, inFeatures: H, outFeatures: H },
      { path: `${l}.attention.output.dense`, inFeatures: H, outFeatures: H },
      { path: `${l}.intermediate.dense`, inFeatures: H, outFeatures: c.intermediateSize },
      { path: `${l}.output.dense`, inFeatures: c.intermediateSize, outFeatures: H },
    );
  }
  return out;
}
