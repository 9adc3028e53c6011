// What evaluation needs from a model: texts in, float32 embeddings out. The real models
// (src/main/models) are adapted to this interface; the hashed bag-of-words model below is a small real
// model with no weights, used by tests and by `--model builtin:hashbow-DIM` for smoke runs.
import { createHash } from 'node:crypto';

export type EmbedRole = 'query' | 'document';

export interface EmbedOptions {
  role: EmbedRole;
  /** Task instruction for queries (E5-mistral: `Instruct: {task}\nQuery: {text}`); documents have none. */
  instruction?: string;
}

export interface Embedder {
  /** Identifies model + adapter + weights revision; part of the embedding-cache key. */
  readonly id: string;
  readonly dim: number;
  /** Optional metadata for model_meta.json. */
  readonly meta?: {
    name?: string;
    revision?: string;
    nParameters?: number | null;
    maxTokens?: number | null;
  };
  embed(
    texts: string[],
    opts: EmbedOptions,
    onProgress?: (done: number, total: number) => void,
  ): Promise<Float32Array[]>;
  close?(): Promise<void> | void;
}

/**
 * Hashed bag of words + character trigrams (so scripts without spaces still match), signed feature
 * hashing into `dim` buckets, sublinear tf, L2-normalised. Deterministic, language-agnostic, no weights.
 */
export class HashBowEmbedder implements Embedder {
  readonly id: string;
  readonly meta: Embedder['meta'];

  constructor(readonly dim = 256) {
    this.id = `builtin:hashbow-${dim}`;
    this.meta = { name: `builtin/hashbow-${dim}`, revision: 'v1', nParameters: 0, maxTokens: null };
  }

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dim);
    const words =
      text
        .toLowerCase()
        .normalize('NFKC')
        .match(/[\p{L}\p{N}]+/gu) ?? [];
    const tf = new Map<string, number>();
    for (const w of words) {
      tf.set(`w:${w}`, (tf.get(`w:${w}`) ?? 0) + 1);
      const p = `^${w}$`;
      for (let i = 0; i + 3 <= p.length; i++) {
        const g = `c:${p.slice(i, i + 3)}`;
        tf.set(g, (tf.get(g) ?? 0) + 0.5);
      }
    }
    for (const [f, c] of tf) {
      const h = createHash('md5').update(f).digest();
      const bucket = h.readUInt32LE(0) % this.dim;
      const sign = h[4] & 1 ? 1 : -1;
      v[bucket] += sign * (1 + Math.log(c));
    }
    let n = 0;
    for (let i = 0; i < v.length; i++) n += v[i] * v[i];
    n = Math.sqrt(n) || 1;
    for (let i = 0; i < v.length; i++) v[i] /= n;
    return v;
  }

  async embed(texts: string[], opts: EmbedOptions, onProgress?: (done: number, total: number) => void) {
    // The instruction is part of the query text, as it is for an instruction-tuned model.
    const out = texts.map((t) =>
      this.embedOne(opts.role === 'query' && opts.instruction ? `${opts.instruction} ${t}` : t),
    );
    onProgress?.(texts.length, texts.length);
    return out;
  }
}
