// Evaluation comparison tables and hard-negative review rows: produced in main, shown by the renderer.
// No node:* and no DOM here.
import type { Example } from './domain';

/** MTEB task types. */
export const TASK_TYPES = [
  'Retrieval',
  'Reranking',
  'STS',
  'PairClassification',
  'Classification',
  'Clustering',
  'BitextMining',
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export interface ComparisonColumn {
  key: string;
  kind: 'task' | 'type-average' | 'average';
  taskType: TaskType | null;
}

export interface ComparisonRow {
  label: string;
  model: string;
  revision: string;
  isBase: boolean;
  values: Record<string, number | null>;
  /**
   * Row minus its base row (same model, base revision), per column; null for base rows or no base.
   * Average columns: the mean of the per-task differences over the tasks both rows have (see `common`).
   */
  delta: Record<string, number | null> | null;
  /**
   * Average columns of a row with a base: how many tasks both rows have, and each row's average over
   * just those tasks (so value − base = delta). Rows evaluated on different task sets compare only there.
   */
  common?: Record<string, { n: number; value: number | null; base: number | null }> | null;
  /** Task column → why this row has no score there (e.g. a task every model scores 0 on by construction). */
  notScored?: Record<string, string>;
}

export interface ComparisonTable {
  columns: ComparisonColumn[];
  rows: ComparisonRow[];
}

export interface NegativeScore {
  source: 'llm' | 'mined';
  minedId: number | null;
  text: string;
  score: number;
  /** positive score − this negative's score */
  margin: number;
  likelyFalseNegative: boolean;
}

/** One example with the scores of a score run: the curation list row. */
export interface ScoredExample {
  example: Example;
  runId: string;
  positiveScore: number;
  /** Highest negative score (null: the example has no negative). */
  maxNegativeScore: number | null;
  /** Smallest positive − negative over its negatives (null: no negative). */
  margin: number | null;
  negatives: number;
  flagged: number;
  likelyFalseNegative: boolean;
  /** The example was edited after scoring: rescore before trusting these numbers. */
  stale: boolean;
  negativeScores: NegativeScore[];
}
