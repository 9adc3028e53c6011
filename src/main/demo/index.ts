import fs from 'node:fs';
import path from 'node:path';
import type { Progress } from '../../shared/domain';
import { FIXED_INSTRUCTIONS } from '../../shared/domain';
import { UserError } from '../errors';
import type { EvaluateResult } from '../eval/service';
import { type EvalTask, type RetrievalTask, unscorableReason } from '../eval/tasks';
import { exportDataset } from '../export';
import { importDataset } from '../import';
import { ProgressTracker } from '../jobs/progress';
import { EmbeddingModel } from '../models/model';
import { npyBytes } from '../models/io';
import { assignSplits } from '../store/splits';
import { newRunId } from '../training/service';
import type { Workbench } from '../workbench';
import { ensureDemoModel } from './model';

export { DEMO_MODEL_NAME, demoConfigFile, demoWeights, ensureDemoModel } from './model';

/** The demo dataset's name inside the workspace. */
export const DEMO_DATASET = 'demo';
/** Train/dev/test ratios of the demo split: a large held-out test split so the comparison means something. */
export const DEMO_RATIOS: [number, number, number] = [0.65, 0.05, 0.3];
export const DEMO_SPLIT_SEED = 42;

/**
 * Training settings of the demo, chosen so 2 CPU cores finish in a few minutes: small batches (more
 * steps over 250 rows), a high LoRA learning rate (the model starts from random weights), a softer
 * temperature than the paper's 0.02 (its bag-of-tokens start has low-contrast cosines), short sequences.
 */
export const DEMO_TRAIN = {
  loraRank: 8,
  loraAlpha: 16,
  loraDropout: 0.05,
  batchSize: 16,
  chunkSize: 16,
  lr: 1.5e-3,
  warmup: 5,
  weightDecay: 0.01,
  temperature: 0.05,
  maxLength: 96,
  seed: 42,
  steps: 90,
};

/** resources/demo/demo.jsonl, from the source tree (tsx) and from a build. */
export function demoDataFile(): string {
  const candidates = [
    path.resolve(import.meta.dirname, '../../../resources/demo/demo.jsonl'),
    path.resolve(import.meta.dirname, '../../resources/demo/demo.jsonl'),
    path.resolve(process.cwd(), 'resources/demo/demo.jsonl'),
  ];
  const f = candidates.find((c) => fs.existsSync(c));
  if (!f) throw new UserError('resources/demo/demo.jsonl is missing; reinstall Embedsmith');
  return f;
}

export interface DemoOptions {
  /** Optimiser steps (default DEMO_TRAIN.steps). */
  steps?: number;
  /** Extra evaluation specs (`beir:DIR`, `sts:FILE`, …; see TASK_SPEC_HELP). */
  evalSpecs?: string[];
  /** Only the first N queries / pairs / lines of each --eval set (quick runs). */
  evalLimit?: number;
  /** Live generation before training: an OpenAI-compatible server and its models. */
  generate?: { baseUrl: string; models: string; count?: number; apiKeyEnv?: string };
  device?: 'auto' | 'cpu' | 'cuda' | 'webgpu';
}

export interface DemoHooks {
  /** A stage starts (model, import, generate, split, train, eval, export). */
  onStage?(stage: string, detail: string): void;
  onProgress?(stage: string, p: Progress): void;
  onLog?(msg: string): void;
}

export interface DistributionRow {
  kind: string;
  counts: Record<string, number>;
  total: number;
}

export interface DemoTaskScore {
  task: string;
  type: string;
  source: string;
  base: number;
  adapter: number;
  delta: number;
}

export interface DemoResult {
  home: string;
  model: { dir: string; created: boolean; parameters: number; seed: number };
  dataset: {
    name: string;
    imported: number;
    /** Rows of the file already in the workspace (a rerun with the same --home). */
    alreadyPresent: number;
    generated: number;
    bySplit: Record<string, number>;
  };
  distribution: { languages: string[]; rows: DistributionRow[]; bitextPairs: number };
  training: {
    runDir: string;
    adapterDir: string;
    steps: number;
    firstLoss: number | null;
    lastLoss: number | null;
    seconds: number;
  };
  evaluation: {
    tasks: DemoTaskScore[];
    skipped: { task: string; reason: string }[];
    averageBase: number;
    averageAdapter: number;
    averageDelta: number;
  };
  files: Record<string, string>;
  seconds: Record<string, number>;
}

