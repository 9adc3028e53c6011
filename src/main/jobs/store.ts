import { FINAL_JOB_STATES, type JobState, type Progress } from '../../shared/domain';
import type { Db } from '../store';

export interface JobRecord {
  id: string;
  type: string;
  /** What the Jobs panel shows ("import x.jsonl into d"). */
  label: string;
  config: Record<string, unknown>;
  state: JobState;
  progress: Partial<Progress> & Record<string, unknown>;
  /** The finished job's result (counts, paths), when it has one. */
  result: unknown;
  error: string | null;
  pid: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

interface Row {
  id: string;
  type: string;
  label: string;
  config_json: string;
  state: JobState;
  progress_json: string;
  result_json: string | null;
  error: string | null;
  pid: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

const toJob = (r: Row): JobRecord => ({
  id: r.id,
  type: r.type,
  label: r.label,
  config: JSON.parse(r.config_json),
  state: r.state,
  progress: JSON.parse(r.progress_json),
  result: r.result_json === null ? undefined : JSON.parse(r.result_json),
  error: r.error,
  pid: r.pid,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  updatedAt: r.updated_at,
});

const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ','now')`;

/** The `jobs` table: one row per long operation of any type (SQL only; the lifecycle is registry.ts's). */
export class JobStore {
  constructor(private readonly db: Db) {}

  create(type: string, config: Record<string, unknown>, id = newJobId(type), label = type): JobRecord {
    this.db
      .prepare('INSERT INTO jobs (id, type, label, config_json, pid) VALUES (?, ?, ?, ?, ?)')
      .run(id, type, label, JSON.stringify(config), process.pid);
    return this.get(id);
  }

  get(id: string): JobRecord {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new Error(`unknown job ${id}`);
    return toJob(r);
  }

  list(filter: { type?: string; state?: JobState; limit?: number } = {}): JobRecord[] {
    const parts: string[] = [];
    const params: unknown[] = [];
    if (filter.type) {
      parts.push('type = ?');
      params.push(filter.type);
    }
    if (filter.state) {
      parts.push('state = ?');
      params.push(filter.state);
    }
    const where = parts.length ? `WHERE ${parts.join(' AND ')}` : '';
    const limit = filter.limit ? `LIMIT ${Math.floor(filter.limit)}` : '';
    return (
      this.db
        .prepare(`SELECT * FROM jobs ${where} ORDER BY created_at DESC, rowid DESC ${limit}`)
        .all(...params) as Row[]
    ).map(toJob);
  }

  setState(id: string, state: JobState, error: string | null = null, result?: unknown): void {
    const started = state === 'running' ? `, started_at = coalesce(started_at, ${NOW})` : '';
    const finished = FINAL_JOB_STATES.includes(state) ? `, finished_at = ${NOW}` : '';
    const res = result === undefined ? null : JSON.stringify(result);
    this.db
      .prepare(
        `UPDATE jobs SET state = ?, error = ?, result_json = coalesce(?, result_json), updated_at = ${NOW}${started}${finished} WHERE id = ?`,
      )
      .run(state, error, res, id);
  }

  setProgress(id: string, progress: Record<string, unknown>): void {
    this.db
      .prepare(`UPDATE jobs SET progress_json = ?, updated_at = ${NOW} WHERE id = ?`)
      .run(JSON.stringify(progress), id);
  }

  /**
   * Jobs left 'running'/'queued' by a process that is gone (server or CLI killed, crash) end as
   * interrupted; their work resumes through the job type's own resume path. Jobs of a live process, this
   * one included, are left alone. Returns the ids it closed.
   */
  reconcile(): string[] {
    const rows = this.db.prepare(`SELECT id, pid FROM jobs WHERE state IN ('running','queued')`).all() as {
      id: string;
      pid: number | null;
    }[];
    const gone = rows.filter((r) => r.pid !== process.pid && !pidAlive(r.pid ?? 0));
    for (const r of gone)
      this.interrupt(r.id, `interrupted: the process running it${r.pid ? ` (pid ${r.pid})` : ''} is gone`);
    return gone.map((r) => r.id);
  }

  /** A row still 'running'/'queued' ends interrupted with the reason; false when it had already ended. */
  interrupt(id: string, reason: string): boolean {
    return (
      this.db
        .prepare(
          `UPDATE jobs SET state = 'interrupted', error = ?, finished_at = ${NOW}, updated_at = ${NOW} WHERE id = ? AND state IN ('running','queued')`,
        )
        .run(reason, id).changes > 0
    );
  }
}

export function newJobId(type: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${type}-${t}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
