import type { DropoutSpec, TrainableEncoder } from '../models/encoder';
import { type ContrastiveLoss, falseNegativeMask } from './loss';

/** One contrastive batch as texts: queries already carry their instruction. */
export interface TextBatch {
  queries: string[];
  positives: string[];
  /** Hard negatives (any subset of rows has one). */
  negatives: string[];
}

export interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
  tokens: number;
  /** Largest number of sequences embedded in one forward/backward call. */
  maxChunk: number;
}

/** Per-text dropout seeds for a batch, in the order queries, positives, negatives. */
export type SeedFn = (index: number) => number;

function sumInto(acc: Map<string, Float32Array>, g: Map<string, Float32Array>) {
  for (const [k, v] of g) {
    const a = acc.get(k);
    if (!a) acc.set(k, Float32Array.from(v));
    else for (let i = 0; i < v.length; i++) a[i] += v[i];
  }
}

/**
 * One GradCache step (Gao et al. 2021): pass 1 embeds every text of the batch chunk by chunk without
 * gradients; the loss and dLoss/dEmbedding are computed over the whole batch; pass 2 re-runs each chunk
 * with the same dropout seeds and back-propagates its slice of the cached gradient; chunk gradients sum
 * to the full-batch gradient. Activation memory is that of one chunk; only the [n, d] embeddings and
 * their gradient are kept for the whole batch. chunkSize ≥ the batch's text count is the plain full batch.
 */
export async function gradCacheStep(
  enc: TrainableEncoder,
  lora: Map<string, Float32Array>,
  batch: TextBatch,
  loss: ContrastiveLoss,
  opts: { chunkSize: number; temperature: number; dropoutP: number; seedOf: SeedFn; lossScale?: number },
): Promise<StepResult> {
  const texts = [...batch.queries, ...batch.positives, ...batch.negatives];
  const n = texts.length;
  const B = batch.queries.length;
  const d = enc.dim;
  const seeds = Uint32Array.from(texts, (_, i) => opts.seedOf(i) >>> 0);
  const drop = (lo: number, hi: number): DropoutSpec | null =>
    opts.dropoutP > 0 ? { p: opts.dropoutP, seeds: seeds.slice(lo, hi) } : null;
  const c = Math.max(1, opts.chunkSize);
  const emb = new Float32Array(n * d);
  for (let lo = 0; lo < n; lo += c) {
    const hi = Math.min(n, lo + c);
    emb.set(await enc.embed(texts.slice(lo, hi), lora, drop(lo, hi)), lo * d);
  }
  const candidates = [...batch.positives, ...batch.negatives];
  const mask = falseNegativeMask(batch.positives, candidates);
  const out = await loss.compute({
    q: emb.subarray(0, B * d),
    c: emb.subarray(B * d),
    B,
    M: candidates.length,
    d,
    mask,
    temperature: opts.temperature,
  });
  const scale = opts.lossScale ?? 1;
  const dEmb = new Float32Array(n * d);
  for (let i = 0; i < B * d; i++) dEmb[i] = out.dq[i] * scale;
  for (let i = 0; i < candidates.length * d; i++) dEmb[B * d + i] = out.dc[i] * scale;
  const grads = new Map<string, Float32Array>();
  for (let lo = 0; lo < n; lo += c) {
    const hi = Math.min(n, lo + c);
    sumInto(grads, await enc.backward(texts.slice(lo, hi), lora, drop(lo, hi), dEmb.slice(lo * d, hi * d)));
  }
  const tokens = enc.countTokens(texts).reduce((a, b) => a + b, 0);
  return { loss: out.loss, grads, tokens, maxChunk: Math.min(c, n) };
}
