import type { Worker } from 'node:worker_threads';
import { siblingModule, startOptionalWorker } from '../ts-worker';
import { type CheckRequest, type CheckResult, checkAnswer } from './check';
import { loadDetector } from './langid';

/** Answers checked in a worker thread so far in this process (tests and the benchmark read it). */
export const poolStats = { threaded: 0, ms: 0 };

/**
 * Checks answers (parse, validate, language ID, MinHash) in a worker thread so the main thread keeps to
 * planning and SQLite. Requests are posted in batches per event-loop turn. When no worker can run (bundled
 * builds without the worker file, or a worker error) answers are checked inline: same results, same order.
 * The language detector (~115 MB of tables) is loaded only where the checks run: in the worker, or here
 * once checks fall back inline.
 */
export class CheckPool {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, { req: CheckRequest; resolve: (r: CheckResult) => void }>();
  private outgoing: CheckRequest[] = [];
  private posted = false;
  private inlineReady: Promise<void> | null = null;
  /** Resolves once checks can run: the worker has loaded its detector, or (inline) this thread has. */
  readonly ready: Promise<void>;
  private markReady: () => void = () => {};

  constructor(
    enabled: boolean,
    private readonly languageCheck = true,
  ) {
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
    try {
      this.worker = enabled ? startOptionalWorker(siblingModule(import.meta.url, 'check-worker')) : null;
      if (!this.worker) {
        this.loadInline().then(this.markReady, this.markReady);
        return;
      }
      this.worker.on('message', (m: { results: CheckResult[]; ms: number } | 'ready') => {
        if (m === 'ready') return this.markReady();
        poolStats.threaded += m.results.length;
        poolStats.ms += m.ms;
        for (const r of m.results) {
          const w = this.waiting.get(r.id);
          this.waiting.delete(r.id);
          w?.resolve(r);
        }
      });
      // An error, or an exit we did not ask for: what it held is checked here.
      this.worker.on('error', () => this.fallback());
      this.worker.on('exit', () => {
        if (this.worker) this.fallback();
      });
      // Referenced until close(): while the run waits on it (the detector loading, answers being checked)
      // it may be all that keeps the process alive.
    } catch {
      this.worker = null;
      this.loadInline().then(this.markReady, this.markReady);
    }
  }

  /** Loads the detector on this thread, once (inline checks need it). */
  loadInline(): Promise<void> {
    this.inlineReady ??= this.languageCheck ? loadDetector() : Promise.resolve();
    return this.inlineReady;
  }

  get threaded(): boolean {
    return this.worker !== null;
  }

  check(req: CheckRequest): Promise<CheckResult> {
    if (!this.worker) return this.loadInline().then(() => checkAnswer(req));
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
          else this.loadInline().then(() => this.settleAllInline());
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

  private settleAllInline() {
    for (const id of [...this.waiting.keys()]) this.settleInline(id);
  }

  /** The worker died: check everything it held here. */
  private fallback() {
    this.worker = null;
    this.markReady();
    this.loadInline().then(() => this.settleAllInline());
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (this.waiting.size) {
      await this.loadInline();
      this.settleAllInline();
    }
    if (w) await w.terminate();
  }
}
