// The typed API contract: zod schemas for every procedure input, and the Services the router calls.
// Shared by main (validation), the router (src/shared/api.ts) and the renderer (forms, types).
// No node:* and no DOM here.
import { z } from 'zod';
import { KINDS, ORIGINS, SPLITS, STATUSES } from './domain';
import { datasetName } from './names';
import { trainStartInput } from './training';
import type { Dataset, DatasetStats, Example } from './domain';
import type {
  AppEvent,
  AppInfo,
  ComparisonInfo,
  ConnectionCheck,
  DirListing,
  ExampleDetail,
  Facets,
  FailedRequest,
  GenerationPlanInfo,
  GenerationPreview,
  GenerationProgressInfo,
  GenerationRunInfo,
  JobInfo,
  ModelInfo,
  PageResult,
  RunSummaryInfo,
  ScoredExampleInfo,
  SecretsStatus,
  TemplateInfo,
  TrainPreview,
  TrainingRunInfo,
} from './outputs';

// What the procedures return lives in outputs.ts (file size budget); importers keep reading it from here.
export type * from './outputs';

const oneOrMany = <T extends z.ZodType>(s: T) => z.union([s, z.array(s).max(100)]);

export { datasetName };

export const exampleFilter = z
  .object({
    kind: oneOrMany(z.enum(KINDS)).optional(),
    language: oneOrMany(z.string().max(64)).optional(),
    status: oneOrMany(z.enum(STATUSES)).optional(),
    split: z.union([z.enum(SPLITS), z.array(z.enum(SPLITS)), z.literal('none')]).optional(),
    origin: z.enum(ORIGINS).optional(),
    generatorModel: z.string().max(200).optional(),
    rejectReason: z.string().max(200).optional(),
    runId: z.string().max(200).optional(),
    search: z.string().max(500).optional(),
    /** Stored generation attributes, e.g. { difficulty: 'high school', clarity: 'clear' } (all must match). */
    attributes: z
      .record(
        z.string().regex(/^[A-Za-z0-9_]{1,40}$/, 'attribute names are letters, digits and _'),
        z.string().max(200),
      )
      .optional(),
  })
  .strict();
export type ExampleFilterInput = z.infer<typeof exampleFilter>;

