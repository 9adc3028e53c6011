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
import { normaliseLanguage } from '../../shared/languages';
import { UserError } from '../errors';
import type { Statement } from 'better-sqlite3';
import { type Db, nowIso } from './db';
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
  /** Stored attributes that must all equal these values (e.g. difficulty). */
  attributes?: Record<string, string>;
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
  // Stored generation attributes (names are checked by the contract: letters, digits, _).
  for (const [k, v] of Object.entries(f.attributes ?? {})) {
    if (!/^[A-Za-z0-9_]{1,40}$/.test(k)) continue;
    parts.push(`json_extract(${alias}.attributes_json, '$.${k}') = ?`);
    params.push(v);
  }
  if (f.search?.trim()) {
    const q = ftsQuery(f.search);
    // Only control characters: no word, so no search (as for a blank box; an empty MATCH is an FTS5 error).
    if (q) {
      parts.push(`${alias}.id IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)`);
      params.push(q);
    }
  }
  return { where: parts.join(' AND '), params };
}

/**
 * Turns user text into a safe FTS5 query: each word quoted, implicit AND; `"…"` phrases kept. Control
 * characters separate words (FTS5 reads a NUL as the end of the query: an unterminated string).
 */
export function ftsQuery(text: string): string {
  const tokens = text.replace(/[\u0000-\u001f\u007f]/g, ' ').match(/"[^"]+"|\S+/g) ?? [];
  return tokens.map((t) => `"${t.replace(/^"|"$/g, '').replace(/"/g, '""')}"`).join(' ');
}

/** A row with its languages as one code each (src/shared/languages.ts); the same object when already so. */
function withLanguages(e: NewExample): NewExample {
  const language = normaliseLanguage(e.language);
  const srcLang = normaliseLanguage(e.srcLang);
  const tgtLang = normaliseLanguage(e.tgtLang);
  return language === (e.language ?? null) &&
    srcLang === (e.srcLang ?? null) &&
    tgtLang === (e.tgtLang ?? null)
    ? e
    : { ...e, language, srcLang, tgtLang };
}

const jsonOrEmpty = (o: Record<string, unknown> | undefined) => {
  if (!o) return '{}';
  for (const _ in o) return JSON.stringify(o);
  return '{}';
};

type StatsRow = [kind: Kind, language: string, status: ReviewStatus, split: string, n: number];
const cmpStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** (kind, language, status, split) order, as the stats GROUP BY gave it. */
const rowOrder = (a: StatsRow, b: StatsRow) =>
  cmpStr(a[0], b[0]) || cmpStr(a[1], b[1]) || cmpStr(a[2], b[2]) || cmpStr(a[3], b[3]);

/** Examples of one dataset: batched transactional inserts, curation pages, stats and review. */
export class ExampleStore {
  constructor(private readonly db: Db) {}

  private insertStmtCache?: Statement<unknown[]>;

