// recipe.json: a run's training config plus what its exported sentence-transformers job derives from it and
// from the model folder. The one object every file of the export is rendered from.
import path from 'node:path';
import { UserError, usageError } from '../../errors';
import { savedTargetModules, selectTargets } from '../../models/lora';
import { EmbeddingModel } from '../../models/model';
import { FLAG, modelLinears, type TrainConfig } from '../config';
import { stepsPerEpoch, type TrainRow } from '../data';
import { loraConfigOf, totalStepsOf } from '../trainer';

export const TRAINER_FRAMEWORKS = ['sentence-transformers'] as const;
export type TrainerFramework = (typeof TRAINER_FRAMEWORKS)[number];

/** How our model code tokenizes and pools this model (train.py's collator and pooling follow it). */
export interface TokenizerRecipe {
  maxLength: number;
  /** Last-token pooling: the sequence must end with EOS. */
  appendEos: boolean;
  /** The tokenizer ends its encodings with EOS (or a suffix special token) itself. */
  tokenizerAppendsEos: boolean;
  eosId: number | null;
  padId: number;
  paddingSide: 'left' | 'right';
  /** Ids the post-processor appends (kept when truncating). */
  suffixLength: number;
  /** cumsum: decoders number real tokens (position_ids fed); default: the model's own (arange / XLM-R). */
  positions: 'cumsum' | 'default';
}

/** What we derived from the config for this job (everything else is the config itself). */
export interface JobRecipe {
  framework: TrainerFramework;
  /** sentence-transformers' scale = 1 / τ. */
  scale: number;
  /** CachedMultipleNegativesRankingLoss mini_batch_size = our GradCache chunk. */
  miniBatchSize: number;
  globalBatch: number;
  gpusPerNode: number;
  nodes: number;
  worldSize: number;
  perDeviceBatch: number;
  totalSteps: number;
  stepsPerEpoch: number;
  rows: number;
  /** Negative columns of the ST dataset (rows with fewer are padded and masked). */
  maxNegatives: number;
  /** PEFT target_modules: our resolved list (module-name suffixes), never the literal 'all-linear'. */
  targetModules: string[] | string;
  /** sentence-transformers Pooling mode. */
  pooling: 'lasttoken' | 'mean' | 'cls';
  normalize: boolean;
  /** Base weights dtype as our trainer resolves it on CUDA ('auto' → bfloat16). */
  torchDtype: 'float32' | 'float16' | 'bfloat16';
  /** Our --recompute: on and auto (the GPU's memory is unknown here) → gradient checkpointing. */
  gradientCheckpointing: boolean;
}

export interface Recipe {
  version: 1;
  /** Where the rows came from: a run folder or a dataset name. */
  source: { run: string | null; datasets: string[] };
  model: string;
  config: TrainConfig;
  job: JobRecipe;
  tokenizer: TokenizerRecipe;
}

/** A row's hard negatives in the order the trainer adds them to the batch. */
export const negativesOf = (r: TrainRow) => [
  ...(r.negative !== null ? [r.negative] : []),
  ...(r.extraNegatives ?? []),
];

const POOLING_ST = { last_token: 'lasttoken', mean: 'mean', cls: 'cls' } as const;

export function positiveInt(v: number | undefined, flag: string): number {
  const n = v ?? 1;
  if (!Number.isSafeInteger(n) || n < 1 || n > 100_000)
    throw usageError(`${flag} ${String(v)}: must be a whole number of at least 1; change ${flag}`);
  return n;
}

/** recipe.json's content: the config plus what this job derives from it and from the model folder. */
export function buildRecipe(
  c: TrainConfig,
  rows: TrainRow[],
  o: { framework: TrainerFramework; gpus: number; nodes: number; run: string | null },
): Recipe {
  const worldSize = o.gpus * o.nodes;
  if (c.batchSize % worldSize !== 0)
    throw usageError(
      `${FLAG.batchSize} ${c.batchSize} does not split over --gpus ${o.gpus} × --nodes ${o.nodes} = ${worldSize} processes; pick a batch size divisible by ${worldSize} or other --gpus/--nodes`,
    );
  const model = EmbeddingModel.load(c.model, { maxLength: c.maxLength });
  const tok = model.tokenizer;
  const appendEos = model.pooling === 'last_token';
  if (appendEos && !tok.appendsEos && tok.eosId === null)
    throw new UserError(
      `--model ${c.model}: tokenizer_config.json names no eos_token for last-token pooling`,
    );
  const lora = loraConfigOf(c);
  const dtype = c.dtype === 'auto' ? 'bfloat16' : c.dtype;
  return {
    version: 1,
    source: { run: o.run, datasets: c.datasets },
    model: path.resolve(c.model),
    config: { ...c, model: path.resolve(c.model) },
    job: {
      framework: o.framework,
      scale: 1 / c.temperature,
      miniBatchSize: c.chunkSize,
      globalBatch: c.batchSize,
      gpusPerNode: o.gpus,
      nodes: o.nodes,
      worldSize,
      perDeviceBatch: c.batchSize / worldSize,
      totalSteps: totalStepsOf(c, rows),
      stepsPerEpoch: stepsPerEpoch(rows, c.batchSize, c.groupBy),
      rows: rows.length,
      maxNegatives: rows.reduce((m, r) => Math.max(m, negativesOf(r).length), 0),
      targetModules: savedTargetModules(lora, selectTargets(modelLinears(c.model), lora.targetModules)),
      pooling: POOLING_ST[model.pooling],
      normalize: model.normalize,
      torchDtype: dtype,
      gradientCheckpointing: c.recompute !== 'off',
    },
    tokenizer: {
      maxLength: model.maxLength,
      appendEos,
      tokenizerAppendsEos: tok.appendsEos,
      eosId: tok.eosId,
      padId: tok.padId,
      paddingSide: tok.paddingSide,
      suffixLength: tok.suffixLen,
      positions: model.arch.positions === 'cumsum' ? 'cumsum' : 'default',
    },
  };
}
