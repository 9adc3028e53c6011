import { crossEntropy, type DType, grad, Graph, l2Normalize, type Tensor } from '../engine';
import type { ModelFolder } from './model-folder';
import { type FedWeight, ModelContext, type LoraWiring, type ModelInputs } from './modeling';
import type { Architecture } from './registry';

/**
 * The graphs the rest of the app runs, built from an architecture's forward:
 *   forward   — ids/mask/positions (+ pool weights) → last_hidden_state and/or embeddings
 *   training  — the same with LoRA weights and device-dropout keys as inputs, plus the backward given an
 *               upstream gradient on the embeddings (GradCache pass 2)
 *   infoNCE   — full-batch InfoNCE loss and its LoRA gradients (the parity check of the whole chain)
 * Graph input names: input_ids, attention_mask, position_ids, token_type_ids (bert family), pool_weights,
 * the LoRA inputs `<module>.lora_A.weight` / `.lora_B.weight`, `lora_dropout.keys|threshold|scale`,
 * embeddings_grad.
 */

export interface BuiltGraph {
  graph: Graph;
  /** Named outputs, in the order they should be fetched. */
  outputs: Record<string, Tensor>;
  /** LoRA inputs by name (A and B of each target module). */
  loraInputs: Map<string, Tensor>;
  /** Frozen weights fed as inputs (ForwardOptions.feedWeights), by input name. */
  fedWeights?: Map<string, FedWeight>;
}

export interface ForwardOptions {
  causal: boolean;
  lora?: LoraWiring;
  overrides?: Map<string, Float32Array>;
  /** Which outputs: last_hidden_state, embeddings (pooled via pool_weights, L2-normalised if normalize). */
  hidden?: boolean;
  pooled?: boolean;
  normalize?: boolean;
  /** Compute dtype of the frozen model (weights are cast to it; norms run in float32; outputs are float32). */
  dtype?: DType;
  /** Gradient checkpointing per transformer block (training graphs). */
  recomputeLayers?: boolean;
  /** Frozen weights as fed inputs converted once, shared by sessions (see ModelContext feedWeights). */
  feedWeights?: boolean;
  /** Positions computed in-graph instead of fed (encoder exports: transformers.js feeds no position_ids). */
  computedPositions?: boolean;
}

function modelInputs(g: Graph, arch: Architecture, computedPositions = false): ModelInputs {
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  return {
    inputIds,
    attentionMask,
    positionIds:
      computedPositions && arch.positions !== 'cumsum'
        ? positionsInGraph(g, arch, inputIds)
        : g.input('position_ids', 'int64', ['batch', 'seq']),
    tokenTypeIds: arch.tokenTypes ? g.input('token_type_ids', 'int64', ['batch', 'seq']) : undefined,
  };
}

/** BERT: arange(seq) [1, seq]; XLM-R: cumsum(ids ≠ pad)·(ids ≠ pad) + pad [b, seq] (cumsum as a triangular MatMul). */
function positionsInGraph(g: Graph, arch: Architecture, ids: Tensor): Tensor {
  const ar = g.arange('seq');
  if (arch.positions === 'arange' || arch.positions === 'cumsum') return g.unsqueeze(ar, [0]);
  const pad = arch.positions.offsetFromPad;
  const real = g.cast(g.not(g.equal(ids, pad)), 'float32'); // [b, s]
  const upper = g.cast(g.not(g.greater(g.unsqueeze(ar, [1]), g.unsqueeze(ar, [0]))), 'float32'); // [s, s], i ≤ j
  const cum = g.matmul(real, upper); // [b, s]: Σ_{i ≤ j} real_i
  return g.add(g.cast(g.mul(cum, real), 'int64'), pad);
}

/** pooled [b, H] = Σ_t w[b, t] · h[b, t, :] — a MatMul, so it is differentiable and needs no search op. */
function pool(g: Graph, h: Tensor, weights: Tensor): Tensor {
  const [b, , H] = h.shape;
  const w = g.unsqueeze(g.cast(weights, h.dtype), [1]); // [b, 1, s]
  return g.reshape(g.matmul(w, h), [b, H]); // [b, 1, H] → [b, H]
}

