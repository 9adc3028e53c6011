import type { JobInfo } from '../../shared/contract';
import type { JobState, Progress } from '../../shared/domain';
import { UserError } from '../errors';
import { type JobRecord, JobStore, pidAlive } from './store';

/** How a job ends; a job asked to cancel ends cancelled whatever its body returns or throws. */
export type JobEnd =
  | { state: 'done'; result?: unknown }
  | { state: 'failed'; error: string }
  | { state: 'interrupted'; error: string }
  | { state: 'cancelled' };

/** A job its owner drives (a worker thread, the generation engine): the registry records what it reports. */
export interface JobControl {
  id: string;
  /** Aborts when the job is asked to cancel. */
  signal: AbortSignal;
  /** running (from queued); a no-op after the end. */
  begin(): void;
  progress(p: Progress): void;
  end(e: JobEnd): void;
}

/** What an in-process job body gets. */
export interface JobBody {
  signal: AbortSignal;
  progress(p: Progress): void;
  /**
   * Marks the point of no return (an import about to publish): from here Cancel is refused and the job ends
   * by its body's outcome, so a job never reads cancelled after its work became visible. False when a
   * cancel came first: the body must then stop without publishing.
   */
  commit(): boolean;
}

interface Live {
  info: JobInfo;
  ac: AbortController;
  /** The owner's stop (terminate a worker, stop the engine), called on cancel after the signal aborts. */
  onCancel?: (graceMs?: number) => void;
  /** Whether cancelling stops the work (an owner's stop, or a body that honours its signal). */
  cancellable: boolean;
  /** Past the body's point of no return (JobBody.commit): a cancel no longer applies. */
  committed?: boolean;
  settled: Promise<JobInfo>;
  settle(j: JobInfo): void;
}

/** Progress rows are a display copy: at most this often to the database. */
const PROGRESS_WRITE_MS = 500;
/** A bar redraws ~5 times a second; the generation engine reports far more often than that. */
const PROGRESS_EMIT_MS = 200;

const infoOf = (r: JobRecord): JobInfo => ({
  id: r.id,
  type: r.type,
  label: r.label || r.type,
  state: r.state,
  progress: typeof r.progress.done === 'number' ? (r.progress as Progress) : null,
  ...(r.result !== undefined ? { result: r.result } : {}),
  ...(r.error ? { error: r.error } : {}),
  startedAt: r.startedAt ?? r.createdAt,
  ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
});

/**
 * The one job mechanism: every long operation (import, export, evaluation, mining, training, generation,
 * model pulls) is a `jobs` row that follows one lifecycle, queued → running → done | failed | interrupted |
 * cancelled. Listeners (the app's event hub) see each change; jobs of other processes (the CLI) are read
 * from the table; rows whose process is gone end interrupted at start-up (JobStore.reconcile).
 */
export class JobRegistry {
  private readonly live = new Map<string, Live>();
  private readonly listeners = new Set<(j: JobInfo) => void>();

  constructor(readonly store: JobStore) {}

  static over(db: ConstructorParameters<typeof JobStore>[0]): JobRegistry {
    return new JobRegistry(new JobStore(db));
  }

