import fs from 'node:fs';
import path from 'node:path';
import {
  createSession,
  type EngineSession,
  type Feeds,
  type HostTensor,
  hostTensor,
  type Provider,
  providerBlocker,
  toOnnx,
} from '../engine';
import { decodeFloat32, f32ToF16, readFloat32, readTensorBytes } from '../engine/safetensors';
import { readFloat32InWorker } from '../engine/worker';
import { UserError } from '../errors';
import { ProgressTracker, type ProgressListener } from '../jobs/progress';
import { ModelFolder } from './model-folder';
import { type BuiltGraph, buildForward, type ForwardOptions } from './graphs';
import { type LinearModule, type LoraWeights, loadAdapter, loraScaling } from './lora';
import type { FedWeight, LoraWiring } from './modeling';
import {
  type PaddedBatch,
  padBatch,
  type Pooling,
  promptFor,
  type Role,
  readSentenceTransformers,
  type SentenceTransformersInfo,
} from './pooling';
import { type Architecture, architectureFor } from './registry';
import { EmbedTokenizer } from './tokenizer';

export type Device = 'auto' | Provider;

export interface LoadOptions {
  /** Override the folder's pooling (sentence-transformers Pooling module, else the family default). */
  pooling?: Pooling;
  /** Override causal/bidirectional attention (decoders default causal, encoders bidirectional). */
  causal?: boolean;
  normalize?: boolean;
  maxLength?: number;
  device?: Device;
  threads?: number;
  /** Compute dtype: float32 (default; CPU), float16 or bfloat16 (GPU; norms stay float32). */
  dtype?: 'float32' | 'float16' | 'bfloat16';
  /** Run sessions in this thread (tests) instead of the engine's worker. */
  inThread?: boolean;
  /**
   * ORT graph optimisation for inference sessions (default 'all': forward graphs have no Transpose of a
   * frozen weight to duplicate). Training sessions always use the engine's default ('disabled').
   */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Prepack weights in CPU inference sessions (faster MatMul, one extra copy of the weights). Default: on for
   * checkpoints up to 2 GiB, off above (a 7B model would double its memory).
   */
  prepack?: boolean;
}

export interface EmbedOptions {
  role?: Role;
  instruction?: string | null;
  batchSize?: number;
  adapter?: LoraWeights | null;
  onProgress?: ProgressListener;
}

/**
 * An embedding model folder, ready to run: model folder + architecture + tokenizer + pooling/prompt
 * conventions, with compiled sessions cached per (graph kind, adapter shape).
 */
const PREPACK_MAX_BYTES = 2 * 1024 ** 3;

export class EmbeddingModel {
  readonly ck: ModelFolder;
  readonly arch: Architecture;
  readonly tokenizer: EmbedTokenizer;
  readonly st: SentenceTransformersInfo;
  readonly pooling: Pooling;
  readonly causal: boolean;
  readonly normalize: boolean;
  readonly maxLength: number;
  readonly device: Device;
  private readonly sessions = new Map<string, Promise<EngineSession>>();
  /** Weights converted to the compute dtype once, shared by every session that feeds them. */
  private readonly converted = new Map<string, HostTensor>();

  private constructor(
    readonly dir: string,
    private readonly opts: LoadOptions,
  ) {
    this.ck = ModelFolder.open(dir);
    this.arch = architectureFor(this.ck.config);
    this.tokenizer = EmbedTokenizer.load(this.ck.dir, this.ck.config);
    this.st = readSentenceTransformers(this.ck.dir);
    this.pooling = opts.pooling ?? this.st.pooling ?? this.arch.defaultPooling;
    this.causal = opts.causal ?? this.arch.defaultCausal;
    this.normalize = opts.normalize ?? this.st.normalize ?? true;
    const limits = [
      opts.maxLength,
      this.st.maxSeqLength,
      this.tokenizer.modelMaxLength,
      this.arch.maxPositions,
    ].filter((x): x is number => typeof x === 'number' && x > 0);
    this.maxLength = opts.maxLength
      ? Math.min(opts.maxLength, this.arch.maxPositions)
      : Math.min(...limits, 8192);
    this.device = opts.device ?? 'auto';
  }

  static load(dir: string, opts: LoadOptions = {}): EmbeddingModel {
    return new EmbeddingModel(path.resolve(dir), opts);
  }

  get dtype(): 'float32' | 'float16' | 'bfloat16' {
    return this.opts.dtype ?? 'float32';
  }

  get dim(): number {
    return this.arch.hiddenSize;
  }

  get linears(): LinearModule[] {
    return this.arch.linears;
  }

  /** Reads a PEFT adapter folder for this model. */
  loadAdapter(dir: string): LoraWeights {
    return loadAdapter(dir, this.arch.linears);
  }

  /** Text → model input string for a role (prompts from the folder, else the E5 template). */
  prompt(role: Role, instruction?: string | null): (text: string) => string {
    return promptFor(this.st, role, instruction);
  }

