// `embedsmith export trainer`: a curated dataset and a training config as a self-contained
// sentence-transformers + PEFT job (multi-GPU via torchrun / accelerate / SLURM) that reproduces our recipe.
// The rows and the batch order come from the trainer's own functions (loadTrainRows, planEpoch); every
// hyper-parameter is the run config's, written once into recipe.json (train.py reads it) and rendered from
// the same object into the launch files and the README.
import fs from 'node:fs';
import path from 'node:path';
import type { TrainSettingsInput } from '../../../shared/training';
import { UserError, usageError } from '../../errors';
import { type ProgressListener, ProgressTracker } from '../../jobs/progress';
import type { Store } from '../../store';
import {
  checkMaxLength,
  checkTargetModules,
  FLAG,
  parseTrainConfig,
  queryFormatter,
  type TrainConfig,
} from '../config';
import { loadTrainRows, planEpoch, stepsPerEpoch, type TrainRow } from '../data';
import { readRunJson, totalStepsOf } from '../trainer';
import {
  buildRecipe,
  negativesOf,
  positiveInt,
  type Recipe,
  TRAINER_FRAMEWORKS,
  type TrainerFramework,
} from './recipe';
import { renderAccelerate, renderLaunch, renderReadme, renderRequirements, renderSbatch } from './files';
import { RECIPE_PY, TRAIN_PY } from './train-py';

/** The files of an exported job, in the order the README lists them. */
export { TRAINER_FRAMEWORKS, type Recipe };

export const TRAINER_FILES = [
  'README.md',
  'recipe.json',
  'train.jsonl',
  'batches.jsonl',
  'train.py',
  'embedsmith_recipe.py',
  'launch.sh',
  'accelerate.yaml',
  'job.sbatch',
  'requirements.txt',
] as const;

export interface TrainerExportOptions {
  config: TrainConfig;
  out: string;
  framework?: string;
  gpus?: number;
  nodes?: number;
  run?: string | null;
  onProgress?: ProgressListener;
}

export interface TrainerExportResult {
  out: string;
  files: string[];
  rows: number;
  steps: number;
  worldSize: number;
  perDeviceBatch: number;
}

/** The rows exactly as the trainer sees them (same builder, same options) and the trainer's checks. */
export function trainerRows(store: Store, c: TrainConfig): TrainRow[] {
  checkTargetModules(c);
  const rows = loadTrainRows(store, c.datasets, queryFormatter(c.model), {
    negatives: c.negatives,
    dropFalseNegatives: c.dropFalseNegatives,
  });
  if (stepsPerEpoch(rows, c.batchSize, c.groupBy) === 0)
    throw usageError(
      `the train split has ${rows.length} rows, fewer than ${FLAG.batchSize} ${c.batchSize} in one batch; lower ${FLAG.batchSize}`,
    );
  checkMaxLength(
    c,
    rows.map((r) => r.instruction),
  );
  return rows;
}

/** The global batches of every optimiser step, as the trainer's loop draws them (row indices). */
export function trainerSteps(c: TrainConfig, rows: TrainRow[]): number[][] {
  const per = stepsPerEpoch(rows, c.batchSize, c.groupBy);
  const total = totalStepsOf(c, rows);
  const out: number[][] = [];
  let plan: ReturnType<typeof planEpoch> | null = null;
  for (let step = 0; step < total; step++) {
    const epoch = Math.floor(step / per);
    if (!plan || plan.epoch !== epoch) plan = planEpoch(rows, c.batchSize, c.seed, epoch, c.groupBy);
    out.push(plan.batches[step % per]);
  }
  return out;
}

/** One train.jsonl line: the row as the trainer embeds it (anchor = query with its instruction template). */
export function rowRecord(r: TrainRow) {
  return {
    id: r.id,
    dataset: r.dataset,
    kind: r.kind,
    instruction: r.instruction,
    anchor: r.query,
    positive: r.positive,
    negatives: negativesOf(r),
  };
}

