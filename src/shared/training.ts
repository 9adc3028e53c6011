// THE training configuration: every field once, with its bound, default, CLI flag, GUI label, group and help.
// The CLI flags (cli/train.ts), the contract's trainStart input, the trainer's prepare and the Train form
// are all derived from TRAIN_FIELDS, so adding a setting is one entry here (plus its use in the trainer).
// Defaults are the method's (METHOD.md §7). No node:* and no DOM here.
import { z } from 'zod';
import { datasetName } from './names';

/** The Train form's sections, in display order. */
export const TRAIN_GROUPS = {
  basic: 'Basic',
  lora: 'LoRA',
  loss: 'Loss & negatives',
  hardware: 'Hardware',
  advanced: 'Advanced',
} as const;
export type TrainGroup = keyof typeof TRAIN_GROUPS;

export interface TrainFieldMeta {
  group: TrainGroup;
  /** What the GUI calls it (form label, error messages in the app). */
  label: string;
  /** One line for `--help` and the form's hint. */
  help: string;
  /** CLI flag without the dashes, e.g. `lora-rank`. */
  flag: string;
  /** CLI argument placeholder, e.g. `<n>`; `[what]` makes the value optional (see `bare`). */
  arg: string;
  /** Value a bare `--flag` (no argument) stands for, for `[what]` flags. */
  bare?: string;
  /** Shown in the form's input when empty (the default is what an empty field means). */
  placeholder?: string;
  /** Not a form control: the app sets it (run folder) or renders it itself (datasets, model). */
  form?: 'custom' | 'none';
}

interface Field<S extends z.ZodType = z.ZodType> {
  schema: S;
  meta: TrainFieldMeta;
}
const f = <S extends z.ZodType>(schema: S, meta: TrainFieldMeta): Field<S> => ({ schema, meta });

const prob = z.number().min(0).lt(1, 'must be below 1');

