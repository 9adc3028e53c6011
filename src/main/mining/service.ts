// Hard-negative mining and review scoring (issue #8): embed queries (with their instructions) and a
// candidate pool with the current model, retrieve top-k with the evaluation's ORT search, pick negatives
// with sentence-transformers' mine_hard_negatives knobs, store them beside the LLM-written ones, report.
import path from 'node:path';
import type { Example, Progress, ReviewStatus } from '../../shared/domain';
import { UserError, usageError } from '../errors';
import { CachedEmbedder } from '../eval/cache';
import type { Embedder } from '../eval/embedder';
import { type Matrix, searchTopK } from '../eval/search';
import { openTargets } from '../eval/service';
import { ProgressTracker } from '../jobs/progress';
import type { Device } from '../models/model';
import type { WorkspacePaths } from '../paths';
import type { Store } from '../store';
import type { ExampleFilter } from '../store/examples';
import { instructionOf } from '../training/data';
import { loadCorpus, normText, type Pool, PoolBuilder } from './pool';
import { LOOSEN_HINT, type MineKnobs, type ShortReason, SHORT_REASONS, selectForQuery } from './select';
import { type Distribution, distribution } from './stats';
import { isLikelyFalseNegative, MiningStore } from './store';
import { type GroupedMineReport, mineByKind, type NegativeActionRequest, negativeAction } from './review';

export { type GroupedMineReport, poolGroupOf } from './review';

export type MineStage = 'probe' | 'pool' | 'queries' | 'positives' | 'search' | 'texts';

export interface ModelRef {
  /** Model folder, or builtin:hashbow-DIM. */
  model: string;
  adapter?: string | null;
  device?: Device;
  batchSize?: number;
  inThread?: boolean;
  /** Stops the run between embedding slices and before its write: a cancelled run writes nothing. */
  signal?: AbortSignal;
}

export interface MineRequest extends ModelRef {
  dataset: string;
  /** Which examples get negatives (and, without corpus, which examples' texts form the pool). */
  filter?: ExampleFilter;
  /** JSONL/TXT file or BEIR folder; default: the dataset's own positives and negatives. */
  corpus?: string;
  /** Only these example ids (on top of the filter): one pool group of mineByKind. */
  ids?: readonly number[];
  knobs?: Partial<Omit<MineKnobs, 'rangeMax'>> & { rangeMax?: number | null };
  /** ORT provider of the search (cpu default). */
  provider?: string;
  onProgress?: (stage: MineStage, p: Progress) => void;
}

export interface MineReport {
  runId: string;
  dataset: string;
  model: string;
  adapter: string | null;
  pool: { source: 'dataset' | 'corpus'; origin: string; size: number; duplicates: number };
  /** Examples that got a mining attempt. */
  queries: number;
  uniqueQueries: number;
  knobs: MineKnobs;
  /** Candidates retrieved per query. */
  k: number;
  negatives: number;
  /** number of negatives → number of queries that got that many */
  histogram: Record<string, number>;
  scores: { positive: Distribution; negative: Distribution; margin: Distribution };
  short: { queries: number; byReason: Record<ShortReason, number>; hints: string[] };
  /** Candidates skipped because they are the example's own LLM-written negative. */
  skippedOwnNegative: number;
  seconds: { embed: number; search: number; total: number };
  candidatesPerS: number;
}

export interface ScoreRequest extends ModelRef {
  dataset: string;
  filter?: ExampleFilter;
  /** Flag a negative scoring ≥ positive − margin (default 0: at or above the positive). */
  margin?: number;
  onProgress?: (stage: MineStage, p: Progress) => void;
}

export interface ScoreSummary {
  runId: string;
  dataset: string;
  model: string;
  adapter: string | null;
  margin: number;
  examples: number;
  withNegatives: number;
  likelyFalseNegatives: number;
  flaggedNegatives: { llm: number; mined: number };
  scores: {
    positive: Distribution;
    llmNegative: Distribution;
    minedNegative: Distribution;
    margin: Distribution;
  };
  seconds: number;
}

