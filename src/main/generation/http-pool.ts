import type { Worker } from 'node:worker_threads';
import { siblingModule, startOptionalWorker } from '../ts-worker';
import type { ErrorClass } from './reasons';
import {
  type ChatClient,
  type ChatParams,
  type ChatResult,
  LlmError,
  type Provider,
  type ProviderOptions,
} from './provider';

export interface HttpRequest {
  id: number;
  model: string;
  prompt: string;
  params: ChatParams;
}
/** What this thread posts to the worker: calls and cancels, in order, batched per microtask. */
export type HttpMessage = HttpRequest | { cancel: number };
export type HttpReply =
  | { id: number; result: ChatResult }
  | {
      id: number;
      error: { message: string; cls: ErrorClass | 'aborted'; status?: number; retryAfterMs?: number };
    };

/** Chat calls answered by the HTTP worker so far in this process (tests and the benchmark read it). */
export const httpStats = { threaded: 0 };

/**
 * Chat calls through a worker thread that owns the HTTP client (the openai SDK over undici). The worker
 * keeps `concurrency` calls on the wire and starts a queued call the moment an answer arrives, so the next
 * request never waits for this thread, which checks, stores and plans: measured on 2 cores, that wait (the
 * main event loop ~50% busy, with GC pauses of 4–6 ms) added ~4 ms to every 50 ms call. The queue hands
 * the worker more calls than `concurrency` so it always has one ready. Where no worker can run (bundled
 * builds without the worker file, or a worker error), calls run on this thread through the same Provider
 * class: same answers, same errors.
 */
export class HttpPool implements ChatClient {
  private worker: Worker | null = null;
  private readonly waiting = new Map<
    number,
    {
      req: HttpRequest;
      signal?: AbortSignal;
      resolve: (r: ChatResult) => void;
      reject: (e: LlmError) => void;
    }
  >();
  private nextId = 1;
  /**
   * Messages for the worker, posted as one array per microtask: a message per call cost ~0.07 CPU ms on each
   * side (bench/generation, 2 cores) against a fraction of that for a batch. Cancels go through the same
   * array so a cancel never overtakes its call.
   */
  private outgoing: HttpMessage[] = [];
  private posting = false;
  /** Resolves once the worker has loaded (at once without one). */
  readonly ready: Promise<void>;

  /** `local` makes the calls when no worker runs; the worker builds its own Provider from `options`. */
  constructor(
    private readonly local: Provider,
    options: ProviderOptions,
    concurrency: number,
    enabled: boolean,
  ) {
    let markReady: () => void = () => {};
    this.ready = new Promise((r) => {
      markReady = r;
    });
    try {
      this.worker = enabled
        ? startOptionalWorker(siblingModule(import.meta.url, 'http-worker'), {
            workerData: { options, concurrency },
          })
        : null;
      if (!this.worker) {
        markReady();
        return;
      }
      // Replies come in arrays: the answers that arrived in one turn of the worker's event loop.
      this.worker.on('message', (m: HttpReply[] | 'ready') => {
        if (m === 'ready') return markReady();
        for (const r of m) this.settle(r);
      });
      // An error, or an exit we did not ask for: the calls it held run again here.
      this.worker.on('error', () => {
        markReady();
        this.fallback();
      });
      this.worker.on('exit', () => {
        markReady();
        if (this.worker) this.fallback();
      });
      // Referenced until close(): the main thread's only pending work may be the worker's answers.
    } catch {
      this.worker = null;
      markReady();
    }
  }

  private settle(m: HttpReply) {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if ('result' in m) {
      httpStats.threaded++;
      w.resolve(m.result);
    } else w.reject(new LlmError(m.error.message, m.error.cls, m.error.status, m.error.retryAfterMs));
  }

  private post(m: HttpMessage) {
    this.outgoing.push(m);
    if (this.posting) return;
    this.posting = true;
    queueMicrotask(() => {
      this.posting = false;
      const batch = this.outgoing;
      this.outgoing = [];
      // Without a worker (it died meanwhile) the calls are in `waiting`, which fallback() runs here.
      this.worker?.postMessage(batch);
    });
  }

  get threaded(): boolean {
    return this.worker !== null;
  }

  chat(model: string, prompt: string, p: ChatParams & { signal?: AbortSignal }): Promise<ChatResult> {
    const { signal, ...params } = p;
    if (!this.worker) return this.local.chat(model, prompt, p);
    if (signal?.aborted) return Promise.reject(new LlmError('aborted', 'aborted'));
    return new Promise((resolve, reject) => {
      const req: HttpRequest = { id: this.nextId++, model, prompt, params };
      const onAbort = () => this.post({ cancel: req.id });
      signal?.addEventListener('abort', onAbort, { once: true });
      const done =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          signal?.removeEventListener('abort', onAbort);
          f(v);
        };
      this.waiting.set(req.id, { req, signal, resolve: done(resolve), reject: done(reject) });
      this.post(req);
    });
  }

  /** The worker died: calls it held run again here (a call is only counted once it is answered). */
  private fallback() {
    this.worker = null;
    for (const [id, w] of [...this.waiting]) {
      this.waiting.delete(id);
      this.local
        .chat(w.req.model, w.req.prompt, { ...w.req.params, signal: w.signal })
        .then(w.resolve, w.reject);
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) {
      for (const [id, p] of [...this.waiting]) {
        this.waiting.delete(id);
        p.reject(new LlmError('aborted', 'aborted'));
      }
      await w.terminate();
    }
  }
}
