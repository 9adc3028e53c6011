import type { Example, Kind } from '../../shared/domain';
import type { Db } from './db';

/**
 * SQL of what a generation run writes as answers come back: request rows, example rows, brainstormed tasks
 * and the item's end state, all inside the engine's flush transaction (see src/main/generation/ingest.ts
 * for what an answer becomes).
 */

/** One HTTP request of an item, as stored in generation_requests. */
export interface RequestRow {
  model: string;
  kind: Kind;
  attempt: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  latencyMs: number;
  status: 'ok' | 'error';
  errorClass: string | null;
  error: string | null;
}

/** The columns of one synthetic example (kept or rejected): the example's own fields, and its provenance. */
export type ExampleRow = Pick<
  Example,
  | 'kind'
  | 'taskId'
  | 'instruction'
  | 'language'
  | 'srcLang'
  | 'tgtLang'
  | 'query'
  | 'positive'
  | 'negative'
  | 'extras'
> & {
  attrs: Record<string, string>;
  seed: number;
  model: string;
  templateVersion: string;
  rejectReason: string | null;
  contentHash: string;
  surplus: boolean;
};

export type ItemEnd = 'accepted' | 'surplus' | 'rejected' | 'failed' | 'skipped';

/** Prepared statements of one run's writes. */
export class GenerationWriter {
  private readonly s;

  constructor(
    db: Db,
    private readonly runId: string,
    private readonly datasetId: number,
  ) {
    this.s = {
      lease: db.prepare('SELECT lease_owner FROM generation_runs WHERE id = ?'),
      claim: db.prepare(
        `UPDATE generation_items SET state = 'in_flight', model = ?, task_id = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND state = 'pending'`,
      ),
      finish: db.prepare(
        `UPDATE generation_items SET state = ?, outcome = ?, error = ?, attempts = ?, task_id = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
      ),
      requeue: db.prepare(`UPDATE generation_items SET state = 'pending', attempts = ? WHERE id = ?`),
      request: db.prepare(
        `INSERT INTO generation_requests (run_id, item_id, model, kind, prompt_tokens, completion_tokens, cost_usd, latency_ms,
           attempts, status, error, error_class, reject_reason, raw_answer)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
      ),
      rejectRequest: db.prepare(
        'UPDATE generation_requests SET reject_reason = ?, raw_answer = ? WHERE id = ?',
      ),
      example: db.prepare(
        `INSERT OR IGNORE INTO examples (dataset_id, kind, task_id, instruction, language, src_lang, tgt_lang, query,
           positive, negative, extras_json, attributes_json, seed, origin, generator_model, template_version, run_id,
           status, reject_reason, content_hash, surplus)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synthetic', ?, ?, ?, ?, ?, ?, ?)`,
      ),
      task: db.prepare(
        `INSERT INTO tasks (dataset_id, kind, text, origin, generator_model, template_version, run_id)
         VALUES (?, ?, ?, 'brainstorm', ?, ?, ?) ON CONFLICT (dataset_id, kind, text) DO NOTHING RETURNING id`,
      ),
      taskId: db.prepare('SELECT id FROM tasks WHERE dataset_id = ? AND kind = ? AND text = ?'),
      batchClaim: db.prepare(`UPDATE generation_items SET state = 'in_flight', task_id = ? WHERE id = ?`),
      setBatch: db.prepare('UPDATE generation_runs SET batch_id = ? WHERE id = ?'),
    };
  }

  /** Throws unless this process still holds the run's lease (checked first in every flush). */
  assertLease(owner: string): void {
    const r = this.s.lease.get(this.runId) as { lease_owner: string | null };
    if (r.lease_owner !== owner) throw new Error(`run ${this.runId}: lease lost to ${r.lease_owner}`);
  }

  claim(itemId: number, model: string, taskId: number | null): void {
    this.s.claim.run(model, taskId, itemId);
  }

  batchClaim(itemId: number, taskId: number | null): void {
    this.s.batchClaim.run(taskId, itemId);
  }

  setBatch(id: string | null): void {
    this.s.setBatch.run(id, this.runId);
  }

  finish(itemId: number, end: ItemEnd, error: string | null, attempts: number, taskId: number | null): void {
    const state = end === 'failed' ? 'failed' : 'done';
    this.s.finish.run(state, end, error, attempts, taskId, itemId);
  }

  requeue(itemId: number, attempts: number): void {
    this.s.requeue.run(attempts, itemId);
  }

  /** Stores one request; returns its row id. */
  request(itemId: number, r: RequestRow): number {
    const info = this.s.request.run(
      this.runId,
      itemId,
      r.model,
      r.kind,
      r.promptTokens,
      r.completionTokens,
      r.costUsd,
      r.latencyMs,
      r.attempt,
      r.status,
      r.error,
      r.errorClass,
    );
    return Number(info.lastInsertRowid);
  }

  /** Keeps a rejected answer on its request row (answers that left no example row). */
  rejectRequest(requestId: number, reason: string, rawAnswer: string): void {
    this.s.rejectRequest.run(reason, rawAnswer, requestId);
  }

  /** Inserts an example; false when the same content is already a row of the dataset. */
  example(e: ExampleRow): boolean {
    const info = this.s.example.run(
      this.datasetId,
      e.kind,
      e.taskId,
      e.instruction,
      e.language,
      e.srcLang,
      e.tgtLang,
      e.query,
      e.positive,
      e.negative,
      JSON.stringify(e.extras),
      JSON.stringify(e.attrs),
      e.seed,
      e.model,
      e.templateVersion,
      this.runId,
      e.rejectReason ? 'rejected' : 'unreviewed',
      e.rejectReason,
      e.contentHash,
      e.surplus ? 1 : 0,
    );
    return info.changes > 0;
  }

  /** Stores a brainstormed task (or finds the dataset's row with the same text); returns its id. */
  task(kind: Kind, text: string, model: string, templateVersion: string): number {
    const row = (this.s.task.get(this.datasetId, kind, text, model, templateVersion, this.runId) ??
      this.s.taskId.get(this.datasetId, kind, text)) as { id: number };
    return row.id;
  }
}
