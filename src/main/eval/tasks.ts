// Evaluation tasks as plain data: what each task type needs once loaded from its source.
import type { Qrels } from './metrics/retrieval';

import { TASK_TYPES, type TaskType } from '../../shared/results';

export { TASK_TYPES, type TaskType };

/** MTEB's main score per task type (EVALUATION.md §1 table). */
export const MAIN_SCORE: Record<TaskType, string> = {
  Retrieval: 'ndcg_at_10',
  Reranking: 'map_at_1000',
  STS: 'cosine_spearman',
  PairClassification: 'max_ap',
  Classification: 'accuracy',
  Clustering: 'v_measure',
  BitextMining: 'f1',
};

interface TaskBase {
  name: string;
  split: string;
  /** "default" for single-language tasks. */
  hfSubset: string;
  /** ISO 639-3 + script where known, e.g. "eng-Latn". */
  languages: string[];
  /** Where it came from (path or dataset:name:split), for reports. */
  source: string;
  /** Query instruction (E5-mistral style); per-query instructions override it. */
  instruction?: string;
  /** What loading the source noticed (exact duplicate lines, qrels docs missing from the corpus, …). */
  warnings?: string[];
}

export interface TextItem {
  id: string;
  text: string;
}

export interface RetrievalTask extends TaskBase {
  type: 'Retrieval' | 'Reranking';
  corpus: TextItem[];
  queries: (TextItem & { instruction?: string })[];
  qrels: Qrels;
  /** Reranking: each query scores only its candidates. */
  candidates?: Map<string, string[]>;
  ignoreIdenticalIds?: boolean;
  kValues?: number[];
}

export interface StsTask extends TaskBase {
  type: 'STS';
  pairs: { s1: string; s2: string; score: number }[];
  minScore?: number;
  maxScore?: number;
}

export interface PairClassificationTask extends TaskBase {
  type: 'PairClassification';
  pairs: { s1: string; s2: string; label: 0 | 1 }[];
}

export interface LabelledText {
  text: string;
  label: string;
}

export interface ClassificationTask extends TaskBase {
  type: 'Classification';
  train: LabelledText[];
  test: LabelledText[];
  nExperiments?: number;
  samplesPerLabel?: number;
}

export interface ClusteringTask extends TaskBase {
  type: 'Clustering';
  /** Legacy protocol: one k-means per set. Bootstrap: all sets pooled. */
  sets: LabelledText[][];
  protocol: 'legacy' | 'bootstrap';
  bootstrap?: { rounds?: number; size?: number; maxDocuments?: number };
}

export interface BitextTask extends TaskBase {
  type: 'BitextMining';
  /** sentence1: searched against every sentence2; gold for line i is line i. */
  sentence1: string[];
  sentence2: string[];
}

export type EvalTask =
  | RetrievalTask
  | StsTask
  | PairClassificationTask
  | ClassificationTask
  | ClusteringTask
  | BitextTask;

/**
 * Why a task cannot be scored meaningfully, or null. A classification whose test labels never occur among
 * its train labels (e.g. free-text long-short labels, one per row) scores 0 for every model by construction.
 */
export function unscorableReason(t: EvalTask): string | null {
  if (t.type === 'Classification') {
    const seen = new Set(t.train.map((x) => x.label));
    if (!t.test.some((x) => seen.has(x.label)))
      return 'no test label occurs among the train labels (free-text labels), so every model scores 0';
  }
  return null;
}
