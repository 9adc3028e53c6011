import type {
  DatasetStats,
  Example,
  Kind,
  NewExample,
  Origin,
  ReviewStatus,
  Split,
  StatsCell,
} from '../../shared/domain';
import { UserError } from '../errors';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db';
import { contentHash } from './hash';

interface ExampleRow {
  id: number;
  dataset_id: number;
  kind: Kind;
  task_id: number | null;
  instruction: string | null;
  language: string | null;
  src_lang: string | null;
  tgt_lang: string | null;
  query: string;
  positive: string;
  negative: string | null;
  extras_json: string;
  attributes_json: string;
  seed: number | null;
  origin: Origin;
  generator_model: string | null;
  template_version: string | null;
  run_id: string | null;
  status: ReviewStatus;
  reject_reason: string | null;
  split: Split | null;
  content_hash: string;
  created_at: string;
  updated_at: string;
}

export const toExample = (r: ExampleRow): Example => ({
  id: r.id,
  datasetId: r.dataset_id,
  kind: r.kind,
  taskId: r.task_id,
  instruction: r.instruction,
  language: r.language,
  srcLang: r.src_lang,
  tgtLang: r.tgt_lang,
  query: r.query,
  positive: r.positive,
  negative: r.negative,
  extras: JSON.parse(r.extras_json),
  attributes: JSON.parse(r.attributes_json),
  seed: r.seed,
  origin: r.origin,
  generatorModel: r.generator_model,
  templateVersion: r.template_version,
  runId: r.run_id,
  status: r.status,
  rejectReason: r.reject_reason,
  split: r.split,
  contentHash: r.content_hash,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Filters shared by curation pages, exports, stats and bulk actions. */
export interface ExampleFilter {
  kind?: Kind | Kind[];
  language?: string | string[];
  status?: ReviewStatus | ReviewStatus[];
  split?: Split | Split[] | 'none';
  origin?: Origin;
  generatorModel?: string;
  rejectReason?: string;
  runId?: string;
  /** FTS5 query over query/positive/negative. */
  search?: string;
}

export const SORT_COLUMNS = ['id', 'kind', 'language', 'status', 'created_at', 'updated_at'] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];

export interface PageRequest {
  filter?: ExampleFilter;
  sort?: SortColumn;
  desc?: boolean;
  limit?: number;
  /** Offset paging (simple, O(offset)). */
  offset?: number;
  /** Keyset paging: rows strictly after this (sort value, id) pair; constant time at any depth. */
  after?: { value: string | number; id: number };
}

export interface InsertResult {
  inserted: number;
  duplicates: number;
  ids: number[];
}

const asList = <T>(v: T | T[] | undefined): T[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v : [v];

/** Builds the WHERE clause for a filter; parameters are positional. */
export function filterSql(
  datasetId: number,
  f: ExampleFilter = {},
  alias = 'e',
): { where: string; params: unknown[] } {
  const parts = [`${alias}.dataset_id = ?`];
  const params: unknown[] = [datasetId];
  const inList = (col: string, vals: unknown[] | undefined) => {
    if (!vals?.length) return;
    parts.push(`${alias}.${col} IN (${vals.map(() => '?').join(',')})`);
    params.push(...vals);
  };
  inList('kind', asList(f.kind));
  inList('language', asList(f.language));
  inList('status', asList(f.status));
  if (f.split === 'none') parts.push(`${alias}.split IS NULL`);
  else inList('split', asList(f.split));
  if (f.origin) inList('origin', [f.origin]);
  if (f.generatorModel) inList('generator_model', [f.generatorModel]);
  if (f.rejectReason) inList('reject_reason', [f.rejectReason]);
  if (f.runId) inList('run_id', [f.runId]);
  if (f.search?.trim()) {
    parts.push(`${alias}.id IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)`);
    params.push(ftsQuery(f.search));
  }
  return { where: parts.join(' AND '), params };
}

/** Turns user text into a safe FTS5 query: each word quoted, implicit AND; `"…"` phrases kept. */
export function ftsQuery(text: string): string {
  const tokens = text.match(/"[^"]+"|\S+/g) ?? [];
  return tokens.map((t) => `"${t.replace(/^"|"$/g, '').replace(/"/g, '""')}"`).join(' ');
}

const jsonOrEmpty = (o: Record<string, unknown> | undefined) => {
  if (!o) return '{}';
  for (const _ in o) return JSON.stringify(o);
  return '{}';
};

/** Examples of one dataset: batched transactional inserts, curation pages, stats and review. */
export class ExampleStore {
  constructor(private readonly db: Db) {}

  private insertStmtCache?: Statement<unknown[]>;

  /** Prepared once per store: bulk imports call insertMany thousands of times. */
  private insertStmt() {
    this.insertStmtCache ??= this.db.prepare<unknown[]>(
      `INSERT OR IGNORE INTO examples (dataset_id, kind, task_id, instruction, language, src_lang, tgt_lang, query,
         positive, negative, extras_json, attributes_json, seed, origin, generator_model, template_version, run_id,
         status, reject_reason, split, content_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.insertStmtCache;
  }

  /**
   * Inserts rows; duplicates (same content hash in the dataset) are skipped and counted. Runs inside the
   * caller's transaction when there is one, otherwise opens its own: all rows or none. `splitFor` gives
   * rows without a split one from their content hash (datasets with split settings).
   */
  insertMany(
    datasetId: number,
    rows: Iterable<NewExample>,
    opts: { splitFor?: (contentHash: string) => Split } = {},
  ): InsertResult {
    const stmt = this.insertStmt();
    const run = () => {
      let inserted = 0;
      let duplicates = 0;
      const ids: number[] = [];
      for (const e of rows) {
        const hash = contentHash(e);
        // Positional parameters and skipped stringify of empty objects: the 500k-row bench is bound by this loop.
        const info = stmt.run(
          datasetId,
          e.kind,
          e.taskId ?? null,
          e.instruction ?? null,
          e.language ?? null,
          e.srcLang ?? null,
          e.tgtLang ?? null,
          e.query,
          e.positive,
          e.negative ?? null,
          jsonOrEmpty(e.extras),
          jsonOrEmpty(e.attributes),
          e.seed ?? null,
          e.origin ?? 'import',
          e.generatorModel ?? null,
          e.templateVersion ?? null,
          e.runId ?? null,
          e.status ?? 'unreviewed',
          e.rejectReason ?? null,
          e.split ?? opts.splitFor?.(hash) ?? null,
          hash,
        );
        if (info.changes === 1) {
          inserted++;
          ids.push(Number(info.lastInsertRowid));
        } else duplicates++;
      }
      return { inserted, duplicates, ids };
    };
    return this.db.inTransaction ? run() : this.db.transaction(run)();
  }

  /** Rows inserted but not yet in the full-text index (above the watermark of migration 002). */
  pendingIndex(): number {
    return (
      this.db.prepare('SELECT count(*) AS n FROM examples WHERE id > (SELECT upto FROM fts_state)').get() as {
        n: number;
      }
    ).n;
  }

  /**
   * Indexes the rows above the watermark, `chunk` rows per transaction (or inside the caller's
   * transaction), so an interrupted run keeps what it indexed. Returns the number of rows indexed.
   */
  indexPending(opts: { chunk?: number; onProgress?: (done: number, total: number) => void } = {}): number {
    const chunk = opts.chunk ?? 5000;
    const total = this.pendingIndex();
    if (!total) return 0;
    const upper = this.db.prepare(
      `SELECT max(id) AS hi, count(*) AS n FROM
         (SELECT id FROM examples WHERE id > (SELECT upto FROM fts_state) ORDER BY id LIMIT ?)`,
    );
    const ins = this.db.prepare(
      `INSERT INTO examples_fts (rowid, query, positive, negative)
       SELECT id, query, positive, negative FROM examples WHERE id > (SELECT upto FROM fts_state) AND id <= ?`,
    );
    const mark = this.db.prepare('UPDATE fts_state SET upto = ?');
    const step = () => {
      const { hi, n } = upper.get(chunk) as { hi: number | null; n: number };
      if (hi === null) return 0;
      ins.run(hi);
      mark.run(hi);
      return n;
    };
    let done = 0;
    for (;;) {
      const n = this.db.inTransaction ? step() : this.db.transaction(step)();
      if (!n) break;
      done += n;
      opts.onProgress?.(done, total);
    }
    return done;
  }

  /** Searches must see every row: drain the index queue first (a no-op when it is empty). */
  private ready(filter?: ExampleFilter): void {
    if (filter?.search?.trim()) this.indexPending();
  }

  get(id: number): Example {
    const r = this.db.prepare('SELECT * FROM examples WHERE id = ?').get(id) as ExampleRow | undefined;
    if (!r) throw new UserError(`unknown example id ${id}`);
    return toExample(r);
  }

  count(datasetId: number, filter?: ExampleFilter): number {
    this.ready(filter);
    const { where, params } = filterSql(datasetId, filter);
    return (
      this.db.prepare(`SELECT count(*) AS n FROM examples e WHERE ${where}`).get(...params) as { n: number }
    ).n;
  }

  /** One page of a curation view. Keyset paging when `after` is given, else offset. */
  page(datasetId: number, req: PageRequest = {}): Example[] {
    this.ready(req.filter);
    const sort = req.sort ?? 'id';
    if (!SORT_COLUMNS.includes(sort))
      throw new UserError(`cannot sort by "${sort}"; use one of ${SORT_COLUMNS.join(', ')}`, 2);
    const dir = req.desc ? 'DESC' : 'ASC';
    const cmp = req.desc ? '<' : '>';
    const { where, params } = filterSql(datasetId, req.filter);
    let sql = `SELECT * FROM examples e WHERE ${where}`;
    if (req.after) {
      sql += sort === 'id' ? ` AND e.id ${cmp} ?` : ` AND (e.${sort}, e.id) ${cmp} (?, ?)`;
      params.push(...(sort === 'id' ? [req.after.id] : [req.after.value, req.after.id]));
    }
    sql += sort === 'id' ? ` ORDER BY e.id ${dir}` : ` ORDER BY e.${sort} ${dir}, e.id ${dir}`;
    sql += ' LIMIT ?';
    params.push(Math.min(Math.max(req.limit ?? 100, 1), 10_000));
    if (!req.after && req.offset) {
      sql += ' OFFSET ?';
      params.push(req.offset);
    }
    return (this.db.prepare(sql).all(...params) as ExampleRow[]).map(toExample);
  }

  /** Streams every matching row in id order, without holding them all in memory. */
  *iterate(datasetId: number, filter?: ExampleFilter): Generator<Example> {
    this.ready(filter);
    const { where, params } = filterSql(datasetId, filter);
    for (const r of this.db
      .prepare(`SELECT * FROM examples e WHERE ${where} ORDER BY e.id`)
      .iterate(...params))
      yield toExample(r as ExampleRow);
  }

  /** Counts by kind × language × status (the paper's distribution figures), plus marginals. */
  stats(datasetId: number, datasetName: string, filter?: ExampleFilter): DatasetStats {
    this.ready(filter);
    const { where, params } = filterSql(datasetId, filter);
    const cells = this.db
      .prepare(
        `SELECT e.kind, coalesce(e.language, e.src_lang || '-' || e.tgt_lang, '') AS language, e.status, count(*) AS count
         FROM examples e WHERE ${where} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      )
      .all(...params) as StatsCell[];
    const splits = this.db
      .prepare(
        `SELECT coalesce(e.split, 'none') AS split, count(*) AS n FROM examples e WHERE ${where} GROUP BY 1`,
      )
      .all(...params) as { split: string; n: number }[];
    const add = (m: Record<string, number>, k: string, n: number) => {
      m[k] = (m[k] ?? 0) + n;
    };
    const byKind: Record<string, number> = {};
    const byLanguage: Record<string, number> = {};
    const byStatus: Record<string, number> = {};
    let total = 0;
    for (const c of cells) {
      add(byKind, c.kind, c.count);
      add(byLanguage, c.language, c.count);
      add(byStatus, c.status, c.count);
      total += c.count;
    }
    const bySplit = Object.fromEntries(splits.map((s) => [s.split, s.n]));
    return { dataset: datasetName, total, byKind, byLanguage, byStatus, bySplit, cells };
  }

  /** Accept / reject / reset one example, recording the decision in review history. */
  review(id: number, action: 'accept' | 'reject' | 'reset', reason?: string): Example {
    const status: ReviewStatus =
      action === 'accept' ? 'accepted' : action === 'reject' ? 'rejected' : 'unreviewed';
    return this.db.transaction(() => {
      const before = this.get(id);
      this.db
        .prepare(
          `UPDATE examples SET status = ?, reject_reason = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
        )
        .run(status, action === 'reject' ? (reason ?? 'manual') : null, id);
      this.db
        .prepare(
          'INSERT INTO review_events (example_id, action, field, old_value, new_value, reason) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(id, action, 'status', before.status, status, reason ?? null);
      return this.get(id);
    })();
  }

  /** Edits one text field, keeping the previous text in review history; the content hash follows. */
  edit(id: number, field: 'query' | 'positive' | 'negative' | 'instruction', value: string | null): Example {
    return this.db.transaction(() => {
      const before = this.get(id);
      const next = { ...before, [field]: value };
      if ((field === 'query' || field === 'positive') && !value)
        throw new UserError(`example ${id}: ${field} cannot be empty`);
      const col = field;
      try {
        this.db
          .prepare(
            `UPDATE examples SET ${col} = ?, content_hash = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
          )
          .run(value, contentHash(next), id);
      } catch (e) {
        if (/UNIQUE/.test((e as Error).message))
          throw new UserError(`example ${id}: this edit would duplicate another example of the dataset`);
        throw e;
      }
      this.db
        .prepare(
          'INSERT INTO review_events (example_id, action, field, old_value, new_value) VALUES (?, ?, ?, ?, ?)',
        )
        .run(id, 'edit', field, (before as unknown as Record<string, string | null>)[field], value);
      return this.get(id);
    })();
  }

  /** Applies a status to every row matching a filter, in one transaction, with history. */
  bulkReview(
    datasetId: number,
    filter: ExampleFilter,
    action: 'accept' | 'reject' | 'reset',
    reason?: string,
  ): number {
    const status: ReviewStatus =
      action === 'accept' ? 'accepted' : action === 'reject' ? 'rejected' : 'unreviewed';
    this.ready(filter);
    const { where, params } = filterSql(datasetId, filter);
    return this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO review_events (example_id, action, field, old_value, new_value, reason)
           SELECT e.id, ?, 'status', e.status, ?, ? FROM examples e WHERE ${where}`,
        )
        .run(action, status, reason ?? null, ...params);
      return this.db
        .prepare(
          `UPDATE examples SET status = ?, reject_reason = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
           WHERE id IN (SELECT e.id FROM examples e WHERE ${where})`,
        )
        .run(status, action === 'reject' ? (reason ?? 'manual') : null, ...params).changes;
    })();
  }

  /** Review history of one example, newest last. */
  history(id: number) {
    return this.db.prepare('SELECT * FROM review_events WHERE example_id = ? ORDER BY id').all(id);
  }
}
