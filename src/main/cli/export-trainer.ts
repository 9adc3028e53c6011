import path from 'node:path';
import type { Command } from 'commander';
import {
  TRAIN_FIELDS,
  TRAIN_KEYS,
  trainDefault,
  trainInputFromText,
  trainValueText,
} from '../../shared/training';
import { usageError } from '../errors';
import { exportTrainerJob, TRAINER_FRAMEWORKS, trainerConfigFor } from '../training/scaleout';
import { type GlobalOpts, runWithWorkbench, withGlobals } from './context';
import { trainTextFromOpts } from './train';

type Opts = GlobalOpts & { out: string; framework: string; gpus: string; nodes: string } & Record<
    string,
    unknown
  >;

const count = (v: string, flag: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw usageError(`${flag} ${v}: must be a whole number of at least 1; change ${flag}`);
  return n;
};

/** `embedsmith export trainer RUN_OR_DATASET --out DIR [--gpus N] [--nodes M] [training flags]` */
export function registerExportTrainer(ex: Command): void {
  const cmd = withGlobals(
    ex
      .command('trainer')
      .argument('<run-or-dataset>', 'run folder or run id (its config), or dataset name(s) (the flags below)')
      .requiredOption('--out <dir>', 'new folder for the job')
      .option('--framework <name>', TRAINER_FRAMEWORKS.join('|'), 'sentence-transformers')
      .option('--gpus <n>', 'GPUs per node (torchrun --nproc_per_node)', '1')
      .option('--nodes <m>', 'nodes (SLURM / accelerate machines)', '1'),
  ).description(
    'a self-contained multi-GPU sentence-transformers + PEFT job reproducing our recipe: rows, batch order, train.py, launch.sh, accelerate config, sbatch, README',
  );
  // The training flags of the schema (a run's config is their default); --out is this folder here.
  for (const k of TRAIN_KEYS) {
    if (k === 'out') continue;
    const m = TRAIN_FIELDS[k].meta;
    const def = trainDefault(k);
    const shown = def === undefined || def === null ? '' : ` (default: ${trainValueText(def)})`;
    cmd.option(`--${m.flag} ${m.arg}`, `${m.help}${shown}`);
  }
  cmd.action((source: string, o: Opts) => {
    const gpus = count(o.gpus, '--gpus');
    const nodes = count(o.nodes, '--nodes');
    const dir = path.resolve(o.out);
    return runWithWorkbench(o, async ({ wb, out, bar }) => {
      const b = bar('export trainer');
      // A job of the registry, like the Export screen's trainer job: the Jobs panel lists it.
      const res = await wb.jobs.run(
        'export',
        `export trainer ${source} → ${dir}`,
        (job) => {
          const given = trainInputFromText({ ...trainTextFromOpts(o), out: undefined });
          const { config, run } = trainerConfigFor(wb.store, wb.paths.runs, source, given);
          return exportTrainerJob(wb.store, {
            config,
            out: dir,
            framework: o.framework,
            gpus,
            nodes,
            run,
            onProgress: (p) => {
              b.update(p);
              job.progress(p);
            },
          });
        },
        { config: { source, framework: o.framework, gpus, nodes, out: dir } },
      );
      b.done();
      out(
        res,
        `wrote ${res.out}: ${res.rows} rows, ${res.steps} steps on ${res.worldSize} process(es) of ${res.perDeviceBatch} rows (${res.files.join(', ')}); run \`bash ${path.join(res.out, 'launch.sh')}\``,
      );
    });
  });
}
