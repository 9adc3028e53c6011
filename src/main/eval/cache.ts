// On-disk embedding cache under the workspace cache/ dir. One append-only file per (embedder id, role,
// instruction): fixed-size records [16-byte sha256(text)][dim float32]. Re-evaluating the same
// model/adapter embeds only texts not seen before; another checkpoint has another id, hence its own file.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { EmbedOptions, Embedder } from './embedder';

const KEY_BYTES = 16;
const textKey = (t: string) => createHash('sha256').update(t).digest().subarray(0, KEY_BYTES).toString('hex');

export interface CacheStats {
  hits: number;
  misses: number;
}

/** Wraps an embedder so every call reads and fills the cache. */
export class CachedEmbedder implements Embedder {
  readonly stats: CacheStats = { hits: 0, misses: 0 };
  private readonly loaded = new Map<string, Map<string, Float32Array>>();

  constructor(
    readonly inner: Embedder,
    readonly dir: string,
  ) {}

  get id() {
    return this.inner.id;
  }
  get dim() {
    return this.inner.dim;
  }
  get meta() {
    return this.inner.meta;
  }

  /** The file for one namespace; the dimension is in the name so a changed model never misreads. */
  fileFor(opts: EmbedOptions): string {
    const ns = createHash('sha256')
      .update(JSON.stringify([this.inner.id, opts.role, opts.instruction ?? '']))
      .digest('hex')
      .slice(0, 32);
    return path.join(this.dir, `${ns}-d${this.inner.dim}.bin`);
  }

  private load(file: string): Map<string, Float32Array> {
    let m = this.loaded.get(file);
    if (m) return m;
    m = new Map();
    if (fs.existsSync(file)) {
      const buf = fs.readFileSync(file);
      const rec = KEY_BYTES + 4 * this.inner.dim;
      // A torn trailing record (crash mid-append) is ignored.
      const n = Math.floor(buf.length / rec);
      // Records are 4-byte aligned when the file buffer is: then vectors are views into it (no copy).
      const aligned = buf.byteOffset % 4 === 0;
      for (let i = 0; i < n; i++) {
        const off = i * rec;
        const key = buf.toString('hex', off, off + KEY_BYTES);
        const start = buf.byteOffset + off + KEY_BYTES;
        m.set(
          key,
          aligned
            ? new Float32Array(buf.buffer, start, this.inner.dim)
            : new Float32Array(buf.buffer.slice(start, start + 4 * this.inner.dim)),
        );
      }
      if (n * rec !== buf.length) fs.truncateSync(file, n * rec);
    }
    this.loaded.set(file, m);
    return m;
  }

  async embed(texts: string[], opts: EmbedOptions, onProgress?: (done: number, total: number) => void) {
    const file = this.fileFor(opts);
    const cache = this.load(file);
    const keys = texts.map(textKey);
    const missing: string[] = [];
    const missingKeys: string[] = [];
    const seen = new Set<string>();
    keys.forEach((k, i) => {
      if (cache.has(k) || seen.has(k)) return;
      seen.add(k);
      missing.push(texts[i]);
      missingKeys.push(k);
    });
    this.stats.hits += texts.length - missing.length;
    this.stats.misses += missing.length;
    if (missing.length) {
      const vecs = await this.inner.embed(missing, opts, onProgress);
      fs.mkdirSync(this.dir, { recursive: true });
      const rec = KEY_BYTES + 4 * this.inner.dim;
      const out = Buffer.alloc(rec * vecs.length);
      vecs.forEach((v, i) => {
        if (v.length !== this.inner.dim)
          throw new Error(
            `embedder ${this.inner.id} returned dimension ${v.length}, expected ${this.inner.dim}`,
          );
        Buffer.from(missingKeys[i], 'hex').copy(out, i * rec);
        Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, i * rec + KEY_BYTES);
        cache.set(missingKeys[i], v);
      });
      fs.appendFileSync(file, out);
    } else onProgress?.(texts.length, texts.length);
    return keys.map((k) => cache.get(k)!);
  }

  close() {
    return this.inner.close?.();
  }
}
