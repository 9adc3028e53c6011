import { type Feeds, hostTensor } from '../engine';
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
  seededRandom,
  selectTargets,
} from './lora';
import { EmbeddingModel, type LoadOptions } from './model';
import { dropoutMaskInput, type LoraWiring } from './modeling';
import type { PaddedBatch } from './pooling';

const PEFT = 'base_model.model.';
/** Graph input name (`layers.0…lora_A.weight`) ↔ PEFT parameter name (`base_model.model.layers.0…`). */
export const toPeftName = (input: string) => PEFT + input;
export const fromPeftName = (peft: string) => (peft.startsWith(PEFT) ? peft.slice(PEFT.length) : peft);

/**
 * The trainer's view of a model (training/encoder.ts TrainableEncoder): LoRA A/B are graph inputs fed as
 * float32 masters each call; dropout keep-masks are graph inputs derived from one seed per text, so the
 * GradCache re-run of a chunk sees exactly the masks of its first pass, whatever the chunking.
 */
export class LoraEncoder implements TrainableEncoder {
  readonly params: ParamSpec[];
  readonly modules: LinearModule[];
  private readonly wiring: LoraWiring;

  constructor(
    readonly model: EmbeddingModel,
    readonly lora: LoraConfig,
    /** Recompute each block in the backward (less activation memory, about one more forward). */
    readonly checkpointLayers = false,
  ) {
    this.modules = selectTargets(model.linears, lora.targetModules);
    this.wiring = { modules: this.modules, r: lora.r, scaling: loraScaling(lora), dropout: lora.dropout };
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

  /** Keep-masks [B, T, in] per module: text i's mask is a function of (seeds[i], module index) only. */
  private dropoutFeeds(b: PaddedBatch, seqs: number[][], d: DropoutSpec): Feeds {
    const f: Feeds = {};
    const { batch: B, seqLen: T } = b;
    this.modules.forEach((m, j) => {
      const inF = m.inFeatures;
      const mask = new Uint8Array(B * T * inF).fill(1);
      for (let i = 0; i < B; i++) {
        const rand = seededRandom((d.seeds[i] ^ Math.imul(j + 1, 0x9e3779b9)) >>> 0);
        const len = seqs[i].length;
        const start = this.model.tokenizer.paddingSide === 'left' ? T - len : 0;
        for (let t = 0; t < len; t++) {
          const base = (i * T + start + t) * inF;
          for (let k = 0; k < inF; k++) mask[base + k] = rand() < d.p ? 0 : 1;
        }
      }
      f[dropoutMaskInput(m.path)] = hostTensor('bool', [B, T, inF], mask);
    });
    return f;
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
    const useDropout = this.lora.dropout > 0;
    if (useDropout)
      Object.assign(
        extra,
        this.dropoutFeeds(b, seqs, dropout ?? { p: 0, seeds: new Uint32Array(seqs.length) }),
      );
    return { b, feeds: this.model.feeds(b, extra) };
  }

  async embed(
    texts: string[],
    lora: Map<string, Float32Array>,
    dropout: DropoutSpec | null,
  ): Promise<Float32Array> {
    const s = await this.model.session('train-fwd', () =>
      buildForward(this.model.ck, this.model.arch, {
        causal: this.model.causal,
        lora: this.wiring,
        hidden: false,
        pooled: true,
        normalize: true,
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
    const s = await this.model.session('train-bwd', () =>
      buildTrainingBackward(this.model.ck, this.model.arch, {
        causal: this.model.causal,
        lora: this.wiring,
        normalize: true,
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

/** The EncoderFactory the trainer calls. */
export async function createTrainableEncoder(
  o: EncoderOptions,
  load: LoadOptions = {},
  extra: { useRslora?: boolean; checkpointLayers?: boolean } = {},
): Promise<LoraEncoder> {
  const device = o.device === 'cuda' || o.device === 'webgpu' || o.device === 'cpu' ? o.device : 'auto';
  const dtype = /^(fp16|float16)$/.test(o.dtype)
    ? 'float16'
    : /^(bf16|bfloat16)$/.test(o.dtype)
      ? 'bfloat16'
      : 'float32';
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