  /** Token ids ready for the forward (truncated; EOS appended for last-token pooling when needed). */
  tokenize(texts: string[]): number[][] {
    return texts.map((t) =>
      this.tokenizer.encodeForEmbedding(t, this.maxLength, this.pooling === 'last_token'),
    );
  }

  /** Pads sequences the way this model expects (side from tokenizer_config, positions per family). */
  pad(seqs: number[][], side = this.tokenizer.paddingSide): PaddedBatch {
    return padBatch(seqs, {
      padId: this.tokenizer.padId,
      side,
      pooling: this.pooling,
      positions: this.arch.positions,
    });
  }

  /** Graph feeds for a padded batch. */
  feeds(b: PaddedBatch, extra: Feeds = {}): Feeds {
    const dims = [b.batch, b.seqLen];
    const f: Feeds = {
      input_ids: hostTensor('int64', dims, b.inputIds),
      attention_mask: hostTensor('int64', dims, b.attentionMask),
      position_ids: hostTensor('int64', dims, b.positionIds),
      ...extra,
    };
    if (this.arch.tokenTypes) f.token_type_ids = hostTensor('int64', dims, b.tokenTypeIds);
    return f;
  }

  /** LoRA feeds: A/B float32 masters keyed by graph input name. */
  loraFeeds(w: LoraWeights): Feeds {
    const f: Feeds = {};
    // Copies: the worker session transfers (detaches) fed buffers, and these are the caller's masters.
    for (const [k, t] of w.tensors) f[k] = hostTensor('float32', t.shape, t.data.slice());
    return f;
  }

  loraWiring(w: Pick<LoraWeights, 'config' | 'modules'>, withDropout = false): LoraWiring {
    return {
      modules: w.modules,
      r: w.config.r,
      scaling: loraScaling(w.config),
      dropout: withDropout ? w.config.dropout : 0,
    };
  }

  private weightBytes(): number {
    return this.ck.files.reduce((n, f) => n + fs.statSync(path.join(this.ck.dir, f)).size, 0);
  }

  /**
   * The provider sessions of this model will run on, when it can be known without creating one: the
   * requested device, or for 'auto' the first of cuda → webgpu → cpu that is not blocked here.
   */
  get provider(): Provider {
    if (this.device !== 'auto') return this.device;
    return (['cuda', 'webgpu'] as const).find((p) => providerBlocker(p) === null) ?? 'cpu';
  }

  /**
   * Whether training graphs take half-precision weights as fed float32 copies converted once (no Cast per
   * call): in-thread CPU sessions only (a fed buffer is used in place there).
   */
  get hostWeights(): boolean {
    return Boolean(this.opts.inThread) && this.provider === 'cpu';
  }

  /** Bytes of weights converted for feeding (held once for the model's life). */
  get convertedBytes(): number {
    let n = 0;
    for (const t of this.converted.values()) n += t.data.byteLength;
    return n;
  }

  /**
   * The fed weights converted to their feed dtype, each once for the model's life. Each file is opened once
   * and every tensor read straight into its float32 buffer (engine readFloat32: no per-value Buffer call).
   */
  private convertedWeights(fed: [string, FedWeight][]): Feeds {
    const out: Feeds = {};
    const fds = new Map<string, number>();
    try {
      for (const [name, w] of fed) {
        let t = this.converted.get(name);
        if (!t) {
          const file = w.header.file;
          let fd = fds.get(file);
          if (fd === undefined) {
            fd = fs.openSync(file, 'r');
            fds.set(file, fd);
          }
          const f32 = readFloat32(fd, file, w) ?? decodeFloat32(readTensorBytes(file, w), w.dtype);
          if (!f32) throw new UserError(`${file}: ${name} is ${w.dtype}, not a float tensor`);
          const data = w.as === 'float32' ? f32 : Uint16Array.from(f32, f32ToF16);
          t = hostTensor(w.as, [...w.shape], data);
          this.converted.set(name, t);
        }
        out[name] = t;
      }
    } finally {
      for (const fd of fds.values()) fs.closeSync(fd);
    }
    return out;
  }

  /**
   * Converts the fed weights not converted yet in a worker thread, one file at a time, into `converted`.
   * Never rejects: whatever the worker could not do, convertedWeights does on this thread afterwards.
   */
  private async prefetchWeights(fed: [string, FedWeight][]): Promise<void> {
    const byFile = new Map<string, [string, FedWeight][]>();
    for (const [name, w] of fed) {
      if (this.converted.has(name) || w.as !== 'float32') continue;
      const list = byFile.get(w.header.file) ?? [];
      list.push([name, w]);
      byFile.set(w.header.file, list);
    }
    for (const [file, list] of byFile) {
      const entries = list.map(([, w]) => ({
        dtype: w.dtype,
        shape: [...w.shape],
        offset: w.offset,
        length: w.length,
      }));
      const data = await readFloat32InWorker(file, entries).catch(() => []);
      list.forEach(([name, w], i) => {
        const d = data[i];
        if (d && !this.converted.has(name)) this.converted.set(name, hostTensor('float32', [...w.shape], d));
      });
    }
  }

