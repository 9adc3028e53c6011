import path from 'node:path';
import { UserError } from '../errors';
import { readJsonIfExists } from './model-folder';

/** Pooling names as transformers.js uses them. */
export type Pooling = 'last_token' | 'mean' | 'cls';
export const POOLINGS: readonly Pooling[] = ['last_token', 'mean', 'cls'];

export type Role = 'query' | 'document';

/** The default query template of the E5-mistral method (with a space after "Query:"). */
export const DEFAULT_QUERY_TEMPLATE = 'Instruct: {task}\nQuery: {query}';

/** What a model folder's sentence-transformers files say (all optional). */
export interface SentenceTransformersInfo {
  pooling: Pooling | null;
  normalize: boolean | null;
  prompts: Record<string, string>;
  defaultPromptName: string | null;
  maxSeqLength: number | null;
}

export function readSentenceTransformers(dir: string): SentenceTransformersInfo {
  const info: SentenceTransformersInfo = {
    pooling: null,
    normalize: null,
    prompts: {},
    defaultPromptName: null,
    maxSeqLength: null,
  };
  const modules = readJsonIfExists<{ type: string; path: string }[]>(path.join(dir, 'modules.json'));
  if (modules) {
    info.normalize = modules.some((m) => m.type.endsWith('.Normalize'));
    const pm = modules.find((m) => m.type.endsWith('.Pooling'));
    if (pm) {
      const pc = readJsonIfExists<Record<string, unknown>>(path.join(dir, pm.path, 'config.json'));
      if (!pc) throw new UserError(`modules.json: ${pm.path}/config.json is missing in ${dir}`);
      if (pc.pooling_mode_lasttoken) info.pooling = 'last_token';
      else if (pc.pooling_mode_cls_token) info.pooling = 'cls';
      else if (pc.pooling_mode_mean_tokens) info.pooling = 'mean';
      else
        throw new UserError(
          `${pm.path}/config.json: pooling mode not supported (use lasttoken, cls_token or mean_tokens)`,
        );
    }
  }
  const cst = readJsonIfExists<{ prompts?: Record<string, string>; default_prompt_name?: string | null }>(
    path.join(dir, 'config_sentence_transformers.json'),
  );
  if (cst) {
    info.prompts = cst.prompts ?? {};
    info.defaultPromptName = cst.default_prompt_name ?? null;
  }
  const sbc = readJsonIfExists<{ max_seq_length?: number }>(path.join(dir, 'sentence_bert_config.json'));
  if (sbc?.max_seq_length) info.maxSeqLength = sbc.max_seq_length;
  return info;
}

const INSTRUCT_RE = /^Instruct: ?[\s\S]*\nQuery:( ?)$/;

/**
 * The function that turns (text, instruction) into the model's input string for a role.
 * Queries: the folder's `query` prompt when present (its "Instruct: …\nQuery:" shape is kept, with the
 * instruction swapped in, which is how Qwen3-Embedding's no-space form arrives); otherwise
 * `Instruct: {task}\nQuery: {query}` when an instruction is given, else the raw text.
 * Documents: the folder's `document`/`passage` prompt, else raw.
 */
export function promptFor(
  info: Pick<SentenceTransformersInfo, 'prompts'> & { defaultPromptName?: string | null },
  role: Role,
  instruction?: string | null,
): (text: string) => string {
  const p = info.prompts;
  if (role === 'document') {
    // sentence-transformers applies default_prompt_name to every text without a prompt of its own.
    const fallback = info.defaultPromptName ? (p[info.defaultPromptName] ?? '') : '';
    const prefix = p.document ?? p.passage ?? p.doc ?? fallback;
    return (t) => prefix + t;
  }
  const q = p.query;
  if (q !== undefined) {
    const m = INSTRUCT_RE.exec(q);
    if (m && instruction) return (t) => `Instruct: ${instruction}\nQuery:${m[1]}${t}`;
    return (t) => q + t;
  }
  if (instruction) return (t) => DEFAULT_QUERY_TEMPLATE.replace('{task}', instruction).replace('{query}', t);
  return (t) => t;
}

