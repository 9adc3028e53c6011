import fs from 'node:fs';
import path from 'node:path';
import {
  TRAIN_FIELDS,
  TRAIN_KEYS,
  type TrainKey,
  type TrainSettings,
  trainIssue,
  trainSettings,
} from '../../shared/training';
import { UserError, usageError } from '../errors';
import { type HfConfig, readModelJson } from '../models/model-folder';
import { bertConfig, bertLinears, llamaConfig, llamaLinears } from '../models/configs';
import type { EncoderOptions } from '../models/encoder';
import type { LinearModule } from '../models/lora';
import { promptFor, readSentenceTransformers } from '../models/pooling';
import { EmbedTokenizer } from '../models/tokenizer';

/** A training run's configuration: the shared schema (src/shared/training.ts) owns every field. */
export const TrainConfigSchema = trainSettings;
export type TrainConfig = TrainSettings;

/** The encoder a run trains, as the config names it (the one mapping: the job loads it, the plan sizes it). */
export const encoderOptions = (c: TrainConfig): EncoderOptions => ({
  modelDir: c.model,
  rank: c.loraRank,
  alpha: c.loraAlpha,
  dropout: c.loraDropout,
  targetModules: c.targetModules,
  maxLength: c.maxLength,
  device: c.device,
  dtype: c.dtype,
});

/** Config key → the CLI flag that sets it, so every error names the flag to change. */
export const FLAG = Object.fromEntries(
  TRAIN_KEYS.map((k) => [k, `--${TRAIN_FIELDS[k].meta.flag}`]),
) as Record<TrainKey, string>;

/** zod validation (fields and the rules between them); errors are usage errors naming the flag. */
export function parseTrainConfig(input: unknown): TrainConfig {
  const r = TrainConfigSchema.safeParse(input);
  if (!r.success) {
    const { field, message } = trainIssue(r.error);
    const flag = field ? FLAG[field] : String(r.error.issues[0]?.path[0] ?? '(config)');
    const got = field ? (input as Record<string, unknown>)?.[field] : undefined;
    throw usageError(`${flag} ${JSON.stringify(got)}: ${message}; change ${flag}`);
  }
  return r.data;
}

function readModelConfig(dir: string): HfConfig {
  const f = path.join(dir, 'config.json');
  if (!fs.existsSync(f))
    throw usageError(`--model ${dir}: no config.json there; pass a model folder with --model`);
  return readModelJson(f) as HfConfig;
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
