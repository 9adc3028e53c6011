import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { usageError } from '../errors';
import { formatComparison, NO_REVISION } from '../eval/results';
import { type EvaluateResult, LANGUAGE_TAG, type OpenEmbedderOptions, TASK_SPEC_HELP } from '../eval/service';
import { runWithWorkbench, table, withGlobals, type GlobalOpts } from './context';

interface EvalOpts extends GlobalOpts {
  model?: string;
  adapter: string[];
  task: string[];
  instruction?: string;
  name?: string;
  revision?: string;
  modelName?: string;
  split?: string;
  language?: string;
  limit?: string;
  provider?: string;
  clusterProtocol?: string;
  ignoreIdenticalIds?: boolean;
  files: boolean;
  out?: string;
  base?: boolean;
  device?: string;
  batchSize?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** "eng-Latn,deu-Latn" → tags; each must look like MTEB's ISO 639-3 + ISO 15924 form. */
function parseLanguageTags(v: string): string[] {
  const tags = v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const t of tags)
    if (!LANGUAGE_TAG.test(t))
      throw usageError(`--language ${t}: expected an ISO 639-3 code and a script, like eng-Latn or ara-Arab`);
  return tags;
}

const KEY_METRICS: Record<string, string[]> = {
  Retrieval: ['ndcg_at_10', 'map_at_100', 'recall_at_100', 'mrr_at_10'],
  Reranking: ['map_at_1000', 'mrr_at_10', 'ndcg_at_10'],
  STS: ['cosine_spearman', 'cosine_pearson'],
  PairClassification: ['max_ap', 'max_f1', 'max_accuracy'],
  Classification: ['accuracy', 'f1'],
  Clustering: ['v_measure', 'v_measure_std'],
  BitextMining: ['f1', 'accuracy'],
};

