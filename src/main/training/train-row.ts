import type { Kind } from '../../shared/domain';

/** One training example as the trainer reads it (loaded by data.ts, shaped by mining's negative options). */
export interface TrainRow {
  id: number;
  kind: Kind;
  /** Grouping key for homogeneous batches (`dataset:kind` or `dataset`). */
  dataset: string;
  instruction: string;
  query: string;
  positive: string;
  negative: string | null;
  /** More hard negatives of the row (mined ones with --negatives mined|both); each is a batch candidate. */
  extraNegatives?: string[];
}