function forwardParts(ck: ModelFolder, arch: Architecture, o: ForwardOptions) {
  const g = new Graph();
  const m = new ModelContext(g, ck, {
    lora: o.lora,
    overrides: o.overrides,
    dtype: o.dtype,
    recomputeLayers: o.recomputeLayers,
    feedWeights: o.feedWeights,
  });
  const inp = modelInputs(g, arch, o.computedPositions);
  const poolW = o.pooled ? g.input('pool_weights', 'float32', ['batch', 'seq']) : undefined;
  const hidden = g.cast(arch.forward(m, inp, { causal: o.causal }), 'float32');
  let emb: Tensor | undefined;
  if (poolW) {
    emb = pool(g, hidden, poolW);
    if (o.normalize) emb = l2Normalize(g, emb, -1);
  }
  return { g, m, hidden, emb };
}

export function buildForward(ck: ModelFolder, arch: Architecture, o: ForwardOptions): BuiltGraph {
  const { g, m, hidden, emb } = forwardParts(ck, arch, o);
  const outputs: Record<string, Tensor> = {};
  if (o.hidden ?? true) outputs.last_hidden_state = hidden;
  if (emb) outputs.embeddings = emb;
  return { graph: g, outputs, loraInputs: m.loraInputs, fedWeights: m.fedWeights };
}

/**
 * GradCache pass 2 for one chunk: embeddings (normalised) and d(Σ embeddings·embeddings_grad)/d(LoRA
 * weight) for every A and B, as outputs `grad.<input name>`.
 */
export function buildTrainingBackward(
  ck: ModelFolder,
  arch: Architecture,
  o: ForwardOptions & { lora: LoraWiring },
): BuiltGraph {
  const { g, m, emb } = forwardParts(ck, arch, { ...o, pooled: true, normalize: o.normalize ?? true });
  const seed = g.input('embeddings_grad', 'float32', emb!.shape);
  const weights = [...m.loraInputs.values()];
  const grads = grad(emb!, weights, { seeds: [seed] });
  const outputs: Record<string, Tensor> = { embeddings: emb! };
  weights.forEach((w, i) => {
    outputs[`grad.${w.name}`] = grads[i];
  });
  return { graph: g, outputs, loraInputs: m.loraInputs, fedWeights: m.fedWeights };
}

/**
 * Full-batch InfoNCE over rows [q_0..q_{n-1}, d_0..d_{m-1}]: scores = q·dᵀ / τ, loss = mean CE(scores_i, i)
 * (sentence-transformers MNRL: positives first, then hard negatives). With LoRA: also its gradients.
 */
export function buildInfoNce(
  ck: ModelFolder,
  arch: Architecture,
  o: ForwardOptions & { numQueries: number; numDocs: number; temperature: number },
): BuiltGraph {
  const { g, m, emb } = forwardParts(ck, arch, { ...o, pooled: true, normalize: true });
  const e = emb!;
  // Rows by Gather (its VJP scatters into the dynamic batch; a Slice VJP needs a static batch).
  const rows = (lo: number, n: number) =>
    g.constant(
      Array.from({ length: n }, (_, i) => lo + i),
      'int64',
      [n],
    );
  const q = g.gather(e, rows(0, o.numQueries), 0); // [nq, H]
  const d = g.gather(e, rows(o.numQueries, o.numDocs), 0); // [nd, H]
  const scores = g.div(g.matmul(q, g.transpose(d)), o.temperature); // [nq, nd]
  const labels = g.constant(
    Array.from({ length: o.numQueries }, (_, i) => i),
    'int64',
    [o.numQueries],
  );
  const loss = crossEntropy(g, scores, labels);
  const outputs: Record<string, Tensor> = { loss, scores, embeddings: e };
  if (o.lora) {
    const weights = [...m.loraInputs.values()];
    const grads = grad(loss, weights);
    weights.forEach((w, i) => {
      outputs[`grad.${w.name}`] = grads[i];
    });
  }
  return { graph: g, outputs, loraInputs: m.loraInputs, fedWeights: m.fedWeights };
}