const DEFAULT_STATUSES: ReviewStatus[] = ['unreviewed', 'accepted'];
/** Throws once the run's signal aborted: the caller's job ends cancelled and the run writes nothing. */
function stopIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new UserError(`${what} cancelled; nothing was written`);
}

export const newMiningId = (prefix: string) =>
  `${prefix}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}-${Math.random().toString(36).slice(2, 6)}`;

/** Rows of unit length (cosine = dot); zero rows stay zero. */
function normalised(vecs: Float32Array[], dim: number): Matrix {
  const data = new Float32Array(vecs.length * dim);
  vecs.forEach((v, i) => {
    let n = 0;
    for (let j = 0; j < dim; j++) n += v[j] * v[j];
    const s = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let j = 0; j < dim; j++) data[i * dim + j] = v[j] * s;
  });
  return { data, rows: vecs.length, dim };
}

/** One dot product per (query, text) pair — pairs, not a search. */
const dot = (a: Matrix, i: number, b: Matrix, j: number) => {
  let s = 0;
  const d = a.dim;
  for (let t = 0; t < d; t++) s += a.data[i * d + t] * b.data[j * d + t];
  return s;
};

export function resolveKnobs(
  k: MineRequest['knobs'] = {},
  poolSize: number,
): MineKnobs & { explicitMax: boolean } {
  const numNegatives = k.numNegatives ?? 3;
  const rangeMin = k.rangeMin ?? 0;
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw usageError(`${name} ${v}: expected an integer ≥ ${min}`);
  };
  int('--num-negatives', numNegatives, 1);
  int('--range (min)', rangeMin, 0);
  const explicitMax = k.rangeMax !== undefined && k.rangeMax !== null;
  let rangeMax = explicitMax
    ? (k.rangeMax as number)
    : Math.min(poolSize, rangeMin + Math.max(50, 10 * numNegatives));
  if (explicitMax) int('--range (max)', rangeMax, 1);
  if (rangeMin >= poolSize)
    throw new UserError(
      `--range: the range min ${rangeMin} is at or beyond the pool of ${poolSize} candidates; lower it or mine a larger pool (--corpus)`,
    );
  if (rangeMax <= rangeMin)
    throw usageError(`--range ${rangeMin}-${rangeMax}: the range max must be above the range min`);
  if (explicitMax && rangeMax > poolSize)
    throw new UserError(
      `--range ${rangeMin}-${rangeMax} reaches past the pool of ${poolSize} candidates; use --range ${rangeMin}-${poolSize} or a larger pool (--corpus)`,
    );
  rangeMax = Math.min(rangeMax, poolSize);
  const margin = k.margin ?? null;
  const relativeMargin = k.relativeMargin ?? null;
  if (margin !== null && !Number.isFinite(margin)) throw usageError(`--margin ${margin}: expected a number`);
  if (relativeMargin !== null && !(relativeMargin >= 0 && relativeMargin < 1))
    throw usageError(`--relative-margin ${relativeMargin}: expected a number in [0, 1)`);
  const sampling = k.sampling ?? 'top';
  if (sampling !== 'top' && sampling !== 'random')
    throw usageError(`--sampling ${sampling}: use top or random`);
  return {
    rangeMin,
    rangeMax,
    maxScore: k.maxScore ?? null,
    minScore: k.minScore ?? null,
    margin,
    relativeMargin,
    numNegatives,
    sampling,
    seed: k.seed ?? 42,
    explicitMax,
  };
}

export class MiningService {
  readonly store: MiningStore;

  constructor(
    private readonly core: Store,
    private readonly paths: WorkspacePaths | null,
  ) {
    this.store = new MiningStore(core.db);
  }

