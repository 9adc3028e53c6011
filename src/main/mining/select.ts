// Picking negatives from a query's ranked candidates with sentence-transformers' mine_hard_negatives knobs.
// Pure: no model, no database, so every knob is checked on hand-made scores.
import { mixSeed, mulberry32, shuffled } from '../training/rng';

export interface MineKnobs {
  /** Skip the rangeMin most similar non-positive candidates (rank > rangeMin). */
  rangeMin: number;
  /** Consider candidates up to this rank (rank ≤ rangeMax). */
  rangeMax: number;
  /** Exclude candidates scoring above this. */
  maxScore: number | null;
  /** Exclude candidates scoring below this. */
  minScore: number | null;
  /** Exclude candidates with score > positive − margin. */
  margin: number | null;
  /** Exclude candidates with score > positive · (1 − relativeMargin). */
  relativeMargin: number | null;
  numNegatives: number;
  sampling: 'top' | 'random';
  seed: number;
}

/** Which knob left a query short, in the order the filters apply. */
export const SHORT_REASONS = ['range', 'min-score', 'max-score', 'margin'] as const;
export type ShortReason = (typeof SHORT_REASONS)[number];

export const LOOSEN_HINT: Record<ShortReason, string> = {
  range: 'widen --range (a larger range max) or mine a larger pool (--corpus)',
  'min-score': 'lower --min-score',
  'max-score': 'raise --max-score',
  margin: 'lower --margin / --relative-margin',
};

export interface Pick {
  row: number;
  score: number;
  /** 1-based rank among the query's non-positive candidates. */
  rank: number;
}

export interface QueryPick {
  picks: Pick[];
  /** Candidates left after each filter, in order: in range, min-score, max-score, margin. */
  counts: { range: number; minScore: number; maxScore: number; margin: number };
  /** Set when fewer than numNegatives were picked: the first filter that left too few. */
  short: ShortReason | null;
  /** `skip` rows met within the range (not picked). */
  skipped: number;
}

/**
 * Walks one query's retrieved candidates (best first), skipping `excluded` rows (its positives and their
 * duplicates; they take no rank) and `skip` rows (its own LLM negative; it keeps its rank), then applies
 * range, score and margin filters and samples. `key` makes random sampling independent of query order.
 */
export function selectForQuery(
  indices: ArrayLike<number>,
  scores: ArrayLike<number>,
  positiveScore: number,
  excluded: ReadonlySet<number>,
  skip: ReadonlySet<number>,
  k: MineKnobs,
  key: number,
): QueryPick {
  const counts = { range: 0, minScore: 0, maxScore: 0, margin: 0 };
  const eligible: Pick[] = [];
  let rank = 0;
  let skipped = 0;
  const absCap = k.margin !== null ? positiveScore - k.margin : Number.POSITIVE_INFINITY;
  const relCap =
    k.relativeMargin !== null ? positiveScore * (1 - k.relativeMargin) : Number.POSITIVE_INFINITY;
  for (let j = 0; j < indices.length; j++) {
    const row = indices[j];
    if (excluded.has(row)) continue;
    rank++;
    if (rank > k.rangeMax) break;
    if (rank <= k.rangeMin) continue;
    if (skip.has(row)) {
      skipped++;
      continue;
    }
    const s = scores[j];
    counts.range++;
    if (k.minScore !== null && s < k.minScore) continue;
    counts.minScore++;
    if (k.maxScore !== null && s > k.maxScore) continue;
    counts.maxScore++;
    if (s > absCap || s > relCap) continue;
    counts.margin++;
    eligible.push({ row, score: s, rank });
  }
  let picks: Pick[];
  if (k.sampling === 'top') picks = eligible.slice(0, k.numNegatives);
  else
    picks = shuffled(eligible, mulberry32(mixSeed(k.seed, key)))
      .slice(0, k.numNegatives)
      .sort((a, b) => a.rank - b.rank);
  let short: ShortReason | null = null;
  if (picks.length < k.numNegatives) {
    const n = k.numNegatives;
    short =
      counts.range < n
        ? 'range'
        : counts.minScore < n
          ? 'min-score'
          : counts.maxScore < n
            ? 'max-score'
            : 'margin';
  }
  return { picks, counts, short, skipped };
}