/** Writes the job folder (into a temp folder beside it, renamed into place when complete). */
export function exportTrainerJob(store: Store, o: TrainerExportOptions): TrainerExportResult {
  const framework = (o.framework ?? 'sentence-transformers') as TrainerFramework;
  if (!TRAINER_FRAMEWORKS.includes(framework))
    throw usageError(`--framework ${o.framework}: use ${TRAINER_FRAMEWORKS.join(' or ')}`);
  const gpus = positiveInt(o.gpus, '--gpus');
  const nodes = positiveInt(o.nodes, '--nodes');
  const out = path.resolve(o.out);
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length))
    throw usageError(`--out ${o.out} exists and is not an empty folder; pick another --out or remove it`);
  const c = o.config;
  const rows = trainerRows(store, c);
  const recipe = buildRecipe(c, rows, { framework, gpus, nodes, run: o.run ?? null });
  const steps = trainerSteps(c, rows);
  const tmp = `${out.replace(/\/$/, '')}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const progress = new ProgressTracker(rows.length + steps.length, 'rows', o.onProgress);
    writeLines(
      path.join(tmp, 'train.jsonl'),
      rows.map((r) => rowRecord(r)),
      progress,
    );
    writeLines(
      path.join(tmp, 'batches.jsonl'),
      steps.map((b, i) => ({ step: i + 1, epoch: Math.floor(i / recipe.job.stepsPerEpoch), rows: b })),
      progress,
    );
    const text: Record<string, string> = {
      'recipe.json': `${JSON.stringify(recipe, null, 2)}\n`,
      'train.py': TRAIN_PY,
      'embedsmith_recipe.py': RECIPE_PY,
      'launch.sh': renderLaunch(recipe),
      'accelerate.yaml': renderAccelerate(recipe),
      'job.sbatch': renderSbatch(recipe),
      'requirements.txt': renderRequirements(),
      'README.md': renderReadme(recipe),
    };
    for (const [f, body] of Object.entries(text)) fs.writeFileSync(path.join(tmp, f), body);
    for (const f of ['launch.sh', 'job.sbatch', 'train.py']) fs.chmodSync(path.join(tmp, f), 0o755);
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return {
    out,
    files: [...TRAINER_FILES],
    rows: rows.length,
    steps: steps.length,
    worldSize: recipe.job.worldSize,
    perDeviceBatch: recipe.job.perDeviceBatch,
  };
}

/** JSONL written in blocks (a 1.8M-row split never becomes one string). */
function writeLines(file: string, items: Iterable<unknown>, progress: ProgressTracker): void {
  const fd = fs.openSync(file, 'w');
  try {
    let buf: string[] = [];
    for (const x of items) {
      buf.push(JSON.stringify(x));
      if (buf.length >= 5000) {
        fs.writeSync(fd, `${buf.join('\n')}\n`);
        progress.tick(buf.length);
        buf = [];
      }
    }
    if (buf.length) fs.writeSync(fd, `${buf.join('\n')}\n`);
    progress.tick(buf.length);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The config of an export: RUN_OR_DATASET is a run folder (or a run id under runsDir), whose run.json
 * config is used with the given flags on top; else dataset name(s), with the flags (the schema's defaults
 * for the rest; --model is required).
 */
export function trainerConfigFor(
  store: Store,
  runsDir: string,
  source: string,
  given: Partial<TrainSettingsInput>,
): { config: TrainConfig; run: string | null } {
  const runDir = [path.resolve(source), path.join(runsDir, source)].find((d) =>
    fs.existsSync(path.join(d, 'run.json')),
  );
  if (runDir) {
    let recorded: unknown;
    try {
      recorded = readRunJson(runDir).config;
    } catch (e) {
      throw new UserError(
        `${runDir}/run.json: not readable (${(e as Error).message}); export a dataset instead`,
      );
    }
    const config = parseTrainConfig({ ...(recorded as object), ...given, out: runDir });
    return { config, run: runDir };
  }
  const names = source
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length || names.some((n) => !store.datasets.find(n)))
    throw usageError(
      `${source}: neither a training run (no run.json there or in ${runsDir}) nor a dataset; pass a run folder, a run id or a dataset name`,
    );
  return trainerConfigForDatasets(store, runsDir, names, given);
}

/**
 * The config of exporting dataset(s) with these settings (the schema's defaults for the rest): the CLI's
 * `export trainer DATASET --flags` and the Train screen's "Export for multi-GPU" both come here.
 */
export function trainerConfigForDatasets(
  store: Store,
  runsDir: string,
  names: string[],
  given: Partial<TrainSettingsInput>,
): { config: TrainConfig; run: null } {
  if (!names.length) throw new UserError('pick the dataset to export the trainer job of');
  const missing = names.find((n) => !store.datasets.find(n));
  if (missing) throw new UserError(`no dataset ${missing}; pick one of the workspace's datasets`);
  if (!given.model)
    throw usageError(`exporting dataset "${names.join(',')}" needs the base model: add --model <dir>`);
  return { config: parseTrainConfig({ ...given, datasets: names, out: runsDir }), run: null };
}
