// Adapts src/main/models' EmbeddingModel (Hugging Face folder + optional PEFT adapter, run by the engine)
// to the evaluation Embedder interface.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';
import type { LoraWeights } from '../models/lora';
import { type Device, EmbeddingModel } from '../models/model';
import type { EmbedOptions, Embedder } from './embedder';

/** Path + size + mtime of the weight/config files: retrained weights in the same folder get a new id. */
export function fingerprint(dir: string): string {
  const h = createHash('sha256');
  const abs = path.resolve(dir);
  h.update(abs);
  for (const f of fs
    .readdirSync(abs)
    .filter((f) => /\.(safetensors|json|bin|onnx|model)$/.test(f))
    .sort()) {
    const s = fs.statSync(path.join(abs, f));
    h.update(`${f}:${s.size}:${s.mtimeMs}`);
  }
  return h.digest('hex').slice(0, 16);
}

/** Content hash of in-memory LoRA weights (a trainer checkpoint not yet on disk): its cache identity. */
export function adapterHash(w: LoraWeights): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(w.config));
  for (const k of [...w.tensors.keys()].sort()) {
    const t = w.tensors.get(k)!;
    h.update(k);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** A revision label for an adapter folder: its name, or parent-name when the folder is just "adapter". */
export function adapterLabel(dir: string): string {
  const abs = path.resolve(dir);
  const base = path.basename(abs);
  return base === 'adapter' ? `${path.basename(path.dirname(abs))}-${base}` : base;
}

export interface ModelEmbedderOptions {
  device?: Device;
  threads?: number;
  /** Run ORT in the calling thread (tests) instead of the engine's worker. */
  inThread?: boolean;
  batchSize?: number;
  maxLength?: number;
}

export class ModelEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly meta: Embedder['meta'];

  constructor(
    readonly model: EmbeddingModel,
    readonly adapter: LoraWeights | null,
    readonly adapterDir: string | null,
    private readonly batchSize = 16,
    private readonly ownsModel = true,
  ) {
    this.dim = model.dim;
    const a = adapterDir ? fingerprint(adapterDir) : adapter ? adapterHash(adapter) : 'base';
    this.id = `model:${fingerprint(model.dir)}:${a}:${model.pooling}:${model.maxLength}`;
    this.meta = {
      name: path.basename(model.dir),
      revision: adapterDir ? adapterLabel(adapterDir) : undefined,
      maxTokens: model.maxLength,
    };
  }

  /** Loads the model folder (and one adapter folder). */
  static open(modelDir: string, adapterDir: string | null, o: ModelEmbedderOptions = {}): ModelEmbedder {
    const model = loadModel(modelDir, o);
    return ModelEmbedder.withAdapter(model, adapterDir, o.batchSize, true);
  }

  /** In-memory LoRA weights on a loaded model (the trainer's evaluation at a checkpoint). */
  static withWeights(model: EmbeddingModel, adapter: LoraWeights | null, batchSize?: number): ModelEmbedder {
    return new ModelEmbedder(model, adapter, null, batchSize, false);
  }

  /** Another adapter on an already loaded model (sessions are shared; the model is not disposed here). */
  static withAdapter(
    model: EmbeddingModel,
    adapterDir: string | null,
    batchSize?: number,
    owns = false,
  ): ModelEmbedder {
    let adapter: LoraWeights | null = null;
    if (adapterDir) {
      if (!fs.existsSync(path.join(adapterDir, 'adapter_config.json')))
        throw new UserError(
          `--adapter ${adapterDir}: no adapter_config.json there; give a PEFT adapter folder`,
        );
      adapter = model.loadAdapter(adapterDir);
    }
    return new ModelEmbedder(model, adapter, adapterDir ? path.resolve(adapterDir) : null, batchSize, owns);
  }

  async embed(texts: string[], opts: EmbedOptions, onProgress?: (done: number, total: number) => void) {
    if (!texts.length) return [];
    const flat = await this.model.embed(texts, {
      role: opts.role,
      instruction: opts.instruction ?? null,
      adapter: this.adapter,
      batchSize: this.batchSize,
      onProgress: onProgress ? (p) => onProgress(p.done, p.total ?? texts.length) : undefined,
    });
    const d = this.dim;
    return texts.map((_, i) => flat.slice(i * d, (i + 1) * d));
  }

  async close() {
    if (this.ownsModel) await this.model.dispose();
  }
}

export function loadModel(modelDir: string, o: ModelEmbedderOptions = {}): EmbeddingModel {
  if (!fs.existsSync(path.join(modelDir, 'config.json')))
    throw new UserError(
      `--model ${modelDir}: no config.json there; give a Hugging Face model folder or builtin:hashbow-256`,
    );
  return EmbeddingModel.load(modelDir, {
    device: o.device,
    threads: o.threads,
    inThread: o.inThread,
    maxLength: o.maxLength,
  });
}
