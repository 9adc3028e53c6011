import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { SPLITS } from '../../shared/domain';
import { usageError } from '../errors';
import { EXPORT_FORMATS, type ExportFormat, exportDataset } from '../export';
import { DEFAULT_EXPORT_INSTRUCTION } from '../models/export';
import { exportAdapter, exportMerged, exportRunOnnx, resolveRun } from '../training/export';
import { type GlobalOpts, runWithWorkbench, withGlobals } from './context';
import { registerExportTrainer } from './export-trainer';

const INSTRUCTION_HELP = `instruction of the folder's sentence-transformers "query" prompt (default "${DEFAULT_EXPORT_INSTRUCTION}")`;
const DATASET_LAYOUTS = ['sentence-transformers', 'flagembedding', 'paper'] as const;

/** `embedsmith export merged|onnx|dataset …` */
export function registerExport(program: Command): void {
  const ex = program
    .command('export')
    .description('export a trained model (adapter / merged / ONNX) or a dataset for other trainers');
  registerExportTrainer(ex);

  withGlobals(
    ex
      .command('merged')
      .argument('<run>', 'run folder or run id')
      .requiredOption('--out <dir>', 'output folder')
      .option('--instruction <text>', INSTRUCTION_HELP),
  )
    .description(
      'base weights with the run adapter merged (safetensors + config + tokenizer), loadable by transformers',
    )
    .action((run: string, o: GlobalOpts & { out: string; instruction?: string }) =>
      runWithWorkbench(o, async ({ wb, out, log }) => {
        const r = resolveRun(run, wb.paths.runs);
        log(`merging ${r.adapterDir} into ${r.modelDir}`);
        // Jobs of the registry, like the app's artefact exports.
        const res = await wb.jobs.run('export', `export merged ${run} → ${o.out}`, () =>
          exportMerged(r, path.resolve(o.out), { instruction: o.instruction }),
        );
        out(res, `wrote ${res.out} (${res.merged} merged weights in ${res.files.join(', ')})`);
      }),
    );

  withGlobals(
    ex
      .command('adapter')
      .argument('<run>', 'run folder or run id')
      .requiredOption('--out <dir>', 'output folder')
      .option('--instruction <text>', INSTRUCTION_HELP),
  )
    .description(
      'the run adapter (PEFT) with tokenizer and sentence-transformers files: SentenceTransformer(path) loads it over its base',
    )
    .action((run: string, o: GlobalOpts & { out: string; instruction?: string }) =>
      runWithWorkbench(o, async ({ wb, out }) => {
        const res = await wb.jobs.run('export', `export adapter ${run} → ${o.out}`, () =>
          exportAdapter(resolveRun(run, wb.paths.runs), path.resolve(o.out), { instruction: o.instruction }),
        );
        out(res, `wrote ${res.out}: ${res.files.join(', ')}`);
      }),
    );

  withGlobals(
    ex
      .command('onnx')
      .argument('<run>', 'run folder or run id')
      .requiredOption('--out <dir>', 'output folder')
      .option('--instruction <text>', INSTRUCTION_HELP),
  )
    .description('ONNX export (transformers.js layout) of the base model with the run adapter merged')
    .action((run: string, o: GlobalOpts & { out: string; instruction?: string }) =>
      runWithWorkbench(o, async ({ wb, out }) => {
        const res = await wb.jobs.run('export', `export onnx ${run} → ${o.out}`, () =>
          exportRunOnnx(resolveRun(run, wb.paths.runs), path.resolve(o.out), { instruction: o.instruction }),
        );
        out(res, `wrote ${res.out}: ${res.files.join(', ')}`);
      }),
    );

  withGlobals(
    ex
      .command('dataset')
      .argument('<name>', 'dataset')
      .requiredOption('--layout <layout>', DATASET_LAYOUTS.join('|'))
      .requiredOption('--out <dir>', 'output folder: one file per split (train, dev, test)')
      .option('--format <format>', 'jsonl or parquet', 'jsonl'),
  )
    .description('accepted rows per split in the layout sentence-transformers or FlagEmbedding trainers read')
    .action((name: string, o: GlobalOpts & { layout: string; out: string; format: string }) => {
      if (!(DATASET_LAYOUTS as readonly string[]).includes(o.layout))
        throw usageError(`--layout ${o.layout}: use one of ${DATASET_LAYOUTS.join(', ')}`);
      if (!(EXPORT_FORMATS as readonly string[]).includes(o.format))
        throw usageError(`--format ${o.format}: use one of ${EXPORT_FORMATS.join(', ')}`);
      const dir = path.resolve(o.out);
      return runWithWorkbench(o, async ({ wb, out }) => {
        // A job of the registry, like the app's exports: the Jobs panel lists it, done or failed.
        const files = await wb.jobs.run(
          'export',
          `export ${name} (${o.layout}) → ${dir}`,
          (job) => {
            const ds = wb.store.datasets.get(name);
            const splits = SPLITS.filter(
              (split) => wb.store.examples.count(ds.id, { status: 'accepted', split }) > 0,
            );
            if (!splits.length)
              throw usageError(
                `dataset "${name}" has no accepted rows in any split; run \`embedsmith datasets split ${name}\` first`,
              );
            fs.mkdirSync(dir, { recursive: true });
            return splits.map((split, i) => {
              const f = exportDataset(wb.store, name, {
                out: path.join(dir, `${split}.${o.format}`),
                format: o.format as ExportFormat,
                layout: o.layout as (typeof DATASET_LAYOUTS)[number],
                status: 'accepted',
                split,
              });
              job.progress({ done: i + 1, total: splits.length, unit: 'files', ratePerS: null, etaS: null });
              return f;
            });
          },
          {
            config: { dataset: name, layout: o.layout, format: o.format, out: dir },
            summary: (written) => ({
              dataset: name,
              out: dir,
              files: written.length,
              rows: written.reduce((s, f) => s + f.rows, 0),
            }),
          },
        );
        out(
          { dataset: name, files },
          files.map((f) => `${f.out}: ${f.rows} rows (${f.records} records)`).join('\n'),
        );
      });
    });
}
