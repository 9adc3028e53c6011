import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UserError, usageError } from '../errors';
import type { HfConfig } from '../models/checkpoint';
import { bertConfig, bertLinears, llamaConfig, llamaLinears } from '../models/configs';
import type { LinearModule } from '../models/lora';
import { promptFor, readSentenceTransformers } from '../models/pooling';
import { EmbedTokenizer } from '../models/tokenizer';

/** A training run's configuration (validated with zod; every field maps to one CLI flag). */
export const TrainConfigSchema = z.object({
  datasets: z.array(z.string().min(1)).min(1),
  model: z.string().min(1),
  /** 'model': the models area's ONNX training graph; 'reference': the pure-TS test encoder. */
  encoder: z.enum(['model', 'reference']).default('model'),
  loraRank: z.number().int().min(1, 'must be at least 1'),
  loraAlpha: z.number().positive(),
  loraDropout: z.number().min(0).lt(1),
  targetModules: z.array(z.string().min(1)).min(1),
  batchSize: z.number().int().min(2, 'must be at least 2 (in-batch negatives)'),
  chunkSize: z.number().int().min(1),
  lr: z.number().positive(),
  warmup: z.number().int().min(0),
  weightDecay: z.number().min(0),
  temperature: z.number().positive(),
  epochs: z.number().int().min(1),
  maxSteps: z.number().int().min(1).nullable().default(null),
  maxLength: z.number().int().min(2),
  maxGradNorm: z.number().min(0).default(1),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
  eps: z.number().positive().default(1e-8),
  seed: z.number().int().min(0).default(42),
  device: z.enum(['auto', 'cuda', 'webgpu', 'cpu']).default('auto'),
  dtype: z.enum(['auto', 'float32', 'float16', 'bfloat16']).default('auto'),
  groupBy: z.enum(['none', 'kind', 'dataset']).default('none'),
  checkpointEvery: z.number().int().min(0).default(100),
  /** Hard negatives: LLM-written, mined (src/main/mining), or both. */
  negatives: z.enum(['llm', 'mined', 'both']).default('llm'),
  /** Rows whose negative the latest score run flagged: keep, drop the negative, or drop the row. */
  dropFalseNegatives: z.enum(['off', 'negative', 'row']).default('off'),
  out: z.string().min(1),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** Config key → the CLI flag that sets it, so every error names the flag to change. */
export const FLAG: Record<keyof TrainConfig, string> = {
  datasets: '--dataset',
  model: '--model',
  encoder: '--encoder',
  loraRank: '--lora-rank',
  loraAlpha: '--lora-alpha',
  loraDropout: '--lora-dropout',
  targetModules: '--target-modules',
  batchSize: '--batch-size',
  chunkSize: '--chunk-size',
  lr: '--lr',
  warmup: '--warmup',
  weightDecay: '--weight-decay',
  temperature: '--temperature',
  epochs: '--epochs',
  maxSteps: '--max-steps',
  maxLength: '--max-length',
  maxGradNorm: '--max-grad-norm',
  betas: '--betas',
  eps: '--eps',
  seed: '--seed',
  device: '--device',
  dtype: '--dtype',
  groupBy: '--group-by',
  checkpointEvery: '--checkpoint-every',
  negatives: '--negatives',
  dropFalseNegatives: '--drop-false-negatives',
  out: '--out',
};

export const DEFAULTS = {
  loraRank: 16,
  loraAlpha: 32,
  loraDropout: 0.1,
  targetModules: ['all-linear'],
  batchSize: 2048,
  chunkSize: 16,
  lr: 1e-4,
  warmup: 100,
  weightDecay: 0.1,
  temperature: 0.02,
  epochs: 1,
  maxLength: 512,
};

/** zod validation plus the cross-field rules; errors are usage errors naming the flag. */
export function parseTrainConfig(input: unknown): TrainConfig {
  const r = TrainConfigSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = String(issue.path[0] ?? '') as keyof TrainConfig;
    const got = (input as Record<string, unknown>)?.[key];
    throw usageError(
      `${FLAG[key] ?? key} ${JSON.stringify(got)}: ${issue.message}; change ${FLAG[key] ?? key}`,
    );
  }
  const c = r.data;
  if (c.chunkSize > c.batchSize)
    throw usageError(
      `--chunk-size ${c.chunkSize} is larger than --batch-size ${c.batchSize}; lower --chunk-size (GradCache chunks split the batch)`,
    );
  if (c.warmup > 0 && c.maxSteps !== null && c.warmup > c.maxSteps)
    throw usageError(`--warmup ${c.warmup} exceeds --max-steps ${c.maxSteps}; lower --warmup`);
  return c;
}

function readModelConfig(dir: string): HfConfig {
  const f = path.join(dir, 'config.json');
  if (!fs.existsSync(f))
    throw usageError(`--model ${dir}: no config.json there; pass a model folder with --model`);
  return JSON.parse(fs.readFileSync(f, 'utf8')) as HfConfig;
}

/** The model's linear layers (module paths), for target-module validation. */
export function modelLinears(dir: string): LinearModule[] {
  const c = readModelConfig(dir);
  const t = c.model_type;
  if (['llama', 'mistral', 'qwen2', 'qwen3'].includes(t)) return llamaLinears(llamaConfig(c));
  if (['bert', 'xlm-roberta'].includes(t)) return bertLinears(bertConfig(c));
  throw usageError(`--model ${dir}: model_type "${t}" is not supported for training`);
}

/** Each --target-modules name must match some linear (PEFT suffix match), or be 'all-linear'. */
export function checkTargetModules(c: TrainConfig): void {
  if (c.encoder === 'reference') return;
  const linears = modelLinears(c.model);
  if (c.targetModules.length === 1 && c.targetModules[0] === 'all-linear') return;
  const names = [...new Set(linears.map((m) => m.path.split('.').at(-1)))];
  for (const t of c.targetModules) {
    if (t === 'all-linear')
      throw usageError('--target-modules: all-linear cannot be combined with names; pass it alone');
    if (!linears.some((m) => m.path === t || m.path.endsWith(`.${t}`)))
      throw usageError(
        `--target-modules: "${t}" is not a linear layer of this model (it has ${names.join(', ')}); change --target-modules`,
      );
  }
}

/** The function that turns (instruction, query) into the model's query text (folder prompt or default). */
export function queryFormatter(modelDir: string): (instruction: string, query: string) => string {
  const info = readSentenceTransformers(modelDir);
  return (ins, q) => promptFor(info, 'query', ins)(q);
}

/**
 * --max-length must leave room for the query after the longest instruction prefix (+ EOS): otherwise
 * every query would be truncated to its instruction.
 */
export function checkMaxLength(c: TrainConfig, instructions: Iterable<string>): void {
  const cfg = readModelConfig(c.model);
  let tok: EmbedTokenizer;
  try {
    tok = EmbedTokenizer.load(c.model, cfg);
  } catch (e) {
    if (e instanceof UserError) throw usageError(`--model ${c.model}: ${e.message}`);
    throw e;
  }
  const fmt = queryFormatter(c.model);
  let worst = 0;
  let worstIns = '';
  for (const ins of new Set(instructions)) {
    const n = tok.encode(fmt(ins, '')).length + (tok.appendsEos ? 0 : 1);
    if (n > worst) {
      worst = n;
      worstIns = ins;
    }
  }
  if (c.maxLength <= worst)
    throw usageError(
      `--max-length ${c.maxLength} leaves no room for the query: the instruction "${worstIns.slice(0, 60)}" alone takes ${worst} tokens; raise --max-length above ${worst}`,
    );
}
