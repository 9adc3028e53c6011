// The evaluation service the CLI, the app and the trainer call: task specs → tasks, an embedder (cached
// on disk), runs, results in SQLite + MTEB-style JSON, and comparison tables.
import fs from 'node:fs';
import path from 'node:path';
import type { Progress, Split } from '../../shared/domain';
import { SPLITS } from '../../shared/domain';
import { UserError, usageError } from '../errors';
import type { WorkspacePaths } from '../paths';
import type { Store } from '../store';
import { CachedEmbedder, type CacheStats } from './cache';
import { type Embedder, HashBowEmbedder } from './embedder';
import { adapterLabel, loadModel, ModelEmbedder } from './model-embedder';
import { resolveModelDir } from '../models/hub';
import type { Device } from '../models/model';
import {
  compareEntries,
  type ComparisonTable,
  entriesFromDb,
  insertResult,
  listResults,
  type ModelMeta,
  NO_REVISION,
  readResultFiles,
  writeTaskResult,
} from './results';
import { runTask, type TaskResult } from './run';
import {
  loadBeir,
  loadBitext,
  loadClassification,
  loadClustering,
  loadDatasetTasks,
  loadPairClassification,
  loadSemEvalSts,
  loadSts,
  isSemEvalSts,
} from './sources';
import { type EvalTask, unscorableReason } from './tasks';

export const TASK_SPEC_HELP =
  'beir:DIR | rerank:DIR (BEIR + top_ranked) | sts:FILE_or_SEMEVAL_DIR | dataset:NAME[:split] | pairclf:FILE | clf:DIR_or_TRAIN,TEST | cluster:FILE | bitext:SRC_FILE,TGT_FILE, each optionally ::LANG (e.g. ::fra-Latn)';

export interface TaskSpecOptions {
  /** Task name override (only with a single task). */
  name?: string;
  split?: string;
  /** Keep only the first N queries / pairs / test rows / lines (quick runs). */
  limit?: number;
  clusterProtocol?: 'legacy' | 'bootstrap';
  ignoreIdenticalIds?: boolean;
  /** MTEB language tags ("eng-Latn") for every task, where the source cannot tell (--language). */
  languages?: string[];
}

/** Parses one `--task` value into tasks (a dataset spec can yield one task per kind). */
/** MTEB's language tag form: ISO 639-3 + ISO 15924 script ("eng-Latn"). */
export const LANGUAGE_TAG = /^[a-z]{3}-[A-Z][a-z]{3}$/;

export function parseTaskSpec(spec: string, store: Store | null, o: TaskSpecOptions = {}): EvalTask[] {
  // A per-source language: `sts:pairs.tsv::fra-Latn` (or `::eng-Latn,deu-Latn`) wins over --language.
  const lang = /^(.*)::([A-Za-z-]+(?:,[A-Za-z-]+)*)$/.exec(spec);
  if (lang) {
    const tags = lang[2].split(',');
    const bad = tags.find((t) => !LANGUAGE_TAG.test(t));
    if (bad) throw usageError(`--task "${spec}": language "${bad}" is not a tag like eng-Latn or ara-Arab`);
    return parseTaskSpec(lang[1], store, { ...o, languages: tags });
  }
  const m = spec.match(/^([a-z]+):(.+)$/);
  if (!m) throw usageError(`--task "${spec}": expected ${TASK_SPEC_HELP}`);
  const [, kind, arg] = m;
  const f = { name: o.name, split: o.split, limit: o.limit, languages: o.languages };
  switch (kind) {
    case 'beir':
      return [loadBeir(arg, { ...f, maxQueries: o.limit, ignoreIdenticalIds: o.ignoreIdenticalIds })];
    case 'rerank':
      return [
        loadBeir(arg, { ...f, maxQueries: o.limit, ignoreIdenticalIds: o.ignoreIdenticalIds, rerank: true }),
      ];
    case 'sts':
      return isSemEvalSts(arg) ? loadSemEvalSts(arg, f) : [loadSts(arg, f)];
    case 'pairclf':
      return [loadPairClassification(arg, f)];
    case 'clf':
      return [loadClassification(arg, f)];
    case 'cluster':
      return [loadClustering(arg, { ...f, protocol: o.clusterProtocol })];
    case 'bitext': {
      const parts = arg.split(',');
      if (parts.length !== 2) throw usageError(`--task "${spec}": bitext needs SRC_FILE,TGT_FILE`);
      return [loadBitext(parts[0], parts[1], f)];
    }
    case 'dataset': {
      if (!store) throw new UserError('dataset tasks need a workspace');
      const [name, split = o.split ?? 'test'] = arg.split(':');
      if (!(SPLITS as readonly string[]).includes(split))
        throw usageError(`--task "${spec}": split "${split}" is not one of ${SPLITS.join(', ')}`);
      const tasks = loadDatasetTasks(store, name, split as Split);
      if (o.languages) for (const t of tasks) t.languages = o.languages;
      if (o.limit !== undefined)
        for (const t of tasks) {
          if (t.type === 'Retrieval' || t.type === 'Reranking') t.queries = t.queries.slice(0, o.limit);
          if (t.type === 'STS') t.pairs = t.pairs.slice(0, o.limit);
          if (t.type === 'BitextMining') {
            t.sentence1 = t.sentence1.slice(0, o.limit);
            t.sentence2 = t.sentence2.slice(0, o.limit);
          }
        }
      return tasks;
    }
    default:
      throw usageError(`--task "${spec}": unknown source "${kind}"; use ${TASK_SPEC_HELP}`);
  }
}

