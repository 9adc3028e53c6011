import { Worker } from 'node:worker_threads';
import { type CheckRequest, type CheckResult, checkAnswer } from './check';

/** Answers checked in a worker thread so far in this process (tests and the benchmark read it). */
export const poolStats = { threaded: 0, ms: 0 };

/**
 * Checks answers (parse, validate, language ID, MinHash) in a worker thread so the main thread keeps to
 * HTTP and SQLite. Requests are posted in batches per event-loop turn. When no worker can run (bundled
 * builds without the worker file, or a worker error) answers are checked inline: same results, same order.
 */
export class CheckPool {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, { req: CheckRequest; resolve: (r: CheckResult) => void }>();
  private outgoing: CheckRequest[] = [];
  private posted = false;

  constructor(enabled: boolean) {
    if (!enabled || !import.meta.url.endsWith('.ts')) return;
    try {
      this.worker = new Worker(new URL('./check-worker-boot.mjs', import.meta.url), {
        workerData: { entry: new URL('./check-worker.ts', import.meta.url).href },
      });
      this.worker.on('message', (m: { results: CheckResult[]; ms: number } | 'ready') => {
        if (m === 'ready') return;
        poolStats.threaded += m.results.length;
        poolStats.ms += m.ms;
        for (const r of m.results) {
          const w = this.waiting.get(r.id);
          this.waiting.delete(r.id);
          w?.resolve(r);
        }
      });
      this.worker.on('error', () => this.fallback());
      this.worker.unref();
    } catch {
      this.worker = null;
    }
  }

  get threaded(): boolean {
    return this.worker !== null;
  }

  check(req: CheckRequest): Promise<CheckResult> {
    if (!this.worker) return Promise.resolve(checkAnswer(req));
    return new Promise((resolve) => {
      this.waiting.set(req.id, { req, resolve });
      this.outgoing.push(req);
      if (!this.posted) {
        this.posted = true;
        setImmediate(() => {
          this.posted = false;
          const batch = this.outgoing;
          this.outgoing = [];
          if (this.worker) this.worker.postMessage(batch);
          else for (const r of batch) this.settleInline(r.id);
        });
      }
    });
  }

  private settleInline(id: number) {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    w.resolve(checkAnswer(w.req));
  }

  /** The worker died: check everything it held here. */
  private fallback() {
    this.worker = null;
    for (const id of [...this.waiting.keys()]) this.settleInline(id);
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    for (const id of [...this.waiting.keys()]) this.settleInline(id);
    if (w) await w.terminate();
  }
}
