// Results: MTEB-style JSON files (EVALUATION.md §1.10), rows in SQLite `eval_results`, and the
// comparison table (rows = model × revision, columns = tasks + task-type averages, deltas vs the base).
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';
import type { Db } from '../store';
import type { TaskResult } from './run';
import type { ComparisonColumn, ComparisonRow, ComparisonTable } from '../../shared/results';
import { MAIN_SCORE, TASK_TYPES, type TaskType } from './tasks';

export const NO_REVISION = 'no_revision_available';
export const MTEB_VERSION = '2.x (embedsmith 0.1.0)';

/** "/" → "__", spaces → "_" (MTEB's folder naming). */
export const modelFolderName = (name: string) => name.replace(/\//g, '__').replace(/\s/g, '_');

export interface ModelMeta {
  name: string;
  revision: string;
  n_parameters: number | null;
  embed_dim: number;
  similarity_fn_name: 'cosine';
  license: string | null;
  /** Embedsmith extras: where the weights came from. */
  model_path?: string;
  adapter_paths?: string[];
  embedder_id?: string;
  [k: string]: unknown;
}

/** Rounds every number in a JSON-able value to 6 decimals, like MTEB v2's files. */
export function round6(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v * 1e6) / 1e6 : null;
  if (Array.isArray(v)) return v.map(round6);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round6(x)]));
  return v;
}

export interface TaskFile {
  dataset_revision: string | null;
  task_name: string;
  mteb_version: string;
  scores: Record<string, Record<string, unknown>[]>;
  evaluation_time: number;
  kg_co2_emissions: null;
  date: number;
  /** Embedsmith extra: the task's type, so comparison needs no task registry. */
  task_type?: TaskType;
  source?: string;
}

/**
 * Writes (or merges into) `<resultsDir>/<model>/<revision>/<TaskName>.json` and model_meta.json.
 * An entry with the same split and hf_subset is replaced; other subsets are kept.
 */
export function writeTaskResult(resultsDir: string, meta: ModelMeta, r: TaskResult, source?: string): string {
  const dir = path.join(
    resultsDir,
    modelFolderName(meta.name),
    modelFolderName(meta.revision || NO_REVISION),
  );
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model_meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  const file = path.join(dir, `${r.taskName}.json`);
  let doc: TaskFile | null = null;
  if (fs.existsSync(file)) {
    try {
      doc = JSON.parse(fs.readFileSync(file, 'utf8')) as TaskFile;
    } catch {
      doc = null;
    }
  }
  const entry = round6({
    ...r.scores,
    main_score: r.mainScore,
    hf_subset: r.hfSubset,
    languages: r.languages,
  }) as Record<string, unknown>;
  const scores = doc?.scores ?? {};
  scores[r.split] = [...(scores[r.split] ?? []).filter((e) => e.hf_subset !== r.hfSubset), entry];
  const out: TaskFile = {
    dataset_revision: doc?.dataset_revision ?? null,
    task_name: r.taskName,
    mteb_version: MTEB_VERSION,
    scores,
    evaluation_time: Math.round(r.evaluationTime * 1000) / 1000,
    kg_co2_emissions: null,
    date: Date.now() / 1000,
    task_type: r.taskType,
    source,
  };
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  return file;
}

/** One row of `eval_results`. `adapter` holds the revision label (null for the base model). */
export interface EvalRow {
  id: number;
  model: string;
  adapter: string | null;
  taskName: string;
  taskType: TaskType;
  split: string;
  mainScore: number;
  scores: Record<string, unknown>;
  resultPath: string | null;
  createdAt: string;
}