export interface OpenEmbedderOptions {
  /** Model device: auto (cuda → webgpu → cpu), cuda, webgpu, cpu. */
  device?: Device;
  threads?: number;
  inThread?: boolean;
  batchSize?: number;
  maxLength?: number;
  /** With adapters: also evaluate the model without adapter (the comparison's base row). */
  base?: boolean;
  /** Workspace models/ dir, so `--model` may be a pulled hub id. */
  modelsDir?: string;
}

/** One thing to evaluate: an embedder plus how it is named in results. */
export interface EvalTarget {
  embedder: Embedder;
  modelName?: string;
  revision?: string;
  modelPath?: string;
  adapterPaths?: string[];
}

/**
 * Opens what `--model` (+ `--adapter`s) name: `builtin:hashbow-DIM` is the weightless hashed bag-of-words
 * model; a folder is a Hugging Face embedding model run by src/main/models, evaluated once per adapter
 * (and without adapter when there is none, or with `base`). Call close() when done.
 */
export function openTargets(
  model: string,
  adapters: string[] = [],
  o: OpenEmbedderOptions = {},
): { targets: EvalTarget[]; close(): Promise<void> } {
  const b = model.match(/^builtin:hashbow(?:-(\d+))?$/);
  if (b) {
    if (adapters.length) throw usageError('the builtin hashed bag-of-words model takes no adapter');
    return { targets: [{ embedder: new HashBowEmbedder(b[1] ? Number(b[1]) : 256) }], close: async () => {} };
  }
  // A folder, or the id of a model pulled into the workspace (`embedsmith models pull`).
  const modelId = model;
  if (o.modelsDir) model = resolveModelDir(o.modelsDir, model);
  else if (!fs.existsSync(model) || !fs.statSync(model).isDirectory())
    throw new UserError(
      `--model ${model}: not a model folder; give a folder with config.json and weights, or builtin:hashbow-256`,
    );
  for (const a of adapters)
    if (!fs.existsSync(path.join(a, 'adapter_config.json')))
      throw new UserError(`--adapter ${a}: no adapter_config.json there; give a PEFT adapter folder`);
  const m = loadModel(model, o);
  // Results are named by the hub id when one was given, else by the folder name.
  const name = fs.existsSync(modelId) ? path.basename(path.resolve(model)) : modelId;
  const dirs: (string | null)[] = adapters.length ? [...(o.base ? [null] : []), ...adapters] : [null];
  try {
    const targets = dirs.map((a) => ({
      embedder: ModelEmbedder.withAdapter(m, a, o.batchSize),
      modelName: name,
      revision: a ? adapterLabel(a) : undefined,
      modelPath: path.resolve(model),
      adapterPaths: a ? [path.resolve(a)] : [],
    }));
    return { targets, close: () => m.dispose() };
  } catch (e) {
    void m.dispose();
    throw e;
  }
}

export interface EvaluateRequest {
  embedder: Embedder;
  tasks: EvalTask[];
  /** Name in results (folder and table row); default: the embedder's meta name or id. */
  modelName?: string;
  /** Revision label: the adapter / checkpoint; default no_revision_available (the base model). */
  revision?: string;
  modelPath?: string;
  adapterPaths?: string[];
  instruction?: string;
  provider?: string;
  /** Write MTEB JSON files under the workspace results/ (default true). */
  writeFiles?: boolean;
  /** Per-task progress (texts embedded). */
  onProgress?: (task: string, p: Progress) => void;
  /** One line per thing the run noticed about its data (empty texts, duplicates, missing docs). */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface EvaluateResult {
  model: string;
  revision: string;
  results: (TaskResult & { resultPath: string | null; rowId: number })[];
  cache: CacheStats;
}

/** True when every task named `name` is a distinct subset (one multi-subset source), not a clash of types. */
function sameSourceSubsets(tasks: EvalTask[], name: string): boolean {
  const ts = tasks.filter((t) => t.name === name);
  return new Set(ts.map((t) => t.type)).size === 1 && new Set(ts.map((t) => t.hfSubset)).size === ts.length;
}

export class EvalService {
  constructor(
    readonly paths: WorkspacePaths,
    readonly store: Store,
  ) {}

  /** Where embeddings are cached: <workspace>/cache/embeddings. */
  get cacheDir(): string {
    return path.join(this.paths.cache, 'embeddings');
  }

