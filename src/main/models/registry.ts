import type { Tensor } from '../engine';
import { UserError } from '../errors';
import { bertForward } from './bert';
import type { HfConfig } from './model-folder';
import {
  type BertConfig,
  bertConfig,
  bertLinears,
  type LlamaConfig,
  llamaConfig,
  llamaLinears,
} from './configs';
import { llamaForward } from './llama';
import type { LinearModule } from './lora';
import { mistralConfig } from './mistral';
import type { ModelContext, ModelInputs } from './modeling';
import type { PadOptions, Pooling } from './pooling';
import { qwen2Config } from './qwen2';
import { qwen3Config } from './qwen3';
import { xlmRobertaConfig } from './xlm-roberta';

/** One architecture, resolved from config.json: its typed config, linears, conventions and forward. */
export interface Architecture {
  modelType: string;
  family: 'llama' | 'bert';
  hiddenSize: number;
  linears: LinearModule[];
  /** Pooling when the folder has no sentence-transformers Pooling module. */
  defaultPooling: Pooling;
  /** Decoders are causal by default; a model card may say otherwise (gte-Qwen2), so it is overridable. */
  defaultCausal: boolean;
  positions: PadOptions['positions'];
  tokenTypes: boolean;
  maxPositions: number;
  forward(m: ModelContext, inp: ModelInputs, opts: { causal: boolean }): Tensor;
}

function llama(modelType: string, cfg: LlamaConfig): Architecture {
  return {
    modelType,
    family: 'llama',
    hiddenSize: cfg.hiddenSize,
    linears: llamaLinears(cfg),
    defaultPooling: 'last_token',
    defaultCausal: true,
    positions: 'cumsum',
    tokenTypes: false,
    maxPositions: cfg.maxPositions,
    forward: (m, inp, o) => llamaForward(m, cfg, inp, o),
  };
}

function bert(modelType: string, cfg: BertConfig): Architecture {
  return {
    modelType,
    family: 'bert',
    hiddenSize: cfg.hiddenSize,
    linears: bertLinears(cfg),
    defaultPooling: 'mean',
    defaultCausal: false,
    positions: cfg.positionOffsetFromPad ? { offsetFromPad: cfg.padTokenId } : 'arange',
    tokenTypes: true,
    // XLM-R's table includes the padding_idx+1 offset.
    maxPositions: cfg.positionOffsetFromPad ? cfg.maxPositions - cfg.padTokenId - 1 : cfg.maxPositions,
    forward: (m, inp, o) => bertForward(m, cfg, inp, o),
  };
}

/** model_type → architecture. Families are deltas over llama and bert. */
export const REGISTRY: Record<string, (c: HfConfig) => Architecture> = {
  llama: (c) => llama('llama', llamaConfig(c)),
  mistral: (c) => llama('mistral', mistralConfig(c)),
  qwen2: (c) => llama('qwen2', qwen2Config(c)),
  qwen3: (c) => llama('qwen3', qwen3Config(c)),
  bert: (c) => bert('bert', bertConfig(c)),
  'xlm-roberta': (c) => bert('xlm-roberta', xlmRobertaConfig(c)),
};

export const SUPPORTED_MODEL_TYPES = Object.keys(REGISTRY);

export function architectureFor(config: HfConfig): Architecture {
  const make = REGISTRY[config.model_type];
  if (!make)
    throw new UserError(
      `config.json: model_type "${config.model_type}" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
  return make(config);
}
