import {
  dropoutSalt,
  type DType,
  type Graph,
  hashKeepMask,
  hashString,
  layerNorm,
  rmsNorm,
  type Tensor,
} from '../engine';
import { UserError } from '../errors';
import type { ModelFolder, WeightRef } from './model-folder';
import { type LinearModule, loraKeyA, loraKeyB } from './lora';
import type { StDtype } from './safetensors';

/**
 * What every architecture's forward gets: the graph, the model folder's weights, and the LoRA wiring.
 * Architecture files call `m.weight(name)` and `m.linear(x, path)` and never see where bytes live.
 */

const ST_TO_DTYPE: Partial<Record<StDtype, DType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
};

/** LoRA as graph INPUTS: A [r, in] and B [out, r] per target module (dropout masks computed in-graph). */
export interface LoraWiring {
  modules: LinearModule[];
  r: number;
  scaling: number;
  dropout: number;
}

/** Graph input names for a LoRA module (the same keys PEFT uses after `base_model.model.`). */
export const loraInputA = (p: string) => loraKeyA(p);
export const loraInputB = (p: string) => loraKeyB(p);
/**
 * Device dropout inputs, shared by every LoRA module: per-token uint32 keys [batch, seq] (a hash of the
 * text's seed and the token's index in the text, so a text's masks do not depend on its chunk or padding),
 * the uint32 threshold round(p·2³²) (0 in eval mode: every element kept) and the inverted-dropout factor
 * 1/(1−p) (1 in eval mode), so one session serves training and PEFT eval (y = Wx + B(A x)·scaling).
 * Each module hashes the keys with its own per-feature salt (engine hashKeepMask), so masks differ across
 * modules, texts, tokens and steps while only O(batch·seq) values are fed.
 */
export const DROPOUT_KEYS_INPUT = 'lora_dropout.keys';
export const DROPOUT_THRESHOLD_INPUT = 'lora_dropout.threshold';
export const DROPOUT_SCALE_INPUT = 'lora_dropout.scale';

export class ModelContext {
  /** The LoRA A/B inputs, by name, in module order (A, B). */
  readonly loraInputs = new Map<string, Tensor>();
  /** The shared dropout inputs (see DROPOUT_KEYS_INPUT), created with the first dropout module. */
  private dropoutIn: { keys: Tensor; threshold: Tensor; scale: Tensor } | undefined;
  private readonly loraByPath: Map<string, LinearModule>;
  /** Weights made graph inputs by feedWeights: name → where the stored bytes are and the fed dtype. */
  readonly fedWeights = new Map<string, FedWeight>();

  constructor(
    readonly g: Graph,
    readonly ck: ModelFolder,
    readonly opts: {
      dtype?: DType;
      lora?: LoraWiring;
      /** Replacement weights (e.g. LoRA merged into W), inlined into the graph. */
      overrides?: Map<string, Float32Array>;
      /** Recompute each layer's activations in the backward instead of keeping them (gradient checkpointing). */
      recomputeLayers?: boolean;
      /**
       * Frozen weights become graph inputs of the compute dtype (float32/float16), fed from copies
       * converted once per model (EmbeddingModel.session) and shared by the forward and backward sessions:
       * no Cast of a weight, no weight copy on any call, one copy of the weights for both sessions. Only
       * for in-thread CPU sessions, where a fed buffer is used in place (a worker would detach it; a GPU
       * would copy it to the device every call).
       */
      feedWeights?: boolean;
    } = {},
  ) {
    this.loraByPath = new Map((opts.lora?.modules ?? []).map((m) => [m.path, m]));
  }

  get dtype(): DType {
    return this.opts.dtype ?? 'float32';
  }

  /** A frozen weight by its transformers name, checked against the shape config.json implies. */
  weight(name: string, shape: number[]): Tensor {
    return this.g.cast(this.storedWeight(name, shape), this.dtype);
  }

  /**
   * An embedding lookup: rows of the table gathered in its stored dtype, then cast to the compute dtype, so
   * a half-precision table is never converted whole (0.6B: 512 rows instead of a 621 MB float32 table).
   */
  embedding(name: string, shape: number[], ids: Tensor): Tensor {
    return this.g.cast(this.g.gather(this.storedWeight(name, shape), ids), this.dtype);
  }