export const SORT_KEYS = ['id', 'kind', 'language', 'status', 'created_at', 'updated_at'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export const REVIEW_ACTIONS = ['accept', 'reject', 'reset'] as const;
export const EDIT_FIELDS = ['query', 'positive', 'negative', 'instruction'] as const;
export type EditField = (typeof EDIT_FIELDS)[number];

/** Reasons offered by the reviewer's reject menu (free text is accepted too). */
export const REJECT_REASONS = [
  'wrong-language',
  'off-task',
  'positive-not-relevant',
  'negative-too-easy',
  'negative-is-positive',
  'duplicate',
  'low-quality',
] as const;

export const ARTEFACT_KINDS = ['adapter', 'merged', 'onnx', 'embeddings', 'trainer'] as const;
export type ArtefactKind = (typeof ARTEFACT_KINDS)[number];

export const inputs = {
  datasetRef: z.object({ name: datasetName }).strict(),
  datasetCreate: z.object({ name: datasetName, description: z.string().max(2000).optional() }).strict(),
  datasetStats: z.object({ name: datasetName, filter: exampleFilter.optional() }).strict(),
  examplesPage: z
    .object({
      dataset: datasetName,
      filter: exampleFilter.optional(),
      sort: z.enum(SORT_KEYS).optional(),
      desc: z.boolean().optional(),
      limit: z.number().int().min(1).max(1000).optional(),
      after: z
        .object({ value: z.union([z.string(), z.number()]), id: z.number().int() })
        .strict()
        .optional(),
    })
    .strict(),
  examplesCount: z.object({ dataset: datasetName, filter: exampleFilter.optional() }).strict(),
  exampleId: z.object({ id: z.number().int().positive() }).strict(),
  review: z
    .object({
      id: z.number().int().positive(),
      action: z.enum(REVIEW_ACTIONS),
      reason: z.string().min(1).max(200).optional(),
    })
    .strict(),
  edit: z
    .object({
      id: z.number().int().positive(),
      field: z.enum(EDIT_FIELDS),
      value: z.string().max(100_000).nullable(),
    })
    .strict(),
  bulkReview: z
    .object({
      dataset: datasetName,
      filter: exampleFilter,
      action: z.enum(REVIEW_ACTIONS),
      reason: z.string().min(1).max(200).optional(),
    })
    .strict(),
  /** Undo one bulk review: the review-event range its answer named. */
  undoBulk: z
    .object({ dataset: datasetName, after: z.number().int().min(0), upTo: z.number().int().min(0) })
    .strict(),
  /** Token counts of examples' texts with a model folder's tokenizer. */
  tokens: z
    .object({ ids: z.array(z.number().int().positive()).min(1).max(200), model: z.string().min(1).max(4096) })
    .strict(),
  datasetImport: z
    .object({
      name: datasetName,
      /** A file or BEIR folder on the machine that runs Embedsmith (the GPU box in browser mode). */
      path: z.string().min(1, 'give the path of a JSONL file or BEIR folder').max(4096),
      layout: z.enum(['auto', 'paper', 'sentence-transformers', 'flagembedding', 'beir']).optional(),
      kind: z.enum(KINDS).optional(),
      language: z.string().max(64).optional(),
      status: z.enum(STATUSES).optional(),
      skipInvalid: z.boolean().optional(),
      create: z.boolean().optional(),
      /** Sets the dataset's default instruction (rows without one train with it). */
      instruction: z.string().max(2000).optional(),
    })
    .strict(),
  /** The dataset's default instruction; null or blank clears it (then the method's default per kind). */
  datasetInstruction: z.object({ name: datasetName, instruction: z.string().max(2000).nullable() }).strict(),
  datasetExport: z
    .object({
      name: datasetName,
      /** Output file; default: the workspace's exports folder. */
      out: z.string().max(4096).optional(),
      format: z.enum(['jsonl', 'parquet']).optional(),
      layout: z.enum(['paper', 'sentence-transformers', 'flagembedding']).optional(),
      status: z.enum([...STATUSES, 'all']).optional(),
      kind: z.enum(KINDS).optional(),
      language: z.string().max(64).optional(),
      split: z.enum(SPLITS).optional(),
      /** Replace `out` when it exists (the CLI's --force); otherwise an existing file is refused. */
      overwrite: z.boolean().optional(),
    })
    .strict(),
  datasetSplit: z
    .object({
      name: datasetName,
      ratios: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)]),
      seed: z.number().int().optional(),
      reassign: z.boolean().optional(),
    })
    .strict(),
  generationOptions: z
    .object({
      dataset: datasetName,
      count: z.number().int().min(1, 'ask for at least 1 example').max(10_000_000),
      /** `gpt-4o-mini` or `gpt-4o=0.75,gpt-4o-mini=0.25`. */
      models: z.string().min(1, 'name at least one model').max(1000),
      kinds: z.array(z.enum(KINDS)).min(1).optional(),
      /** `default`, `en,de`, `en=0.6,de=0.4`. */
      languages: z.string().max(4000).optional(),
      baseUrl: z.url('the base URL must be a URL such as https://api.openai.com/v1').max(1000).optional(),
      concurrency: z.number().int().min(1).max(512).optional(),
      rpm: z.number().positive().optional(),
      tpm: z.number().positive().optional(),
      budgetUsd: z.number().positive().optional(),
      seed: z.number().int().min(0).optional(),
      temperature: z.number().min(0).max(2).optional(),
      batchApi: z.boolean().optional(),
      /** Name of the stored API key (see secrets) to use; else the run's environment variable. */
      apiKeyName: z
        .string()
        .regex(/^[a-z0-9_-]{1,40}$/)
        .optional(),
    })
    .strict(),
  runRef: z.object({ runId: z.string().min(1).max(200) }).strict(),
  runResume: z
    .object({
      runId: z.string().min(1).max(200),
      apiKeyName: z
        .string()
        .regex(/^[a-z0-9_-]{1,40}$/)
        .optional(),
      /** Give the cells that ended short a fresh attempt budget (a done run with a shortfall). */
      retryShort: z.boolean().optional(),
    })
    .strict(),
  runFailures: z
    .object({ runId: z.string().min(1).max(200), limit: z.number().int().min(1).max(500).optional() })
    .strict(),
  evalRun: z
    .object({
      /** A model folder on the serving machine, or `builtin:hashbow-256`. */
      model: z.string().min(1, 'give a model folder or builtin:hashbow-256').max(4096),
      adapters: z.array(z.string().min(1).max(4096)).max(20).optional(),
      /** Task specs: `dataset:NAME[:split]`, `beir:DIR`, `sts:FILE`, … */
      tasks: z.array(z.string().min(1).max(4096)).min(1, 'add at least one task').max(50),
      limit: z.number().int().positive().optional(),
      base: z.boolean().optional(),
    })
    .strict(),
  evalCompare: z
    .object({ model: z.string().max(4096).optional(), baseRevision: z.string().max(200).optional() })
    .strict(),
  /** Every training setting, from the one schema (src/shared/training.ts); the server picks the run folder. */
  trainStart: trainStartInput,
  trainRef: z.object({ runId: z.string().min(1).max(200) }).strict(),
  /** Files a run (or a model) produces; each is a job whose result names the output folder. */
  artefactExport: z
    .object({
      kind: z.enum(ARTEFACT_KINDS),
      /** The training run whose adapter is exported (adapter/merged/onnx; embeddings: optional). */
      runId: z.string().min(1).max(200).optional(),
      /** embeddings without a run: the model folder to embed with. */
      model: z.string().max(4096).optional(),
      /** Output folder (file for embeddings); default: <workspace>/exports/<run>-<kind>. */
      out: z.string().max(4096).optional(),
      /** embeddings: the texts of a dataset split … */
      dataset: datasetName.optional(),
      split: z.enum(SPLITS).optional(),
      /** … or of a file (.txt one per line, .jsonl). */
      file: z.string().max(4096).optional(),
      format: z.enum(['npy', 'parquet']).optional(),
      /** trainer (the run as a sentence-transformers multi-GPU job): GPUs per node and nodes. */
      gpus: z.number().int().min(1, 'must be at least 1').max(100_000).optional(),
      nodes: z.number().int().min(1, 'must be at least 1').max(100_000).optional(),
      /** trainer without a run: the Train form's dataset and settings (as `export trainer DATASET` flags). */
      settings: trainStartInput.optional(),
    })
    .strict(),
  modelPull: z
    .object({
      id: z
        .string()
        .regex(/^[\w.-]+(\/[\w.-]+)?$/, 'give a Hugging Face model id such as BAAI/bge-small-en-v1.5'),
      revision: z.string().min(1).max(200).optional(),
    })
    .strict(),
  modelRef: z.object({ path: z.string().min(1).max(4096) }).strict(),
  jobRef: z.object({ jobId: z.string().min(1).max(100) }).strict(),
  /** A folder on the serving machine, under the user's home. */
  pathList: z.object({ dir: z.string().max(4096).optional(), hidden: z.boolean().optional() }).strict(),
  /** Opens a folder in the desktop's file manager (Electron only). */
  pathOpen: z.object({ path: z.string().min(1).max(4096) }).strict(),
  /** A native open/save dialog (Electron only). */
  pathPick: z
    .object({
      mode: z.enum(['file', 'folder', 'save']),
      title: z.string().max(200).optional(),
      defaultPath: z.string().max(4096).optional(),
      extensions: z
        .array(z.string().regex(/^[a-z0-9]{1,10}$/))
        .max(20)
        .optional(),
    })
    .strict(),
  generationConnection: z
    .object({
      baseUrl: z.url('the base URL must be a URL such as https://api.openai.com/v1').max(1000).optional(),
      apiKeyName: z
        .string()
        .regex(/^[a-z0-9_-]{1,40}$/)
        .optional(),
    })
    .strict(),
  generationPreview: z.object({ dataset: datasetName, runId: z.string().max(200).optional() }).strict(),
  templateSet: z
    .object({
      dataset: datasetName,
      id: z.string().min(1).max(100),
      /** null removes the override (back to the built-in). */
      text: z.string().min(1, 'the template is empty').max(50_000).nullable(),
    })
    .strict(),
  miningRun: z
    .object({
      dataset: datasetName,
      /** A model folder on the serving machine, or `builtin:hashbow-256`. */
      model: z.string().min(1, 'give a model folder or builtin:hashbow-256').max(4096),
      adapter: z.string().max(4096).optional(),
      /** score: flag a negative scoring ≥ positive − margin. mine: drop candidates above positive − margin. */
      margin: z.number().min(-2).max(2).optional(),
      /** mine: a JSONL/TXT file or BEIR folder to mine from; default the dataset's own texts. */
      corpus: z.string().max(4096).optional(),
      /** mine: skip the rangeMin most similar candidates, consider them up to rank rangeMax (CLI --range). */
      rangeMin: z.number().int().min(0).optional(),
      rangeMax: z.number().int().min(1).optional(),
      /** mine: negatives per query (CLI --num-negatives). */
      numNegatives: z.number().int().min(1).max(100).optional(),
      /** mine: one candidate pool per kind (+ language for sts/bitext; the default), or the whole dataset. */
      pools: z.enum(['kind', 'dataset']).optional(),
      /** Which examples: the curation list's filter. */
      filter: exampleFilter.optional(),
    })
    .strict(),
  scoreDistribution: z
    .object({
      dataset: datasetName,
      filter: exampleFilter.optional(),
      likelyFalseNegative: z.boolean().optional(),
    })
    .strict(),
  negativeAction: z
    .object({
      exampleId: z.number().int().positive(),
      source: z.enum(['llm', 'mined']),
      minedId: z.number().int().positive().nullable().optional(),
      /** drop: the negative leaves the example; to-positive: it becomes a new example's positive. */
      action: z.enum(['drop', 'to-positive']),
    })
    .strict(),
  scorePage: z
    .object({
      dataset: datasetName,
      likelyFalseNegative: z.boolean().optional(),
      sort: z.enum(['margin', 'positive_score', 'max_negative_score', 'id']).optional(),
      desc: z.boolean().optional(),
      limit: z.number().int().min(1).max(500).optional(),
      offset: z.number().int().min(0).optional(),
      filter: exampleFilter.optional(),
    })
    .strict(),
  secretSet: z
    .object({
      name: z.string().regex(/^[a-z0-9_-]{1,40}$/, 'use a short lowercase name such as openai'),
      value: z.string().min(1, 'the key is empty').max(4000),
    })
    .strict(),
  secretRef: z.object({ name: z.string().regex(/^[a-z0-9_-]{1,40}$/) }).strict(),
} as const;