  /** Prepared once per store: bulk imports call insertMany thousands of times. */
  private insertStmt() {
    this.insertStmtCache ??= this.db.prepare<unknown[]>(
      `INSERT OR IGNORE INTO examples (dataset_id, kind, task_id, instruction, language, src_lang, tgt_lang, query,
         positive, negative, extras_json, attributes_json, seed, origin, generator_model, template_version, run_id,
         status, reject_reason, split, content_hash, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      // One timestamp per call (same format as the column default): two strftime('now') per row cost ~5% of
      // a bulk insert.
      const now = nowIso();
      for (const e0 of rows) {
        // One code per language before hashing (the language pair is part of the hash).
        const e = withLanguages(e0);
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
          now,
          now,
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

  /** One step of indexPending: the next `chunk` rows above the watermark, in one transaction. */
  private indexStep(chunk: number): number {
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
    return this.db.inTransaction ? step() : this.db.transaction(step)();
  }

  /**
   * Indexes the rows above the watermark, `chunk` rows per transaction (or inside the caller's
   * transaction), so an interrupted run keeps what it indexed and other writers wait at most one chunk
   * (~50 ms at 1,000 rows). Returns the number of rows indexed.
   */
  indexPending(opts: { chunk?: number; onProgress?: (done: number, total: number) => void } = {}): number {
    const total = this.pendingIndex();
    if (!total) return 0;
    let done = 0;
    for (let n = this.indexStep(opts.chunk ?? 1000); n; n = this.indexStep(opts.chunk ?? 1000)) {
      done += n;
      opts.onProgress?.(done, total);
    }
    return done;
  }

  /** indexPending that lets the event loop run between chunks (imports inside the app's process). */
  async indexPendingYielding(
    opts: { chunk?: number; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<number> {
    const total = this.pendingIndex();
    if (!total) return 0;
    let done = 0;
    for (let n = this.indexStep(opts.chunk ?? 1000); n; n = this.indexStep(opts.chunk ?? 1000)) {
      done += n;
      opts.onProgress?.(done, total);
      await new Promise<void>((r) => setImmediate(r));
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

  /**
   * One page of a curation view. Keyset paging when `after` is given, else offset. Sorting by created_at is
   * sorting by id (rows get created_at = now on insert, ids grow with it), which the indexes serve. Offset
   * pages pick the ids first (a covering index walk) and read only the rows of the page.
   */
  page(datasetId: number, req: PageRequest = {}): Example[] {
    this.ready(req.filter);
    const asked = req.sort ?? 'id';
    if (!SORT_COLUMNS.includes(asked))
      throw new UserError(`cannot sort by "${asked}"; use one of ${SORT_COLUMNS.join(', ')}`, 2);
    const sort = asked === 'created_at' ? 'id' : asked;
    const dir = req.desc ? 'DESC' : 'ASC';
    const cmp = req.desc ? '<' : '>';
    const { where, params } = filterSql(datasetId, req.filter);
    // Deep offset pages over multi-value filters: walking the id-ordered covering index (migration 3) beats
    // the planner's choice (every match from examples_curation, then a sort) by about 2x at 500k rows.
    const f = req.filter ?? {};
    const multi = [f.kind, f.language, f.status].some((v) => Array.isArray(v) && v.length > 1);
    const hint = sort === 'id' && !req.after && (req.offset ?? 0) >= 10_000 && multi && !f.search?.trim();
    const limit = Math.min(Math.max(req.limit ?? 100, 1), 10_000);
    if (hint && !req.desc && req.offset) {
      const ids = this.deepOffsetIds(datasetId, f, req.offset, limit);
      if (ids) return this.rowsByIds(ids);
    }
    let sql = `SELECT e.id FROM examples e ${hint ? 'INDEXED BY examples_scan ' : ''}WHERE ${where}`;
    if (req.after) {
      sql += sort === 'id' ? ` AND e.id ${cmp} ?` : ` AND (e.${sort}, e.id) ${cmp} (?, ?)`;
      params.push(...(sort === 'id' ? [req.after.id] : [req.after.value, req.after.id]));
    }
    const order = sort === 'id' ? ` ORDER BY e.id ${dir}` : ` ORDER BY e.${sort} ${dir}, e.id ${dir}`;
    sql += `${order} LIMIT ?`;
    params.push(limit);
    if (!req.after && req.offset) {
      sql += ' OFFSET ?';
      params.push(req.offset);
    }
    const rows = this.db
      .prepare(`SELECT * FROM examples e WHERE e.id IN (${sql})${order}`)
      .all(...params) as ExampleRow[];
    return rows.map(toExample);
  }

  private rowsByIds(ids: number[]): Example[] {
    if (!ids.length) return [];
    return (
      this.db
        .prepare(`SELECT * FROM examples WHERE id IN (${ids.map(() => '?').join(',')}) ORDER BY id`)
        .all(...ids) as ExampleRow[]
    ).map(toExample);
  }

  /**
   * Ids of an ascending-id OFFSET page over a kind/language/status filter, without stepping `offset` entries
   * while testing three IN lists on each (63 ms at offset 250k of 500k rows). Guesses the id X near the
   * offset from the counts table (only an estimate: a stale or empty table just makes a worse guess),
   * counts the matches below X through examples_curation (one range seek per kind × language × status cell,
   * no IN tests per entry), then walks examples_scan from X over the few remaining matches. Returns
   * undefined (the caller runs the plain query) for other filters or when the guess overshoots.
   */
  private deepOffsetIds(datasetId: number, f: ExampleFilter, offset: number, limit: number) {
    const keys = Object.entries(f)
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k);
    if (!keys.every((k) => k === 'kind' || k === 'language' || k === 'status')) return undefined;
    // Deferred: reads only (one snapshot for the three queries), so it never waits for a writer.
    return this.db
      .transaction(() => {
        // Two subqueries, not min(id), max(id) in one SELECT: SQLite's min/max optimisation (one index seek)
        // applies only to a lone min() or max(); together they scan the dataset's whole range (28 ms at 500k rows).
        const { lo, hi } = this.db
          .prepare(
            `SELECT (SELECT min(id) FROM examples WHERE dataset_id = ?) AS lo,
               (SELECT max(id) FROM examples WHERE dataset_id = ?) AS hi`,
          )
          .get(datasetId, datasetId) as { lo: number | null; hi: number | null };
        if (lo === null || hi === null) return [];
        const c = filterSql(datasetId, f, 'c');
        const est = (
          this.db
            .prepare(`SELECT coalesce(sum(c.n), 0) AS n FROM example_counts c WHERE ${c.where}`)
            .get(...c.params) as { n: number }
        ).n;
        if (est <= offset) return undefined;
        // Aim ~2% low: undershooting costs a short walk, overshooting the plain query.
        const x = lo + Math.floor(((hi - lo + 1) * offset * 0.98) / est);
        const { where, params } = filterSql(datasetId, f);
        const below = (
          this.db
            .prepare(
              `SELECT count(*) AS n FROM examples e INDEXED BY examples_curation WHERE ${where} AND e.id < ?`,
            )
            .get(...params, x) as { n: number }
        ).n;
        if (below > offset) return undefined;
        return this.db
          .prepare(
            `SELECT e.id FROM examples e INDEXED BY examples_scan WHERE ${where} AND e.id >= ? ORDER BY e.id LIMIT ? OFFSET ?`,
          )
          .pluck()
          .all(...params, x, limit, offset - below) as number[];
      })
      .deferred();
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

  /**
   * Adds the rows above the counts watermark to example_counts (migration 3) in one GROUP BY over the
   * narrow examples_scan index. Cheap when few rows arrived since the last call.
   */
  foldCounts(): number {
    const step = () => {
      const upto = (this.db.prepare('SELECT upto FROM counts_state').get() as { upto: number }).upto;
      const hi = (this.db.prepare('SELECT coalesce(max(id), 0) AS hi FROM examples').get() as { hi: number })
        .hi;
      if (hi <= upto) return 0;
      const n = this.db
        .prepare(
          `INSERT INTO example_counts (dataset_id, kind, language, src_lang, tgt_lang, status, split, n)
           SELECT dataset_id, kind, coalesce(language, ''), coalesce(src_lang, ''), coalesce(tgt_lang, ''), status,
             coalesce(split, ''), count(*)
           FROM examples WHERE id > ? AND id <= ? GROUP BY 1, 2, 3, 4, 5, 6, 7
           ON CONFLICT DO UPDATE SET n = n + excluded.n`,
        )
        .run(upto, hi).changes;
      this.db.prepare('UPDATE counts_state SET upto = ?').run(hi);
      return n;
    };
    return this.db.inTransaction ? step() : this.db.transaction(step)();
  }

  /**
   * Counts by kind × language × status (the paper's distribution figures), plus marginals. Filters on
   * kind / language / status / split read the maintained counts; any other filter groups the matching rows.
   * The language of a bitext row is "src-tgt".
   */
  stats(datasetId: number, datasetName: string, filter: ExampleFilter = {}): DatasetStats {
    const keys = Object.entries(filter)
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k);
    // Rows as arrays (.raw()): ~9.5k cells at 500k rows, and object rows cost a column-name key per value.
    let raw: StatsRow[];
    if (keys.every((k) => ['kind', 'language', 'status', 'split'].includes(k))) {
      this.foldCounts();
      // The same filter over example_counts, whose NULL keys are ''.
      const parts = ['c.dataset_id = ?', 'c.n > 0'];
      const params: unknown[] = [datasetId];
      const inList = (col: string, v: unknown) => {
        if (v === undefined) return;
        const vals = Array.isArray(v) ? v : [v];
        parts.push(`c.${col} IN (${vals.map(() => '?').join(',')})`);
        params.push(...vals);
      };
      inList('kind', filter.kind);
      inList('language', filter.language);
      inList('status', filter.status);
      inList('split', filter.split === 'none' ? '' : filter.split);
      // Grouped here rather than by a GROUP BY: SQLite's sorter over the ~9.5k cells of 500k rows took half
      // of the stats time. The rows come in primary-key order, nearly the (kind, language, status, split)
      // order of the GROUP BY (bitext pairs are the language), so the sort below is cheap; equal neighbours
      // (a language with several src/tgt pairs, or two pairs with the same "src-tgt") are then summed.
      const counts = this.db
        .prepare(
          `SELECT c.kind, CASE WHEN c.language <> '' THEN c.language
               WHEN c.src_lang <> '' AND c.tgt_lang <> '' THEN c.src_lang || '-' || c.tgt_lang ELSE '' END AS language,
             c.status, CASE WHEN c.split = '' THEN 'none' ELSE c.split END AS split, c.n
           FROM example_counts c WHERE ${parts.join(' AND ')}`,
        )
        .raw()
        .all(...params) as typeof raw;
      counts.sort(rowOrder);
      raw = [];
      for (const r of counts) {
        const prev = raw[raw.length - 1];
        if (prev && rowOrder(prev, r) === 0) prev[4] += r[4];
        else raw.push(r);
      }
    } else {
      this.ready(filter);
      const { where, params } = filterSql(datasetId, filter);
      raw = this.db
        .prepare(
          `SELECT e.kind, coalesce(e.language, e.src_lang || '-' || e.tgt_lang, '') AS language, e.status,
             coalesce(e.split, 'none') AS split, count(*) AS n
           FROM examples e WHERE ${where} GROUP BY 1, 2, 3, 4`,
        )
        .raw()
        .all(...params) as typeof raw;
      raw.sort(rowOrder);
    }
    // Sums in maps (one string key lookup each), then objects with the keys in first-seen order.
    const add = (m: Map<string, number>, k: string, n: number) => {
      m.set(k, (m.get(k) ?? 0) + n);
    };
    const kinds = new Map<string, number>();
    const languages = new Map<string, number>();
    const statuses = new Map<string, number>();
    const splits = new Map<string, number>();
    // raw is sorted by (kind, language, status, split): the rows of a cell are neighbours, and the cells come
    // out in their (kind, language, status) order.
    const cells: StatsCell[] = [];
    let total = 0;
    for (const [kind, language, status, split, n] of raw) {
      add(kinds, kind, n);
      add(languages, language, n);
      add(statuses, status, n);
      add(splits, split, n);
      total += n;
      const c = cells[cells.length - 1];
      if (c && c.kind === kind && c.language === language && c.status === status) c.count += n;
      else cells.push({ kind, language, status, count: n });
    }
    const byKind = Object.fromEntries(kinds);
    const byLanguage = Object.fromEntries(languages);
    const byStatus = Object.fromEntries(statuses);
    const bySplit = Object.fromEntries(splits);
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
