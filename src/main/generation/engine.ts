import { EventEmitter, setMaxListeners } from 'node:events';
import os from 'node:os';
import { ProgressTracker } from '../jobs/progress';
import type { Db } from '../store';
import { answeredRequests, keptTexts, resetInFlight } from '../store/generation-queue';
import { GenerationWriter } from '../store/generation-results';
import { type BatchHost, runBatchRounds } from './batch';
import type { GenerationProgress, RunConfig, RunState, RunSummary } from './config';
import { DedupIndex } from './dedup';
import { HttpPool } from './http-pool';
import { type Ingested, ingestAnswer, type Outcome } from './ingest';
import { RunLease } from './lease';
import { EXPECTED_COMPLETION_TOKENS, type Plan } from './plan';
import { CheckPool } from './pool';
import { costUsd } from './prices';
import { brainstormTemplateId, exampleTemplateId, isAsym, render } from './prompts';
import { Provider, type ProviderOptions } from './provider';
import { type Item, WorkQueue } from './queue';
import { RateLimiter } from './ratelimit';
import { type Estimate, RealtimeSender, type SendHost } from './realtime';
import type { ErrorClass, RejectReason } from './reasons';
import { Rng } from './rng';
import { getRun, runConfig, runPlan, runSummary } from './runs';

export interface EngineOptions {
  apiKey: string;
  /** Check answers in a worker thread (default: runs of 1,000+ examples, when running from source). */
  checkWorker?: boolean;
  /** Make the chat calls from a worker thread (same default as checkWorker; realtime runs only). */
  httpWorker?: boolean;
  /** Test hook: a ready provider (otherwise built from the config and apiKey). */
  provider?: Provider;
  owner?: string;
}

/**
 * Time of the answer-processing part on this thread (parse + validate + store), read by the benchmark. The
 * flush is synchronous, so its wall time is this thread's CPU time (an over-count only when the OS preempts
 * it); process.cpuUsage() would add every other thread's CPU and cost a getrusage call per flush.
 */
export const ingestTiming = { ms: 0, answers: 0 };
const FLUSH_INTERVAL_MS = 40;

/**
 * Works one generation run to its end (done, budget, paused, cancelled or failed). The queue is the
 * generation_items table: every answer is stored in the same transaction that marks its item done, so a
 * crash at any point loses only answers not yet committed, whose items are simply asked again. The parts:
 * the queue (queue.ts), the lease (lease.ts), the realtime sender (realtime.ts), the Batch API rounds
 * (batch.ts) and what an answer becomes (ingest.ts); this class holds the counters and the store's flush.
 */
export class RunEngine extends EventEmitter implements SendHost, BatchHost {
  readonly config: RunConfig;
  readonly plan: Plan;
  readonly owner: string;
  readonly provider: Provider;
  readonly limiter: RateLimiter;
  readonly queue: WorkQueue;
  readonly batchOut = new Map<number, Item>();
  private readonly datasetId: number;
  private readonly providerOptions: ProviderOptions;
  private readonly lease: RunLease;
  private readonly writer: GenerationWriter;
  private readonly dedup = new DedupIndex();
  private readonly aborter = new AbortController();
  private readonly useWorker: boolean;
  private readonly useHttpWorker: boolean;
  private pool: CheckPool | null = null;
  private http: HttpPool | null = null;
  private outbox: Outcome[] = [];
  private claimed: Item[] = [];
  private flushScheduled = false;
  private lastFlush = 0;
  inflight = 0;
  private inflightUsd = 0;
  private inflightTokens = 0;
  stopReason: RunState | null = null;
  private stopError: string | null = null;
  private wake: (() => void) | null = null;
  private consecutiveFailures = 0;
  private answers = 0;
  private tracker: ProgressTracker;
  // Live counters (initialised from the database, so they continue across resumes).
  private accepted = 0;
  private spentUsd = 0;
  private spentTokens = 0;
  private requests = 0;
  private retries = 0;
  private prompt = 0;
  private completion = 0;
  private readonly rejected: Record<string, number> = {};
  private readonly failed: Record<string, number> = {};
  private state: RunState = 'running';
  private lastEmit = 0;