  /** Calls fn with every change of a job of this process; returns the unsubscribe. */
  subscribe(fn: (j: JobInfo) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Newest first, from the table: this process's jobs and the CLI's alike. */
  list(limit = 50): JobInfo[] {
    return this.store.list({ limit }).map((r) => this.live.get(r.id)?.info ?? infoOf(r));
  }

  get(id: string): JobInfo {
    return this.live.get(id)?.info ?? infoOf(this.store.get(id));
  }

  /** Resolves with the job's final info (at once for a job that already ended or is not this process's). */
  settled(id: string): Promise<JobInfo> {
    return this.live.get(id)?.settled ?? Promise.resolve(this.get(id));
  }

  /** Whether the job runs in this process and has not ended. */
  isLive(id: string): boolean {
    return this.live.has(id);
  }

  /**
   * A job its owner drives through the returned control: queued until begin(), or running from the start
   * (`running`: its work starts now, so listeners see no queued step).
   */
  open(
    type: string,
    label: string,
    config: Record<string, unknown> = {},
    o: {
      id?: string;
      onCancel?: (graceMs?: number) => void;
      running?: boolean;
      /** Cancelling stops the work; default: when there is an onCancel. */
      cancellable?: boolean;
    } = {},
  ): JobControl {
    const row = this.store.create(type, config, o.id, label);
    if (o.running) this.store.setState(row.id, 'running');
    const cancellable = o.cancellable ?? Boolean(o.onCancel);
    const info: JobInfo = {
      ...infoOf(o.running ? this.store.get(row.id) : row),
      ...(cancellable ? { cancellable } : {}),
    };
    let settle!: (j: JobInfo) => void;
    const settled = new Promise<JobInfo>((r) => {
      settle = r;
    });
    const l: Live = { info, ac: new AbortController(), onCancel: o.onCancel, cancellable, settled, settle };
    this.live.set(info.id, l);
    this.emit(l.info);
    let lastWrite = 0;
    let lastEmit = 0;
    return {
      id: info.id,
      signal: l.ac.signal,
      begin: () => {
        if (l.info.state !== 'queued') return;
        this.write(() => this.store.setState(info.id, 'running'));
        l.info = { ...l.info, state: 'running', startedAt: new Date().toISOString() };
        this.emit(l.info);
      },
      progress: (p) => {
        if (!this.live.has(info.id)) return;
        l.info = { ...l.info, progress: { ...p } };
        const now = Date.now();
        const last = p.total !== null && p.done >= p.total;
        if (now - lastWrite >= PROGRESS_WRITE_MS || last) {
          lastWrite = now;
          this.write(() => this.store.setProgress(info.id, { ...p }));
        }
        if (now - lastEmit >= PROGRESS_EMIT_MS || last) {
          lastEmit = now;
          this.emit(l.info);
        }
      },
      end: (e) => this.finish(l, e),
    };
  }

  /**
   * Runs body in this process off the caller and records its end: its result, its error, or cancelled.
   * Nothing limits how many run at once, so it is running from the start (the call returns it at once; the
   * body starts on the next turn of the event loop). `cancellable`: the body stops when its signal aborts,
   * so the Jobs panel offers Cancel.
   */
  start<T>(
    type: string,
    label: string,
    body: (onProgress: (p: Progress) => void, job: JobBody) => Promise<T> | T,
    config: Record<string, unknown> = {},
    o: { cancellable?: boolean } = {},
  ): JobInfo {
    const c = this.open(type, label, config, { running: true, cancellable: o.cancellable });
    const commit = () => this.commit(c.id);
    setImmediate(async () => {
      if (c.signal.aborted) return c.end({ state: 'cancelled' });
      try {
        const result = await body(c.progress, { signal: c.signal, progress: c.progress, commit });
        c.end({ state: 'done', result });
      } catch (e) {
        c.end({ state: 'failed', error: (e as Error).message ?? String(e) });
      }
    });
    return { ...this.get(c.id) };
  }

  /**
   * Runs body now and resolves with its result (a CLI command's work): the same row and lifecycle as
   * start(); rejects with the body's own error. `summary` picks what of the result the row keeps.
   */
  async run<T>(
    type: string,
    label: string,
    body: (job: JobBody) => Promise<T> | T,
    o: { config?: Record<string, unknown>; summary?: (r: T) => unknown } = {},
  ): Promise<T> {
    const c = this.open(type, label, o.config, { running: true });
    try {
      const r = await body({ signal: c.signal, progress: c.progress, commit: () => this.commit(c.id) });
      c.end({ state: 'done', result: o.summary ? o.summary(r) : r });
      return r;
    } catch (e) {
      c.end({ state: 'failed', error: (e as Error).message ?? String(e) });
      throw e;
    }
  }

  /**
   * Asks a job of this process to stop: its signal aborts and its owner's stop runs; it ends cancelled
   * when its body returns (a queued job ends at once). False for a job that is not running here.
   */
  cancel(id: string, graceMs?: number): boolean {
    const l = this.live.get(id);
    if (!l) return false;
    const queued = l.info.state === 'queued';
    l.ac.abort();
    l.onCancel?.(graceMs);
    // Nothing runs yet that could end it later.
    if (queued) this.finish(l, { state: 'cancelled' });
    return true;
  }

  /**
   * The Jobs panel's Cancel (`jobs.cancel`): asks a job of this process whose work stops on cancel to stop
   * and returns its info (running until its owner reports back, then cancelled). Anything else is refused
   * with one line naming why: no such job, it already ended, another process runs it, it cannot stop.
   */
  requestCancel(id: string): JobInfo {
    const l = this.live.get(id);
    if (!l) {
      let r: JobRecord;
      try {
        r = this.store.get(id);
      } catch {
        throw new UserError(`job "${id}" does not exist; pick one from the Jobs list`);
      }
      if (r.state !== 'running' && r.state !== 'queued')
        throw new UserError(`job ${id} already ended (${r.state}); there is nothing to cancel`);
      // Its process died since start-up (the next start-up would close it): close it now.
      if (r.pid !== process.pid && !pidAlive(r.pid ?? 0)) {
        this.store.interrupt(
          id,
          `interrupted: the process running it${r.pid ? ` (pid ${r.pid})` : ''} is gone`,
        );
        throw new UserError(`job ${id} has no process any more; it is now interrupted, nothing to cancel`);
      }
      throw new UserError(
        `job ${id} runs in another process${r.pid ? ` (pid ${r.pid})` : ''}; stop it there (Ctrl-C in its terminal)`,
      );
    }
    if (l.committed)
      throw new UserError(
        `job ${id} (${l.info.type}) is publishing its result; it can no longer be cancelled`,
      );
    if (!l.cancellable)
      throw new UserError(
        `job ${id} (${l.info.type}) cannot be cancelled: it stops on its own when its work is done`,
      );
    if (!l.ac.signal.aborted) this.cancel(id);
    return { ...this.get(id) };
  }

  /**
   * Closes a job row that another (possibly gone) process left running, because new work takes its place
   * (a resumed training run's previous job). Jobs of this process and ended jobs are left alone. Returns
   * whether it closed the row.
   */
  interrupt(id: string, reason: string): boolean {
    if (this.live.has(id)) return false;
    return this.store.interrupt(id, reason);
  }

  /** JobBody.commit: false when a cancel came first; otherwise Cancel is refused from now on. */
  private commit(id: string): boolean {
    const l = this.live.get(id);
    if (l?.committed) return true;
    if (!l || l.ac.signal.aborted) return false;
    l.committed = true;
    l.cancellable = false;
    if (l.info.cancellable) {
      const { cancellable: _c, ...rest } = l.info;
      l.info = rest;
      this.emit(l.info);
    }
    return true;
  }

  private finish(l: Live, e: JobEnd): void {
    if (this.live.get(l.info.id) !== l) return;
    this.live.delete(l.info.id);
    const end: JobEnd = l.ac.signal.aborted && !l.committed ? { state: 'cancelled' } : e;
    const error = 'error' in end ? end.error : null;
    const result = end.state === 'done' ? jsonable(end.result) : undefined;
    // The job's own outcome is what the caller sees, even when recording it fails (disk full).
    this.write(() => this.store.setState(l.info.id, end.state, error, result));
    const { error: _e, result: _r, cancellable: _c, ...rest } = l.info;
    l.info = {
      ...rest,
      state: end.state as JobState,
      ...(error ? { error } : {}),
      ...(result !== undefined ? { result } : {}),
      finishedAt: new Date().toISOString(),
    };
    this.emit(l.info);
    l.settle(l.info);
  }

  private emit(j: JobInfo): void {
    for (const fn of this.listeners) {
      try {
        fn({ ...j });
      } catch {}
    }
  }

  /** A failed write (disk full, busy) must not end the process from inside a worker message handler. */
  private write(w: () => void): void {
    try {
      w();
    } catch {}
  }
}

/** Results go to the table and over the wire as JSON; what is not JSON (a handle, a cycle) is left out. */
function jsonable(v: unknown): unknown {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(v));
  } catch {
    return undefined;
  }
}
