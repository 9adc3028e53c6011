/**
 * InfoNCE over a whole contrastive batch (METHOD.md §7) and its gradient with respect to the
 * embeddings. Candidates are every positive (columns 0..B-1, row i's own positive at column i) then every
 * hard negative of the batch. Candidates whose text equals row i's positive text (other than column i)
 * are false negatives for row i: they are removed from its softmax, not pushed away.
 */

export type Floats = Float32Array | Float64Array;

export interface LossInput {
  /** Queries [B, d], L2-normalised. */
  q: Floats;
  /** Candidates [M, d], L2-normalised: the B positives, then the hard negatives. */
  c: Floats;
  B: number;
  M: number;
  d: number;
  /** [B * M], 1 where candidate j competes for row i. Column i of row i must be 1. */
  mask: Uint8Array;
  temperature: number;
}

export interface LossOutput {
  loss: number;
  /** dLoss/dq [B, d] and dLoss/dc [M, d]. */
  dq: Floats;
  dc: Floats;
}

/** A loss backend: the float64 TS reference or the ONNX graph (see loss-onnx.ts). */
export interface ContrastiveLoss {
  compute(input: LossInput): Promise<LossOutput>;
  dispose?(): Promise<void>;
}

/**
 * The candidate mask: row i may not see a candidate carrying its own positive text, except its own
 * positive. Rows with the same positive text thus drop each other's positives (false negatives).
 */
export function falseNegativeMask(positives: readonly string[], candidates: readonly string[]): Uint8Array {
  const B = positives.length;
  const M = candidates.length;
  const byText = new Map<string, number[]>();
  candidates.forEach((t, j) => {
    const l = byText.get(t);
    if (l) l.push(j);
    else byText.set(t, [j]);
  });
  const mask = new Uint8Array(B * M).fill(1);
  for (let i = 0; i < B; i++) {
    for (const j of byText.get(positives[i]) ?? []) if (j !== i) mask[i * M + j] = 0;
  }
  return mask;
}

/** Float64 reference: loss = mean_i [logsumexp_{j allowed} s_ij − s_ii], s = q·c / τ. */
export function infoNceReference(x: LossInput): LossOutput & { scores: Float64Array } {
  const { q, c, B, M, d, mask, temperature: tau } = x;
  const s = new Float64Array(B * M);
  for (let i = 0; i < B; i++)
    for (let j = 0; j < M; j++) {
      let acc = 0;
      for (let k = 0; k < d; k++) acc += q[i * d + k] * c[j * d + k];
      s[i * M + j] = acc / tau;
    }
  const ds = new Float64Array(B * M);
  let loss = 0;
  for (let i = 0; i < B; i++) {
    if (!mask[i * M + i]) throw new Error(`loss: row ${i} masks its own positive`);
    let mx = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < M; j++) if (mask[i * M + j] && s[i * M + j] > mx) mx = s[i * M + j];
    let z = 0;
    for (let j = 0; j < M; j++) if (mask[i * M + j]) z += Math.exp(s[i * M + j] - mx);
    const lse = mx + Math.log(z);
    loss += lse - s[i * M + i];
    for (let j = 0; j < M; j++)
      if (mask[i * M + j]) ds[i * M + j] = (Math.exp(s[i * M + j] - lse) - (i === j ? 1 : 0)) / B;
  }
  loss /= B;
  const dq = new Float64Array(B * d);
  const dc = new Float64Array(M * d);
  for (let i = 0; i < B; i++)
    for (let j = 0; j < M; j++) {
      const g = ds[i * M + j] / tau;
      if (g === 0) continue;
      for (let k = 0; k < d; k++) {
        dq[i * d + k] += g * c[j * d + k];
        dc[j * d + k] += g * q[i * d + k];
      }
    }
  return { loss, dq, dc, scores: s };
}

export const referenceLoss: ContrastiveLoss = {
  async compute(x) {
    return infoNceReference(x);
  },
};