/** A padded batch ready for the graph (row-major [B, T]). */
export interface PaddedBatch {
  batch: number;
  seqLen: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  positionIds: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  /** Pooling weights [B, T]: pooled = Σ_t w[b,t]·h[b,t]. One-hot (last/cls) or mask/len (mean). */
  poolWeights: Float32Array;
}

export interface PadOptions {
  padId: number;
  side: 'left' | 'right';
  pooling: Pooling;
  /** How the model numbers positions: decoders count real tokens; BERT uses arange; XLM-R offsets. */
  positions: 'cumsum' | 'arange' | { offsetFromPad: number };
  /** Pad the length up to a multiple of this (fewer distinct shapes). */
  multiple?: number;
}

export function padBatch(seqs: number[][], o: PadOptions): PaddedBatch {
  const B = seqs.length;
  let T = Math.max(1, ...seqs.map((s) => s.length));
  if (o.multiple && o.multiple > 1) T = Math.ceil(T / o.multiple) * o.multiple;
  const inputIds = new BigInt64Array(B * T).fill(BigInt(o.padId));
  const attentionMask = new BigInt64Array(B * T);
  const positionIds = new BigInt64Array(B * T);
  const tokenTypeIds = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) {
    const s = seqs[b];
    const start = o.side === 'left' ? T - s.length : 0;
    for (let i = 0; i < s.length; i++) {
      inputIds[b * T + start + i] = BigInt(s[i]);
      attentionMask[b * T + start + i] = 1n;
    }
  }
  const mask = Array.from(attentionMask, Number);
  fillPositions(positionIds, Array.from(inputIds, Number), mask, B, T, o);
  return {
    batch: B,
    seqLen: T,
    inputIds,
    attentionMask,
    positionIds,
    tokenTypeIds,
    poolWeights: poolWeights(mask, B, T, o.pooling),
  };
}

function fillPositions(
  out: BigInt64Array,
  ids: number[],
  mask: number[],
  B: number,
  T: number,
  o: PadOptions,
) {
  for (let b = 0; b < B; b++) {
    let c = 0;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      if (o.positions === 'arange') out[i] = BigInt(t);
      else if (o.positions === 'cumsum') {
        // transformers' generation convention: cumsum(mask) − 1, pads set to 1.
        c += mask[i];
        out[i] = mask[i] ? BigInt(c - 1) : 1n;
      } else {
        // XLM-R create_position_ids_from_input_ids: cumsum over ids ≠ pad, offset by padding_idx.
        const pad = o.positions.offsetFromPad;
        const real = ids[i] !== pad ? 1 : 0;
        c += real;
        out[i] = BigInt(real ? c + pad : pad);
      }
    }
  }
}

/**
 * Pooling as weights over positions, found from the attention mask only (never from token ids, since the
 * EOS id can equal the pad id): last_token = last index with mask 1, cls = first, mean = mask / Σmask.
 */
export function poolWeights(mask: ArrayLike<number>, B: number, T: number, pooling: Pooling): Float32Array {
  const w = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    let first = -1;
    let last = -1;
    let n = 0;
    for (let t = 0; t < T; t++)
      if (mask[b * T + t]) {
        if (first < 0) first = t;
        last = t;
        n++;
      }
    if (n === 0) continue;
    if (pooling === 'last_token') w[b * T + last] = 1;
    else if (pooling === 'cls') w[b * T + first] = 1;
    else for (let t = 0; t < T; t++) if (mask[b * T + t]) w[b * T + t] = 1 / n;
  }
  return w;
}

/** In-place L2 normalisation of rows: x / max(‖x‖, 1e-12), as torch.nn.functional.normalize. */
export function l2NormalizeRows(x: Float32Array, dim: number): Float32Array {
  for (let r = 0; r < x.length / dim; r++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += x[r * dim + i] ** 2;
    const n = Math.max(Math.sqrt(s), 1e-12);
    for (let i = 0; i < dim; i++) x[r * dim + i] /= n;
  }
  return x;
}