  /** The weight as stored (or as fed, see feedWeights), before any cast to the compute dtype. */
  private storedWeight(name: string, shape: number[]): Tensor {
    const o = this.opts.overrides?.get(name);
    if (o) {
      if (o.length !== shape.reduce((a, b) => a * b, 1)) throw new UserError(`override ${name}: wrong size`);
      return this.g.weight(name, 'float32', shape, { data: o });
    }
    const r = this.ck.ref(name, shape);
    const dt = ST_TO_DTYPE[r.dtype];
    if (!dt)
      throw new UserError(`${r.header.file}: ${name} is ${r.dtype}; only F32/F16/BF16 weights are supported`);
    if (this.opts.feedWeights && (this.dtype === 'float32' || this.dtype === 'float16')) {
      this.fedWeights.set(name, { ...r, as: this.dtype });
      return this.g.input(name, this.dtype, shape);
    }
    return this.g.weight(name, dt, shape, { file: r.header.file, offset: r.offset, length: r.length });
  }

  /** transformers' RMSNorm of the weight `name` [dim]: statistics in float32, result in x's dtype. */
  rmsNorm(x: Tensor, name: string, dim: number, eps: number): Tensor {
    return rmsNorm(this.g, x, this.weight(name, [dim]), eps, { computeIn: 'float32' });
  }

  /** LayerNorm of `prefix`.weight/.bias [dim], computed in float32 (as autocast does), result in x's dtype. */
  layerNorm(x: Tensor, prefix: string, dim: number, eps: number): Tensor {
    const w = this.weight(`${prefix}.weight`, [dim]);
    const b = this.weight(`${prefix}.bias`, [dim]);
    return layerNorm(this.g, x, w, b, eps, { computeIn: 'float32' });
  }

  /** One transformer block: named scope for errors, and a recompute region when recomputing. */
  layer<T>(name: string, fn: () => T): T {
    return this.g.scope(name, () => (this.opts.recomputeLayers ? this.g.recompute(fn) : fn()));
  }

  has(name: string): boolean {
    return this.ck.has(name);
  }

  /**
   * HF Linear at module `path` ([out, in] weight, optional bias), plus PEFT LoRA when the module is a
   * target: y = W x + b + B(A(dropout(x))) · scaling.
   */
  linear(x: Tensor, path: string, inF: number, outF: number, bias: boolean): Tensor {
    const g = this.g;
    const W = this.weight(`${path}.weight`, [outF, inF]);
    const b = bias ? this.weight(`${path}.bias`, [outF]) : undefined;
    let y = g.linear(x, W, b);
    const lora = this.opts.lora;
    if (lora && this.loraByPath.has(path)) {
      const A = g.input(loraInputA(path), 'float32', [lora.r, inF]);
      const B = g.input(loraInputB(path), 'float32', [outF, lora.r]);
      this.loraInputs.set(A.name!, A);
      this.loraInputs.set(B.name!, B);
      // The LoRA branch runs in float32 whatever the model dtype (A/B are float32 masters).
      let xd = g.cast(x, 'float32');
      if (lora.dropout > 0) {
        // The keep-mask is computed on the device; a recomputed region rebuilds the identical mask from the
        // same keys.
        this.dropoutIn ??= {
          keys: g.input(DROPOUT_KEYS_INPUT, 'uint32', ['batch', 'seq']),
          threshold: g.input(DROPOUT_THRESHOLD_INPUT, 'uint32', []),
          scale: g.input(DROPOUT_SCALE_INPUT, 'float32', []),
        };
        const d = this.dropoutIn;
        const salt = g.constant(dropoutSalt(hashString(path), inF), 'uint32', [inF]);
        // Mul by the float mask, not Where: ORT's Where is ~1.5× slower here (profiled: dropout's nodes 8% vs
        // 12.5% of a backward call); the float mask kept for the backward costs 3 bytes per element more.
        const x0 = xd;
        xd = g.scope('lora_dropout', () =>
          g.mul(x0, g.cast(hashKeepMask(g, d.keys, salt, d.threshold), 'float32')),
        );
      }
      // PEFT's 1/(1−p) and the LoRA scaling applied after A (A and B are linear): one Mul on [..., r] instead
      // of a pass over [..., out] each way (and one over [..., in] with dropout).
      const ax = g.linear(xd, A);
      const scale =
        lora.dropout > 0 && this.dropoutIn ? g.mul(this.dropoutIn.scale, lora.scaling) : lora.scaling;
      const delta = g.linear(g.mul(ax, scale), B); // [..., r] → [..., out]
      y = g.add(y, g.cast(delta, y.dtype));
    }
    return y;
  }
}

/** A weight fed as a graph input (ModelContext feedWeights): its stored location and the fed dtype. */
export type FedWeight = WeightRef & { as: 'float32' | 'float16' };

/** What a forward reads: ids, mask and positions as graph inputs ([batch, seq] int64). */
export interface ModelInputs {
  inputIds: Tensor;
  attentionMask: Tensor;
  positionIds: Tensor;
  tokenTypeIds?: Tensor;
}