  /**
   * Opens the model (+ adapter) as a disk-cached embedder and embeds one probe text, so a folder that
   * cannot be loaded fails here, before any other work, as a one-line UserError.
   */
  async openEmbedder(ref: ModelRef): Promise<{ embedder: Embedder; close(): Promise<void> }> {
    let opened: ReturnType<typeof openTargets>;
    try {
      opened = openTargets(ref.model, ref.adapter ? [ref.adapter] : [], {
        device: ref.device,
        batchSize: ref.batchSize,
        inThread: ref.inThread,
      });
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(
        `--model ${ref.model}: cannot load the model (${(e as Error).message}); check the folder`,
      );
    }
    const inner = opened.targets[0].embedder;
    const embedder = this.paths
      ? new CachedEmbedder(inner, path.join(this.paths.cache, 'embeddings'))
      : inner;
    try {
      await inner.embed(['probe'], { role: 'document' });
    } catch (e) {
      await opened.close().catch(() => {});
      if (e instanceof UserError) throw e;
      throw new UserError(
        `--model ${ref.model}${ref.adapter ? ` --adapter ${ref.adapter}` : ''}: cannot run the model (${(e as Error).message.split('\n')[0]}); check the folder`,
      );
    }
    return { embedder, close: () => opened.close() };
  }

  /** The examples a run works on (rejected ones skipped unless the filter asks), with instructions. */
  examples(dataset: string, filter: ExampleFilter = {}) {
    const d = this.core.datasets.get(dataset);
    const f: ExampleFilter = { status: DEFAULT_STATUSES, ...filter };
    const taskStmt = this.core.db.prepare('SELECT text FROM tasks WHERE id = ?');
    const taskText = (id: number) => (taskStmt.get(id) as { text: string } | undefined)?.text;
    const rows: { e: Example; instruction: string | null }[] = [];
    for (const e of this.core.examples.iterate(d.id, f))
      rows.push({ e, instruction: instructionOf(e, taskText, d.instruction) });
    return { d, rows };
  }

