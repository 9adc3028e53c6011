// Domain vocabulary shared by main, preload and renderer. No node:* and no DOM here.

/** The six task kinds of the E5-mistral method (METHOD.md §2). */
export const KINDS = ['short-long', 'long-short', 'short-short', 'long-long', 'sts', 'bitext'] as const;
export type Kind = (typeof KINDS)[number];
export const isKind = (s: string): s is Kind => (KINDS as readonly string[]).includes(s);

export const STATUSES = ['unreviewed', 'accepted', 'rejected'] as const;
export type ReviewStatus = (typeof STATUSES)[number];

export const SPLITS = ['train', 'dev', 'test'] as const;
export type Split = (typeof SPLITS)[number];

export const ORIGINS = ['synthetic', 'import', 'manual'] as const;
export type Origin = (typeof ORIGINS)[number];

export const TASK_ORIGINS = ['brainstorm', 'import', 'manual'] as const;
export type TaskOrigin = (typeof TASK_ORIGINS)[number];

/** Fixed instructions of the symmetric kinds (METHOD.md §7). */
export const FIXED_INSTRUCTIONS: Partial<Record<Kind, string>> = {
  sts: 'Retrieve semantically similar text.',
  bitext: 'Retrieve parallel sentences.',
};

/**
 * The instruction of a row that has none and whose dataset sets no default (METHOD.md §7): sts and bitext
 * use the method's fixed ones; short-long and short-short the public-set instructions §7 lists for the
 * closest sets (MS-MARCO passage, Quora duplicates); long-short and long-long have no published one, so the
 * wording is ours, following the kind's definition in §2.
 */
export const KIND_DEFAULT_INSTRUCTIONS: Record<Kind, string> = {
  'short-long': 'Given a web search query, retrieve relevant passages that answer the query',
  'long-short': 'Given a text, retrieve the label that classifies it',
  'short-short':
    'Given a question, retrieve questions that are semantically equivalent to the given question',
  'long-long': 'Given a document, retrieve documents that match it',
  sts: FIXED_INSTRUCTIONS.sts as string,
  bitext: FIXED_INSTRUCTIONS.bitext as string,
};

/**
 * Keys of each kind's step-2 JSON answer (METHOD.md §2) and which key plays query / positive / negative.
 * The paper layout of import and export uses exactly these keys.
 */
export const KIND_KEYS: Record<
  Kind,
  { keys: readonly string[]; query: string; positive: string; negative: string | null }
> = {
  'short-long': {
    keys: ['user_query', 'positive_document', 'hard_negative_document'],
    query: 'user_query',
    positive: 'positive_document',
    negative: 'hard_negative_document',
  },
  'long-short': {
    keys: ['input_text', 'label', 'misleading_label'],
    query: 'input_text',
    positive: 'label',
    negative: 'misleading_label',
  },
  'short-short': {
    keys: ['input', 'positive_document'],
    query: 'input',
    positive: 'positive_document',
    negative: null,
  },
  'long-long': {
    keys: ['input', 'positive_document'],
    query: 'input',
    positive: 'positive_document',
    negative: null,
  },
  sts: { keys: ['S1', 'S2', 'S3'], query: 'S1', positive: 'S2', negative: 'S3' },
  bitext: { keys: ['S1', 'S2', 'S3'], query: 'S1', positive: 'S2', negative: 'S3' },
};

/** One training / curation example as the store holds it. */
export interface Example {
  id: number;
  datasetId: number;
  kind: Kind;
  taskId: number | null;
  instruction: string | null;
  language: string | null;
  srcLang: string | null;
  tgtLang: string | null;
  query: string;
  positive: string;
  negative: string | null;
  /** Kind-specific extras: e.g. { high_score, low_score } for sts/bitext, { label, misleading_label } copies. */
  extras: Record<string, unknown>;
  attributes: Record<string, unknown>;
  seed: number | null;
  origin: Origin;
  generatorModel: string | null;
  templateVersion: string | null;
  runId: string | null;
  status: ReviewStatus;
  rejectReason: string | null;
  split: Split | null;
  contentHash: string;
  createdAt: string;
  updatedAt: string;
}

/** What a caller supplies to insert an example; the store derives hash and timestamps. */
export interface NewExample {
  kind: Kind;
  taskId?: number | null;
  instruction?: string | null;
  language?: string | null;
  srcLang?: string | null;
  tgtLang?: string | null;
  query: string;
  positive: string;
  negative?: string | null;
  extras?: Record<string, unknown>;
  attributes?: Record<string, unknown>;
  seed?: number | null;
  origin?: Origin;
  generatorModel?: string | null;
  templateVersion?: string | null;
  runId?: string | null;
  status?: ReviewStatus;
  rejectReason?: string | null;
  split?: Split | null;
}

export interface Dataset {
  id: number;
  name: string;
  description: string;
  createdAt: string;
  updatedAt: string;
  exampleCount: number;
  /** Instruction of the rows that have none (a dataset setting); null: the method's per kind. */
  instruction: string | null;
}

export interface StatsCell {
  kind: Kind;
  language: string;
  status: ReviewStatus;
  count: number;
}

export interface DatasetStats {
  dataset: string;
  total: number;
  byKind: Record<string, number>;
  byLanguage: Record<string, number>;
  byStatus: Record<string, number>;
  bySplit: Record<string, number>;
  cells: StatsCell[];
}

/**
 * The one job lifecycle (src/main/jobs/registry.ts): queued → running → done | failed | interrupted |
 * cancelled. Interrupted: its process went away (restart, kill) or it was paused; its work resumes through
 * the job type's own resume path.
 */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'interrupted' | 'cancelled';

/** The states a job ends in. */
export const FINAL_JOB_STATES: readonly JobState[] = ['done', 'failed', 'interrupted', 'cancelled'];

/** Progress of any long operation: enough to draw a bar with rate and ETA. */
export interface Progress {
  done: number;
  total: number | null;
  unit: string;
  ratePerS: number | null;
  etaS: number | null;
  message?: string;
}

/** State of a generation run. */
export type RunState = 'pending' | 'running' | 'paused' | 'done' | 'budget' | 'cancelled' | 'failed';

/** The `--json` summary of a generation run (and what the app shows when a run ends). */
export interface RunSummary {
  run: string;
  state: RunState;
  accepted: number;
  surplus: number;
  rejected: Record<string, number>;
  requests: number;
  retries: number;
  failed_requests: Record<string, number>;
  tokens: { prompt: number; completion: number };
  cost_usd: number;
  by_kind: Record<string, number>;
  by_language: Record<string, number>;
  /** Cells that used their attempt budget without reaching their quota (the run still ends done). */
  shortfall?: ShortCell[];
  error?: string;
}

/** One short cell of a generation run: accepted against quota, attempts made, the top reject reasons. */
export interface ShortCell {
  kind: string;
  language: string;
  accepted: number;
  quota: number;
  attempts: number;
  budget: number;
  /** Up to three reasons (reject reasons or failed-request classes), most frequent first. */
  reasons: { reason: string; n: number }[];
}

/** Live progress of a generation run, emitted as 'progress' events. */
export interface GenerationProgress {
  run: string;
  state: RunState;
  planned: number;
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  failedByClass: Record<string, number>;
  inFlight: number;
  requests: number;
  retries: number;
  tokens: { prompt: number; completion: number };
  costUsd: number;
  ratePerS: number | null;
  etaS: number | null;
}
