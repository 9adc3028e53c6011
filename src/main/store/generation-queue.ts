import type { Kind } from '../../shared/domain';
import type { Db } from './db';

/**
 * SQL of the generation queue (generation_items and the run's tasks): what a run loads when it starts or
 * resumes, and the items it adds. The queue logic itself is in src/main/generation/queue.ts.
 */

/** A queued item as stored (payload_json holds the index in its cell and the sampled attributes). */
export interface ItemRow {
  id: number;
  type: 'brainstorm' | 'example';
  kind: Kind;
  language: string | null;
  payload_json: string;
  seed: number;
  model: string;
  attempts: number;
  task_id: number | null;
  state: string;
}

const cellKey = `kind || '|' || coalesce(language, src_lang)`;

/** Items a dead process left in flight go back to pending (realtime runs: nothing is on a server). */
export function resetInFlight(db: Db, runId: string): void {
  db.prepare(`UPDATE generation_items SET state = 'pending' WHERE run_id = ? AND state = 'in_flight'`).run(
    runId,
  );
}

/** Counted examples per `kind|language` cell. */
export function acceptedByCell(db: Db, runId: string): Map<string, number> {
  const rows = db
    .prepare(
      `SELECT ${cellKey} AS k, count(*) AS n FROM examples
       WHERE run_id = ? AND status != 'rejected' AND surplus = 0 GROUP BY 1`,
    )
    .all(runId) as { k: string; n: number }[];
  return new Map(rows.map((r) => [r.k, r.n]));
}

/** Per cell: the next free item index, and the example items that were sent and came back (attempts). */
export function itemsByCell(db: Db, runId: string): Map<string, { nextIndex: number; attempts: number }> {
  const rows = db
    .prepare(
      `SELECT kind || '|' || language AS k, max(json_extract(payload_json, '$.index')) AS m,
         coalesce(sum(state IN ('done','failed') AND coalesce(outcome, '') != 'skipped'), 0) AS a
       FROM generation_items WHERE run_id = ? AND type = 'example' GROUP BY 1`,
    )
    .all(runId) as { k: string; m: number; a: number }[];
  return new Map(rows.map((r) => [r.k, { nextIndex: r.m + 1, attempts: r.a }]));
}

/**
 * The tasks a run draws from: those its brainstorms stored, and those it got from another run of the
 * dataset (a brainstorm whose task text was already there keeps the older row). `used`: some item that
 * is no longer pending has drawn it.
 */
export function runTasks(db: Db, runId: string): { id: number; kind: Kind; text: string; used: number }[] {
  return db
    .prepare(
      `SELECT t.id, t.kind, t.text,
         EXISTS (SELECT 1 FROM generation_items i WHERE i.run_id = @run AND i.task_id = t.id AND i.state != 'pending') AS used
       FROM tasks t
       WHERE t.run_id = @run OR t.id IN (SELECT task_id FROM generation_items WHERE run_id = @run AND task_id IS NOT NULL)
       ORDER BY t.id`,
    )
    .all({ run: runId }) as { id: number; kind: Kind; text: string; used: number }[];
}

/** Pending (and, for an open batch, in-flight) items in the order they were planned. */
export function openItems(db: Db, runId: string): ItemRow[] {
  return db
    .prepare(
      `SELECT id, type, kind, language, payload_json, seed, model, attempts, task_id, state FROM generation_items
       WHERE run_id = ? AND state IN ('pending','in_flight') ORDER BY json_extract(payload_json, '$.index'), id`,
    )
    .all(runId) as ItemRow[];
}

/** The kept examples of a dataset, for the duplicate index. */
export function keptTexts(
  db: Db,
  datasetId: number,
): Iterable<{ query: string; positive: string; negative: string | null }> {
  return db
    .prepare(`SELECT query, positive, negative FROM examples WHERE dataset_id = ? AND status != 'rejected'`)
    .iterate(datasetId) as Iterable<{ query: string; positive: string; negative: string | null }>;
}

/** Requests of a run that came back with an answer. */
export function answeredRequests(db: Db, runId: string): number {
  return (
    db
      .prepare(`SELECT count(*) AS n FROM generation_requests WHERE run_id = ? AND status = 'ok'`)
      .get(runId) as {
      n: number;
    }
  ).n;
}

/** Adds pending items to a run; returns a function that inserts one and gives its id. */
export function itemInserter(db: Db, runId: string) {
  const st = db.prepare(
    `INSERT INTO generation_items (run_id, type, kind, language, payload_json, seed, model, state)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')`,
  );
  const count = db.prepare(
    `SELECT count(*) AS n FROM generation_items WHERE run_id = ? AND type = 'brainstorm' AND kind = ?`,
  );
  return {
    insert: (
      type: 'brainstorm' | 'example',
      kind: Kind,
      language: string | null,
      payload: unknown,
      seed: number,
      model: string,
    ) => Number(st.run(runId, type, kind, language, JSON.stringify(payload), seed, model).lastInsertRowid),
    brainstorms: (kind: Kind) => (count.get(runId, kind) as { n: number }).n,
  };
}

/**
 * Per cell of a run: example items that came back (accepted, rejected or failed), and the reasons of those
 * that did not count, for the shortfall table.
 */
export function cellOutcomes(
  db: Db,
  runId: string,
): Map<string, { attempts: number; reasons: Record<string, number> }> {
  const rows = db
    .prepare(
      `SELECT kind || '|' || language AS k, coalesce(CASE WHEN outcome IN ('accepted','surplus') THEN NULL ELSE error END, outcome) AS r,
         count(*) AS n
       FROM generation_items WHERE run_id = ? AND type = 'example' AND state IN ('done','failed')
         AND coalesce(outcome, '') != 'skipped' GROUP BY 1, 2`,
    )
    .all(runId) as { k: string; r: string | null; n: number }[];
  const out = new Map<string, { attempts: number; reasons: Record<string, number> }>();
  for (const row of rows) {
    const c = out.get(row.k) ?? { attempts: 0, reasons: {} };
    c.attempts += row.n;
    if (row.r && row.r !== 'accepted' && row.r !== 'surplus')
      c.reasons[row.r] = (c.reasons[row.r] ?? 0) + row.n;
    out.set(row.k, c);
  }
  return out;
}

/**
 * Answers per model and language in this workspace's finished example items, and how many were rejected
 * (the dry run's warning about languages a model writes badly).
 */
export function rejectRateByModelLanguage(
  db: Db,
  models: readonly string[],
): { model: string; language: string; answers: number; rejected: number; top: string | null }[] {
  if (!models.length) return [];
  const rows = db
    .prepare(
      `SELECT model, language, count(*) AS answers, sum(outcome = 'rejected') AS rejected
       FROM generation_items
       WHERE type = 'example' AND state = 'done' AND outcome IN ('accepted','surplus','rejected')
         AND model IN (${models.map(() => '?').join(',')})
       GROUP BY model, language`,
    )
    .all(...models) as { model: string; language: string; answers: number; rejected: number }[];
  const top = db.prepare(
    `SELECT error AS r, count(*) AS n FROM generation_items
     WHERE type = 'example' AND outcome = 'rejected' AND model = ? AND language = ? GROUP BY 1 ORDER BY 2 DESC LIMIT 1`,
  );
  return rows.map((r) => ({
    ...r,
    top: r.rejected ? ((top.get(r.model, r.language) as { r: string } | undefined)?.r ?? null) : null,
  }));
}