  /** Embeds texts grouped by instruction (the Embedder takes one per call), with one progress tracker. */
  private async embedGrouped(
    emb: Embedder,
    items: { text: string; instruction: string | null }[],
    role: 'query' | 'document',
    stage: MineStage,
    onProgress?: (stage: MineStage, p: Progress) => void,
    signal?: AbortSignal,
  ): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(items.length);
    const groups = new Map<string, number[]>();
    items.forEach((it, i) => {
      const g = it.instruction ?? '';
      const list = groups.get(g);
      if (list) list.push(i);
      else groups.set(g, [i]);
    });
    const tracker = new ProgressTracker(
      items.length,
      'texts',
      onProgress ? (p) => onProgress(stage, p) : undefined,
    );
    let before = 0;
    for (const [ins, idx] of groups) {
      // Embed in slices so progress moves for large pools even when the embedder reports only at the end.
      for (let lo = 0; lo < idx.length; lo += 4096) {
        stopIfCancelled(signal, 'the run');
        const part = idx.slice(lo, lo + 4096);
        const vecs = await emb.embed(
          part.map((i) => items[i].text),
          { role, instruction: role === 'query' && ins ? ins : undefined },
          (done) => {
            if (done < part.length) tracker.update(before + done);
          },
        );
        part.forEach((i, r) => {
          out[i] = vecs[r];
        });
        before += part.length;
        tracker.update(before);
      }
    }
    return out;
  }

  /** Mines hard negatives; writes the run and its negatives in one transaction, after all checks. */
  async mine(
    req: MineRequest,
    opened?: Awaited<ReturnType<MiningService['openEmbedder']>>,
    /** Collects the write instead of running it (mineByKind writes all groups in one transaction). */
    deferred?: (() => void)[],
  ): Promise<MineReport> {
    const t0 = performance.now();
    const { d, rows: all } = this.examples(req.dataset, req.filter);
    const only = req.ids ? new Set(req.ids) : null;
    const rows = only ? all.filter((r) => only.has(r.e.id)) : all;
    if (!rows.length)
      throw new UserError(
        `dataset "${req.dataset}" has no examples matching the filter (rejected rows are skipped); loosen --kinds/--language/--split`,
      );
    let pool: Pool;
    if (req.corpus) pool = loadCorpus(req.corpus);
    else {
      const b = new PoolBuilder();
      for (const { e } of rows) {
        b.add(e.positive);
        if (e.negative?.trim()) b.add(e.negative);
      }
      pool = b.build('dataset', `dataset:${req.dataset}`);
    }
    if (!pool.texts.length)
      throw new UserError(`the candidate pool of "${req.dataset}" is empty; import a corpus with --corpus`);
    const knobs = resolveKnobs(req.knobs, pool.texts.length);
    const { explicitMax: _e, ...k } = knobs;

    // Unique queries (instruction + text); all positives of a query are excluded for each of its examples.
    const qIndex = new Map<string, number>();
    const uq: { text: string; instruction: string | null; positives: Set<number> }[] = [];
    const qOf: number[] = [];
    for (const { e, instruction } of rows) {
      const key = `${instruction ?? ''}\u0000${e.query}`;
      let q = qIndex.get(key);
      if (q === undefined) {
        q = uq.length;
        qIndex.set(key, q);
        uq.push({ text: e.query, instruction, positives: new Set() });
      }
      qOf.push(q);
      const p = pool.index.get(normText(e.positive));
      if (p !== undefined) uq[q].positives.add(p);
    }
    // Positives outside the pool (corpus mode) are embedded on their own, for the positive score only.
    const extraPos = new PoolBuilder();
    const posRef = rows.map(({ e }) => {
      const p = pool.index.get(normText(e.positive));
      return p !== undefined ? { pool: true, row: p } : { pool: false, row: extraPos.add(e.positive) };
    });

    const emb = opened ?? (await this.openEmbedder(req));
    let report: MineReport;
    const picked: { exampleId: number; text: string; score: number; positiveScore: number; rank: number }[] =
      [];
    try {
      const te = performance.now();
      const on = req.onProgress;
      const C = normalised(
        await this.embedGrouped(
          emb.embedder,
          pool.texts.map((text) => ({ text, instruction: null })),
          'document',
          'pool',
          on,
          req.signal,
        ),
        emb.embedder.dim,
      );
      const Q = normalised(
        await this.embedGrouped(emb.embedder, uq, 'query', 'queries', on, req.signal),
        emb.embedder.dim,
      );
      const P = extraPos.texts.length
        ? normalised(
            await this.embedGrouped(
              emb.embedder,
              extraPos.texts.map((text) => ({ text, instruction: null })),
              'document',
              'positives',
              on,
              req.signal,
            ),
            emb.embedder.dim,
          )
        : null;
      const embedS = (performance.now() - te) / 1000;

      const maxExcluded = Math.max(0, ...uq.map((q) => q.positives.size));
      // +1: the example's own LLM negative keeps its rank but is never picked.
      const kk = Math.min(pool.texts.length, k.rangeMax + maxExcluded + 1);
      const ts = performance.now();
      const tracker = new ProgressTracker(uq.length, 'queries', on ? (p) => on('search', p) : undefined);
      const res = await searchTopK(Q, C, kk, {
        provider: req.provider,
        inThread: req.inThread,
        onProgress: (done, total) => tracker.update(Math.round((done / total) * uq.length)),
      });
      const searchS = (performance.now() - ts) / 1000;
      stopIfCancelled(req.signal, 'mining');

      const hist: Record<string, number> = {};
      for (let n = 0; n <= k.numNegatives; n++) hist[n] = 0;
      const byReason = Object.fromEntries(SHORT_REASONS.map((r) => [r, 0])) as Record<ShortReason, number>;
      const posScores: number[] = [];
      const negScores: number[] = [];
      const margins: number[] = [];
      let skippedOwn = 0;
      rows.forEach(({ e }, i) => {
        const q = qOf[i];
        const ref = posRef[i];
        const pos = ref.pool ? dot(Q, q, C, ref.row) : dot(Q, q, P as Matrix, ref.row);
        posScores.push(pos);
        const own = e.negative?.trim() ? pool.index.get(normText(e.negative)) : undefined;
        const skip = new Set<number>(own !== undefined && !uq[q].positives.has(own) ? [own] : []);
        const r = selectForQuery(res.indices[q], res.scores[q], pos, uq[q].positives, skip, k, e.id);
        skippedOwn += r.skipped;
        hist[r.picks.length] = (hist[r.picks.length] ?? 0) + 1;
        if (r.short) byReason[r.short]++;
        for (const p of r.picks) {
          picked.push({
            exampleId: e.id,
            text: pool.texts[p.row],
            score: p.score,
            positiveScore: pos,
            rank: p.rank,
          });
          negScores.push(p.score);
          margins.push(pos - p.score);
        }
      });
      const shortN = Object.values(byReason).reduce((a, b) => a + b, 0);
      const totalS = (performance.now() - t0) / 1000;
      report = {
        runId: newMiningId('mine'),
        dataset: d.name,
        model: req.model.startsWith('builtin:') ? req.model : path.resolve(req.model),
        adapter: req.adapter ? path.resolve(req.adapter) : null,
        pool: {
          source: pool.source,
          origin: pool.origin,
          size: pool.texts.length,
          duplicates: pool.duplicates,
        },
        queries: rows.length,
        uniqueQueries: uq.length,
        knobs: k,
        k: kk,
        negatives: picked.length,
        histogram: hist,
        scores: {
          positive: distribution(posScores),
          negative: distribution(negScores),
          margin: distribution(margins),
        },
        short: {
          queries: shortN,
          byReason,
          hints: SHORT_REASONS.filter((r) => byReason[r] > 0)
            .sort((a, b) => byReason[b] - byReason[a])
            .map((r) => `${byReason[r]} queries short because of ${r}: ${LOOSEN_HINT[r]}`),
        },
        skippedOwnNegative: skippedOwn,
        seconds: { embed: embedS, search: searchS, total: totalS },
        candidatesPerS: pool.texts.length / totalS,
      };
    } finally {
      if (!opened) await emb.close();
    }
    // Last check before the one write (run + negatives in one transaction): all of it, or nothing.
    stopIfCancelled(req.signal, 'mining');
    const write = () =>
      this.store.insertRun(
        {
          id: report.runId,
          datasetId: d.id,
          model: report.model,
          adapter: report.adapter,
          config: { filter: req.filter ?? {}, corpus: req.corpus ?? null, knobs: report.knobs, k: report.k },
          report,
          queries: report.queries,
          poolSize: report.pool.size,
        },
        picked,
        pool.source,
      );
    if (deferred) deferred.push(write);
    else write();
    return report;
  }

  /** One candidate pool per kind (+ language for sts/bitext): see review.ts. */
  mineByKind(req: MineRequest): Promise<GroupedMineReport> {
    return mineByKind(this, req);
  }

  /** Drop a negative, or move it to a new positive example: see review.ts. */
  negativeAction(i: NegativeActionRequest) {
    return negativeAction(this, this.core, i);
  }

  /**
   * Scores every matching example with the current model: positive and each negative (LLM-written and
   * every mined one), margins, likely-false-negative flags; stored as a score run for the review screen.
   */
  async score(req: ScoreRequest): Promise<ScoreSummary> {
    const t0 = performance.now();
    const margin = req.margin ?? 0;
    if (!Number.isFinite(margin)) throw usageError(`--margin ${req.margin}: expected a number`);
    const { d, rows } = this.examples(req.dataset, req.filter);
    if (!rows.length)
      throw new UserError(`dataset "${req.dataset}" has no examples matching the filter; loosen the filter`);
    const minedStmt = this.core.db.prepare(
      'SELECT id, text FROM mined_negatives WHERE example_id = ? ORDER BY id',
    );
    const qIndex = new Map<string, number>();
    const uq: { text: string; instruction: string | null }[] = [];
    const docs = new Map<string, number>();
    const docTexts: string[] = [];
    const doc = (t: string) => {
      let i = docs.get(t);
      if (i === undefined) {
        i = docTexts.length;
        docs.set(t, i);
        docTexts.push(t);
      }
      return i;
    };
    const plan = rows.map(({ e, instruction }) => {
      const key = `${instruction ?? ''}\u0000${e.query}`;
      let q = qIndex.get(key);
      if (q === undefined) {
        q = uq.length;
        qIndex.set(key, q);
        uq.push({ text: e.query, instruction });
      }
      const negs: { source: 'llm' | 'mined'; minedId: number | null; text: string; doc: number }[] = [];
      if (e.negative?.trim())
        negs.push({ source: 'llm', minedId: null, text: e.negative, doc: doc(e.negative) });
      const seen = new Set(negs.map((n) => n.text));
      for (const m of minedStmt.all(e.id) as { id: number; text: string }[]) {
        if (seen.has(m.text)) continue;
        seen.add(m.text);
        negs.push({ source: 'mined', minedId: m.id, text: m.text, doc: doc(m.text) });
      }
      return { e, q, pos: doc(e.positive), negs };
    });
    const emb = await this.openEmbedder(req);
    let Q: Matrix;
    let D: Matrix;
    try {
      D = normalised(
        await this.embedGrouped(
          emb.embedder,
          docTexts.map((text) => ({ text, instruction: null })),
          'document',
          'texts',
          req.onProgress,
          req.signal,
        ),
        emb.embedder.dim,
      );
      Q = normalised(
        await this.embedGrouped(emb.embedder, uq, 'query', 'queries', req.onProgress, req.signal),
        emb.embedder.dim,
      );
    } finally {
      await emb.close();
    }
    stopIfCancelled(req.signal, 'scoring');
    const pos: number[] = [];
    const llm: number[] = [];
    const minedS: number[] = [];
    const margins: number[] = [];
    const flaggedNegatives = { llm: 0, mined: 0 };
    let flaggedExamples = 0;
    let withNeg = 0;
    const out = plan.map((p) => {
      const ps = dot(Q, p.q, D, p.pos);
      pos.push(ps);
      let flagged = false;
      const negatives = p.negs.map((n) => {
        const s = dot(Q, p.q, D, n.doc);
        (n.source === 'llm' ? llm : minedS).push(s);
        margins.push(ps - s);
        if (isLikelyFalseNegative(ps, s, margin)) {
          flaggedNegatives[n.source]++;
          flagged = true;
        }
        return { source: n.source, minedId: n.minedId, text: n.text, score: s };
      });
      if (negatives.length) withNeg++;
      if (flagged) flaggedExamples++;
      return { exampleId: p.e.id, contentHash: p.e.contentHash, positiveScore: ps, negatives };
    });
    const summary: ScoreSummary = {
      runId: newMiningId('score'),
      dataset: d.name,
      model: req.model.startsWith('builtin:') ? req.model : path.resolve(req.model),
      adapter: req.adapter ? path.resolve(req.adapter) : null,
      margin,
      examples: rows.length,
      withNegatives: withNeg,
      likelyFalseNegatives: flaggedExamples,
      flaggedNegatives,
      scores: {
        positive: distribution(pos),
        llmNegative: distribution(llm),
        minedNegative: distribution(minedS),
        margin: distribution(margins),
      },
      seconds: (performance.now() - t0) / 1000,
    };
    stopIfCancelled(req.signal, 'scoring');
    this.store.insertScores(
      { id: summary.runId, datasetId: d.id, model: summary.model, adapter: summary.adapter, margin, summary },
      out,
    );
    return summary;
  }
}
