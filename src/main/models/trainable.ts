import {
  DTYPE_BYTES,
  dropoutThreshold,
  type Feeds,
  hash32,
  hostTensor,
  peakActivationBytes,
  type Provider,
  providerBlocker,
} from '../engine';
import { UserError } from '../errors';
import type { DropoutSpec, EncoderOptions, TrainableEncoder } from './encoder';
import type { ParamSpec } from './encoder';
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
    readonly recomputeLayers = false,
  ) {
    this.modules = selectTargets(model.linears, lora.targetModules);
    this.wiring = { modules: this.modules, r: lora.r, scaling: loraScaling(lora), dropout: lora.dropout };
    const w = this.wiring;
    this.tag = `${w.r}:${w.scaling}:${w.dropout > 0 ? 'drop' : 'nodrop'}:${recomputeLayers ? 'ckpt:' : ''}${this.modules.map((m) => m.path).join(',')}`;
    this.params = this.modules.flatMap((m) => [
      { name: toPeftName(loraKeyA(m.path)), shape: [lora.r, m.inFeatures] },
      { name: toPeftName(loraKeyB(m.path)), shape: [m.outFeatures, lora.r] },
    ]);
  }

  get dim(): number {
    return this.model.dim;
  }

  /** The compute dtype of the base weights (the trainer's loss scaler runs for float16). */
  get computeDtype(): string {
    return this.model.dtype;
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
        recomputeLayers: this.recomputeLayers,
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

/**
 * EncoderOptions.dtype → the compute dtype of the training graphs. auto: bfloat16 on CUDA (its kernels and
 * range), float16 on WebGPU (no bf16 there; the trainer's dynamic loss scaler guards the range), float32
 * on CPU (no half-precision MatMul kernels: ORT would cast every weight on every call).
 */
export function baseDtype(dtype: string, provider: Provider = 'cpu'): 'float32' | 'float16' | 'bfloat16' {
  if (/^(fp16|float16)$/.test(dtype)) return 'float16';
  if (/^(bf16|bfloat16)$/.test(dtype)) return 'bfloat16';
  if (dtype === 'auto')
    return provider === 'cuda' ? 'bfloat16' : provider === 'webgpu' ? 'float16' : 'float32';
  return 'float32';
}

/** The provider a device setting resolves to here ('auto': the first of cuda → webgpu → cpu not blocked). */
export function resolveProvider(device: string): Provider {
  if (device === 'cuda' || device === 'webgpu' || device === 'cpu') return device;
  return (['cuda', 'webgpu'] as const).find((p) => providerBlocker(p) === null) ?? 'cpu';
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
  extra: { useRslora?: boolean; recomputeLayers?: boolean } = {},
): Promise<LoraEncoder> {
  let device: Device = o.device === 'cuda' || o.device === 'webgpu' || o.device === 'cpu' ? o.device : 'auto';
  const dtype = baseDtype(o.dtype, resolveProvider(device));
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
    extra.recomputeLayers ?? false,
  );
}

/** What the memory plan (training/memory-plan.ts) needs from the model, measured on its real graphs. */
export interface TrainingMemoryParts {
  provider: Provider;
  dtype: 'float32' | 'float16' | 'bfloat16';
  weightsBytes: number;
  weightsNote: string;
  loraParams: number;
  dim: number;
  /** Peak live bytes of one chunk's backward-session run (+ its non-weight feeds). */
  activationBytes: (chunk: number, seq: number, recompute: boolean) => number;
}

/**
 * Builds the training backward graph (once per recompute setting; no session, nothing loaded but headers)
 * and counts the values it keeps alive (engine peakActivationBytes) at any chunk and length.
 */
export function trainingMemoryParts(o: EncoderOptions): TrainingMemoryParts {
  const provider = resolveProvider(o.device);
  const dtype = baseDtype(o.dtype, provider);
  // The trainer's sessions run in its worker thread (inThread): on CPU the weights are fed copies.
  const model = EmbeddingModel.load(o.modelDir, {
    maxLength: o.maxLength,
    device: dtype === 'bfloat16' ? 'cuda' : provider,
    dtype,
    inThread: true,
  });
  const modules = selectTargets(
    model.linears,
    o.targetModules.length === 1 && o.targetModules[0] === 'all-linear' ? 'all-linear' : o.targetModules,
  );
  const wiring: LoraWiring = { modules, r: o.rank, scaling: o.alpha / o.rank, dropout: o.dropout };
  const names = model.ck.names();
  const numel = names.reduce((n, k) => n + model.ck.ref(k).shape.reduce((a, b) => a * b, 1), 0);
  const host = model.hostWeights;
  const weightsBytes = host ? numel * DTYPE_BYTES[dtype] : 2 * numel * DTYPE_BYTES[dtype];
  const weightsNote = host
    ? `${(numel / 1e6).toFixed(0)}M params as ${dtype} copies made once, fed to both sessions (no per-call Cast)`
    : `${(numel / 1e6).toFixed(0)}M params as ${dtype} initializers of the forward and backward sessions (2 copies)`;
  const graphs = new Map<boolean, ReturnType<typeof buildTrainingBackward>>();
  const graph = (rc: boolean) => {
    let b = graphs.get(rc);
    if (!b) {
      b = buildTrainingBackward(model.ck, model.arch, {
        causal: model.causal,
        lora: wiring,
        normalize: true,
        dtype,
        recomputeLayers: rc,
        feedWeights: host,
      });
      graphs.set(rc, b);
    }
    return b;
  };
  const fedBytes = (rc: boolean) =>
    [...(graph(rc).fedWeights?.values() ?? [])].reduce(
      (n, w) => n + w.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[w.as],
      0,
    );
  return {
    provider,
    dtype,
    weightsBytes,
    weightsNote,
    loraParams: modules.reduce((n, m) => n + o.rank * (m.inFeatures + m.outFeatures), 0),
    dim: model.dim,
    activationBytes: (chunk, seq, rc) => {
      const e = peakActivationBytes(graph(rc).outputs, { batch: chunk, seq });
      return e.peakBytes + e.feedBytes - fedBytes(rc);
    },
  };
}
