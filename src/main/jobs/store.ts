import type { JobState, Progress } from '../../shared/domain';
import type { Db } from '../store';

export interface JobRecord {
  id: string;
  type: string;
  config: Record<string, unknown>;
  state: JobState;
  progress: Partial<Progress> & Record<string, unknown>;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

interface Row {
  id: string;
  type: string;
  config_json: string;
  state: JobState;
  progress_json: string;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

const toJob = (r: Row): JobRecord => ({
  id: r.id,
  type: r.type,
  config: JSON.parse(r.config_json),
  state: r.state,
  progress: JSON.parse(r.progress_json),
  error: r.error,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  updatedAt: r.updated_at,
});

const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ','now')`;

/** The `jobs` table: one row per background job of any type (training, generation, evaluation, …). */
export class JobStore {
  constructor(private readonly db: Db) {}

  create(type: string, config: Record<string, unknown>, id = newJobId(type)): JobRecord {
    this.db
      .prepare('INSERT INTO jobs (id, type, config_json, pid) VALUES (?, ?, ?, ?)')
      .run(id, type, JSON.stringify(config), process.pid);
    return this.get(id);
  }

  get(id: string): JobRecord {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new Error(`unknown job ${id}`);
    return toJob(r);
  }

  list(filter: { type?: string; state?: JobState } = {}): JobRecord[] {
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
    return (
      this.db.prepare(`SELECT * FROM jobs ${where} ORDER BY created_at DESC`).all(...params) as Row[]
    ).map(toJob);
  }

  setState(id: string, state: JobState, error: string | null = null): void {
    const started = state === 'running' ? `, started_at = coalesce(started_at, ${NOW})` : '';
    const finished = ['done', 'failed', 'cancelled'].includes(state) ? `, finished_at = ${NOW}` : '';
    this.db
      .prepare(`UPDATE jobs SET state = ?, error = ?, updated_at = ${NOW}${started}${finished} WHERE id = ?`)
      .run(state, error, id);
  }

  setProgress(id: string, progress: Record<string, unknown>): void {
    this.db
      .prepare(`UPDATE jobs SET progress_json = ?, updated_at = ${NOW} WHERE id = ?`)
      .run(JSON.stringify(progress), id);
  }

  /**
   * Start-up reconciliation: jobs left 'running'/'queued' by a process that is gone (server or CLI killed,
   * crash) end as failed with an "interrupted" error (the jobs table's states are fixed; their work resumes
   * through the job type's own resume path). Jobs of a live process, this one included, are left alone.
   * Returns the ids it closed.
   */
  reconcile(): string[] {
    const rows = this.db.prepare(`SELECT id, pid FROM jobs WHERE state IN ('running','queued')`).all() as {
      id: string;
      pid: number | null;
    }[];
    const gone = rows.filter((r) => r.pid !== process.pid && !pidAlive(r.pid ?? 0));
    const close = this.db.prepare(
      `UPDATE jobs SET state = 'failed', error = ?, finished_at = ${NOW}, updated_at = ${NOW} WHERE id = ? AND state IN ('running','queued')`,
    );
    for (const r of gone)
      close.run(`interrupted: the process running it${r.pid ? ` (pid ${r.pid})` : ''} is gone`, r.id);
    return gone.map((r) => r.id);
  }

  /**
   * Jobs left 'running' by a process that died (SIGKILL, crash) are marked failed at startup, so the
   * app never shows a ghost run; their work resumes through the job type's own resume path.
   */
  failOrphans(olderThanS = 0): number {
    return this.db
      .prepare(
        `UPDATE jobs SET state = 'failed', error = 'interrupted (the process running it exited)', finished_at = ${NOW}
         WHERE state IN ('running','queued') AND updated_at <= strftime('%Y-%m-%dT%H:%M:%fZ','now', ?)`,
      )
      .run(`-${olderThanS} seconds`).changes;
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
