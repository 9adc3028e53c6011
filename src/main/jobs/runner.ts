import type { Progress } from '../../shared/domain';
import { UserError } from '../errors';
import { siblingModule, startWorker as startThread } from '../ts-worker';
import type { JobStore } from './store';

/** What a job handler sees inside its worker. */
export interface JobContext {
  signal: AbortSignal;
  emit(event: unknown): void;
  progress(p: Progress): void;
  log(message: string): void;
}

/** A job module exports one handler; it runs in a worker thread. */
export interface JobModule {
  handler(input: unknown, ctx: JobContext): Promise<unknown>;
}

export type WorkerMessage =
  | { type: 'event'; event: unknown }
  | { type: 'progress'; progress: Progress }
  | { type: 'log'; message: string }
  | { type: 'done'; result: unknown }
  | { type: 'error'; name: string; message: string; stack?: string; exitCode?: number };

export interface JobHandle<R> {
  id: string;
  /** Resolves with the handler's result; rejects with its error (UserError stays a UserError). */
  done: Promise<R>;
  /** Asks the handler to stop (its signal aborts); it terminates the worker after `graceMs`. */
  cancel(graceMs?: number): void;
}

export interface StartOptions<E> {
  /** file:// URL of a module exporting `handler` (new URL('./x.ts', import.meta.url).href). */
  moduleUrl: string;
  input: unknown;
  onEvent?(e: E): void;
  onProgress?(p: Progress): void;
  onLog?(m: string): void;
}

/** Runs a job module in a worker thread: the main thread (UI, CLI bar, DB writes) never blocks on it. */
export function startWorker<R, E = unknown>(id: string, o: StartOptions<E>): JobHandle<R> {
  const worker = startThread(siblingModule(import.meta.url, 'worker-entry'), {
    workerData: { moduleUrl: o.moduleUrl, input: o.input },
  });
  let settled = false;
  const done = new Promise<R>((resolve, reject) => {
    worker.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'event':
          o.onEvent?.(m.event as E);
          break;
        case 'progress':
          o.onProgress?.(m.progress);
          break;
        case 'log':
          o.onLog?.(m.message);
          break;
        case 'done':
          settled = true;
          resolve(m.result as R);
          void worker.terminate();
          break;
        case 'error': {
          settled = true;
          const e =
            m.name === 'UserError'
              ? new UserError(m.message, m.exitCode === 2 ? 2 : 1)
              : Object.assign(new Error(m.message), { stack: m.stack });
          reject(e);
          void worker.terminate();
          break;
        }
      }
    });
    worker.on('error', (e) => {
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
    worker.on('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new Error(`job ${id}: worker exited with code ${code} before finishing`));
      }
    });
  });
  return {
    id,
    done,
    cancel(graceMs = 30_000) {
      worker.postMessage({ type: 'cancel' });
      const t = setTimeout(() => void worker.terminate(), graceMs);
      t.unref();
    },
  };
}

/**
 * A persisted job: a `jobs` row that follows the worker (running → done / failed / cancelled) with the
 * latest progress, plus the caller's event hooks. Cancel is cooperative first, then forced.
 */
export class JobRunner {
  private readonly live = new Map<string, JobHandle<unknown>>();
  private readonly cancelled = new Set<string>();

  constructor(private readonly jobs: JobStore) {}

  start<R, E = unknown>(
    type: string,
    config: Record<string, unknown>,
    o: StartOptions<E> & { id?: string },
  ): JobHandle<R> {
    const job = this.jobs.create(type, config, o.id);
    this.jobs.setState(job.id, 'running');
    let lastWrite = 0;
    const h = startWorker<R, E>(job.id, {
      ...o,
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastWrite > 500 || (p.total !== null && p.done >= p.total)) {
          lastWrite = now;
          // Progress is a display copy: a failed write (disk full, busy) must not end the process from
          // inside a worker message handler; the job's own writes report such failures.
          try {
            this.jobs.setProgress(job.id, { ...p });
          } catch {}
        }
        o.onProgress?.(p);
      },
    });
    this.live.set(job.id, h as JobHandle<unknown>);
    const done = h.done.then(
      (r) => {
        const state =
          this.cancelled.has(job.id) || (r as { state?: string })?.state === 'cancelled'
            ? 'cancelled'
            : 'done';
        this.live.delete(job.id);
        this.jobs.setState(job.id, state);
        return r;
      },
      (e: Error) => {
        this.live.delete(job.id);
        // The job's own error is the one to report, even when recording it fails too (disk full).
        try {
          this.jobs.setState(job.id, this.cancelled.has(job.id) ? 'cancelled' : 'failed', e.message);
        } catch {}
        throw e;
      },
    );
    return { id: job.id, done, cancel: (g) => this.cancel(job.id, g) };
  }

  cancel(id: string, graceMs?: number): boolean {
    const h = this.live.get(id);
    if (!h) return false;
    this.cancelled.add(id);
    h.cancel(graceMs);
    return true;
  }

  running(): string[] {
    return [...this.live.keys()];
  }
}
