// Public API of evaluation (src/main/eval). The app reaches it as `wb.evaluation` (EvalService); the
// trainer evaluates checkpoints with ModelEmbedder.withWeights + EvalService.evaluate.
export { CachedEmbedder, type CacheStats } from './cache';
export { type EmbedOptions, type Embedder, type EmbedRole, HashBowEmbedder } from './embedder';
export { adapterHash, adapterLabel, ModelEmbedder, type ModelEmbedderOptions } from './model-embedder';
export {
  type ComparisonColumn,
  type ComparisonRow,
  type ComparisonTable,
  compareEntries,
  type EvalRow,
  formatComparison,
  type ModelMeta,
  NO_REVISION,
  readResultFiles,
} from './results';
export { type RunOptions, runTask, type TaskResult } from './run';
export { type Matrix, openSearchSession, type SearchResult, searchTopK } from './search';
export {
  type EvalTarget,
  EvalService,
  type EvaluateRequest,
  type EvaluateResult,
  type OpenEmbedderOptions,
  openTargets,
  parseTaskSpec,
  TASK_SPEC_HELP,
  type TaskSpecOptions,
} from './service';
export {
  loadBeir,
  loadBitext,
  loadClassification,
  loadClustering,
  loadDatasetTasks,
  loadPairClassification,
  loadSts,
} from './sources';
export { type EvalTask, MAIN_SCORE, TASK_TYPES, type TaskType } from './tasks';