  constructor(
    private readonly db: Db,
    readonly runId: string,
    opts: EngineOptions,
  ) {
    super();
    const run = getRun(db, runId);
    this.config = runConfig(run);
    this.plan = runPlan(run);
    this.datasetId = run.dataset_id;
    this.owner = opts.owner ?? `${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.config.headers ?? {}))
      headers[k] = v.startsWith('env:') ? (process.env[v.slice(4)] ?? '') : v;
    this.providerOptions = {
      baseUrl: this.config.baseUrl,
      apiKey: opts.apiKey,
      azureApiVersion: this.config.azureApiVersion,
      headers,
      timeoutMs: this.config.timeoutMs,
    };
    this.provider = opts.provider ?? new Provider(this.providerOptions);
    this.limiter = new RateLimiter(this.config.rpm, this.config.tpm);
    this.useWorker = opts.checkWorker ?? this.config.count >= 1000;
    // A provider handed in by a test is used as it is, in this thread.
    this.useHttpWorker = !opts.provider && (opts.httpWorker ?? this.config.count >= 1000);
    this.queue = new WorkQueue(db, runId, this.config, this.plan, new Rng(this.config.seed ^ 0x5bd1e995));
    this.lease = new RunLease(db, runId, this.owner, this.config.leaseTtlMs);
    this.writer = new GenerationWriter(db, runId, this.datasetId);
    this.tracker = new ProgressTracker(this.config.count, 'examples');
    // Every request and backoff listens on the one abort signal.
    setMaxListeners(0, this.aborter.signal);
  }

  get abort(): AbortSignal {
    return this.aborter.signal;
  }
  get storing(): boolean {
    return this.flushScheduled || this.outbox.length > 0;
  }

  // ---------------------------------------------------------------- control

  pause() {
    this.stop('paused');
  }
  cancel() {
    this.stop('cancelled');
    this.aborter.abort();
  }
  stop(reason: RunState, error?: string) {
    if (this.stopReason && this.stopReason !== 'paused') return;
    this.stopReason = reason;
    if (error) this.stopError = error;
    this.state = reason === 'failed' || reason === 'cancelled' ? reason : this.state;
    if (reason === 'failed') this.aborter.abort();
    this.signal();
  }
  signal() {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
  waitSignal(ms: number) {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  // ---------------------------------------------------------------- run

  /** Runs until the run ends or stops; returns the summary. */
  async run(): Promise<RunSummary> {
    this.lease.acquire({
      lost: () => this.stop('failed', 'lost the run lease to another process'),
      // `embedsmith runs cancel` from another process flips the state; we notice here.
      cancelled: () => this.cancel(),
      paused: () => this.pause(),
    });
    try {
      this.pool = new CheckPool(
        this.useWorker && !this.config.batchApi,
        this.config.validation.languageCheck,
      );
      if (!this.config.batchApi) {
        this.http = new HttpPool(
          this.provider,
          this.providerOptions,
          this.config.concurrency,
          this.useHttpWorker,
        );
        await this.http.ready;
      }
      // Brainstorm answers and inline fallbacks are checked on this thread; with a worker, only the worker
      // loads the detector. Sending starts once checks can run, so answers do not pile up behind the load.
      await this.pool.ready;
      if (!this.pool.threaded) await this.pool.loadInline();
      this.load();
      this.emitProgress(true);
      if (this.config.batchApi) await runBatchRounds(this, getRun(this.db, this.runId).batch_id);
      else await new RealtimeSender(this, this.http!).run();
      this.flush();
    } catch (e) {
      this.stopError = (e as Error).message;
      this.stopReason = 'failed';
      try {
        this.flush();
      } catch {
        // the answers stay unstored; their items are asked again on resume
      }
      this.lease.release('failed', this.stopError);
      await this.pool?.close();
      await this.http?.close();
      throw e;
    }
    await this.pool?.close();
    await this.http?.close();
    this.flush();
    // A run whose every cell has its quota or has used its attempt budget is done (with a shortfall).
    const final: RunState = this.queue.settled() ? 'done' : (this.stopReason ?? 'failed');
    if (final === 'failed' && !this.stopError)
      this.stopError = 'the queue ran dry before the planned count was reached';
    this.lease.release(final, final === 'done' ? null : this.stopError);
    this.state = final;
    this.emitProgress(true);
    return runSummary(this.db, this.runId);
  }

  private load() {
    const db = this.db;
    const run = getRun(db, this.runId);
    if (!run.batch_id) resetInFlight(db, this.runId);
    for (const e of keptTexts(db, this.datasetId)) {
      const r = this.dedup.check([e.query, e.positive, e.negative]);
      this.dedup.add(r.key, r.sig);
    }
    for (const item of this.queue.loadOpen(db)) this.batchOut.set(item.id, item);
    const s = runSummary(db, this.runId);
    this.accepted = s.accepted;
    this.requests = s.requests;
    this.retries = s.retries;
    this.prompt = s.tokens.prompt;
    this.completion = s.tokens.completion;
    this.spentUsd = s.cost_usd;
    this.spentTokens = s.tokens.prompt + s.tokens.completion;
    Object.assign(this.rejected, s.rejected);
    Object.assign(this.failed, s.failed_requests);
    this.answers = answeredRequests(db, this.runId);
    this.tracker = new ProgressTracker(this.config.count, 'examples');
    this.tracker.update(this.accepted);
    this.topUp();
  }

  topUp() {
    this.db.transaction(() => this.queue.topUp())();
  }

  // ---------------------------------------------------------------- sending (for the sender and batch rounds)

  private templateOf(item: Item) {
    return item.type === 'brainstorm'
      ? this.config.templates[brainstormTemplateId(item.kind as never)]
      : this.config.templates[exampleTemplateId(item.kind)];
  }

  prepare(item: Item): { prompt: string; est: Estimate } {
    const tpl = this.templateOf(item);
    const prompt =
      item.type === 'brainstorm'
        ? render(tpl, {})
        : render(tpl, isAsym(item.kind) ? { ...item.attrs, task: this.queue.taskFor(item) } : item.attrs);
    const promptTokens = Math.ceil(prompt.length / 4);
    const completion = EXPECTED_COMPLETION_TOKENS[item.type === 'brainstorm' ? 'brainstorm' : item.kind];
    const usd = costUsd(this.config.prices, item.model, promptTokens, completion, this.config.batchApi);
    return { prompt, est: { tokens: promptTokens + completion, usd } };
  }

  overBudget(extraUsd: number, extraTokens: number): boolean {
    const c = this.config;
    if (c.budgetUsd !== undefined && this.spentUsd + this.inflightUsd + extraUsd > c.budgetUsd) return true;
    if (c.budgetTokens !== undefined && this.spentTokens + this.inflightTokens + extraTokens > c.budgetTokens)
      return true;
    return false;
  }

  claim(item: Item, est: Estimate) {
    this.inflight++;
    this.inflightUsd += est.usd;
    this.inflightTokens += est.tokens;
    this.queue.markSent(item);
    this.claimed.push(item);
    // Stored soon, so the database shows what is in flight (and its task) even when no answer comes back.
    this.scheduleFlush();
  }

  /** Checks an example answer (in the worker when one runs), then queues it for storing. */
  async deliver(o: Outcome): Promise<void> {
    // Inline pools check here too (after the detector has loaded), so a worker that dies mid-run never
    // leaves ingest to check on a thread without the detector.
    if (o.answer && o.item.type === 'example' && this.pool)
      try {
        o.check = await this.pool.check({
          id: o.item.id,
          kind: o.item.kind,
          text: o.answer.text,
          attrs: o.item.attrs,
          validation: this.config.validation,
        });
      } catch {
        // Left to ingest, which checks inline; an error there stops the run with its message.
      }
    this.push(o);
  }

  push(o: Outcome) {
    this.outbox.push(o);
    this.scheduleFlush();
  }

  submitted(batchId: string, items: Item[], usd: number, tokens: number) {
    this.db.transaction(() => {
      this.writer.setBatch(batchId);
      for (const it of items) {
        this.writer.batchClaim(it.id, it.taskId);
        this.batchOut.set(it.id, it);
        this.queue.markSent(it);
      }
    })();
    this.inflightUsd += usd;
    this.inflightTokens += tokens;
    this.emitProgress(true);
  }

  closed() {
    this.inflightUsd = 0;
    this.inflightTokens = 0;
    this.db.transaction(() => this.writer.setBatch(null))();
  }

  // ---------------------------------------------------------------- storing

  /**
   * Stores the outbox at most every FLUSH_INTERVAL_MS: one transaction per answer paid a commit (a WAL frame
   * for every touched page of the examples table and its indexes) per answer. Answers not yet stored when
   * the process dies are asked again on resume (their items are still pending or in flight in the store).
   */
  private scheduleFlush() {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const wait = this.lastFlush + FLUSH_INTERVAL_MS - performance.now();
    const go = () => {
      this.flushScheduled = false;
      this.lastFlush = performance.now();
      try {
        this.flush();
      } catch (e) {
        this.stop('failed', `storing answers failed: ${(e as Error).message}`);
      }
      this.signal();
    };
    if (wait > 0) setTimeout(go, wait);
    else setImmediate(go);
  }

  /** Stores every answer that came back since the last flush, in one transaction. */
  flush() {
    const q = this.queue;
    if (!this.outbox.length && !this.claimed.length && !q.skipped.length) return;
    const outs = this.outbox;
    this.outbox = [];
    const claimed = this.claimed;
    this.claimed = [];
    const skipped = q.skipped;
    q.skipped = [];
    const t0 = performance.now();
    const w = this.writer;
    this.db.transaction(() => {
      w.assertLease(this.owner);
      for (const it of claimed) w.claim(it.id, it.model, it.taskId);
      for (const id of skipped) w.finish(id, 'skipped', null, 0, null);
      for (const o of outs) this.store(o);
      q.topUp();
    })();
    if (outs.length) {
      ingestTiming.ms += performance.now() - t0;
      ingestTiming.answers += outs.length;
      this.tracker.update(this.accepted);
      this.emitProgress(false);
    }
  }

  /** Writes one outcome: its requests, then what the answer became (ingest.ts), and updates the counters. */
  private store(o: Outcome) {
    const w = this.writer;
    const { item } = o;
    this.inflight = Math.max(0, this.inflight - (this.batchOut.has(item.id) ? 0 : 1));
    this.batchOut.delete(item.id);
    this.inflightUsd = Math.max(0, this.inflightUsd - o.estUsd);
    this.inflightTokens = Math.max(0, this.inflightTokens - o.estTokens);
    this.queue.markBack(item, !o.requeue);
    let lastRequestId = 0;
    for (const a of o.attempts) {
      lastRequestId = w.request(item.id, a);
      this.requests++;
      if (a.attempt > 1) this.retries++;
      this.prompt += a.promptTokens;
      this.completion += a.completionTokens;
      this.spentUsd += a.costUsd;
      this.spentTokens += a.promptTokens + a.completionTokens;
    }
    if (o.requeue) {
      w.requeue(item.id, item.attempts);
      this.queue.enqueue(item);
      return;
    }
    if (o.failure) {
      const cls = o.failure.cls as ErrorClass;
      w.finish(item.id, 'failed', cls, item.attempts, item.taskId);
      this.failed[cls] = (this.failed[cls] ?? 0) + 1;
      this.consecutiveFailures++;
      if (this.consecutiveFailures >= this.config.maxConsecutiveFailures)
        this.stop(
          'failed',
          `${this.consecutiveFailures} requests in a row failed (last: ${o.failure.message})`,
        );
      return;
    }
    this.consecutiveFailures = 0;
    this.answers++;
    if (this.answers > this.config.maxAnswersFactor * this.config.count + 50)
      this.stop(
        'failed',
        `more than ${this.config.maxAnswersFactor}× the planned count of answers; most are rejected (see rejected by reason)`,
      );
    const text = o.answer!.text;
    const cell = item.type === 'example' ? this.queue.cell(item) : null;
    const r = ingestAnswer(item, text, o.check, {
      validation: this.config.validation,
      cellFull: cell ? cell.accepted >= cell.quota : false,
      task: this.queue.taskOf(item.taskId),
      templateVersion: this.templateOf(item).version,
      duplicateOf: (key, sig) => this.dedup.lookup(key, sig),
    });
    this.apply(item, text, lastRequestId, r);
  }

  private apply(item: Item, text: string, requestId: number, r: Ingested) {
    const w = this.writer;
    const reject = (reason: RejectReason, onRequest: boolean) => {
      if (onRequest) w.rejectRequest(requestId, reason, text);
      this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
      w.finish(item.id, 'rejected', reason, item.attempts, item.type === 'brainstorm' ? null : item.taskId);
    };
    if (r.type === 'unreadable') return reject(r.reason, true);
    if (r.type === 'tasks') {
      const version = this.templateOf(item).version;
      for (const t of r.tasks)
        this.queue.addTask(item.kind, { id: w.task(item.kind, t, item.model, version), text: t });
      w.finish(item.id, 'accepted', null, item.attempts, null);
      return;
    }
    // The same text is already a row of this dataset (content-hash unique): keep the answer on the
    // request row, with the reason it failed (a rejected answer) or 'duplicate' (a valid one).
    if (!w.example(r.row)) return reject(r.reason ?? 'duplicate', true);
    if (r.reason) return reject(r.reason, false);
    this.dedup.add(r.sig!.key, r.sig!.sig);
    if (!r.row.surplus) {
      this.queue.cell(item).accepted++;
      this.accepted++;
    }
    w.finish(item.id, r.row.surplus ? 'surplus' : 'accepted', null, item.attempts, item.taskId);
  }

  // ---------------------------------------------------------------- progress

  private emitProgress(force: boolean) {
    const now = Date.now();
    if (!force && now - this.lastEmit < 100) return;
    this.lastEmit = now;
    const snap = this.tracker.snapshot();
    const p: GenerationProgress = {
      run: this.runId,
      state: this.stopReason && force ? this.state : 'running',
      planned: this.config.count,
      accepted: this.accepted,
      rejected: Object.values(this.rejected).reduce((a, b) => a + b, 0),
      rejectedByReason: { ...this.rejected },
      failedByClass: { ...this.failed },
      inFlight: this.inflight + this.batchOut.size,
      requests: this.requests,
      retries: this.retries,
      tokens: { prompt: this.prompt, completion: this.completion },
      costUsd: this.spentUsd,
      ratePerS: snap.ratePerS,
      etaS: snap.etaS,
    };
    this.emit('progress', p);
  }
}
