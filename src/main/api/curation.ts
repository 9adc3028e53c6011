// Curation helpers behind the contract's `examples` procedures: undo of a bulk review (one history entry),
// facets of stored generation attributes, and token counts with a model's tokenizer.
import path from 'node:path';
import { trainDefault } from '../../shared/training';
import { UserError } from '../errors';
import { EmbedTokenizer } from '../models/tokenizer';
import type { Db } from '../store';

/** The last review_events id: a bulk review's events are the ids after it. */
export const lastReviewEvent = (db: Db): number =>
  (db.prepare('SELECT coalesce(max(id), 0) FROM review_events').pluck().get() as number) ?? 0;

/**
 * Undoes one bulk review: every status event with id in (after, upTo] of the dataset goes back to its old
 * status. A row that was rejected gets back the reason of its latest earlier rejection (the events keep
 * reasons only for the new status). Recorded in history; refuses when a row changed since.
 */
export function undoBulkReview(db: Db, datasetId: number, after: number, upTo: number): number {
  return db.transaction(() => {
    const events = db
      .prepare(
        `SELECT r.id, r.example_id, r.old_value, r.new_value, e.status FROM review_events r
         JOIN examples e ON e.id = r.example_id
         WHERE r.id > ? AND r.id <= ? AND r.field = 'status' AND e.dataset_id = ?`,
      )
      .all(after, upTo, datasetId) as {
      id: number;
      example_id: number;
      old_value: string;
      new_value: string;
      status: string;
    }[];
    if (!events.length) throw new UserError('nothing to undo: that bulk action changed no example here');
    const changed = events.filter((e) => e.status !== e.new_value).length;
    if (changed)
      throw new UserError(
        `cannot undo the bulk action: ${changed} of its examples were reviewed again since; undo those first`,
      );
    const reasonBefore = db
      .prepare(
        `SELECT reason FROM review_events WHERE example_id = ? AND id <= ? AND field = 'status' AND new_value = 'rejected'
         ORDER BY id DESC LIMIT 1`,
      )
      .pluck();
    const upd = db.prepare(
      `UPDATE examples SET status = ?, reject_reason = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
    );
    // History keeps the undo as the review it amounts to (the table's actions are accept/reject/reset).
    const ev = db.prepare(
      `INSERT INTO review_events (example_id, action, field, old_value, new_value, reason) VALUES (?, ?, 'status', ?, ?, ?)`,
    );
    const actionOf = (status: string) =>
      status === 'accepted' ? 'accept' : status === 'rejected' ? 'reject' : 'reset';
    for (const e of events) {
      const reason =
        e.old_value === 'rejected'
          ? ((reasonBefore.get(e.example_id, after) as string | null) ?? 'manual')
          : null;
      upd.run(e.old_value, reason, e.example_id);
      ev.run(
        e.example_id,
        actionOf(e.old_value),
        e.new_value,
        e.old_value,
        reason ?? 'undo of a bulk action',
      );
    }
    return events.length;
  })();
}

/** At most this many distinct values make an attribute a filter menu (free text is not a category). */
const MAX_VALUES = 40;
/** Attributes that repeat a column the toolbar already filters on (generation stores the language too). */
const COLUMNS = new Set([
  'language',
  'kind',
  'status',
  'split',
  'origin',
  'instruction',
  'src_lang',
  'tgt_lang',
]);

/** Stored attributes with few distinct text values (difficulty, query_length, clarity, …) and their counts. */
export function attributeFacets(db: Db, datasetId: number) {
  const rows = db
    .prepare(
      `SELECT j.key AS key, j.value AS value, count(*) AS count FROM examples e, json_each(e.attributes_json) j
       WHERE e.dataset_id = ? AND j.type = 'text' GROUP BY j.key, j.value ORDER BY j.key, count DESC`,
    )
    .all(datasetId) as { key: string; value: string; count: number }[];
  const by = new Map<string, { value: string; count: number }[]>();
  for (const r of rows) {
    const list = by.get(r.key) ?? [];
    list.push({ value: r.value, count: r.count });
    by.set(r.key, list);
  }
  return [...by]
    .filter(
      ([key, values]) => /^[A-Za-z0-9_]{1,40}$/.test(key) && !COLUMNS.has(key) && values.length <= MAX_VALUES,
    )
    .map(([key, values]) => ({ key, values }));
}

const tokenizers = new Map<string, EmbedTokenizer>();

/**
 * Token counts of texts with a model folder's tokenizer, and the length they are cut at: the tokenizer's
 * model_max_length capped by the training default (what a run would use unless told otherwise).
 */
export function tokenCounts(model: string, texts: string[]): { counts: number[]; maxLength: number } {
  const dir = path.resolve(model);
  let tok = tokenizers.get(dir);
  if (!tok) {
    try {
      tok = EmbedTokenizer.load(dir);
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${model}: cannot load a tokenizer (${(e as Error).message}); give a model folder`);
    }
    tokenizers.set(dir, tok);
  }
  const def = trainDefault('maxLength') ?? 512;
  const maxLength = Math.min(tok.modelMaxLength ?? def, def);
  return { counts: texts.map((t) => tok.encode(t).length), maxLength };
}
