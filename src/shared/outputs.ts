// What each procedure of the contract returns (the inputs and the Services interface are in contract.ts).
// Shared by main and the renderer; no node:* and no DOM here.
import type { ComparisonTable, ScoredExample } from './results';
import type { TrainSettings } from './training';
import type { Example, GenerationProgress, JobState, Progress, RunSummary } from './domain';

export interface AppInfo {
  version: string;
  home: string;
  transport: 'ipc' | 'http';
}

export interface Facets {
  languages: { value: string; count: number }[];
  generatorModels: { value: string; count: number }[];
  rejectReasons: { value: string; count: number }[];
  runIds: { value: string; count: number }[];
  /** Stored attributes with few distinct values (difficulty, query_length, clarity, …). */
  attributes?: { key: string; values: { value: string; count: number }[] }[];
}

export interface ReviewEvent {
  id: number;
  action: string;
  field: string | null;
  oldValue: string | null;
  newValue: string | null;
  reason: string | null;
  at: string;
}

export interface ExampleDetail {
  example: Example;
  history: ReviewEvent[];
}

export interface PageResult {
  rows: Example[];
  /** Cursor for the next page (keyset), null at the end. */
  next: { value: string | number; id: number } | null;
}

/** A background operation (import, export, generation, training, evaluation) as the Jobs list shows it. */
export interface JobInfo {
  id: string;
  type: string;
  label: string;
  state: JobState;
  progress: Progress | null;
  result?: unknown;
  error?: string;
  startedAt: string;
  finishedAt?: string;
  /** While it runs in the serving process and Cancel stops its work (jobs.cancel); absent otherwise. */
  cancellable?: boolean;
}

/** Live progress of a generation run (mirrors the generation service's events). */
export type GenerationProgressInfo = GenerationProgress;

export interface GenerationPlanInfo {
  count: number;
  kinds: string[];
  cells: { kind: string; language: string; quota: number }[];
  byKind: Record<string, number>;
  byLanguage: Record<string, number>;
  calls: { min: number; expected: number; assumedRejectRate: number };
  tokens: { prompt: number; completion: number };
  costUsd: number;
  unpricedModels: string[];
  batch: boolean;
  seed: number;
}

export interface GenerationRunInfo {
  id: string;
  dataset: string;
  state: string;
  created_at: string;
  updated_at: string;
  accepted: number;
  count: number;
  models: string;
  batch: boolean;
  /** Present while this process works the run. */
  live: GenerationProgressInfo | null;
}

export type RunSummaryInfo = RunSummary;

/** A request that failed or whose answer was rejected, with the model's raw answer. */
export interface FailedRequest {
  id: number;
  model: string;
  kind: string | null;
  status: string;
  error: string | null;
  errorClass: string | null;
  rejectReason: string | null;
  rawAnswer: string | null;
  createdAt: string;
}

export type ComparisonInfo = ComparisonTable;

export interface TrainStep {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  examplesPerS: number;
  tokensPerS: number;
  etaS: number | null;
}

export interface TrainPreview {
  config: Omit<TrainSettings, 'out'>;
  rows: number;
  totalSteps: number;
  /** The memory plan (training/memory-plan.ts formatPlan) and, when it does not fit, the one-line refusal
   * naming the chunk size or flag that would; null for the reference encoder. */
  memory?: { lines: string[]; fits: boolean; refusal: string | null } | null;
}

export interface TrainingRunInfo {
  id: string;
  state: string;
  step: number;
  totalSteps: number | null;
  lastLoss: number | null;
  model: string;
  outDir: string;
  createdAt: string;
  /** Loss (+ lr, grad norm) per step: seen by this process, else read from the run's train.log.jsonl. */
  losses: { step: number; loss: number; lr?: number; gradNorm?: number }[];
  live: TrainStep | null;
  adapterDir: string | null;
  error: string | null;
  /** Datasets the run trains on (names). */
  datasets: string[];
  /** The device asked for (auto|cuda|webgpu|cpu) and, once known, the provider that ran it. */
  device: string;
  deviceUsed: string | null;
  /** Stopped, interrupted or failed with a checkpoint: Resume continues it. */
  resumable: boolean;
}

export type ScoredExampleInfo = ScoredExample;

/** A model folder the app knows: pulled into the workspace, the demo's, or a run's merged export. */
export interface ModelInfo {
  name: string;
  path: string;
  /** config.json model_type. */
  type: string | null;
  dtype: string | null;
  pooling: string | null;
  sizeBytes: number;
  source: 'pulled' | 'demo' | 'local';
  revision: string | null;
}

export interface DirEntry {
  name: string;
  path: string;
  type: 'dir' | 'file';
  size: number | null;
}

export interface DirListing {
  dir: string;
  parent: string | null;
  root: string;
  entries: DirEntry[];
}

export interface ConnectionCheck {
  ok: boolean;
  models: string[];
  error: string | null;
}

export interface GenerationPreview {
  accepted: Example[];
  rejected: FailedRequest[];
}

export interface TemplateInfo {
  id: string;
  text: string;
  version: string;
  overridden: boolean;
  placeholders: string[];
}

export interface SecretsStatus {
  storage: 'os-keychain' | 'memory';
  names: string[];
}

/** Events pushed to every client; screens refetch what a topic touches. */
export type AppEvent =
  | { topic: 'datasets' }
  | { topic: 'examples'; dataset: string; ids?: number[] }
  | { topic: 'job'; job: JobInfo }
  | { topic: 'generation'; progress: GenerationProgressInfo }
  | { topic: 'evaluation' }
  | { topic: 'mining'; dataset: string }
  | { topic: 'training'; runId: string; step?: TrainStep; state?: string };