export function insertResult(
  db: Db,
  modelName: string,
  revision: string | null,
  r: TaskResult,
  resultPath: string | null,
  extra: Record<string, unknown> = {},
): number {
  const info = db
    .prepare(
      `INSERT INTO eval_results (model, adapter, task_name, task_type, split, main_score, scores_json, result_path)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      modelName,
      revision && revision !== NO_REVISION ? revision : null,
      r.taskName,
      r.taskType,
      r.split,
      r.mainScore,
      JSON.stringify({
        ...r.scores,
        hf_subset: r.hfSubset,
        languages: r.languages,
        evaluation_time: r.evaluationTime,
        ...extra,
      }),
      resultPath,
    );
  return Number(info.lastInsertRowid);
}

export function listResults(db: Db, filter: { model?: string; task?: string } = {}): EvalRow[] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.model) {
    where.push('model = ?');
    params.push(filter.model);
  }
  if (filter.task) {
    where.push('task_name = ?');
    params.push(filter.task);
  }
  const rows = db
    .prepare(`SELECT * FROM eval_results ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`)
    .all(...params) as {
    id: number;
    model: string;
    adapter: string | null;
    task_name: string;
    task_type: TaskType;
    split: string;
    main_score: number;
    scores_json: string;
    result_path: string | null;
    created_at: string;
  }[];
  return rows.map((r) => ({
    id: r.id,
    model: r.model,
    adapter: r.adapter,
    taskName: r.task_name,
    taskType: r.task_type,
    split: r.split,
    mainScore: r.main_score,
    scores: JSON.parse(r.scores_json),
    resultPath: r.result_path,
    createdAt: r.created_at,
  }));
}

// ---------------------------------------------------------------- comparison

/** One scored cell source: a (model, revision) row's main score on one task column. */
export interface ScoreEntry {
  model: string;
  revision: string;
  /** Column key: task name, plus "/subset" when the subset is not "default". */
  task: string;
  taskType: TaskType | null;
  mainScore: number;
  /** Set when the task was not scored for this row: why (the cell shows it instead of a number). */
  notScored?: string;
}

export type { ComparisonColumn, ComparisonRow, ComparisonTable } from '../../shared/results';

const taskKey = (task: string, subset: unknown) =>
  subset && subset !== 'default' ? `${task}/${subset}` : task;

/** Score entries of MTEB task files (files, or folders searched recursively; model_meta.json beside them). */
export function readResultFiles(paths: string[]): ScoreEntry[] {
  const files: string[] = [];
  const walk = (p: string) => {
    if (!fs.existsSync(p)) throw new UserError(`${p}: no such result file or folder`);
    if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p).sort()) walk(path.join(p, f));
    else if (p.endsWith('.json') && path.basename(p) !== 'model_meta.json') files.push(p);
  };
  for (const p of paths) walk(p);
  const out: ScoreEntry[] = [];
  for (const f of files) {
    let doc: TaskFile;
    try {
      doc = JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch {
      throw new UserError(`${f}: not valid JSON; pass MTEB result files or their folders`);
    }
    if (!doc || typeof doc !== 'object' || !doc.task_name || !doc.scores) continue;
    const metaFile = path.join(path.dirname(f), 'model_meta.json');
    const meta = fs.existsSync(metaFile)
      ? (JSON.parse(fs.readFileSync(metaFile, 'utf8')) as Partial<ModelMeta>)
      : {};
    const model = meta.name ?? path.basename(path.dirname(path.dirname(f)));
    const revision = meta.revision ?? path.basename(path.dirname(f));
    const split = 'test' in doc.scores ? 'test' : Object.keys(doc.scores)[0];
    const entries = Array.isArray(doc.scores[split]) ? doc.scores[split] : [];
    for (const e of entries) {
      const ms = Number(e.main_score);
      if (!Number.isFinite(ms)) continue;
      out.push({
        model,
        revision,
        task: taskKey(doc.task_name, e.hf_subset),
        taskType: (doc.task_type as TaskType) ?? guessType(e),
        mainScore: ms,
      });
    }
  }
  return out;
}

/** Task type from the keys of a score dict, for MTEB files without our task_type field. */
function guessType(e: Record<string, unknown>): TaskType | null {
  if ('ndcg_at_10' in e) return 'Retrieval';
  if ('cosine_spearman' in e) return 'STS';
  if ('max_ap' in e) return 'PairClassification';
  if ('v_measure' in e) return 'Clustering';
  if ('f1' in e && 'precision' in e && 'recall' in e && !('f1_weighted' in e)) return 'BitextMining';
  if ('accuracy' in e) return 'Classification';
  return null;
}

/** Latest score per (model, revision, task column) from the database. */
export function entriesFromDb(db: Db, filter: { model?: string } = {}): ScoreEntry[] {
  const latest = new Map<string, ScoreEntry>();
  for (const r of listResults(db, filter)) {
    const e: ScoreEntry = {
      model: r.model,
      revision: r.adapter ?? NO_REVISION,
      task: taskKey(r.taskName, r.scores.hf_subset),
      taskType: r.taskType,
      mainScore: r.mainScore,
      notScored: typeof r.scores.not_scored === 'string' ? r.scores.not_scored : undefined,
    };
    latest.set(`${e.model}\u0000${e.revision}\u0000${e.task}`, e);
  }
  return [...latest.values()];
}

/**
 * Builds the comparison: columns = tasks (sorted by type then name), one average per task type present,
 * and the overall average; rows = (model, revision). A row's base is the same model's `baseRevision`
 * row (default: no_revision_available, i.e. the model without adapter).
 */
export function compareEntries(entries: ScoreEntry[], opts: { baseRevision?: string } = {}): ComparisonTable {
  const base = opts.baseRevision ?? NO_REVISION;
  const types = new Map<string, TaskType | null>();
  for (const e of entries) types.set(e.task, e.taskType);
  const order = (t: TaskType | null) => (t ? TASK_TYPES.indexOf(t) : 99);
  const tasks = [...types.keys()].sort(
    (a, b) => order(types.get(a)!) - order(types.get(b)!) || a.localeCompare(b),
  );
  const presentTypes = TASK_TYPES.filter((t) => tasks.some((k) => types.get(k) === t));
  const columns: ComparisonColumn[] = [
    ...tasks.map((k) => ({ key: k, kind: 'task' as const, taskType: types.get(k) ?? null })),
    ...presentTypes.map((t) => ({ key: `avg:${t}`, kind: 'type-average' as const, taskType: t })),
    { key: 'avg', kind: 'average', taskType: null },
  ];
  const rowsByKey = new Map<string, ComparisonRow>();
  for (const e of entries) {
    const k = `${e.model}\u0000${e.revision}`;
    let row = rowsByKey.get(k);
    if (!row) {
      row = {
        label: e.revision === NO_REVISION ? e.model : `${e.model}@${e.revision}`,
        model: e.model,
        revision: e.revision,
        isBase: e.revision === base,
        values: {},
        delta: null,
      };
      rowsByKey.set(k, row);
    }
    if (e.notScored) row.notScored = { ...row.notScored, [e.task]: e.notScored };
    else row.values[e.task] = e.mainScore;
  }
  const avg = (xs: (number | null | undefined)[]) => {
    const v = xs.filter((x): x is number => typeof x === 'number');
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  const rows = [...rowsByKey.values()].sort(
    (a, b) =>
      a.model.localeCompare(b.model) ||
      Number(b.isBase) - Number(a.isBase) ||
      a.revision.localeCompare(b.revision),
  );
  for (const r of rows) {
    for (const t of tasks) r.values[t] ??= null;
    for (const t of presentTypes)
      r.values[`avg:${t}`] = avg(tasks.filter((k) => types.get(k) === t).map((k) => r.values[k]));
    r.values.avg = avg(tasks.map((k) => r.values[k]));
  }
  for (const r of rows) {
    if (r.isBase) continue;
    const b = rows.find((x) => x.model === r.model && x.isBase);
    if (!b) continue;
    // Averages compare only the tasks both rows have: a row evaluated on more (or other) tasks would
    // otherwise get a delta that mixes task sets (issue #18: "avg −25.08" while every shared task improved).
    const scope = (c: ComparisonColumn) =>
      tasks.filter(
        (k) =>
          (c.kind === 'average' || types.get(k) === c.taskType) &&
          typeof r.values[k] === 'number' &&
          typeof b.values[k] === 'number',
      );
    r.common = {};
    r.delta = {};
    for (const c of columns) {
      if (c.kind === 'task') {
        const x = r.values[c.key];
        const y = b.values[c.key];
        r.delta[c.key] = x !== null && y !== null ? x - y : null;
        continue;
      }
      const ks = scope(c);
      const value = avg(ks.map((k) => r.values[k]));
      const base = avg(ks.map((k) => b.values[k]));
      r.common[c.key] = { n: ks.length, value, base };
      r.delta[c.key] = value !== null && base !== null ? value - base : null;
    }
  }
  return { columns, rows };
}

/** The comparison as an aligned text table; scores ×100 with 2 decimals, deltas in parentheses. */
export function formatComparison(t: ComparisonTable): string {
  const headers = ['model', ...t.columns.map((c) => c.key)];
  const cells = t.rows.map((r) => [
    r.label,
    ...t.columns.map((c) => {
      const v = r.values[c.key];
      if (v === null || v === undefined) return r.notScored?.[c.key] ? 'not scored' : '-';
      const d = r.delta?.[c.key];
      return `${(v * 100).toFixed(2)}${d !== null && d !== undefined ? ` (${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)})` : ''}`;
    }),
  ]);
  const all = [headers, ...cells];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all
    .map((r, ri) => {
      const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

export { MAIN_SCORE };
