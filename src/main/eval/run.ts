// Runs one task with one embedder: embed what the task needs, search or score, return MTEB's score dict.
import type { ProgressListener } from '../jobs/progress';
import { ProgressTracker } from '../jobs/progress';
import { UserError } from '../errors';
import type { EmbedOptions, Embedder } from './embedder';
import { linearProbe } from './metrics/classification';
import { clusteringBootstrap, clusteringLegacy } from './metrics/clustering';
import { bitextScores, pairClassificationScores, stsScores } from './metrics/pairs';
import { compareUtf8, DEFAULT_K_VALUES, evaluateRetrieval, type Run } from './metrics/retrieval';
import { RandomState } from './metrics/rng';
import { l2normalize } from './metrics/stats';
import { prepareText } from './prepare';
import { matrixFromRows, searchTopK } from './search';
import { MAIN_SCORE, type EvalTask, type RetrievalTask, type TaskType } from './tasks';

export interface RunOptions {
  /** Overrides the task's query instruction. */
  instruction?: string;
  provider?: string;
  /** Retrieval depth (MTEB: 1000). */
  topK?: number;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  /** Called once per warning (also listed in TaskResult.warnings). */
  onWarning?: (message: string) => void;
}

export interface TaskResult {
  taskName: string;
  taskType: TaskType;
  split: string;
  hfSubset: string;
  languages: string[];
  /** MTEB score dict, including main_score. */
  scores: Record<string, unknown>;
  mainScore: number;
  evaluationTime: number;
  /** What the run noticed about its data (empty texts, missing docs, duplicates): one line each. */
  warnings?: string[];
}

/** Embeds texts in batches so progress moves and the cache fills incrementally. */
async function embedAll(
  e: Embedder,
  texts: string[],
  opts: EmbedOptions,
  tracker: ProgressTracker,
  signal?: AbortSignal,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const batch = 512;
  for (let i = 0; i < texts.length; i += batch) {
    if (signal?.aborted) throw new UserError('evaluation cancelled');
    const part = await e.embed(texts.slice(i, i + batch), opts);
    out.push(...part);
    tracker.tick(part.length);
  }
  return out;
}

/** Queries grouped by instruction, so each group is one embed call with its own instruction. */
async function embedQueries(
  e: Embedder,
  queries: { text: string; instruction?: string }[],
  fallback: string | undefined,
  tracker: ProgressTracker,
  signal?: AbortSignal,
): Promise<Float32Array[]> {
  const groups = new Map<string, number[]>();
  queries.forEach((q, i) => {
    const ins = fallback ?? q.instruction ?? '';
    groups.set(ins, [...(groups.get(ins) ?? []), i]);
  });
  const out = new Array<Float32Array>(queries.length);
  for (const [ins, idx] of groups) {
    const v = await embedAll(
      e,
      idx.map((i) => queries[i].text),
      { role: 'query', instruction: ins || undefined },
      tracker,
      signal,
    );
    idx.forEach((i, j) => {
      out[i] = v[j];
    });
  }
  return out;
}

async function runRetrieval(task: RetrievalTask, e: Embedder, opts: RunOptions, tracker: ProgressTracker) {
  if (task.corpus.length === 0) throw new UserError(`task ${task.name}: the corpus is empty`);
  if (task.queries.length === 0)
    throw new UserError(`task ${task.name}: no queries with relevance judgements`);
  const kValues = task.kValues ?? [...DEFAULT_K_VALUES];
  const depth = opts.topK ?? Math.max(...kValues);
  // trec_eval breaks score ties by doc id descending; ONNX TopK keeps the lower row first, so the corpus
  // goes to the search in doc-id-descending order and equal scores come out in trec_eval's order.
  const corpus = [...task.corpus].sort((a, b) => compareUtf8(b.id, a.id));
  for (let i = 1; i < corpus.length; i++)
    if (corpus[i].id === corpus[i - 1].id)
      throw new UserError(`task ${task.name}: duplicate corpus id "${corpus[i].id}"`);
  const instruction = opts.instruction ?? task.instruction;
  const qv = await embedQueries(e, task.queries, instruction, tracker, opts.signal);
  const dv = await embedAll(
    e,
    corpus.map((d) => prepareText(d.text, 'document')),
    { role: 'document' },
    tracker,
    opts.signal,
  );
  const run: Run = new Map();
  if (task.candidates) {
    // Reranking: each query is scored against its own candidates only.
    const pos = new Map(corpus.map((d, i) => [d.id, i]));
    task.queries.forEach((q, qi) => {
      const cand = task.candidates!.get(q.id) ?? [];
      const m = new Map<string, number>();
      const a = l2normalize(qv[qi]);
      for (const id of cand) {
        const di = pos.get(id);
        if (di === undefined)
          throw new UserError(`task ${task.name}: candidate "${id}" is not in the corpus`);
        const b = l2normalize(dv[di]);
        let s = 0;
        for (let j = 0; j < a.length; j++) s += a[j] * b[j];
        m.set(id, s);
      }
      run.set(q.id, m);
    });
  } else {
    const Q = matrixFromRows(qv.map(l2normalize), e.dim);
    const C = matrixFromRows(dv.map(l2normalize), e.dim);
    const res = await searchTopK(Q, C, depth, { provider: opts.provider });
    task.queries.forEach((q, qi) => {
      const m = new Map<string, number>();
      const idx = res.indices[qi];
      const sc = res.scores[qi];
      for (let j = 0; j < idx.length; j++) m.set(corpus[idx[j]].id, sc[j]);
      run.set(q.id, m);
    });
  }
  const r = evaluateRetrieval(task.qrels, run, { kValues, ignoreIdenticalIds: task.ignoreIdenticalIds });
  return { ...r.scores, evaluated_queries: r.evaluatedQueries };
}

