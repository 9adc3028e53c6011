// Retrieval / reranking metrics exactly as pytrec_eval (trec_eval) computes them for MTEB
// (EVALUATION.md §1.1): ranking by score descending, ties by doc id descending in UTF-8 byte order,
// float64 arithmetic, R = all relevant docs in the qrels.

/** query id → doc id → integer grade. */
export type Qrels = Map<string, Map<string, number>>;
/** query id → doc id → score. */
export type Run = Map<string, Map<string, number>>;

export const DEFAULT_K_VALUES = [1, 3, 5, 10, 20, 100, 1000] as const;

/**
 * Byte-wise comparison of the UTF-8 encodings of a and b (strcmp). UTF-8 byte order equals code point
 * order, which differs from JS's UTF-16 code unit order only around surrogate pairs.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // A surrogate (code point ≥ U+10000) outranks any BMP unit; otherwise unit order = code point order.
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** trec_eval's order: score descending, then doc id descending (strcmp). */
export function rankDocs(scores: Map<string, number>): [string, number][] {
  return [...scores.entries()].sort((a, b) => b[1] - a[1] || compareUtf8(b[0], a[0]));
}

export interface RetrievalOptions {
  kValues?: readonly number[];
  /** Drop every result whose doc id equals the query id before scoring (MTEB default false). */
  ignoreIdenticalIds?: boolean;
}

export interface PerQueryRetrieval {
  ndcg: number[];
  map: number[];
  recall: number[];
  precision: number[];
  hitRate: number[];
  mrr: number[];
}

export interface RetrievalScores {
  /** `ndcg_at_10`, `map_at_1000`, `recall_at_5`, `precision_at_3`, `hit_rate_at_1`, `mrr_at_10`, `accuracy`. */
  scores: Record<string, number>;
  /** Per evaluated query, values in kValues order (unrounded). */
  perQuery: Map<string, PerQueryRetrieval>;
  evaluatedQueries: number;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** Scores one ranked list against its qrels at every k. */
export function scoreQuery(
  ranked: readonly string[],
  rel: Map<string, number>,
  kValues: readonly number[],
): PerQueryRetrieval {
  // Grades < 0 are unjudged; "relevant" = grade ≥ 1 (relevance_level 1).
  const gains = [...rel.values()].filter((g) => g > 0).sort((a, b) => b - a);
  const R = gains.length;
  const out: PerQueryRetrieval = { ndcg: [], map: [], recall: [], precision: [], hitRate: [], mrr: [] };
  for (const k of kValues) {
    let dcg = 0;
    let idcg = 0;
    let hits = 0;
    let apSum = 0;
    let firstRel = 0;
    const n = Math.min(k, ranked.length);
    for (let i = 0; i < n; i++) {
      const g = rel.get(ranked[i]) ?? 0;
      if (g > 0) {
        dcg += g / Math.log2(i + 2);
        hits++;
        apSum += hits / (i + 1);
        if (!firstRel) firstRel = i + 1;
      }
    }
    for (let i = 0; i < Math.min(k, R); i++) idcg += gains[i] / Math.log2(i + 2);
    out.ndcg.push(idcg > 0 ? dcg / idcg : dcg);
    out.map.push(R > 0 ? apSum / R : 0);
    out.recall.push(R > 0 ? hits / R : 0);
    out.precision.push(hits / k);
    out.hitRate.push(hits > 0 ? 1 : 0);
    out.mrr.push(firstRel ? 1 / firstRel : 0);
  }
  return out;
}

/**
 * MTEB's retrieval score dict from qrels and a run. Queries with an empty qrels entry, and queries absent
 * from either side, are skipped (pytrec_eval); each metric is the plain mean over the evaluated queries.
 * ndcg/map/recall/precision/hit_rate are rounded to 5 decimals like MTEB; mrr is not.
 */
export function evaluateRetrieval(qrels: Qrels, run: Run, opts: RetrievalOptions = {}): RetrievalScores {
  const kValues = opts.kValues ?? DEFAULT_K_VALUES;
  const perQuery = new Map<string, PerQueryRetrieval>();
  for (const [qid, docs] of run) {
    const rel = qrels.get(qid);
    if (!rel || rel.size === 0) continue;
    let ranked = rankDocs(docs).map(([d]) => d);
    if (opts.ignoreIdenticalIds) ranked = ranked.filter((d) => d !== qid);
    perQuery.set(qid, scoreQuery(ranked, rel, kValues));
  }
  const nq = perQuery.size;
  const mean = (key: keyof PerQueryRetrieval, i: number) => {
    if (nq === 0) return 0;
    let s = 0;
    for (const v of perQuery.values()) s += v[key][i];
    return s / nq;
  };
  const scores: Record<string, number> = {};
  kValues.forEach((k, i) => {
    scores[`ndcg_at_${k}`] = round(mean('ndcg', i), 5);
    scores[`map_at_${k}`] = round(mean('map', i), 5);
    scores[`recall_at_${k}`] = round(mean('recall', i), 5);
    scores[`precision_at_${k}`] = round(mean('precision', i), 5);
    scores[`hit_rate_at_${k}`] = round(mean('hitRate', i), 5);
    scores[`mrr_at_${k}`] = mean('mrr', i);
  });
  // MTEB's `accuracy` for retrieval is Recall@1.
  if (kValues.includes(1)) scores.accuracy = scores.recall_at_1;
  return { scores, perQuery, evaluatedQueries: nq };
}
