// The memory plan of a training run: what it will hold (weights, LoRA + AdamW state, the batch's embeddings,
// one chunk's activations with and without layer recompute) against the memory the device has, the largest
// chunk that fits, and whether to turn recompute on. Pure: the caller measures the parts (models/trainable.ts
// trainingMemoryParts builds the graphs and counts their live values); this module only adds and decides.

const GIB = 1024 ** 3;

export type RecomputeMode = 'auto' | 'on' | 'off';

export interface MemoryPlanInput {
  provider: string;
  /** Compute dtype of the base weights (resolved: auto is gone). */
  dtype: string;
  /** Base weights as the run holds them, and how (shown beside the number). */
  weightsBytes: number;
  weightsNote: string;
  /** Trainable LoRA parameters (float32). */
  loraParams: number;
  /** Texts per step (queries + positives + negatives) and the embedding width. */
  textsPerStep: number;
  dim: number;
  /** Queries per step (rows of the loss) and candidates (columns). */
  queries: number;
  chunkSize: number;
  maxLength: number;
  /** Peak bytes of one chunk's forward+backward at `chunk` sequences of maxLength tokens. */
  activationBytes: (chunk: number, recompute: boolean) => number;
  recompute: RecomputeMode;
  /** The budget and where it came from ('--memory-gb', 'os.totalmem', 'nvidia-smi'…); null = unknown. */
  budgetBytes: number | null;
  budgetSource: string;
  /** Runtime baseline (Node, ORT, tokenizer, buffers): default 0.4 GiB (bench/recompute: ~0.2 GiB per call). */
  runtimeBytes?: number;
}

export interface MemoryPlan {
  provider: string;
  dtype: string;
  weightsBytes: number;
  weightsNote: string;
  /** LoRA masters, AdamW m and v, the summed gradient, one chunk's gradient and the fed copy. */
  loraStateBytes: number;
  /** Embeddings and their gradient for the whole batch, and the loss's score matrices. */
  batchBytes: number;
  runtimeBytes: number;
  chunkSize: number;
  maxLength: number;
  activations: { off: number; on: number };
  /** Whether the run recomputes layers (auto resolved). */
  recompute: boolean;
  mode: RecomputeMode;
  totalBytes: number;
  budgetBytes: number | null;
  budgetSource: string;
  fits: boolean;
  /** Largest chunk (sequences) that fits without / with recompute; 0 = not even one; null = no budget. */
  largestChunk: { off: number | null; on: number | null };
}

/** Everything but the activations (the same whatever the chunk). */
function fixedBytes(i: MemoryPlanInput) {
  const loraStateBytes = i.loraParams * 4 * 6;
  const candidates = Math.max(0, i.textsPerStep - i.queries);
  const batchBytes = i.textsPerStep * i.dim * 4 * 2 + i.queries * candidates * 4 * 4;
  const runtimeBytes = i.runtimeBytes ?? 0.4 * GIB;
  return {
    loraStateBytes,
    batchBytes,
    runtimeBytes,
    sum: i.weightsBytes + loraStateBytes + batchBytes + runtimeBytes,
  };
}

/** Largest chunk in [1, max] with fixed + activations(chunk) ≤ budget (activations grow with the chunk). */
function largest(fixed: number, budget: number, max: number, act: (c: number) => number): number {
  if (fixed + act(1) > budget) return 0;
  let lo = 1;
  let hi = Math.max(1, max);
  if (fixed + act(hi) <= budget) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fixed + act(mid) <= budget) lo = mid;
    else hi = mid;
  }
  return lo;
}

export function planMemory(i: MemoryPlanInput): MemoryPlan {
  const fx = fixedBytes(i);
  const off = i.activationBytes(i.chunkSize, false);
  const on = i.activationBytes(i.chunkSize, true);
  const budget = i.budgetBytes;
  const fitsOff = budget === null || fx.sum + off <= budget;
  const recompute = i.recompute === 'on' || (i.recompute === 'auto' && !fitsOff);
  const totalBytes = fx.sum + (recompute ? on : off);
  const maxChunk = Math.max(1, i.textsPerStep);
  const lc = (rc: boolean) =>
    budget === null ? null : largest(fx.sum, budget, maxChunk, (c) => i.activationBytes(c, rc));
  return {
    provider: i.provider,
    dtype: i.dtype,
    weightsBytes: i.weightsBytes,
    weightsNote: i.weightsNote,
    loraStateBytes: fx.loraStateBytes,
    batchBytes: fx.batchBytes,
    runtimeBytes: fx.runtimeBytes,
    chunkSize: i.chunkSize,
    maxLength: i.maxLength,
    activations: { off, on },
    recompute,
    mode: i.recompute,
    totalBytes,
    budgetBytes: budget,
    budgetSource: i.budgetSource,
    fits: budget === null || totalBytes <= budget,
    largestChunk: { off: lc(false), on: lc(true) },
  };
}

export const gib = (b: number) => `${(b / GIB).toFixed(b < 10 * GIB ? 2 : 1)} GiB`;

/** The plan as the CLI prints it (and the Train screen shows it). */
export function formatPlan(p: MemoryPlan): string[] {
  const budget =
    p.budgetBytes === null
      ? `budget unknown (${p.budgetSource}); pass --memory-gb to check it`
      : `budget ${gib(p.budgetBytes)} from ${p.budgetSource}`;
  const lc = (n: number | null) => (n === null ? '?' : String(n));
  const chosen = p.mode === 'auto' ? `auto → ${p.recompute ? 'on' : 'off'}` : p.mode;
  return [
    `memory plan: ${p.provider}, ${p.dtype} compute, ${budget}`,
    `  weights       ${gib(p.weightsBytes).padStart(10)}  ${p.weightsNote}`,
    `  LoRA + AdamW  ${gib(p.loraStateBytes).padStart(10)}  masters, m, v, gradients (float32)`,
    `  batch         ${gib(p.batchBytes).padStart(10)}  embeddings + their gradient, loss scores`,
    `  runtime       ${gib(p.runtimeBytes).padStart(10)}  Node, ORT, tokenizer`,
    `  activations   chunk ${p.chunkSize} × ${p.maxLength} tokens: ${gib(p.activations.off)} without recompute, ${gib(p.activations.on)} with`,
    `  total         ${gib(p.totalBytes).padStart(10)}  recompute ${chosen}: ${p.fits ? 'fits' : 'DOES NOT FIT'}`,
    `  largest chunk that fits: ${lc(p.largestChunk.off)} without recompute, ${lc(p.largestChunk.on)} with`,
  ];
}

/** Why the run cannot start (one line naming the chunk size or flag that would fit), or null. */
export function planRefusal(p: MemoryPlan): string | null {
  if (p.fits || p.budgetBytes === null) return null;
  const need = `chunk ${p.chunkSize} × ${p.maxLength} tokens needs ~${gib(p.totalBytes)}${p.recompute ? ' with layer recompute' : ''}, over the ${gib(p.budgetBytes)} budget (${p.budgetSource})`;
  const off = p.largestChunk.off ?? 0;
  const on = p.largestChunk.on ?? 0;
  if (!p.recompute && on >= p.chunkSize) return `memory plan: ${need}; use --recompute on (or auto)`;
  const best = p.recompute ? on : Math.max(off, on);
  if (best > 0)
    return `memory plan: ${need}; use --chunk-size ${best}${!p.recompute && on > off ? ' --recompute on' : ''}`;
  return `memory plan: ${need}, and even --chunk-size 1 does not fit; lower --max-length, use a device with more memory, or raise --memory-gb if the budget is wrong`;
}
