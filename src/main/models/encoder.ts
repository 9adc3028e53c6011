/** One trainable tensor: its PEFT key and shape. */
export interface ParamSpec {
  name: string;
  shape: number[];
}

/**
 * What training needs from a model (defined here, beside the models that implement it, so training depends on models and not back): a chunk
 * forward to normalised pooled embeddings, and that chunk's backward given an upstream gradient on
 * the embeddings. Dropout masks derive only from (seed, row): one seed per sequence, so a chunk re-run
 * with the same seeds sees the same masks, whatever the chunking.
 */
export interface TrainableEncoder {
  /** Embedding width d. */
  readonly dim: number;
  /** Compute dtype of the base weights once 'auto' is resolved (float16 turns on the loss scaler). */
  readonly computeDtype?: string;
  /** LoRA parameters `[base_model.model.]${module path}.lora_A.weight` / `.lora_B.weight`, fixed order. */
  readonly params: ParamSpec[];
  /** Initial LoRA weights (A kaiming-uniform, B zero) from a seed. */
  initLora(seed: number): Map<string, Float32Array>;
  /** Token count of each text after truncation and EOS (for tokens/s). */
  countTokens(texts: string[]): number[];
  /** Forward without gradients: [n, d] L2-normalised embeddings. */
  embed(texts: string[], lora: Map<string, Float32Array>, dropout: DropoutSpec | null): Promise<Float32Array>;
  /**
   * Re-runs the forward with the same dropout and back-propagates dEmb [n, d]; returns dLoss/dLoRA for
   * this chunk (to be summed over chunks).
   */
  backward(
    texts: string[],
    lora: Map<string, Float32Array>,
    dropout: DropoutSpec | null,
    dEmb: Float32Array,
  ): Promise<Map<string, Float32Array>>;
  /** Peak bytes this encoder has held for activations (for the memory report), when known. */
  peakBytes?(): number;
  dispose?(): Promise<void>;
}

export interface DropoutSpec {
  p: number;
  /** One seed per text: the masks of text i are a function of seeds[i] only. */
  seeds: Uint32Array;
}

/** Loads the trainable encoder for a model folder (factory supplied by the caller / worker). */
export type EncoderFactory = (opts: EncoderOptions) => Promise<TrainableEncoder>;

export interface EncoderOptions {
  modelDir: string;
  rank: number;
  alpha: number;
  dropout: number;
  targetModules: string[];
  maxLength: number;
  device: string;
  dtype: string;
}