  /** Builds (once) and returns a session for a graph kind. */
  session(key: string, build: () => BuiltGraph, o: { inference?: boolean } = {}): Promise<EngineSession> {
    let s = this.sessions.get(key);
    if (!s) {
      s = (async () => {
        const b = build();
        const onnx = toOnnx(b.outputs, { name: `${this.arch.modelType}-${key}` });
        const providers: Provider[] | 'auto' = this.device === 'auto' ? 'auto' : [this.device];
        // Fed weights convert in a worker while this thread is blocked creating the session (in-thread ORT
        // session creation runs on the calling thread): the two overlap instead of adding up.
        const converting = this.prefetchWeights([...(b.fedWeights ?? [])]);
        const session = await createSession(onnx, {
          providers,
          threads: this.opts.threads,
          inThread: this.opts.inThread,
          optimization: o.inference ? (this.opts.optimization ?? 'all') : undefined,
          prepack: o.inference ? (this.opts.prepack ?? this.weightBytes() <= PREPACK_MAX_BYTES) : false,
          // Training sessions too: without ORT's arena, glibc's heap keeps the freed activation blocks of
          // every layer (bench/recompute: recompute then saved nothing in peak RSS); with it, freed blocks are
          // reused (8 layers: 1.29 → 0.23 MB/token with recompute, the plan's count 1.10 → 0.16).
          memArena: true,
        });
        const fed = [...(b.fedWeights ?? [])];
        if (fed.length === 0) return session;
        await converting;
        const weights = this.convertedWeights(fed);
        // The same converted buffers on every call: ORT reads them in place (no copy, no Cast).
        const run: EngineSession['run'] = (feeds, fetch) => session.run({ ...feeds, ...weights }, fetch);
        const { provider, skipped, inputs, outputs } = session;
        return { provider, skipped, inputs, outputs, run, release: () => session.release() };
      })();
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  private forwardSession(
    adapter: Pick<LoraWeights, 'config' | 'modules'> | null | undefined,
    hidden: boolean,
  ) {
    const lora = adapter ? this.loraWiring(adapter) : undefined;
    const key = `fwd:${hidden ? 'h' : 'e'}:${adapter ? `${adapter.config.r}:${adapter.modules.map((m) => m.path).join(',')}` : 'base'}`;
    const o: ForwardOptions = {
      causal: this.causal,
      lora,
      hidden,
      pooled: true,
      normalize: this.normalize,
      dtype: this.dtype,
    };
    return this.session(key, () => buildForward(this.ck, this.arch, o), { inference: true });
  }

  /** Runs a padded batch: pooled (normalised) embeddings [B, dim], and last_hidden_state when asked. */
  async runBatch(b: PaddedBatch, o: { adapter?: LoraWeights | null; hidden?: boolean } = {}) {
    const s = await this.forwardSession(o.adapter, Boolean(o.hidden));
    const extra: Feeds = { pool_weights: hostTensor('float32', [b.batch, b.seqLen], b.poolWeights) };
    if (o.adapter) Object.assign(extra, this.loraFeeds(o.adapter));
    const out = await s.run(this.feeds(b, extra));
    return {
      embeddings: out.embeddings.data as Float32Array,
      lastHiddenState: o.hidden ? (out.last_hidden_state.data as Float32Array) : undefined,
    };
  }

  /** Embeds token-id sequences, batched by length (sorted, so padding stays small). [n, dim] row-major. */
  async embedIds(
    seqs: number[][],
    o: Omit<EmbedOptions, 'role' | 'instruction'> = {},
  ): Promise<Float32Array> {
    const n = seqs.length;
    const d = this.dim;
    const out = new Float32Array(n * d);
    const order = [...seqs.keys()].sort((a, b) => seqs[b].length - seqs[a].length);
    const bs = Math.max(1, o.batchSize ?? 16);
    const tracker = new ProgressTracker(n, 'texts', o.onProgress);
    for (let lo = 0; lo < n; lo += bs) {
      const idx = order.slice(lo, lo + bs);
      const { embeddings } = await this.runBatch(this.pad(idx.map((i) => seqs[i])), { adapter: o.adapter });
      idx.forEach((i, r) => {
        out.set(embeddings.subarray(r * d, (r + 1) * d), i * d);
      });
      tracker.update(Math.min(n, lo + bs));
    }
    return out;
  }

  /** texts in → Float32Array [n, dim] out (the app, evaluator and CLI entry point). */
  async embed(texts: string[], o: EmbedOptions = {}): Promise<Float32Array> {
    const p = this.prompt(o.role ?? 'document', o.instruction);
    return this.embedIds(this.tokenize(texts.map(p)), o);
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    this.converted.clear();
    for (const s of all) await (await s).release().catch(() => {});
  }
}