/** Every training setting. Order is the form's order within each group and the CLI's `--help` order. */
export const TRAIN_FIELDS = {
  datasets: f(z.array(datasetName).min(1, 'pick a dataset to train on'), {
    group: 'basic',
    label: 'Datasets',
    help: 'dataset(s) to train on; their train split is used (repeat or comma-separate)',
    flag: 'dataset',
    arg: '<name>',
    form: 'custom',
  }),
  model: f(z.string().min(1, 'give the base model folder').max(4096), {
    group: 'basic',
    label: 'Base model',
    help: 'base model folder (HF checkpoint with tokenizer) on the machine running Embedsmith',
    flag: 'model',
    arg: '<dir>',
    form: 'custom',
  }),
  epochs: f(z.number().int().min(1, 'must be at least 1').max(1000).default(1), {
    group: 'basic',
    label: 'Epochs',
    help: 'passes over the train split',
    flag: 'epochs',
    arg: '<n>',
  }),
  maxSteps: f(z.number().int().min(1, 'must be at least 1').nullable().default(null), {
    group: 'basic',
    label: 'Max steps',
    help: 'stop after this many optimiser steps (empty: all epochs)',
    flag: 'max-steps',
    arg: '<n>',
    placeholder: 'all epochs',
  }),
  batchSize: f(z.number().int().min(2, 'must be at least 2 (in-batch negatives)').max(65536).default(2048), {
    group: 'basic',
    label: 'Batch size',
    help: 'contrastive batch (rows); every positive and negative in it is a candidate',
    flag: 'batch-size',
    arg: '<n>',
  }),
  lr: f(z.number().positive('must be above 0').max(1).default(1e-4), {
    group: 'basic',
    label: 'Learning rate',
    help: 'peak learning rate',
    flag: 'lr',
    arg: '<x>',
  }),
  maxLength: f(z.number().int().min(2, 'must be at least 2').max(32768).default(512), {
    group: 'basic',
    label: 'Max tokens per text',
    help: 'max tokens per text (EOS included)',
    flag: 'max-length',
    arg: '<n>',
  }),
  loraRank: f(z.number().int().min(1, 'must be at least 1').max(1024).default(16), {
    group: 'lora',
    label: 'LoRA rank',
    help: 'LoRA rank r',
    flag: 'lora-rank',
    arg: '<n>',
  }),
  loraAlpha: f(z.number().positive('must be above 0').default(32), {
    group: 'lora',
    label: 'LoRA alpha',
    help: 'LoRA alpha (the update is scaled by alpha / r)',
    flag: 'lora-alpha',
    arg: '<n>',
  }),
  loraDropout: f(prob.default(0.1), {
    group: 'lora',
    label: 'LoRA dropout',
    help: 'dropout on the LoRA branch',
    flag: 'lora-dropout',
    arg: '<p>',
  }),
  targetModules: f(z.array(z.string().min(1)).min(1, 'name at least one module').default(['all-linear']), {
    group: 'lora',
    label: 'Target modules',
    help: 'comma-separated module names (q_proj,v_proj,…), or all-linear',
    flag: 'target-modules',
    arg: '<list>',
  }),
  temperature: f(z.number().positive('must be above 0').default(0.02), {
    group: 'loss',
    label: 'Temperature τ',
    help: 'InfoNCE temperature τ',
    flag: 'temperature',
    arg: '<x>',
  }),
  negatives: f(z.enum(['llm', 'mined', 'both']).default('llm'), {
    group: 'loss',
    label: 'Hard negatives',
    help: 'hard negatives: llm (written with the example), mined (Hard negatives screen / `embedsmith mine`), or both',
    flag: 'negatives',
    arg: '<src>',
  }),
  dropFalseNegatives: f(z.enum(['off', 'negative', 'row']).default('off'), {
    group: 'loss',
    label: 'Drop false negatives',
    help: 'negatives the latest score run flagged: off, negative (drop it, keep the pair; a bare flag) or row',
    flag: 'drop-false-negatives',
    arg: '[what]',
    bare: 'negative',
  }),
  groupBy: f(z.enum(['none', 'kind', 'dataset']).default('none'), {
    group: 'loss',
    label: 'Batches drawn from one',
    help: 'draw each batch from one: none|kind|dataset',
    flag: 'group-by',
    arg: '<g>',
  }),
  device: f(z.enum(['auto', 'cuda', 'webgpu', 'cpu']).default('auto'), {
    group: 'hardware',
    label: 'Device',
    help: 'auto|cuda|webgpu|cpu',
    flag: 'device',
    arg: '<d>',
  }),
  dtype: f(z.enum(['auto', 'float32', 'float16', 'bfloat16']).default('auto'), {
    group: 'hardware',
    label: 'Base weights dtype',
    help: 'compute dtype of the base weights: auto = bfloat16 on CUDA, float16 (with dynamic loss scaling) on WebGPU, float32 on CPU; or float32|float16|bfloat16 (LoRA masters stay float32)',
    flag: 'dtype',
    arg: '<t>',
  }),
  recompute: f(z.enum(['auto', 'on', 'off']).default('auto'), {
    group: 'hardware',
    label: 'Layer recompute',
    help: 'recompute each layer in the backward instead of keeping its activations (~1 more forward, far less memory): auto = on when the memory plan says the chunk would not fit',
    flag: 'recompute',
    arg: '<mode>',
  }),
  memoryGb: f(z.number().positive('must be above 0').max(1e6).nullable().default(null), {
    group: 'hardware',
    label: 'Memory budget (GB)',
    help: 'memory the run may use, in GiB (2³⁰ bytes; empty: what the device reports: RAM on CPU, VRAM on CUDA)',
    flag: 'memory-gb',
    arg: '<gb>',
    placeholder: 'device memory',
  }),
  chunkSize: f(z.number().int().min(1, 'must be at least 1').max(4096).default(16), {
    group: 'hardware',
    label: 'GradCache chunk',
    help: 'GradCache chunk (sequences per forward/backward); memory grows with this',
    flag: 'chunk-size',
    arg: '<n>',
  }),
  warmup: f(z.number().int().min(0, 'must be 0 or more').default(100), {
    group: 'advanced',
    label: 'Warm-up steps',
    help: 'linear warm-up steps, then linear decay',
    flag: 'warmup',
    arg: '<steps>',
  }),
  weightDecay: f(z.number().min(0, 'must be 0 or more').default(0.1), {
    group: 'advanced',
    label: 'Weight decay',
    help: 'AdamW decoupled weight decay',
    flag: 'weight-decay',
    arg: '<x>',
  }),
  maxGradNorm: f(z.number().min(0, 'must be 0 or more').default(1), {
    group: 'advanced',
    label: 'Gradient clip',
    help: 'global gradient-norm clip (0 = off)',
    flag: 'max-grad-norm',
    arg: '<x>',
  }),
  betas: f(z.tuple([prob, prob]).default([0.9, 0.999]), {
    group: 'advanced',
    label: 'Adam betas',
    help: 'AdamW beta1,beta2',
    flag: 'betas',
    arg: '<b1,b2>',
  }),
  eps: f(z.number().positive('must be above 0').default(1e-8), {
    group: 'advanced',
    label: 'Adam epsilon',
    help: 'AdamW epsilon',
    flag: 'eps',
    arg: '<x>',
  }),
  seed: f(z.number().int().min(0, 'must be 0 or more').default(42), {
    group: 'advanced',
    label: 'Seed',
    help: 'seed of LoRA init, data order and dropout',
    flag: 'seed',
    arg: '<n>',
  }),
  checkpointEvery: f(z.number().int().min(0, 'must be 0 or more').default(100), {
    group: 'advanced',
    label: 'Checkpoint every',
    help: 'checkpoint interval in steps (0 = only at the end)',
    flag: 'checkpoint-every',
    arg: '<steps>',
  }),
  encoder: f(z.enum(['model', 'reference']).default('model'), {
    group: 'advanced',
    label: 'Encoder',
    help: 'model (ONNX training graphs) or reference (pure-TS test encoder)',
    flag: 'encoder',
    arg: '<e>',
  }),
  out: f(z.string().min(1).max(4096), {
    group: 'advanced',
    label: 'Run folder',
    help: 'run folder (default: <home>/runs/<run id>)',
    flag: 'out',
    arg: '<dir>',
    form: 'none',
  }),
} satisfies Record<string, Field>;

