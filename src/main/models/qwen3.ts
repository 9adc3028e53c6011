// Qwen3Model = llama with per-head RMSNorm on q and k (q_norm, k_norm over head_dim) before RoPE, an
// explicit head_dim, and attention_bias from config.json (false in released checkpoints).
import type { HfConfig } from './model-folder';
import { llamaConfig } from './configs';

export const qwen3Config = (c: HfConfig) => llamaConfig(c, { qkNorm: true, mlpBias: false });