export type Inputs = { [K in keyof typeof inputs]: z.infer<(typeof inputs)[K]> };

/**
 * What the router calls. main/api implements it over the workbench; tests can implement it over anything.
 * Every method receives input already validated by the schemas above.
 */
export interface Services {
  info(): AppInfo | Promise<AppInfo>;
  datasets: {
    list(): Dataset[];
    create(i: Inputs['datasetCreate']): Dataset;
    delete(i: Inputs['datasetRef']): { deleted: string };
    stats(i: Inputs['datasetStats']): DatasetStats;
    import(i: Inputs['datasetImport']): JobInfo;
    export(i: Inputs['datasetExport']): JobInfo;
    split(i: Inputs['datasetSplit']): { assigned: number; bySplit: Record<string, number> };
    setInstruction(i: Inputs['datasetInstruction']): Dataset;
  };
  jobs: {
    list(): JobInfo[];
    /** Asks a cancellable running job to stop; it ends cancelled. Refuses anything else with one line. */
    cancel(i: Inputs['jobRef']): JobInfo;
  };
  /** Generation runs; absent until the generation service is on the workbench. */
  generation: {
    plan(i: Inputs['generationOptions']): GenerationPlanInfo;
    start(i: Inputs['generationOptions']): { runId: string };
    resume(i: Inputs['runResume']): { runId: string };
    pause(i: Inputs['runRef']): RunSummaryInfo;
    cancel(i: Inputs['runRef']): RunSummaryInfo;
    list(i: Inputs['datasetRef']): GenerationRunInfo[];
    summary(i: Inputs['runRef']): RunSummaryInfo & { live: GenerationProgressInfo | null };
    failures(i: Inputs['runFailures']): FailedRequest[];
  };
  training: {
    start(i: Inputs['trainStart']): { runId: string; rows: number; totalSteps: number };
    /** Validates like start and returns the resolved configuration; starts nothing, writes nothing. */
    preview(i: Inputs['trainStart']): TrainPreview;
    /** Continues a stopped or interrupted run from its newest checkpoint. */
    resume(i: Inputs['trainRef']): { runId: string; rows: number; totalSteps: number };
    /** Gives up a stopped or interrupted run for good (its folder stays; it no longer offers Resume). */
    discard(i: Inputs['trainRef']): { runId: string };
    cancel(i: Inputs['trainRef']): { runId: string };
    list(): TrainingRunInfo[];
  };
  mining: {
    score(i: Inputs['miningRun']): JobInfo;
    mine(i: Inputs['miningRun']): JobInfo;
    /** A page of the newest score run, hardest first; null when the dataset was never scored. */
    page(i: Inputs['scorePage']): {
      runId: string;
      /** The model (and adapter, margin) the run scored with, so the form shows what the table shows. */
      model: string;
      adapter: string | null;
      margin: number;
      total: number;
      rows: ScoredExampleInfo[];
    } | null;
    /** Every score of the filtered rows of the newest run (histograms); null when never scored. */
    distribution(
      i: Inputs['scoreDistribution'],
    ): { positive: number[]; negative: number[]; margin: number[] } | null;
    negativeAction(i: Inputs['negativeAction']): { exampleId: number; created: number | null };
  };
  evaluation: {
    run(i: Inputs['evalRun']): JobInfo;
    /** The comparison table of stored results; null when there are none yet. */
    compare(i: Inputs['evalCompare']): ComparisonInfo | null;
  };
  /** Adapter, merged, ONNX and embeddings exports as jobs. */
  artefacts: {
    export(i: Inputs['artefactExport']): JobInfo;
  };
  /** The model library: local folders, hub pulls, removal. */
  models: {
    list(): ModelInfo[];
    pull(i: Inputs['modelPull']): JobInfo;
    remove(i: Inputs['modelRef']): { removed: string };
    /** Stops a running pull; pulling the same id again continues from the bytes already there. */
    pausePull(i: Inputs['jobRef']): { paused: boolean };
  };
  /** Picking paths on the serving machine: a file browser (browser mode) or native dialogs (Electron). */
  paths: {
    list(i: Inputs['pathList']): DirListing;
    /** `supported: false` where there is no native dialog (browser mode): use list instead. */
    pick(i: Inputs['pathPick']): Promise<{ supported: boolean; path: string | null }>;
    /**
     * Shows a folder in the desktop's file manager (Electron's shell.openPath). `supported: false` in browser
     * mode (the renderer shows the path and the file browser instead); `error`: why the shell could not.
     */
    open(i: Inputs['pathOpen']): Promise<{ supported: boolean; opened: boolean; error?: string }>;
  };
  /** First run: the demo workspace's data and model. */
  demo: {
    load(): JobInfo;
  };
  /** Generate screen extras: the provider's connection and models, a preview, the prompt templates. */
  generationTools: {
    connection(i: Inputs['generationConnection']): Promise<ConnectionCheck>;
    preview(i: Inputs['generationPreview']): GenerationPreview;
    templates(i: Inputs['datasetRef']): TemplateInfo[];
    setTemplate(i: Inputs['templateSet']): TemplateInfo[];
  };
  /** API keys: names and where they are kept; values go in, never out. */
  secrets: {
    status(): SecretsStatus;
    set(i: Inputs['secretSet']): SecretsStatus;
    delete(i: Inputs['secretRef']): SecretsStatus;
  };
  examples: {
    page(i: Inputs['examplesPage']): PageResult;
    count(i: Inputs['examplesCount']): number;
    get(i: Inputs['exampleId']): ExampleDetail;
    facets(i: Inputs['datasetRef']): Facets;
    review(i: Inputs['review']): Example;
    edit(i: Inputs['edit']): Example;
    /** `undo`: the review events it wrote, for undoBulk (one history entry in the app). */
    bulkReview(i: Inputs['bulkReview']): { changed: number; undo?: { after: number; upTo: number } };
    undoBulk(i: Inputs['undoBulk']): { restored: number };
    tokens(i: Inputs['tokens']): {
      maxLength: number;
      rows: { id: number; query: number; positive: number; negative: number | null }[];
    };
  };
  /** Async stream of app events until the signal aborts. */
  events(signal: AbortSignal | undefined): AsyncIterable<AppEvent>;
}