const labelIds = (labels: string[]) => {
  const names = [...new Set(labels)].sort();
  const id = new Map(names.map((n, i) => [n, i]));
  return labels.map((l) => id.get(l)!);
};

/** Embeds what the task needs and computes its score dict (main_score included). */
export async function runTask(task: EvalTask, inner: Embedder, opts: RunOptions = {}): Promise<TaskResult> {
  const t0 = Date.now();
  // Empty texts are embedded as they are (MTEB passes them to the model too); counted for one warning.
  let empty = 0;
  const e: Embedder = {
    id: inner.id,
    dim: inner.dim,
    meta: inner.meta,
    embed: (texts, o, p) => {
      for (const t of texts) if (!t.trim()) empty++;
      return inner.embed(texts, o, p);
    },
  };
  const tracker = new ProgressTracker(null, 'texts', opts.onProgress);
  const ins = opts.instruction ?? task.instruction;
  const q = (texts: string[]) =>
    embedAll(e, texts, { role: 'query', instruction: ins }, tracker, opts.signal);
  let scores: Record<string, unknown>;
  switch (task.type) {
    case 'Retrieval':
    case 'Reranking':
      tracker.setTotal(task.queries.length + task.corpus.length);
      scores = await runRetrieval(task, e, opts, tracker);
      break;
    case 'STS': {
      if (task.pairs.length < 2) throw new UserError(`task ${task.name}: STS needs at least two pairs`);
      tracker.setTotal(task.pairs.length * 2);
      // Symmetric tasks embed both sides the same way (E5-mistral: both with the instruction).
      const a = await q(task.pairs.map((p) => p.s1));
      const b = await q(task.pairs.map((p) => p.s2));
      scores = stsScores(
        task.pairs.map((p) => p.score),
        a,
        b,
      );
      break;
    }
    case 'PairClassification': {
      tracker.setTotal(task.pairs.length * 2);
      const a = await q(task.pairs.map((p) => p.s1));
      const b = await q(task.pairs.map((p) => p.s2));
      scores = pairClassificationScores(
        task.pairs.map((p) => p.label),
        a,
        b,
      );
      break;
    }
    case 'Classification': {
      tracker.setTotal(task.train.length + task.test.length);
      const names = labelIds([...task.train, ...task.test].map((x) => x.label));
      const trY = names.slice(0, task.train.length);
      const teY = names.slice(task.train.length);
      const trX = await q(task.train.map((x) => x.text));
      const teX = await q(task.test.map((x) => x.text));
      scores = linearProbe(trX, trY, teX, teY, {
        nExperiments: task.nExperiments,
        samplesPerLabel: task.samplesPerLabel,
      });
      break;
    }
    case 'Clustering': {
      if (task.protocol === 'legacy') {
        tracker.setTotal(task.sets.reduce((s, x) => s + x.length, 0));
        const sets = [];
        for (const s of task.sets)
          sets.push({ X: await q(s.map((x) => x.text)), labels: s.map((x) => x.label) });
        scores = clusteringLegacy(sets);
      } else {
        let pool = task.sets.flat();
        const max = task.bootstrap?.maxDocuments;
        if (max !== undefined && max < pool.length) {
          // Downsample once before embedding, seeded like the rest of the protocol.
          const idx = new RandomState(42).shuffle(pool.map((_, i) => i)).slice(0, max);
          pool = idx.map((i) => pool[i]);
        }
        tracker.setTotal(pool.length);
        const X = await q(pool.map((x) => x.text));
        scores = clusteringBootstrap(
          X,
          pool.map((x) => x.label),
          task.bootstrap,
        );
      }
      break;
    }
    case 'BitextMining': {
      tracker.setTotal(task.sentence1.length + task.sentence2.length);
      const a = await q(task.sentence1);
      const b = await q(task.sentence2);
      // Nearest sentence2 by cosine; ties keep the lower line index.
      const res = await searchTopK(
        matrixFromRows(a.map(l2normalize), e.dim),
        matrixFromRows(b.map(l2normalize), e.dim),
        1,
        {
          provider: opts.provider,
        },
      );
      scores = bitextScores(res.indices.map((r) => r[0]));
      break;
    }
  }
  const warnings = [...(task.warnings ?? [])];
  if (empty)
    warnings.push(
      `task ${task.name}: ${empty} empty text${empty === 1 ? '' : 's'} embedded as empty (as MTEB does: a zero embedding scores 0.5 in STS / pair classification); check the source`,
    );
  for (const w of warnings) opts.onWarning?.(w);
  const mainKey = MAIN_SCORE[task.type];
  const mainScore = Number(scores[mainKey]);
  scores.main_score = mainScore;
  scores.hf_subset = task.hfSubset;
  scores.languages = task.languages;
  return {
    taskName: task.name,
    taskType: task.type,
    split: task.split,
    hfSubset: task.hfSubset,
    languages: task.languages,
    scores,
    mainScore,
    evaluationTime: (Date.now() - t0) / 1000,
    ...(warnings.length ? { warnings } : {}),
  };
}
