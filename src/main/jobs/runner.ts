import type { Progress } from '../../shared/domain';
import { UserError } from '../errors';
import { siblingModule, startWorker as startThread } from '../ts-worker';
import type { JobRegistry } from './registry';

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
 * Worker-thread jobs in the registry: the job's row follows the worker (running → done / failed /
 * cancelled) with its latest progress, plus the caller's event hooks. Cancel is cooperative first, then
 * forced after the grace period.
 */
export class JobRunner {
  constructor(readonly registry: JobRegistry) {}

  start<R, E = unknown>(
    type: string,
    config: Record<string, unknown>,
    o: StartOptions<E> & { id?: string; label?: string },
  ): JobHandle<R> {
    let h: JobHandle<R> | undefined;
    const job = this.registry.open(type, o.label ?? type, config, {
      id: o.id,
      onCancel: (g) => h?.cancel(g),
      running: true,
    });
    h = startWorker<R, E>(job.id, {
      ...o,
      onProgress: (p) => {
        job.progress(p);
        o.onProgress?.(p);
      },
    });
    const done = h.done.then(
      (r) => {
        // A job that stopped on its own signal (training checkpoints and returns) reports cancelled.
        job.end(
          (r as { state?: string })?.state === 'cancelled'
            ? { state: 'cancelled' }
            : { state: 'done', result: r },
        );
        return r;
      },
      (e: Error) => {
        job.end({ state: 'failed', error: e.message });
        throw e;
      },
    );
    return { id: job.id, done, cancel: (g) => this.cancel(job.id, g) };
  }

  cancel(id: string, graceMs?: number): boolean {
    return this.registry.cancel(id, graceMs);
  }
}
