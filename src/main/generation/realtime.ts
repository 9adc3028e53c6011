import type { RunConfig, RunState } from './config';
import type { HttpPool } from './http-pool';
import type { Outcome } from './ingest';
import { costUsd } from './prices';
import type { LlmError } from './provider';
import type { Item, WorkQueue } from './queue';
import type { RateLimiter } from './ratelimit';
import type { RequestRow } from '../store/generation-results';

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** What the realtime sender needs of its run (the engine). */
export interface SendHost {
  readonly runId: string;
  readonly config: RunConfig;
  readonly queue: WorkQueue;
  readonly limiter: RateLimiter;
  readonly abort: AbortSignal;
  readonly stopReason: RunState | null;
  /** Answers sent and not yet stored (their cells' quota stays reserved). */
  readonly inflight: number;
  /** A flush is scheduled or answers wait in the outbox. */
  readonly storing: boolean;
  stop(reason: RunState, error?: string): void;
  /** Prompt and cost estimate of an item (draws its task). */
  prepare(item: Item): { prompt: string; est: Estimate };
  overBudget(usd: number, tokens: number): boolean;
  /** Reserves the item's quota and cost; its claim is stored at the next flush. */
  claim(item: Item, est: Estimate): void;
  /** Checks an answer (worker or inline), then queues it for storing. */
  deliver(o: Outcome): Promise<void>;
  /** Stores the queue changes now (topUp included). */
  topUp(): void;
  waitSignal(ms: number): Promise<void>;
  signal(): void;
}

export interface Estimate {
  usd: number;
  tokens: number;
}

/**
 * The realtime path: keeps `concurrency` chat calls on the wire (more handed to the HTTP worker, so it
 * always has the next one), retries with backoff, and watches for a stall: work pending while nothing is on
 * the wire or waiting to retry for `stallMs` ends the run as failed with the queue's state, instead of a
 * process that waits forever.
 */
export class RealtimeSender {
  /** Requests on the wire. `concurrency` limits these (not answers waiting to be checked and stored). */
  private sending = 0;
  /** Requests inside the HTTP client, and backoff / rate-limit waits: what counts as activity. */
  private active = 0;
  private lastActive = Date.now();
  private readonly aborters = new Set<AbortController>();
  private readonly running = new Set<Promise<void>>();
  /** Resolves when the watchdog gave up on the run (answers it waits for may never come). */
  private readonly stalled: Promise<void>;
  private markStalled: () => void = () => {};
  private gaveUp = false;

  constructor(
    private readonly host: SendHost,
    private readonly http: HttpPool,
  ) {
    // Requests get their own controllers (aborted together on cancel): one shared signal with a listener
    // per request in flight makes every addEventListener O(in flight).
    host.abort.addEventListener('abort', () => {
      for (const c of this.aborters) c.abort();
    });
    this.stalled = new Promise((r) => {
      this.markStalled = () => {
        this.gaveUp = true;
        r();
      };
    });
  }

  private busy<T>(p: Promise<T>): Promise<T> {
    this.active++;
    return p.finally(() => {
      this.active--;
      this.lastActive = Date.now();
    });
  }

  async run(): Promise<void> {
    const h = this.host;
    const c = h.config;
    const running = this.running;
    const stallMs = c.stallMs ?? 120_000;
    const watchdog = setInterval(() => this.watch(stallMs), Math.min(1000, Math.max(20, stallMs / 4)));
    try {
      while (!h.stopReason && !h.queue.settled()) {
        // With the HTTP worker, up to twice `concurrency` calls are handed over so the worker always has the
        // next one ready (it keeps `concurrency` on the wire); not under rate limits, which pace the handing.
        // Answers waiting for the check or the store keep their cell's quota reserved; at most one
        // concurrency's worth of them, so a slow disk slows the sending instead of growing the backlog.
        const handOver = this.http.threaded && !c.rpm && !c.tpm ? 2 * c.concurrency : c.concurrency;
        if (this.sending >= handOver || h.inflight >= handOver + c.concurrency) {
          await h.waitSignal(1000);
          continue;
        }
        const item = h.queue.nextItem();
        if (!item) {
          if (h.inflight === 0 && !h.storing) {
            // Nothing to send and nothing coming back: a kind whose tasks are gone needs a brainstorm.
            h.topUp();
            if (h.queue.settled()) break;
            if (!h.queue.sendable) {
              h.stop('failed', 'no work item can be sent (every brainstorm failed?)');
              break;
            }
            continue;
          }
          await h.waitSignal(1000);
          continue;
        }
        const { prompt, est } = h.prepare(item);
        if (h.overBudget(est.usd, est.tokens)) {
          // Stop sending once the next request could pass the cap; answers in flight still land.
          h.queue.requeue(item);
          h.stop('budget');
          break;
        }
        let wait = h.limiter.take(est.tokens);
        while (wait > 0 && !h.stopReason) {
          await this.busy(sleep(wait, h.abort));
          wait = h.limiter.take(est.tokens);
        }
        if (h.stopReason) {
          h.queue.requeue(item);
          break;
        }
        this.sending++;
        h.claim(item, est);
        const p = this.send(item, prompt, est).then((o) => {
          this.sending--;
          h.signal();
          return h.deliver(o);
        });
        running.add(p);
        p.finally(() => running.delete(p));
      }
      while (running.size && !this.gaveUp) await Promise.race([...running, this.stalled]);
    } finally {
      clearInterval(watchdog);
    }
  }

