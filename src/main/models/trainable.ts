import { dropoutThreshold, type Feeds, hash32, hostTensor, providerBlocker } from '../engine';
import { UserError } from '../errors';
import type { DropoutSpec, EncoderOptions, TrainableEncoder } from '../training/encoder';
import type { ParamSpec } from '../training/optim';
import { buildForward, buildTrainingBackward } from './graphs';
import {
  initLora,
  type LinearModule,
  type LoraConfig,
  loraKeyA,
  loraKeyB,
  loraScaling,
  selectTargets,
} from './lora';
import { type Device, EmbeddingModel, type LoadOptions } from './model';
import {
  DROPOUT_KEYS_INPUT,
  DROPOUT_SCALE_INPUT,
  DROPOUT_THRESHOLD_INPUT,
  type LoraWiring,
} from './modeling';
import type { PaddedBatch } from './pooling';

const PEFT = 'base_model.model.';
/** Graph input name (`layers.0…lora_A.weight`) ↔ PEFT parameter name (`base_model.model.layers.0…`). */
export const toPeftName = (input: string) => PEFT + input;
export const fromPeftName = (peft: string) => (peft.startsWith(PEFT) ? peft.slice(PEFT.length) : peft);

/**
 * The trainer's view of a model (training/encoder.ts TrainableEncoder): LoRA A/B are graph inputs fed as
 * float32 masters each call; dropout keep-masks are computed in the graph from one seed per text, so the
 * GradCache re-run of a chunk sees exactly the masks of its first pass, whatever the chunking.
 */
export class LoraEncoder implements TrainableEncoder {
  readonly params: ParamSpec[];
  readonly modules: LinearModule[];
  private readonly wiring: LoraWiring;
  /** Session-cache key part: encoders sharing one EmbeddingModel must not share graphs of another wiring. */
  private readonly tag: string;

  constructor(
    readonly model: EmbeddingModel,
    readonly lora: LoraConfig,
    /** Recompute each block in the backward (less activation memory, about one more forward). */
    readonly checkpointLayers = false,
  ) {
    this.modules = selectTargets(model.linears, lora.targetModules);
    this.wiring = { modules: this.modules, r: lora.r, scaling: loraScaling(lora), dropout: lora.dropout };
    const w = this.wiring;
    this.tag = `${w.r}:${w.scaling}:${w.dropout > 0 ? 'drop' : 'nodrop'}:${checkpointLayers ? 'ckpt:' : ''}${this.modules.map((m) => m.path).join(',')}`;
    this.params = this.modules.flatMap((m) => [
      { name: toPeftName(loraKeyA(m.path)), shape: [lora.r, m.inFeatures] },
      { name: toPeftName(loraKeyB(m.path)), shape: [m.outFeatures, lora.r] },
    ]);
  }

  get dim(): number {
    return this.model.dim;
  }

  initLora(seed: number): Map<string, Float32Array> {
    const w = initLora(this.model.linears, this.lora, seed);
    return new Map([...w.tensors].map(([k, t]) => [toPeftName(k), t.data]));
  }

  countTokens(texts: string[]): number[] {
    return this.model.tokenize(texts).map((s) => s.length);
  }

  /**
   * Device-dropout feeds (modeling.ts DROPOUT_KEYS_INPUT): key[i, t] = hash(seeds[i], t) for token t of
   * text i (its index in the text, whatever the padding side and chunk), threshold round(p·2³²) and scale
   * 1/(1−p). O(B·T) values: the masks themselves are computed in the graph. Without a DropoutSpec (eval
   * mode) threshold 0 keeps everything and the scale is 1, so the LoRA branch sees x itself.
   */
  private dropoutFeeds(b: PaddedBatch, seqs: number[][], d: DropoutSpec | null): Feeds {
    const { batch: B, seqLen: T } = b;
    const keys = new Uint32Array(B * T);
    const on = d !== null && d.p > 0;
    if (on)
      for (let i = 0; i < B; i++) {
        const len = seqs[i].length;
        const start = this.model.tokenizer.paddingSide === 'left' ? T - len : 0;
        for (let t = 0; t < len; t++) keys[i * T + start + t] = hash32(d.seeds[i], t);
      }
    return {
      [DROPOUT_KEYS_INPUT]: hostTensor('uint32', [B, T], keys),
      [DROPOUT_THRESHOLD_INPUT]: hostTensor('uint32', [], Uint32Array.of(on ? dropoutThreshold(d.p) : 0)),
      [DROPOUT_SCALE_INPUT]: hostTensor('float32', [], Float32Array.of(on ? 1 / (1 - d.p) : 1)),
    };
  }