/** `embedsmith eval …` and `embedsmith eval compare …` */
export function registerEval(program: Command): void {
  const ev = withGlobals(
    program
      .command('eval')
      .description(
        'evaluate an embedding model (and adapters) on retrieval, STS, classification, clustering, bitext tasks',
      )
      .option(
        '--model <dir>',
        'model folder, or builtin:hashbow-256 (a weightless hashed bag-of-words model)',
      )
      .option(
        '--adapter <dir>',
        'PEFT adapter folder (repeatable: each is evaluated as a revision)',
        collect,
        [],
      )
      .option('--base', 'with --adapter: also evaluate the model without adapter (the comparison base)')
      .option('--device <d>', 'model device: auto, cpu, cuda, webgpu', 'auto')
      .option('--batch-size <n>', 'texts per model batch (default 16)')
      .option('--task <spec>', `task source (repeatable): ${TASK_SPEC_HELP}`, collect, [])
      .option('--instruction <text>', 'query instruction (overrides the task default)')
      .option('--name <name>', 'task name in results (single task)')
      .option('--model-name <name>', 'model name in results (default: the model folder name)')
      .option('--revision <label>', 'revision label in results (default: adapter folder names)')
      .option('--split <split>', 'split (BEIR qrels file, classification eval file, dataset split)')
      .option(
        '--language <tags>',
        'MTEB language tags of the tasks, comma-separated (e.g. eng-Latn), where the source cannot tell',
      )
      .option('--limit <n>', 'evaluate only the first N queries / pairs / lines (quick runs)')
      .option('--provider <name>', 'ORT execution provider for the search: cpu, cuda, webgpu', 'cpu')
      .option('--cluster-protocol <p>', 'clustering protocol: legacy or bootstrap', 'legacy')
      .option('--ignore-identical-ids', 'drop results whose doc id equals the query id (BEIR default)')
      .option('--no-files', 'do not write MTEB JSON files under the workspace results/')
      .option('--out <file>', 'also write the run summary JSON to this file'),
  );
  ev.action((opts: EvalOpts) =>
    runWithWorkbench(opts, async ({ wb, out, log, bar, json }) => {
      if (!opts.model) throw usageError('--model is required (a model folder or builtin:hashbow-256)');
      if (!opts.task.length) throw usageError(`give at least one --task: ${TASK_SPEC_HELP}`);
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
        throw usageError(`--limit ${opts.limit}: expected a positive integer`);
      if (opts.clusterProtocol !== 'legacy' && opts.clusterProtocol !== 'bootstrap')
        throw usageError(`--cluster-protocol ${opts.clusterProtocol}: use legacy or bootstrap`);
      const svc = wb.evaluation;
      const tasks = svc.tasks(opts.task, {
        name: opts.name,
        split: opts.split,
        limit,
        clusterProtocol: opts.clusterProtocol,
        ignoreIdenticalIds: opts.ignoreIdenticalIds,
        languages: opts.language ? parseLanguageTags(opts.language) : undefined,
      });
      const device = opts.device as OpenEmbedderOptions['device'];
      if (device && !['auto', 'cpu', 'cuda', 'webgpu'].includes(device))
        throw usageError(`--device ${opts.device}: use auto, cpu, cuda or webgpu`);
      const batchSize = opts.batchSize === undefined ? undefined : Number(opts.batchSize);
      if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1))
        throw usageError(`--batch-size ${opts.batchSize}: expected a positive integer`);
      const { targets, close } = svc.openTargets(opts.model, opts.adapter, {
        device,
        batchSize,
        base: opts.base,
      });
      const bars = new Map<string, ReturnType<typeof bar>>();
      try {
        // A job of the registry like the app's evaluations (the Jobs panel lists it).
        const runs: EvaluateResult[] = [];
        await wb.jobs.run(
          'eval',
          `evaluate ${path.basename(opts.model)} on ${tasks.length} task${tasks.length === 1 ? '' : 's'}`,
          async (job) => {
            for (const t of targets) {
              const res = await svc.evaluate({
                embedder: t.embedder,
                tasks,
                modelName: opts.modelName ?? t.modelName,
                revision: opts.revision ?? t.revision,
                modelPath: t.modelPath,
                adapterPaths: t.adapterPaths,
                instruction: opts.instruction,
                provider: opts.provider,
                writeFiles: opts.files,
                onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
                onProgress: (task, p) => {
                  const key = `${t.revision ?? 'base'}:${task}`;
                  let b = bars.get(key);
                  if (!b) {
                    b = bar(`eval ${t.revision ? `${t.revision} ` : ''}${task}`);
                    bars.set(key, b);
                  }
                  b.update(p);
                  job.progress({ ...p, message: key });
                },
              });
              for (const b of bars.values()) b.done();
              bars.clear();
              runs.push(res);
            }
            return { evaluated: runs.length };
          },
        );
        const summary = {
          runs: runs.map((res) => ({
            model: res.model,
            revision: res.revision,
            cache: res.cache,
            results: res.results.map((r) => ({
              task: r.taskName,
              type: r.taskType,
              split: r.split,
              hf_subset: r.hfSubset,
              main_score: r.mainScore,
              scores: r.scores,
              evaluation_time: r.evaluationTime,
              result_path: r.resultPath,
              warnings: r.warnings ?? [],
            })),
          })),
        };
        if (opts.out) {
          fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
          fs.writeFileSync(opts.out, `${JSON.stringify(summary, null, 2)}\n`);
        }
        if (!json)
          for (const res of runs)
            log(
              `${res.model}@${res.revision}: ${res.cache.misses} texts embedded, ${res.cache.hits} from cache`,
            );
        out(summary, () =>
          table(
            ['model', 'task', 'type', 'split', 'main score', 'metrics', 'time'],
            runs.flatMap((res) =>
              res.results.map((r) => [
                res.revision === NO_REVISION ? res.model : `${res.model}@${res.revision}`,
                r.taskName + (r.hfSubset !== 'default' ? `/${r.hfSubset}` : ''),
                r.taskType,
                r.split,
                r.mainScore.toFixed(4),
                (KEY_METRICS[r.taskType] ?? [])
                  .filter((k) => typeof r.scores[k] === 'number')
                  .map((k) => `${k}=${(r.scores[k] as number).toFixed(4)}`)
                  .join(' '),
                `${r.evaluationTime.toFixed(1)}s`,
              ]),
            ),
          ),
        );
      } finally {
        await close();
      }
    }),
  );

  withGlobals(
    ev
      .command('compare')
      .argument(
        '[results...]',
        'MTEB result files or folders (default: every result stored in the workspace)',
      )
      .option('--base <revision>', 'revision each row is compared with (default: the model without adapter)')
      .option('--model-name <name>', 'only this model (stored results)'),
  )
    .description(
      'compare results: rows = models/adapters/checkpoints, columns = tasks + task-type averages, delta vs base',
    )
    .action((results: string[], _o: unknown, cmd: Command) => {
      // --json / --home may be parsed by the parent `eval` command: read them with the globals.
      const opts = cmd.optsWithGlobals() as GlobalOpts & { base?: string; modelName?: string };
      return runWithWorkbench(opts, ({ wb, out }) => {
        const svc = wb.evaluation;
        const t = svc.compare(results, { baseRevision: opts.base, model: opts.modelName });
        out(t, () => formatComparison(t));
      });
    });
}