export type TrainKey = keyof typeof TRAIN_FIELDS;
export const TRAIN_KEYS = Object.keys(TRAIN_FIELDS) as TrainKey[];

type Shape = { [K in TrainKey]: (typeof TRAIN_FIELDS)[K]['schema'] };
const shape = Object.fromEntries(TRAIN_KEYS.map((k) => [k, TRAIN_FIELDS[k].schema])) as Shape;

/** The object without the cross-field rules (zod cannot omit from a refined object). Unknown keys are
 * dropped, so a run.json written by another version still resumes. */
export const trainFieldsObject = z.object(shape);

/** The rules between fields, each reported on the field to change. */
export function trainRules(
  c: { chunkSize: number; batchSize: number; warmup: number; maxSteps: number | null },
  ctx: z.RefinementCtx,
): void {
  if (c.chunkSize > c.batchSize)
    ctx.addIssue({
      code: 'custom',
      path: ['chunkSize'],
      message: `is larger than the batch size ${c.batchSize} (GradCache chunks split the batch); lower it`,
    });
  if (c.warmup > 0 && c.maxSteps !== null && c.warmup > c.maxSteps)
    ctx.addIssue({
      code: 'custom',
      path: ['warmup'],
      message: `exceeds the max steps ${c.maxSteps}; lower it`,
    });
}

/** A complete training configuration (the run folder included): what run.json stores. */
export const trainSettings = trainFieldsObject.superRefine(trainRules);
export type TrainSettings = z.output<typeof trainSettings>;
/** What callers may pass: anything with a default may be left out. */
export type TrainSettingsInput = z.input<typeof trainSettings>;

/** The contract's trainStart: the same fields; the server picks the run folder. */
export const trainStartInput = trainFieldsObject.omit({ out: true }).strict().superRefine(trainRules);
export type TrainStartInput = z.input<typeof trainStartInput>;

/** The default of a field (undefined for the required ones). */
export function trainDefault<K extends TrainKey>(k: K): TrainSettings[K] | undefined {
  const r = TRAIN_FIELDS[k].schema.safeParse(undefined);
  return r.success ? (r.data as TrainSettings[K]) : undefined;
}

/** What a field's control holds: the zod type under default/nullable. */
export type TrainValueKind =
  | { type: 'number'; nullable: boolean }
  | { type: 'string' }
  | { type: 'enum'; options: string[] }
  | { type: 'list' }
  | { type: 'numbers' };

export function trainValueKind(k: TrainKey): TrainValueKind {
  let s = TRAIN_FIELDS[k].schema as z.ZodType;
  let nullable = false;
  for (;;) {
    const def = s.def as { type: string; innerType?: z.ZodType };
    if (def.type === 'nullable') nullable = true;
    if ((def.type === 'default' || def.type === 'nullable' || def.type === 'optional') && def.innerType)
      s = def.innerType;
    else break;
  }
  const t = (s.def as { type: string }).type;
  if (t === 'number') return { type: 'number', nullable };
  if (t === 'enum') return { type: 'enum', options: (s as unknown as z.ZodEnum).options as string[] };
  if (t === 'array') return { type: 'list' };
  if (t === 'tuple') return { type: 'numbers' };
  return { type: 'string' };
}

/** A typed value (CLI argument, form field): a string, a list of strings, or `true` for a bare flag. */
export type TrainTextValue = string | string[] | boolean;

/**
 * Text values (CLI arguments, form fields) → the typed input prepare validates. The CLI and the Train form
 * both go through here, so the same text gives the same config. Empty text means "the default"; numbers
 * that do not parse become NaN so zod's message names the field.
 */
export function trainInputFromText(values: Partial<Record<TrainKey, TrainTextValue | undefined>>) {
  const out: Record<string, unknown> = {};
  for (const k of TRAIN_KEYS) {
    let v = values[k];
    if (v === undefined) continue;
    if (v === true) v = TRAIN_FIELDS[k].meta.bare ?? 'true';
    if (v === false) continue;
    const kind = trainValueKind(k);
    const items = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim());
    const text = Array.isArray(v) ? v.join(',') : v.trim();
    if (kind.type === 'list') {
      const list = items.filter(Boolean);
      if (list.length) out[k] = list;
    } else if (text === '') {
    } else if (kind.type === 'number') out[k] = Number(text);
    else if (kind.type === 'numbers') out[k] = items.map((s) => (s === '' ? Number.NaN : Number(s)));
    else out[k] = text;
  }
  return out as TrainSettingsInput;
}

/** A config value as the form shows it (the inverse of trainInputFromText). */
export function trainValueText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

/** The first issue of a failed parse, as the field it belongs to and its message. */
export function trainIssue(e: z.ZodError): { field: TrainKey | null; message: string } {
  const i = e.issues[0];
  const k = String(i?.path[0] ?? '');
  return { field: (TRAIN_KEYS as string[]).includes(k) ? (k as TrainKey) : null, message: i?.message ?? '' };
}