/** Counts of accepted rows by kind × language (bitext separately, as language pairs). */
export function demoDistribution(wb: Workbench, dataset: string): DemoResult['distribution'] {
  const d = wb.store.datasets.get(dataset);
  const rows = wb.store.db
    .prepare(
      `SELECT kind, coalesce(language, '') AS language, coalesce(src_lang, '') AS src, coalesce(tgt_lang, '') AS tgt,
              count(*) AS n FROM examples WHERE dataset_id = ? AND status = 'accepted' GROUP BY 1, 2, 3, 4`,
    )
    .all(d.id) as { kind: string; language: string; src: string; tgt: string; n: number }[];
  const langTotals = new Map<string, number>();
  const byKind = new Map<string, Record<string, number>>();
  const pairs = new Set<string>();
  for (const r of rows) {
    if (r.kind === 'bitext') {
      pairs.add(`${r.src}-${r.tgt}`);
      const k = byKind.get('bitext') ?? {};
      k.pairs = (k.pairs ?? 0) + r.n;
      byKind.set('bitext', k);
      continue;
    }
    const lang = r.language || '?';
    langTotals.set(lang, (langTotals.get(lang) ?? 0) + r.n);
    const k = byKind.get(r.kind) ?? {};
    k[lang] = (k[lang] ?? 0) + r.n;
    byKind.set(r.kind, k);
  }
  const languages = [...langTotals.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([l]) => l);
  const order = ['short-long', 'long-short', 'sts', 'short-short', 'long-long', 'bitext'];
  const out: DistributionRow[] = [...byKind.entries()]
    .sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]))
    .map(([kind, counts]) => ({ kind, counts, total: Object.values(counts).reduce((s, n) => s + n, 0) }));
  return { languages, rows: out, bitextPairs: pairs.size };
}

/**
 * The held-out retrieval kinds (short-long, short-short, long-long) as one retrieval task over their pooled
 * corpus: a handful of queries per kind gives noisy per-kind scores and near-trivial corpora, the pool
 * gives every query every held-out document as a candidate.
 */
export function poolRetrieval(tasks: EvalTask[], name: string): EvalTask[] {
  const ret = tasks.filter((t): t is RetrievalTask => t.type === 'Retrieval');
  if (ret.length < 2) return tasks;
  const corpus: RetrievalTask['corpus'] = [];
  const queries: RetrievalTask['queries'] = [];
  const qrels: RetrievalTask['qrels'] = new Map();
  const docIds = new Map<string, string>();
  for (const t of ret) {
    const local = new Map<string, string>();
    for (const d of t.corpus) {
      let id = docIds.get(d.text);
      if (!id) {
        id = `d${corpus.length}`;
        docIds.set(d.text, id);
        corpus.push({ id, text: d.text });
      }
      local.set(d.id, id);
    }
    for (const q of t.queries) {
      const qid = `${t.name}:${q.id}`;
      queries.push({ ...q, id: qid });
      const m = new Map<string, number>();
      for (const [doc, grade] of t.qrels.get(q.id) ?? []) m.set(local.get(doc) ?? doc, grade);
      qrels.set(qid, m);
    }
  }
  const merged: RetrievalTask = { ...ret[0], name, corpus, queries, qrels };
  return [merged, ...tasks.filter((t) => t.type !== 'Retrieval')];
}

/** Tasks whose score cannot move (the demo's long-short labels are free text per row). */
const degenerate = unscorableReason;

/**
 * `embedsmith demo`: the whole pipeline on the embedded defaults, in the given workbench — demo model
 * (generated from a seed), demo dataset import, optional live generation, split, LoRA training on CPU,
 * base vs adapter evaluation on the held-out split (+ any --eval set), exports.
 */