  /** Fails the run when work is pending and nothing happened on the wire for `stallMs`. */
  private watch(stallMs: number) {
    const h = this.host;
    const waiting = !this.running.size && (h.stopReason || h.queue.settled());
    if (this.active > 0 || waiting) {
      this.lastActive = Date.now();
      return;
    }
    const idle = Date.now() - this.lastActive;
    if (idle < stallMs) return;
    this.markStalled();
    if (h.stopReason === 'failed') return;
    const forTasks = Object.entries(h.queue.waitingByKind())
      .map(([k, n]) => `${n} ${k} waiting for tasks`)
      .join(', ');
    h.stop(
      'failed',
      `stalled: nothing sent or answered for ${Math.round(idle / 1000)} s with ${h.queue.queued} items queued${forTasks ? ` (${forTasks})` : ''} and ${h.inflight} answers unstored; this is a bug, please report it (--resume ${h.runId} continues the run)`,
    );
  }

  private backoff(attempt: number, retryAfter?: number): number {
    const c = this.host.config;
    // A Retry-After beyond backoffMaxMs is cut to it: a server asking for an hour would hold the run that
    // long with nothing on the wire; after maxRetries the item fails and is replaced.
    if (retryAfter !== undefined)
      return Math.min(Math.max(retryAfter, 0) + Math.random() * c.backoffBaseMs * 0.1, c.backoffMaxMs);
    const exp = Math.min(c.backoffMaxMs, c.backoffBaseMs * 2 ** (attempt - 1));
    return Math.round(exp * (0.5 + Math.random() * 0.5));
  }

  /** One item's request with retries; never throws. */
  private async send(item: Item, prompt: string, est: Estimate): Promise<Outcome> {
    const h = this.host;
    const c = h.config;
    const attempts: RequestRow[] = [];
    const out = (o: Partial<Outcome>): Outcome => ({
      item,
      attempts,
      estUsd: est.usd,
      estTokens: est.tokens,
      ...o,
    });
    for (;;) {
      const attempt = item.attempts + 1;
      item.attempts = attempt;
      const ac = new AbortController();
      if (h.abort.aborted) ac.abort();
      this.aborters.add(ac);
      try {
        const r = await this.busy(
          this.http.chat(item.model, prompt, {
            temperature: c.temperature,
            topP: c.topP,
            json: item.type === 'example',
            signal: ac.signal,
          }),
        ).finally(() => this.aborters.delete(ac));
        h.limiter.settle(est.tokens, r.promptTokens + r.completionTokens);
        attempts.push({
          model: item.model,
          kind: item.kind,
          attempt,
          promptTokens: r.promptTokens,
          completionTokens: r.completionTokens,
          costUsd: costUsd(c.prices, item.model, r.promptTokens, r.completionTokens, false),
          latencyMs: r.latencyMs,
          status: 'ok',
          errorClass: null,
          error: null,
        });
        return out({ answer: r });
      } catch (e) {
        const err = e as LlmError;
        if (err.cls === 'aborted') {
          item.attempts--;
          return out({ requeue: true });
        }
        attempts.push({
          model: item.model,
          kind: item.kind,
          attempt,
          promptTokens: 0,
          completionTokens: 0,
          costUsd: 0,
          latencyMs: 0,
          status: 'error',
          errorClass: err.cls,
          error: err.message.slice(0, 500),
        });
        if (err.cls === 'auth')
          h.stop('failed', `the server refused the API key (${err.message}); check $${c.apiKeyEnv}`);
        if (
          !err.retryable ||
          attempt > c.maxRetries ||
          h.stopReason === 'cancelled' ||
          h.stopReason === 'failed'
        )
          return out({ failure: err });
        await this.busy(sleep(this.backoff(attempt, err.retryAfterMs), h.abort));
        if (h.abort.aborted) return out({ requeue: true });
      }
    }
  }
}
