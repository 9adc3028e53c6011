// SQLite access for mining (migration 40): runs, mined negatives, and the review scores the curation
// screen filters and sorts. Every write of a run happens in one transaction.
import type { Statement } from 'better-sqlite3';
import type { ScoredExample } from '../../shared/results';
import { UserError } from '../errors';
import type { Db } from '../store/db';
import { type ExampleFilter, filterSql, toExample } from '../store/examples';

export interface MinedNegative {
  id: number;
  exampleId: number;
  runId: string;
  text: string;
  score: number;
  positiveScore: number;
  rank: number;
  source: 'dataset' | 'corpus';
  model: string;
  adapter: string | null;
  createdAt: string;
}

export interface MiningRunRow {
  id: string;
  datasetId: number;
  model: string;
  adapter: string | null;
  config: Record<string, unknown>;
  report: Record<string, unknown>;
  queries: number;
  poolSize: number;
  negatives: number;
  createdAt: string;
}

export type { NegativeScore, ScoredExample } from '../../shared/results';

export const SCORE_SORTS = ['margin', 'positive_score', 'max_negative_score', 'id'] as const;
export type ScoreSort = (typeof SCORE_SORTS)[number];

export interface ScorePageRequest {
  filter?: ExampleFilter;
  /** Default: the dataset's newest score run. */
  runId?: string;
  /** true: only likely false negatives; false: only the others. */
  likelyFalseNegative?: boolean;
  sort?: ScoreSort;
  desc?: boolean;
  limit?: number;
  offset?: number;
}

const mined = (r: Record<string, unknown>): MinedNegative => ({
  id: r.id as number,
  exampleId: r.example_id as number,
  runId: r.run_id as string,
  text: r.text as string,
  score: r.score as number,
  positiveScore: r.positive_score as number,
  rank: r.rank as number,
  source: r.source as MinedNegative['source'],
  model: r.model as string,
  adapter: (r.adapter as string | null) ?? null,
  createdAt: r.created_at as string,
});

export class MiningStore {
  constructor(private readonly db: Db) {}

  /** Runs fn in one transaction (several runs written all or nothing). */
  atomically(fn: () => void): void {
    this.db.transaction(fn)();
  }