export async function runDemo(
  wb: Workbench,
  o: DemoOptions = {},
  hooks: DemoHooks = {},
): Promise<DemoResult> {
  const seconds: Record<string, number> = {};
  const files: Record<string, string> = {};
  const stage = async <T>(name: string, detail: string, fn: () => Promise<T> | T): Promise<T> => {
    hooks.onStage?.(name, detail);
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      seconds[name] = (Date.now() - t0) / 1000;
    }
  };
  const progress = (name: string) => (p: Progress) => hooks.onProgress?.(name, p);
  const steps = o.steps ?? DEMO_TRAIN.steps;
  if (!Number.isInteger(steps) || steps < 1)
    throw new UserError(`--steps ${steps}: expected a positive integer`, 2);
  // Parse the extra evaluation sets first, so a bad path fails before minutes of work.
  const extraTasks = o.evalSpecs?.length ? wb.evaluation.tasks(o.evalSpecs, { limit: o.evalLimit }) : [];

  const model = await stage('model', 'demo model (llama family, generated from a seed; no download)', () => {
    const t = new ProgressTracker(1, 'models', progress('model'));
    const m = ensureDemoModel(wb.paths.models);
    t.tick();
    return m;
  });
  files.model = model.dir;

  const imported = await stage('import', `demo dataset ${demoDataFile()}`, () =>
    importDataset(wb.store, DEMO_DATASET, demoDataFile(), {
      create: true,
      layout: 'paper',
      rejectedDir: path.join(wb.paths.home, 'imports'),
      onProgress: progress('import'),
    }),
  );

  let generated = 0;
  if (o.generate) {
    const g = o.generate;
    generated = await stage('generate', `live generation against ${g.baseUrl}`, async () => {
      const gen = wb.generation;
      const req = {
        dataset: DEMO_DATASET,
        count: g.count ?? 30,
        models: g.models,
        baseUrl: g.baseUrl,
        apiKeyEnv: g.apiKeyEnv ?? 'OPENAI_API_KEY',
        languages: 'default',
        concurrency: 4,
        seed: 1,
      };
      const apiKey = gen.apiKeyFor(gen.plan(req).config);
      const { runId } = gen.create(req);
      const t = new ProgressTracker(req.count, 'examples', progress('generate'));
      const h = gen.start(runId, {
        apiKey,
        onProgress: (p) => t.update(p.accepted, `${p.requests} requests`),
      });
      const s = await h.done;
      if (s.state !== 'done')
        throw new UserError(`live generation run ${runId} ended ${s.state}${s.error ? `: ${s.error}` : ''}`);
      // Generated rows passed every automatic check; the demo accepts them (a person would review them).
      const d = wb.store.datasets.get(DEMO_DATASET);
      return wb.store.examples.bulkReview(
        d.id,
        { status: 'unreviewed' },
        'accept',
        'demo: passed the checks',
      );
    });
  }

  const split = await stage(
    'split',
    `train/dev/test ${DEMO_RATIOS.join('/')} (seed ${DEMO_SPLIT_SEED})`,
    () => {
      const d = wb.store.datasets.get(DEMO_DATASET);
      const t = new ProgressTracker(1, 'steps', progress('split'));
      const r = assignSplits(wb.store.db, d.id, { ratios: DEMO_RATIOS, seed: DEMO_SPLIT_SEED });
      t.tick();
      const bySplit: Record<string, number> = {};
      for (const row of wb.store.db
        .prepare(
          `SELECT coalesce(split, 'none') AS split, count(*) AS n FROM examples WHERE dataset_id = ? AND status = 'accepted' GROUP BY 1`,
        )
        .all(d.id) as { split: string; n: number }[])
        bySplit[row.split] = row.n;
      return { ...r, bySplit };
    },
  );
  const distribution = demoDistribution(wb, DEMO_DATASET);

  const runDir = path.join(wb.paths.runs, `demo-${newRunId()}`);
  const training = await stage('train', `LoRA on ${model.dir}, ${steps} steps on CPU`, async () => {
    const t0 = Date.now();
    const rowsPerEpoch = split.bySplit.train ?? 0;
    const epochs = Math.max(1, Math.ceil((steps * DEMO_TRAIN.batchSize) / Math.max(1, rowsPerEpoch)));
    const p = wb.training.prepare({
      datasets: [DEMO_DATASET],
      model: model.dir,
      encoder: 'model',
      loraRank: DEMO_TRAIN.loraRank,
      loraAlpha: DEMO_TRAIN.loraAlpha,
      loraDropout: DEMO_TRAIN.loraDropout,
      targetModules: ['all-linear'],
      batchSize: DEMO_TRAIN.batchSize,
      chunkSize: DEMO_TRAIN.chunkSize,
      lr: DEMO_TRAIN.lr,
      warmup: Math.min(DEMO_TRAIN.warmup, steps),
      weightDecay: DEMO_TRAIN.weightDecay,
      temperature: DEMO_TRAIN.temperature,
      epochs,
      maxSteps: steps,
      maxLength: DEMO_TRAIN.maxLength,
      seed: DEMO_TRAIN.seed,
      device: o.device ?? 'cpu',
      checkpointEvery: 0,
      out: runDir,
    });
    let firstLoss = null as number | null;
    let lastLoss = null as number | null;
    const h = wb.training.start(p, {
      onLog: hooks.onLog,
      onStep: (e) => {
        if (firstLoss === null) firstLoss = e.loss;
        lastLoss = e.loss;
        hooks.onProgress?.('train', {
          done: e.step,
          total: e.totalSteps,
          unit: 'steps',
          ratePerS: null,
          etaS: e.etaS,
          message: `loss ${e.loss.toFixed(3)} ${e.examplesPerS.toFixed(1)} ex/s`,
        });
      },
    });
    const r = await h.done;
    if (r.state !== 'done' || !r.adapterDir)
      throw new UserError(`demo training ended ${r.state} without an adapter; see ${runDir}`);
    return {
      runDir,
      adapterDir: r.adapterDir,
      steps: r.step,
      firstLoss,
      lastLoss: r.lastLoss ?? lastLoss,
      seconds: (Date.now() - t0) / 1000,
    };
  });
  files.run = training.runDir;

  const evalOut = await stage('eval', 'base vs adapter on the held-out test split', async () => {
    const all = [
      ...poolRetrieval(wb.evaluation.tasks([`dataset:${DEMO_DATASET}:test`]), `${DEMO_DATASET}-retrieval`),
      ...extraTasks,
    ];
    const skipped: { task: string; reason: string }[] = [];
    const tasks = all.filter((t) => {
      const why = degenerate(t);
      if (why) skipped.push({ task: t.name, reason: why });
      return !why;
    });
    const { targets, close } = wb.evaluation.openTargets(model.dir, [training.adapterDir], {
      base: true,
      device: o.device ?? 'cpu',
      maxLength: 256,
    });
    const runs: EvaluateResult[] = [];
    try {
      for (const [i, t] of targets.entries()) {
        const who = i === 0 ? 'base' : 'adapter';
        runs.push(
          await wb.evaluation.evaluate({
            embedder: t.embedder,
            tasks,
            modelName: t.modelName,
            revision: i === 0 ? undefined : path.basename(training.runDir),
            modelPath: t.modelPath,
            adapterPaths: t.adapterPaths,
            onProgress: (task, p) => hooks.onProgress?.(`eval ${who} ${task}`, p),
          }),
        );
      }
    } finally {
      await close();
    }
    const [base, adapter] = runs;
    const scores: DemoTaskScore[] = base.results.map((b, i) => {
      const a = adapter.results[i];
      return {
        task: b.taskName,
        type: b.taskType,
        source: tasks[i]?.source ?? '',
        base: b.mainScore,
        adapter: a.mainScore,
        delta: a.mainScore - b.mainScore,
      };
    });
    const held = scores.filter((s) => s.source.startsWith(`dataset:${DEMO_DATASET}:`));
    const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
    const resultFiles = [...base.results, ...adapter.results].map((r) => r.resultPath).filter(Boolean);
    return {
      tasks: scores,
      skipped,
      averageBase: mean(held.map((s) => s.base)),
      averageAdapter: mean(held.map((s) => s.adapter)),
      averageDelta: mean(held.map((s) => s.delta)),
      resultsDir: resultFiles.length
        ? path.dirname(path.dirname(resultFiles[0] as string))
        : wb.paths.results,
    };
  });
  files.results = evalOut.resultsDir;

  await stage('export', 'adapter (PEFT), test-split embeddings, dataset, results JSON', async () => {
    const out = path.join(wb.paths.exports, path.basename(training.runDir));
    fs.mkdirSync(out, { recursive: true });
    const adapterOut = path.join(out, 'adapter');
    fs.cpSync(training.adapterDir, adapterOut, { recursive: true });
    files.adapter = adapterOut;
    files.dataset = path.join(out, 'demo.jsonl');
    exportDataset(wb.store, DEMO_DATASET, { out: files.dataset, layout: 'paper', status: 'all' });
    // The test split's texts as the adapter embeds them: queries with their instruction, documents raw.
    const d = wb.store.datasets.get(DEMO_DATASET);
    const items: {
      id: number;
      field: string;
      role: 'query' | 'document';
      instruction: string | null;
      text: string;
    }[] = [];
    for (const e of wb.store.examples.iterate(d.id, { split: 'test', status: 'accepted' })) {
      const ins = e.instruction ?? FIXED_INSTRUCTIONS[e.kind] ?? null;
      const symmetric = e.kind === 'sts' || e.kind === 'bitext';
      items.push({
        id: e.id,
        field: 'query',
        role: symmetric ? 'document' : 'query',
        instruction: symmetric ? null : ins,
        text: e.query,
      });
      items.push({ id: e.id, field: 'positive', role: 'document', instruction: null, text: e.positive });
      if (e.negative)
        items.push({ id: e.id, field: 'negative', role: 'document', instruction: null, text: e.negative });
    }
    const m = EmbeddingModel.load(model.dir, { device: o.device ?? 'cpu', maxLength: 256 });
    try {
      const adapter = m.loadAdapter(adapterOut);
      const emb = new Float32Array(items.length * m.dim);
      const t = new ProgressTracker(items.length, 'texts', progress('export'));
      // Group by (role, instruction) so each batch shares one prompt.
      const groups = new Map<string, number[]>();
      items.forEach((it, i) => {
        const k = `${it.role}\u0000${it.instruction ?? ''}`;
        groups.set(k, [...(groups.get(k) ?? []), i]);
      });
      for (const idx of groups.values()) {
        const first = items[idx[0]];
        const v = await m.embed(
          idx.map((i) => items[i].text),
          { role: first.role, instruction: first.instruction, adapter },
        );
        idx.forEach((i, j) => {
          emb.set(v.subarray(j * m.dim, (j + 1) * m.dim), i * m.dim);
        });
        t.tick(idx.length);
      }
      files.embeddings = path.join(out, 'test-embeddings.npy');
      fs.writeFileSync(files.embeddings, npyBytes(emb, [items.length, m.dim]));
      files.embeddingsIndex = path.join(out, 'test-embeddings.jsonl');
      fs.writeFileSync(
        files.embeddingsIndex,
        `${items
          .map((it, row) =>
            JSON.stringify({ row, example_id: it.id, field: it.field, role: it.role, text: it.text }),
          )
          .join('\n')}\n`,
      );
    } finally {
      await m.dispose();
    }
    files.summary = path.join(out, 'demo-results.json');
  });

  const result: DemoResult = {
    home: wb.paths.home,
    model: { dir: model.dir, created: model.created, parameters: model.parameters, seed: model.seed },
    dataset: {
      name: DEMO_DATASET,
      imported: imported.inserted,
      alreadyPresent: imported.duplicates,
      generated,
      bySplit: split.bySplit,
    },
    distribution,
    training,
    evaluation: {
      tasks: evalOut.tasks,
      skipped: evalOut.skipped,
      averageBase: evalOut.averageBase,
      averageAdapter: evalOut.averageAdapter,
      averageDelta: evalOut.averageDelta,
    },
    files,
    seconds,
  };
  fs.writeFileSync(files.summary, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
