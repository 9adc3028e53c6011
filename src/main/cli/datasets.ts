import path from 'node:path';
import type { Command } from 'commander';
import { isKind, type Kind, type ReviewStatus, SPLITS, type Split, STATUSES } from '../../shared/domain';
import { usageError } from '../errors';
import {
  EXPORT_FORMATS,
  EXPORT_LAYOUTS,
  type ExportFormat,
  type ExportLayout,
  exportDataset,
} from '../export';
import { IMPORT_LAYOUTS, type ImportLayout, importDataset } from '../import';
import { assignSplits, parseRatios } from '../store/splits';
import { runWithWorkbench, table, withGlobals, type GlobalOpts } from './context';

const kindOpt = (k: string | undefined): Kind | undefined => {
  if (k === undefined) return undefined;
  if (!isKind(k))
    throw usageError(
      `unknown kind "${k}"; use one of short-long, long-short, short-short, long-long, sts, bitext`,
    );
  return k;
};
const oneOf = <T extends string>(
  flag: string,
  v: string | undefined,
  allowed: readonly T[],
): T | undefined => {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw usageError(`${flag} "${v}" is not known; use one of ${allowed.join(', ')}`);
  return v as T;
};

/** `embedsmith datasets …` */
export function registerDatasets(program: Command): void {
  const ds = program.command('datasets').description('create, import, export, split and inspect datasets');

  withGlobals(ds.command('list').description('list datasets')).action((opts: GlobalOpts) =>
    runWithWorkbench(opts, ({ wb, out }) => {
      const list = wb.store.datasets.list();
      out({ datasets: list }, () =>
        list.length
          ? table(
              ['name', 'examples', 'updated'],
              list.map((d) => [d.name, d.exampleCount, d.updatedAt]),
            )
          : 'no datasets yet (create one with `embedsmith datasets create NAME`)',
      );
    }),
  );

  withGlobals(ds.command('create').argument('<name>').option('--description <text>', 'free text', ''))
    .description('create an empty dataset')
    .action((name: string, opts: GlobalOpts & { description: string }) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        const d = wb.store.datasets.create(name, opts.description);
        out({ dataset: d }, `created dataset ${d.name}`);
      }),
    );

  withGlobals(
    ds
      .command('instruction')
      .argument('<name>', 'dataset')
      .argument('[text]', 'the new default instruction (omit to show the current one)')
      .option('--clear', "remove it: rows without an instruction get the method's default per kind"),
  )
    .description("show or set the instruction that training gives the dataset's rows without one")
    .action((name: string, text: string | undefined, opts: GlobalOpts & { clear?: boolean }) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        if (opts.clear && text !== undefined)
          throw usageError('give either an instruction or --clear, not both');
        const d =
          opts.clear || text !== undefined
            ? wb.store.datasets.setInstruction(name, opts.clear ? null : (text as string))
            : wb.store.datasets.get(name);
        out(
          { dataset: d.name, instruction: d.instruction },
          d.instruction
            ? `${d.name}: rows without an instruction train with "${d.instruction}"`
            : `${d.name}: no default instruction; rows without one get the method's default per kind`,
        );
      }),
    );

  withGlobals(ds.command('delete').argument('<name>'))
    .description('delete a dataset and all its examples')
    .action((name: string, opts: GlobalOpts) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        wb.store.datasets.delete(name);
        out({ deleted: name }, `deleted dataset ${name}`);
      }),
    );

  withGlobals(ds.command('stats').argument('<name>'))
    .description('counts by kind × language × status')
    .action((name: string, opts: GlobalOpts) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        const d = wb.store.datasets.get(name);
        const s = wb.store.examples.stats(d.id, d.name);
        out(s, () => {
          const marg = (title: string, m: Record<string, number>) =>
            `${title}: ${Object.entries(m)
              .sort((a, b) => b[1] - a[1])
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`;
          return [
            `${s.dataset}: ${s.total} examples`,
            marg('by kind', s.byKind),
            marg('by status', s.byStatus),
            marg('by split', s.bySplit),
            marg('by language', s.byLanguage),
            '',
            table(
              ['kind', 'language', 'status', 'count'],
              s.cells.map((c) => [c.kind, c.language, c.status, c.count]),
            ),
          ].join('\n');
        });
      }),
    );

  withGlobals(
    ds
      .command('import')
      .argument('<name>', 'dataset')
      .argument('<file_or_dir>', 'a JSONL file, or a BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv)')
      .option('--layout <layout>', `one of ${IMPORT_LAYOUTS.join(', ')}`, 'auto')
      .option('--kind <kind>', 'kind of rows whose line has none (default short-long)')
      .option('--language <code>', 'language of rows whose line has none')
      .option('--status <status>', `status of rows whose line has none: ${STATUSES.join(', ')}`)
      .option('--skip-invalid', 'import the valid lines; write the invalid ones to a file and print its path')
      .option('--create', 'create the dataset if it does not exist')
      .option(
        '--instruction <text>',
        "the dataset's default instruction: training gives it to rows without one (else the method's per kind)",
      ),
  )
    .description(
      'import a JSONL file (paper, sentence-transformers, FlagEmbedding) or a BEIR folder; all or nothing',
    )
    .action(
      (
        name: string,
        input: string,
        opts: GlobalOpts & {
          layout: string;
          kind?: string;
          language?: string;
          status?: string;
          skipInvalid?: boolean;
          create?: boolean;
          instruction?: string;
        },
      ) => {
        const layout = oneOf<ImportLayout>('--layout', opts.layout, IMPORT_LAYOUTS);
        const kind = kindOpt(opts.kind);
        const status = oneOf<ReviewStatus>('--status', opts.status, STATUSES);
        return runWithWorkbench(opts, async ({ wb, out, bar }) => {
          const b = bar(`import ${name}`);
          // A job of the registry like the app's imports (the Jobs panel lists it; a kill leaves it interrupted).
          const r = await wb.jobs.run(
            'import',
            `import ${path.basename(input)} into ${name}`,
            (job) =>
              importDataset(wb.store, name, path.resolve(input), {
                layout,
                kind,
                language: opts.language,
                status,
                skipInvalid: opts.skipInvalid,
                create: opts.create,
                instruction: opts.instruction,
                rejectedDir: path.join(wb.paths.home, 'imports'),
                onProgress: (p) => {
                  b.update(p);
                  job.progress(p);
                },
              }),
            { summary: ({ rejected: _r, ...counts }) => counts },
          );
          b.done();
          out(r, () =>
            [
              `imported ${r.input} into ${r.dataset} (${r.layout}): read ${r.read}, inserted ${r.inserted}, duplicates ${r.duplicates}, invalid ${r.invalid}${r.ignored ? `, ignored ${r.ignored} (grade < 1)` : ''} in ${r.seconds.toFixed(1)} s`,
              ...(r.rejectedFile ? [`rejected lines written to ${r.rejectedFile}`] : []),
              ...r.rejected.slice(0, 5).map((x) => `  ${x.where}: ${x.reason}`),
            ].join('\n'),
          );
        });
      },
    );

  withGlobals(
    ds
      .command('export')
      .argument('<name>', 'dataset')
      .requiredOption('--out <file>', 'output file (written via a temp file, then renamed)')
      .option('--force', 'replace --out when it exists')
      .option('--format <format>', 'jsonl or parquet (default: from the extension, else jsonl)')
      .option('--layout <layout>', `one of ${EXPORT_LAYOUTS.join(', ')}`, 'paper')
      .option('--status <status>', 'accepted, rejected, unreviewed or all', 'accepted')
      .option('--kind <kind>', 'only this kind')
      .option('--language <code>', 'only this language')
      .option('--split <split>', `only this split: ${SPLITS.join(', ')}`),
  )
    .description('export a dataset as JSONL or Parquet (default: accepted rows, paper layout)')
    .action(
      (
        name: string,
        opts: GlobalOpts & {
          out: string;
          format?: string;
          layout: string;
          status: string;
          kind?: string;
          language?: string;
          split?: string;
          force?: boolean;
        },
      ) => {
        const format = oneOf<ExportFormat>('--format', opts.format, EXPORT_FORMATS);
        const layout = oneOf<ExportLayout>('--layout', opts.layout, EXPORT_LAYOUTS);
        const status = oneOf<ReviewStatus | 'all'>('--status', opts.status, [...STATUSES, 'all']);
        const kind = kindOpt(opts.kind);
        const split = oneOf<Split>('--split', opts.split, SPLITS);
        return runWithWorkbench(opts, async ({ wb, out, bar }) => {
          const b = bar(`export ${name}`);
          const r = await wb.jobs.run('export', `export ${name} → ${path.basename(opts.out)}`, (job) =>
            exportDataset(wb.store, name, {
              out: opts.out,
              format,
              layout,
              status,
              kind,
              language: opts.language,
              split,
              overwrite: opts.force,
              onProgress: (p) => {
                b.update(p);
                job.progress(p);
              },
            }),
          );
          b.done();
          out(
            r,
            `exported ${r.rows} rows of ${r.dataset} to ${r.out} (${r.format}, ${r.layout}, ${r.records} records) in ${r.seconds.toFixed(1)} s`,
          );
        });
      },
    );

  withGlobals(
    ds
      .command('split')
      .argument('<name>', 'dataset')
      .requiredOption('--ratios <a,b,c>', 'train,dev,test ratios summing to 1, e.g. 0.9,0.05,0.05')
      .option('--seed <n>', 'seed of the hash rule', '0')
      .option('--reassign', 'recompute every row (default: rows that have a split keep it)'),
  )
    .description('assign train/dev/test by hash of (seed, content hash); stable when rows are added')
    .action((name: string, opts: GlobalOpts & { ratios: string; seed: string; reassign?: boolean }) => {
      const ratios = parseRatios(opts.ratios);
      const seed = Number(opts.seed);
      if (!Number.isSafeInteger(seed))
        throw usageError(`--seed "${opts.seed}" is not an integer; pass e.g. --seed 42`);
      return runWithWorkbench(opts, ({ wb, out }) => {
        const d = wb.store.datasets.get(name);
        const r = assignSplits(wb.store.db, d.id, { ratios, seed }, { reassign: opts.reassign });
        out(
          { dataset: d.name, ratios, seed, ...r },
          `${d.name}: assigned ${r.assigned} rows; ${Object.entries(r.bySplit)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
      });
    });
}