  insertRun(
    run: {
      id: string;
      datasetId: number;
      model: string;
      adapter: string | null;
      config: unknown;
      report: unknown;
      queries: number;
      poolSize: number;
    },
    rows: { exampleId: number; text: string; score: number; positiveScore: number; rank: number }[],
    source: 'dataset' | 'corpus',
  ): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO mining_runs (id, dataset_id, model, adapter, config_json, report_json, queries, pool_size, negatives)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          run.id,
          run.datasetId,
          run.model,
          run.adapter,
          JSON.stringify(run.config),
          JSON.stringify(run.report),
          run.queries,
          run.poolSize,
          rows.length,
        );
      const ins = this.db.prepare(
        `INSERT INTO mined_negatives (example_id, run_id, text, score, positive_score, rank, source, model, adapter)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const r of rows)
        ins.run(
          r.exampleId,
          run.id,
          r.text,
          r.score,
          r.positiveScore,
          r.rank,
          source,
          run.model,
          run.adapter,
        );
    })();
  }

  runs(datasetId: number): MiningRunRow[] {
    return (
      this.db
        .prepare('SELECT * FROM mining_runs WHERE dataset_id = ? ORDER BY created_at DESC, rowid DESC')
        .all(datasetId) as Record<string, unknown>[]
    ).map((r) => ({
      id: r.id as string,
      datasetId: r.dataset_id as number,
      model: r.model as string,
      adapter: (r.adapter as string | null) ?? null,
      config: JSON.parse(r.config_json as string),
      report: JSON.parse(r.report_json as string),
      queries: r.queries as number,
      poolSize: r.pool_size as number,
      negatives: r.negatives as number,
      createdAt: r.created_at as string,
    }));
  }

  /** Deletes a mining run and its negatives (their scores go with them); false when there is no such run. */
  deleteRun(runId: string): boolean {
    return this.db.transaction(() => {
      const ids = this.db
        .prepare('SELECT DISTINCT example_id FROM mined_negatives WHERE run_id = ?')
        .pluck()
        .all(runId) as number[];
      if (this.db.prepare('DELETE FROM mining_runs WHERE id = ?').run(runId).changes !== 1) return false;
      for (const id of ids) this.refreshScoreAggregates(id);
      return true;
    })();
  }

  /** The per-example aggregates of score runs follow the negatives that remain (after deletes). */
  refreshScoreAggregates(exampleId: number): void {
    const n = (what: string, extra = '') =>
      `(SELECT ${what} FROM example_negative_scores n WHERE n.run_id = s.run_id AND n.example_id = s.example_id${extra})`;
    this.db
      .prepare(
        `UPDATE example_scores AS s SET negatives = ${n('count(*)')},
           flagged = ${n('count(*)', ' AND n.likely_false_negative = 1')},
           max_negative_score = ${n('max(n.score)')}, margin = s.positive_score - ${n('max(n.score)')},
           likely_false_negative = ${n('count(*)', ' AND n.likely_false_negative = 1')} > 0
         WHERE s.example_id = ?`,
      )
      .run(exampleId);
  }

  /** The newest score run's model, adapter and margin (what the review screen shows scores of). */
  scoreRunInfo(runId: string): { model: string; adapter: string | null; margin: number } | null {
    const r = this.db.prepare('SELECT model, adapter, margin FROM score_runs WHERE id = ?').get(runId) as
      | { model: string; adapter: string | null; margin: number }
      | undefined;
    return r ?? null;
  }

  /**
   * Every score of the filtered rows of a run, for histograms: positive scores, every negative's score,
   * and per example its margin (positive − highest negative; examples without negatives have none).
   */
  scoreDistribution(
    datasetId: number,
    req: Omit<ScorePageRequest, 'sort' | 'desc' | 'limit' | 'offset'> = {},
  ): { positive: number[]; negative: number[]; margin: number[] } {
    const { runId, where, params } = this.scoreWhere(datasetId, req);
    const rows = this.db
      .prepare(
        `SELECT s.positive_score AS p, s.margin AS m FROM example_scores s JOIN examples e ON e.id = s.example_id
         WHERE ${where}`,
      )
      .all(...params) as { p: number; m: number | null }[];
    const negative = this.db
      .prepare(
        `SELECT n.score FROM example_negative_scores n JOIN example_scores s
           ON s.run_id = n.run_id AND s.example_id = n.example_id JOIN examples e ON e.id = s.example_id
         WHERE n.run_id = ? AND ${where}`,
      )
      .pluck()
      .all(runId, ...params) as number[];
    return {
      positive: rows.map((r) => r.p),
      negative,
      margin: rows.filter((r) => r.m !== null).map((r) => r.m as number),
    };
  }

  /** Mined negatives of one example (all runs, newest run first, then rank), or of one run. */
  minedFor(exampleId: number, runId?: string): MinedNegative[] {
    const rows = runId
      ? this.db
          .prepare('SELECT * FROM mined_negatives WHERE example_id = ? AND run_id = ? ORDER BY rank')
          .all(exampleId, runId)
      : this.db.prepare('SELECT * FROM mined_negatives WHERE example_id = ? ORDER BY id DESC').all(exampleId);
    return (rows as Record<string, unknown>[])
      .map(mined)
      .sort((a, b) => (a.runId === b.runId ? a.rank - b.rank : b.id - a.id));
  }

  /** All mined negatives of a run, by example then rank. */
  minedOfRun(runId: string): MinedNegative[] {
    return (
      this.db
        .prepare('SELECT * FROM mined_negatives WHERE run_id = ? ORDER BY example_id, rank')
        .all(runId) as Record<string, unknown>[]
    ).map(mined);
  }

  insertScores(
    run: {
      id: string;
      datasetId: number;
      model: string;
      adapter: string | null;
      margin: number;
      summary: unknown;
    },
    rows: {
      exampleId: number;
      contentHash: string;
      positiveScore: number;
      negatives: { source: 'llm' | 'mined'; minedId: number | null; text: string; score: number }[];
    }[],
  ): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO score_runs (id, dataset_id, model, adapter, margin, summary_json) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(run.id, run.datasetId, run.model, run.adapter, run.margin, JSON.stringify(run.summary));
      const ex = this.db.prepare(
        `INSERT INTO example_scores (run_id, example_id, dataset_id, content_hash, positive_score, max_negative_score,
           margin, negatives, flagged, likely_false_negative) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const neg = this.db.prepare(
        `INSERT INTO example_negative_scores (run_id, example_id, source, mined_id, text, score, margin,
           likely_false_negative) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const r of rows) {
        let maxNeg: number | null = null;
        let flagged = 0;
        for (const n of r.negatives) {
          const flag = isLikelyFalseNegative(r.positiveScore, n.score, run.margin);
          if (flag) flagged++;
          if (maxNeg === null || n.score > maxNeg) maxNeg = n.score;
          neg.run(
            run.id,
            r.exampleId,
            n.source,
            n.minedId,
            n.text,
            n.score,
            r.positiveScore - n.score,
            flag ? 1 : 0,
          );
        }
        ex.run(
          run.id,
          r.exampleId,
          run.datasetId,
          r.contentHash,
          r.positiveScore,
          maxNeg,
          maxNeg === null ? null : r.positiveScore - maxNeg,
          r.negatives.length,
          flagged,
          flagged > 0 ? 1 : 0,
        );
      }
    })();
  }

  /** The dataset's newest score run id, or null when it was never scored. */
  latestScoreRun(datasetId: number): string | null {
    const r = this.db
      .prepare('SELECT id FROM score_runs WHERE dataset_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1')
      .get(datasetId) as { id: string } | undefined;
    return r?.id ?? null;
  }

  scoreRuns(datasetId: number) {
    return (
      this.db
        .prepare('SELECT * FROM score_runs WHERE dataset_id = ? ORDER BY created_at DESC, rowid DESC')
        .all(datasetId) as Record<string, unknown>[]
    ).map((r) => ({
      id: r.id as string,
      model: r.model as string,
      adapter: (r.adapter as string | null) ?? null,
      margin: r.margin as number,
      summary: JSON.parse(r.summary_json as string),
      createdAt: r.created_at as string,
    }));
  }

  private scoreWhere(datasetId: number, req: ScorePageRequest) {
    const runId = req.runId ?? this.latestScoreRun(datasetId);
    if (!runId)
      throw new UserError(
        'this dataset has no scores yet; run `embedsmith score --dataset NAME --model DIR` first',
      );
    const { where, params } = filterSql(datasetId, req.filter);
    let w = `s.run_id = ? AND ${where}`;
    const p: unknown[] = [runId, ...params];
    if (req.likelyFalseNegative !== undefined) {
      w += ' AND s.likely_false_negative = ?';
      p.push(req.likelyFalseNegative ? 1 : 0);
    }
    return { runId, where: w, params: p };
  }

  scoreCount(
    datasetId: number,
    req: Omit<ScorePageRequest, 'sort' | 'desc' | 'limit' | 'offset'> = {},
  ): number {
    const { where, params } = this.scoreWhere(datasetId, req);
    return (
      this.db
        .prepare(
          `SELECT count(*) AS n FROM example_scores s JOIN examples e ON e.id = s.example_id WHERE ${where}`,
        )
        .get(...params) as { n: number }
    ).n;
  }

  /**
   * One page of scored examples for review: filter like the curation list, plus "likely false negatives";
   * sort by margin (hardest first by default), positive score, highest negative score or id. Each row
   * carries every negative's score (LLM-written and mined) for a side-by-side view.
   */
  scorePage(datasetId: number, req: ScorePageRequest = {}): ScoredExample[] {
    const sort = req.sort ?? 'margin';
    if (!(SCORE_SORTS as readonly string[]).includes(sort))
      throw new UserError(`cannot sort scores by "${sort}"; use one of ${SCORE_SORTS.join(', ')}`, 2);
    const { runId, where, params } = this.scoreWhere(datasetId, req);
    const dir = req.desc ? 'DESC' : 'ASC';
    const col = sort === 'id' ? 'e.id' : `s.${sort}`;
    // Examples without negatives have a null margin: they sort last either way.
    const order = sort === 'id' ? `e.id ${dir}` : `${col} IS NULL, ${col} ${dir}, e.id ${dir}`;
    const rows = this.db
      .prepare(
        `SELECT e.*, s.positive_score AS s_pos, s.max_negative_score AS s_maxneg, s.margin AS s_margin,
           s.negatives AS s_n, s.flagged AS s_flagged, s.likely_false_negative AS s_flag,
           s.content_hash AS s_hash
         FROM example_scores s JOIN examples e ON e.id = s.example_id
         WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`,
      )
      .all(
        ...params,
        Math.min(Math.max(req.limit ?? 100, 1), 10_000),
        Math.max(0, req.offset ?? 0),
      ) as Record<string, unknown>[];
    const negs = this.db.prepare<unknown[]>(
      'SELECT * FROM example_negative_scores WHERE run_id = ? AND example_id = ? ORDER BY score DESC',
    );
    return rows.map((r) => this.scored(r, runId, negs));
  }

  /** The scores of one example (newest run unless given), or null when it was not scored. */
  scoresOf(exampleId: number, runId?: string): ScoredExample | null {
    const r = this.db
      .prepare(
        `SELECT e.*, s.run_id AS s_run, s.positive_score AS s_pos, s.max_negative_score AS s_maxneg,
           s.margin AS s_margin, s.negatives AS s_n, s.flagged AS s_flagged, s.likely_false_negative AS s_flag,
           s.content_hash AS s_hash
         FROM example_scores s JOIN examples e ON e.id = s.example_id JOIN score_runs sr ON sr.id = s.run_id
         WHERE s.example_id = ? ${runId ? 'AND s.run_id = ?' : ''}
         ORDER BY sr.created_at DESC, sr.rowid DESC LIMIT 1`,
      )
      .get(...(runId ? [exampleId, runId] : [exampleId])) as Record<string, unknown> | undefined;
    if (!r) return null;
    const negs = this.db.prepare<unknown[]>(
      'SELECT * FROM example_negative_scores WHERE run_id = ? AND example_id = ? ORDER BY score DESC',
    );
    return this.scored(r, r.s_run as string, negs);
  }

  private scored(r: Record<string, unknown>, runId: string, negs: Statement<unknown[]>): ScoredExample {
    const example = toExample(r as unknown as Parameters<typeof toExample>[0]);
    return {
      example,
      runId,
      positiveScore: r.s_pos as number,
      maxNegativeScore: (r.s_maxneg as number | null) ?? null,
      margin: (r.s_margin as number | null) ?? null,
      negatives: r.s_n as number,
      flagged: r.s_flagged as number,
      likelyFalseNegative: r.s_flag === 1,
      stale: r.s_hash !== example.contentHash,
      negativeScores: (negs.all(runId, example.id) as Record<string, unknown>[]).map((n) => ({
        source: n.source as 'llm' | 'mined',
        minedId: (n.mined_id as number | null) ?? null,
        text: n.text as string,
        score: n.score as number,
        margin: n.margin as number,
        likelyFalseNegative: n.likely_false_negative === 1,
      })),
    };
  }
}

/** A negative scoring at or above the positive, or within `margin` of it, is likely a false negative. */
export const isLikelyFalseNegative = (positive: number, negative: number, margin: number) =>
  negative >= positive - margin;