  private feeds(texts: string[], lora: Map<string, Float32Array>, dropout: DropoutSpec | null) {
    const seqs = this.model.tokenize(texts);
    const b = this.model.pad(seqs);
    const extra: Feeds = { pool_weights: hostTensor('float32', [b.batch, b.seqLen], b.poolWeights) };
    for (const p of this.params) {
      const w = lora.get(p.name);
      if (!w) throw new Error(`LoRA weights: missing ${p.name}`);
      extra[fromPeftName(p.name)] = hostTensor('float32', p.shape, w.slice());
    }
    if (this.lora.dropout > 0) Object.assign(extra, this.dropoutFeeds(b, seqs, dropout));
    return { b, feeds: this.model.feeds(b, extra) };
  }

  async embed(
    texts: string[],
    lora: Map<string, Float32Array>,
    dropout: DropoutSpec | null,
  ): Promise<Float32Array> {
    const s = await this.model.session(`train-fwd:${this.tag}`, () =>
      buildForward(this.model.ck, this.model.arch, {
        causal: this.model.causal,
        lora: this.wiring,
        hidden: false,
        pooled: true,
        normalize: true,
        dtype: this.model.dtype,
        feedWeights: this.model.hostWeights,
      }),
    );
    const { feeds } = this.feeds(texts, lora, dropout);
    const out = await s.run(feeds, ['embeddings']);
    return out.embeddings.data as Float32Array;
  }

  async backward(
    texts: string[],
    lora: Map<string, Float32Array>,
    dropout: DropoutSpec | null,
    dEmb: Float32Array,
  ): Promise<Map<string, Float32Array>> {
    const s = await this.model.session(`train-bwd:${this.tag}`, () =>
      buildTrainingBackward(this.model.ck, this.model.arch, {
        causal: this.model.causal,
        lora: this.wiring,
        normalize: true,
        dtype: this.model.dtype,
        checkpointLayers: this.checkpointLayers,
        feedWeights: this.model.hostWeights,
      }),
    );
    const { b, feeds } = this.feeds(texts, lora, dropout);
    feeds.embeddings_grad = hostTensor('float32', [b.batch, this.dim], Float32Array.from(dEmb));
    const names = this.params.map((p) => `grad.${fromPeftName(p.name)}`);
    const out = await s.run(feeds, names);
    return new Map(this.params.map((p, i) => [p.name, out[names[i]].data as Float32Array]));
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

/** EncoderOptions.dtype → the base-weight dtype of the training graphs ('auto' trains in float32). */
export function baseDtype(dtype: string): 'float32' | 'float16' | 'bfloat16' {
  if (/^(fp16|float16)$/.test(dtype)) return 'float16';
  if (/^(bf16|bfloat16)$/.test(dtype)) return 'bfloat16';
  return 'float32';
}

/**
 * Why `--dtype bfloat16` cannot train on `device` here (one line naming the flag and the provider that can),
 * or null. Only CUDA has bfloat16 kernels: the CPU provider has no bf16 MatMul and WebGPU is fp32/fp16.
 * float16 needs no check: on CPU, ORT runs it through inserted casts to float32.
 */
export function bfloat16Blocker(device: string): string | null {
  const need = '--dtype bfloat16 needs the cuda provider (cpu and webgpu have no bfloat16 kernels)';
  if (device === 'cpu' || device === 'webgpu')
    return `${need}: pass --device cuda, or --dtype float16 or float32 with --device ${device}`;
  if (device !== 'cuda') {
    const why = providerBlocker('cuda');
    if (why) return `${need} and cuda is not usable here (${why}); use --dtype float16 or float32`;
  }
  return null;
}

/** The EncoderFactory the trainer calls. */
export async function createTrainableEncoder(
  o: EncoderOptions,
  load: LoadOptions = {},
  extra: { useRslora?: boolean; checkpointLayers?: boolean } = {},
): Promise<LoraEncoder> {
  const dtype = baseDtype(o.dtype);
  let device: Device = o.device === 'cuda' || o.device === 'webgpu' || o.device === 'cpu' ? o.device : 'auto';
  if (dtype === 'bfloat16') {
    const why = bfloat16Blocker(device);
    if (why) throw new UserError(why);
    device = 'cuda'; // 'auto' must not fall through to a provider that cannot run bf16
  }
  const model = EmbeddingModel.load(o.modelDir, { maxLength: o.maxLength, device, dtype, ...load });
  return new LoraEncoder(
    model,
    {
      r: o.rank,
      alpha: o.alpha,
      dropout: o.dropout,
      targetModules:
        o.targetModules.length === 1 && o.targetModules[0] === 'all-linear' ? 'all-linear' : o.targetModules,
      useRslora: extra.useRslora ?? false,
    },
    extra.checkpointLayers ?? false,
  );
}