  tasks(specs: string[], o: TaskSpecOptions = {}): EvalTask[] {
    if (!specs.length) throw usageError(`give at least one --task (${TASK_SPEC_HELP})`);
    const tasks = specs.flatMap((s) => parseTaskSpec(s, this.store, o));
    // One spec may yield one task per subset (a SemEval STS17 folder): --name names them all.
    if (o.name && (specs.length > 1 || new Set(tasks.map((t) => t.hfSubset)).size !== tasks.length))
      throw usageError('--name applies to a single task; drop it or pass one --task');
    // Names are result file names and table columns: the same file used as two task types
    // (e.g. SICK as STS and as pair classification) gets the type appended.
    const count = new Map<string, number>();
    for (const t of tasks) count.set(t.name, (count.get(t.name) ?? 0) + 1);
    const clash = new Set(
      [...count].filter(([n, c]) => c > 1 && !sameSourceSubsets(tasks, n)).map(([n]) => n),
    );
    for (const t of tasks) if (clash.has(t.name)) t.name = `${t.name}-${t.type}`;
    this.checkNamesUnique(tasks);
    return tasks;
  }

  /**
   * A result name (task + subset) stands for one source: two sources under one name would replace each
   * other's files and rows, and one would silently drop out of `eval compare` and its averages. Refused
   * here, before any model loads, whether the clash is inside this run or with a stored result.
   */
  private checkNamesUnique(tasks: EvalTask[]): void {
    const key = (t: EvalTask) => `${t.name}\u0000${t.hfSubset}\u0000${t.split}`;
    const mine = new Map<string, EvalTask>();
    for (const t of tasks) {
      const other = mine.get(key(t));
      if (other && other.source !== t.source)
        throw usageError(
          `${other.source} and ${t.source} would both be stored as task "${t.name}"; evaluate one of them in its own run with --name`,
        );
      mine.set(key(t), t);
    }
    const stored = this.store.db.prepare(
      `SELECT DISTINCT json_extract(scores_json, '$.source') AS source, task_type AS type FROM eval_results
       WHERE task_name = ? AND split = ? AND COALESCE(json_extract(scores_json, '$.hf_subset'), 'default') = ?`,
    );
    for (const t of tasks)
      for (const r of stored.all(t.name, t.split, t.hfSubset) as { source: string | null; type: string }[])
        if ((r.source && r.source !== t.source) || r.type !== t.type)
          throw usageError(
            `task name "${t.name}" already holds ${r.type} results from ${r.source ?? 'another source'}; give ${t.source} (${t.type}) its own name with --name`,
          );
  }

  openTargets(model: string, adapters: string[] = [], o: OpenEmbedderOptions = {}) {
    return openTargets(model, adapters, { modelsDir: this.paths.models, ...o });
  }

  /** Runs every task with the (disk-cached) embedder, stores rows and writes result files. */
  async evaluate(req: EvaluateRequest): Promise<EvaluateResult> {
    const emb =
      req.embedder instanceof CachedEmbedder ? req.embedder : new CachedEmbedder(req.embedder, this.cacheDir);
    const model = req.modelName ?? emb.meta?.name ?? emb.id;
    const revision = req.revision ?? NO_REVISION;
    const meta: ModelMeta = {
      name: model,
      revision,
      n_parameters: emb.meta?.nParameters ?? null,
      embed_dim: emb.dim,
      similarity_fn_name: 'cosine',
      license: null,
      model_path: req.modelPath,
      adapter_paths: req.adapterPaths,
      embedder_id: emb.id,
    };
    const results: EvaluateResult['results'] = [];
    for (const task of req.tasks) {
      // A task that cannot be scored gets a row saying why (the comparison shows it), not a fake 0.
      const why = unscorableReason(task);
      if (why) {
        insertResult(
          this.store.db,
          model,
          revision,
          {
            taskName: task.name,
            taskType: task.type,
            split: task.split,
            hfSubset: task.hfSubset,
            languages: task.languages,
            scores: {},
            mainScore: 0,
            evaluationTime: 0,
          },
          null,
          { not_scored: why, source: task.source },
        );
        continue;
      }
      const r = await runTask(task, emb, {
        instruction: req.instruction,
        provider: req.provider,
        signal: req.signal,
        onWarning: req.onWarning,
        onProgress: req.onProgress ? (p) => req.onProgress!(task.name, p) : undefined,
      });
      const file =
        req.writeFiles === false ? null : writeTaskResult(this.paths.results, meta, r, task.source);
      const rowId = insertResult(this.store.db, model, revision, r, file, {
        embedder_id: emb.id,
        source: task.source,
      });
      results.push({ ...r, resultPath: file, rowId });
    }
    return { model, revision, results, cache: { ...emb.stats } };
  }

  /** Comparison from result files/folders, or from every stored result when none are given. */
  compare(resultPaths: string[] = [], o: { baseRevision?: string; model?: string } = {}): ComparisonTable {
    const entries = resultPaths.length
      ? readResultFiles(resultPaths)
      : entriesFromDb(this.store.db, { model: o.model });
    if (!entries.length)
      throw new UserError(
        resultPaths.length
          ? `no MTEB task results found in ${resultPaths.join(', ')}`
          : 'no evaluation results yet; run `embedsmith eval` first',
      );
    return compareEntries(entries, { baseRevision: o.baseRevision });
  }

  results(filter: { model?: string; task?: string } = {}) {
    return listResults(this.store.db, filter);
  }
}
