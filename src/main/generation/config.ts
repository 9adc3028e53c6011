import type { Kind } from '../../shared/domain';
import type { WeightedLanguage } from './languages';
import type { ModelWeight } from './plan';
import type { PriceTable } from './prices';
import type { Template } from './prompts';
import type { ValidationOptions } from './validate';

/** Everything a run needs, stored in generation_runs.config_json (never the API key itself). */
export interface RunConfig {
  dataset: string;
  kinds: Kind[];
  count: number;
  mix: Record<Kind, number>;
  models: ModelWeight[];
  baseUrl?: string;
  /** Name of the environment variable holding the key; the key itself is never stored. */
  apiKeyEnv: string;
  azureApiVersion?: string;
  /** Extra HTTP headers; a value `env:VAR` is read from the environment at run time. */
  headers: Record<string, string>;
  concurrency: number;
  rpm?: number;
  tpm?: number;
  budgetUsd?: number;
  budgetTokens?: number;
  languages: WeightedLanguage[];
  seed: number;
  batchApi: boolean;
  temperature: number;
  topP: number;
  timeoutMs: number;
  maxRetries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  leaseTtlMs: number;
  batchPollMs: number;
  prices: PriceTable;
  /** Snapshot of the templates in force when the run was created, so a resume asks the same questions. */
  templates: Record<string, Template>;
  validation: ValidationOptions;
  /** The run fails after this many requests in a row failed after retries. */
  maxConsecutiveFailures: number;
  /** The run fails once answers processed exceed factor × count + 50 (a model that never complies). */
  maxAnswersFactor: number;
  /** Attempts (example requests that came back) a cell may make; unset: ATTEMPTS_PER_QUOTA × its quota. */
  maxAttemptsPerCell?: number;
  /** Per `kind|language` cell: attempts made before `--retry-short` gave it a fresh budget. */
  attemptOffsets?: Record<string, number>;
  /** The run fails when work is pending and nothing was on the wire (or waiting to retry) this long. */
  stallMs?: number;
}

/** Default attempt budget of a cell, per example of its quota (at least MIN_CELL_ATTEMPTS). */
export const ATTEMPTS_PER_QUOTA = 3;
export const MIN_CELL_ATTEMPTS = 5;

/** The attempt budget of one cell: the one place its default is defined. */
export function cellBudget(
  c: Pick<RunConfig, 'maxAttemptsPerCell' | 'attemptOffsets'>,
  cell: { kind: string; language: string; quota: number },
): number {
  const base = c.maxAttemptsPerCell ?? Math.max(MIN_CELL_ATTEMPTS, ATTEMPTS_PER_QUOTA * cell.quota);
  return base + (c.attemptOffsets?.[`${cell.kind}|${cell.language}`] ?? 0);
}

export const RUN_DEFAULTS = {
  concurrency: 8,
  temperature: 1.0,
  topP: 1.0,
  timeoutMs: 120_000,
  maxRetries: 6,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  leaseTtlMs: 30_000,
  batchPollMs: 30_000,
  maxConsecutiveFailures: 25,
  maxAnswersFactor: 5,
  stallMs: 120_000,
  apiKeyEnv: 'OPENAI_API_KEY',
} as const;

export type { GenerationProgress, RunState, RunSummary } from '../../shared/domain';
