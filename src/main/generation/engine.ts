import { EventEmitter, setMaxListeners } from 'node:events';
import os from 'node:os';
import { FIXED_INSTRUCTIONS, KIND_KEYS, type Kind } from '../../shared/domain';
import { UserError } from '../errors';
import { ProgressTracker } from '../jobs/progress';
import type { Db } from '../store';
import { contentHash } from '../store/hash';
import { type Attributes, pickModel, sampleAttributes } from './attributes';
import type { GenerationProgress, RunConfig, RunState, RunSummary } from './config';
import { type CheckResult, checkAnswer } from './check';
import { DedupIndex } from './dedup';
import { CheckPool } from './pool';
import { parseTaskList } from './parse';
import { EXPECTED_COMPLETION_TOKENS, type Plan } from './plan';
import { costUsd } from './prices';
import { brainstormTemplateId, exampleTemplateId, isAsym, render, type Template } from './prompts';
import { HttpPool } from './http-pool';
import { type ChatResult, LlmError, Provider, type ProviderOptions } from './provider';
import { RateLimiter } from './ratelimit';
import type { ErrorClass, RejectReason } from './reasons';
import { Rng, itemSeed } from './rng';
import { getRun, runConfig, runPlan, runSummary } from './runs';
import { redactSecrets } from '../api/secrets';

interface Item {
  id: number;
  type: 'brainstorm' | 'example';
  kind: Kind;
  language: string;
  seed: number;
  model: string;
  attrs: Attributes;
  index: number;
  attempts: number;
  taskId: number | null;
}

interface Cell {
  kind: Kind;
  language: string;
  quota: number;
  accepted: number;
  pending: number;
  inflight: number;
  nextIndex: number;
}

interface Task {
  id: number;
  text: string;
}

/** Tasks of one kind, drawn without immediate reuse: unused tasks first, then least recently used. */
class TaskPool {
  readonly fresh: Task[] = [];
  readonly used: Task[] = [];
  private head = 0;
  readonly ids = new Set<number>();
  get size() {
    return this.ids.size;
  }
  add(t: Task, used = false) {
    if (this.ids.has(t.id)) return;
    this.ids.add(t.id);
    (used ? this.used : this.fresh).push(t);
  }
  draw(rng: Rng): Task | null {
    if (this.fresh.length) {
      const i = rng.int(this.fresh.length);
      const t = this.fresh[i];
      this.fresh[i] = this.fresh[this.fresh.length - 1];
      this.fresh.pop();
      this.used.push(t);
      return t;
    }
    if (this.head >= this.used.length) return null;
    const t = this.used[this.head++];
    this.used.push(t);
    if (this.head > 4096) {
      this.used.splice(0, this.head);
      this.head = 0;
    }
    return t;
  }
}

interface AttemptRec {
  model: string;
  kind: Kind;
  attempt: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  latencyMs: number;
  status: 'ok' | 'error';
  errorClass: string | null;
  error: string | null;
}

interface Outcome {
  item: Item;
  attempts: AttemptRec[];
  answer?: ChatResult;
  failure?: LlmError;
  /** Returned to the queue untouched (cancelled mid-flight). */
  requeue?: boolean;
  /** Parse/validate/signature, when done in the check worker. */
  check?: CheckResult;
  estUsd: number;
  estTokens: number;
}

/** One line of a Batch API output or error file. */
interface BatchOutputLine {
  custom_id: string;
  response?: {
    status_code: number;
    body?: {
      choices?: { message?: { content?: string } }[];
      usage?: { prompt_tokens: number; completion_tokens: number };
    };
  } | null;
  error?: { code?: string; message?: string } | null;
}

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

const sleep = (ms: number, signal?: AbortSignal) =>
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

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

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
 * crash at any point loses only answers not yet committed, whose items are simply asked again.
 */
export class RunEngine extends EventEmitter {
  readonly config: RunConfig;
  readonly plan: Plan;
  readonly owner: string;
  private readonly datasetId: number;
  private readonly provider: Provider;
  private readonly limiter: RateLimiter;
  private readonly templates: Record<string, Template>;
  private readonly cells = new Map<string, Cell>();
  private readonly pools = new Map<Kind, TaskPool>();
  private readonly taskText = new Map<number, string>();
  private readonly brainstormQ: Item[] = [];
  private ready: Item[] = [];
  private readyHead = 0;
  private readonly waiting = new Map<Kind, Item[]>();
  private readonly dedup = new DedupIndex();
  private readonly rng: Rng;
  private outbox: Outcome[] = [];
  private claimed: Item[] = [];
  private flushScheduled = false;
  private inflight = 0;
  /**
   * Requests on the wire. `concurrency` limits these, not `inflight` (which lasts until an answer is checked
   * and stored): holding the slot through the worker check and the next flush added their delay to every
   * request's cycle and cost ~8% of the ideal rate in bench/generation.
   */
  private sending = 0;
  private inflightUsd = 0;
  private inflightTokens = 0;
  private readonly aborter = new AbortController();
  private stopReason: RunState | null = null;
  private stopError: string | null = null;
  private wake: (() => void) | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
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
    this.headerSecrets = Object.entries(this.config.headers ?? {})
      .filter(([, v]) => v.startsWith('env:'))
      .map(([k]) => headers[k]);
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
    this.templates = this.config.templates;
    this.rng = new Rng(this.config.seed ^ 0x5bd1e995);
    this.tracker = new ProgressTracker(this.config.count, 'examples');
    // Every request and backoff listens on the one abort signal.
    setMaxListeners(0, this.aborter.signal);
    // Requests get their own controllers (aborted together on cancel): one shared signal with a listener
    // per request in flight makes every addEventListener O(in flight).
    this.aborter.signal.addEventListener('abort', () => {
      for (const c of this.requestAborters) c.abort();
    });
  }
  private readonly requestAborters = new Set<AbortController>();
  private pool: CheckPool | null = null;
  private readonly useWorker: boolean;
  private readonly useHttpWorker: boolean;
  private readonly providerOptions: ProviderOptions;
  /** Header values taken from the environment (`env:VAR`): secrets like the key. */
  private readonly headerSecrets: string[];
  /** Realtime chat calls: from the HTTP worker, or through `provider` in this thread. */
  private http: HttpPool | null = null;

  // ---------------------------------------------------------------- lease

  /** Takes the run's lease, or throws a UserError naming the process that holds it. */
  private acquireLease() {
    const now = Date.now();
    this.db.transaction(() => {
      const r = getRun(this.db, this.runId);
      if (r.lease_owner && r.lease_owner !== this.owner && (r.lease_expires_at ?? 0) > now) {
        const [host, pid] = r.lease_owner.split(':');
        const dead = host === os.hostname() && Number(pid) > 0 && !pidAlive(Number(pid));
        if (!dead)
          throw new UserError(
            `run ${this.runId} is being worked on by another process (${r.lease_owner}, lease until ${new Date(r.lease_expires_at ?? 0).toISOString()}); wait for it to finish, or cancel it with \`embedsmith runs cancel ${this.runId}\``,
          );
      }
      this.db
        .prepare(
          `UPDATE generation_runs SET lease_owner = ?, lease_expires_at = ?, state = 'running', error = NULL,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
        )
        .run(this.owner, now + this.config.leaseTtlMs, this.runId);
    })();
    this.leaseTimer = setInterval(() => this.renewLease(), Math.max(50, this.config.leaseTtlMs / 3));
    this.leaseTimer.unref();
  }

  private renewLease() {
    try {
      const r = this.db
        .prepare(
          `UPDATE generation_runs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? RETURNING state`,
        )
        .get(Date.now() + this.config.leaseTtlMs, this.runId, this.owner) as { state: RunState } | undefined;
      if (!r) this.stop('failed', 'lost the run lease to another process');
      // `embedsmith runs cancel` from another process flips the state; we notice here.
      else if (r.state === 'cancelled') this.cancel();
      else if (r.state === 'paused') this.pause();
    } catch {
      // database busy: try again at the next tick
    }
  }

  private releaseLease(state: RunState) {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.db
      .prepare(
        `UPDATE generation_runs SET state = ?, error = ?, lease_owner = NULL, lease_expires_at = NULL,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND lease_owner = ?`,
      )
      .run(state, this.stopError, this.runId, this.owner);
  }

  // ---------------------------------------------------------------- control

  pause() {
    this.stop('paused');
  }
  cancel() {
    this.stop('cancelled');
    this.aborter.abort();
  }
  private stop(reason: RunState, error?: string) {
    if (this.stopReason && this.stopReason !== 'paused') return;
    this.stopReason = reason;
    if (error) this.stopError = error;
    this.state = reason === 'failed' || reason === 'cancelled' ? reason : this.state;
    if (reason === 'failed') this.aborter.abort();
    this.signal();
  }
  private signal() {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
  private waitSignal(ms: number) {
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

  // ---------------------------------------------------------------- loading

  private load() {
    const db = this.db;
    const run = getRun(db, this.runId);
    if (!run.batch_id)
      db.prepare(
        `UPDATE generation_items SET state = 'pending' WHERE run_id = ? AND state = 'in_flight'`,
      ).run(this.runId);
    for (const c of this.plan.cells)
      this.cells.set(`${c.kind}|${c.language}`, {
        kind: c.kind,
        language: c.language,
        quota: c.quota,
        accepted: 0,
        pending: 0,
        inflight: 0,
        nextIndex: 0,
      });
    for (const r of db
      .prepare(
        `SELECT kind || '|' || coalesce(language, src_lang) AS k, count(*) AS n FROM examples
         WHERE run_id = ? AND status != 'rejected' AND surplus = 0 GROUP BY 1`,
      )
      .all(this.runId) as { k: string; n: number }[]) {
      const c = this.cells.get(r.k);
      if (c) c.accepted = r.n;
    }
    for (const r of db
      .prepare(
        `SELECT kind || '|' || language AS k, max(json_extract(payload_json, '$.index')) AS m FROM generation_items
         WHERE run_id = ? AND type = 'example' GROUP BY 1`,
      )
      .all(this.runId) as { k: string; m: number }[]) {
      const c = this.cells.get(r.k);
      if (c) c.nextIndex = r.m + 1;
    }
    // Tasks of this run, with the ones already used put behind the fresh ones.
    const usedIds = new Set(
      (
        db
          .prepare(
            `SELECT DISTINCT task_id AS id FROM generation_items WHERE run_id = ? AND task_id IS NOT NULL AND state != 'pending'`,
          )
          .all(this.runId) as { id: number }[]
      ).map((r) => r.id),
    );
    for (const t of db
      .prepare('SELECT id, kind, text FROM tasks WHERE run_id = ? ORDER BY id')
      .all(this.runId) as { id: number; kind: Kind; text: string }[])
      this.addTask(t.kind, { id: t.id, text: t.text }, usedIds.has(t.id));
    // Dedup index over the dataset's kept examples.
    for (const e of db
      .prepare(`SELECT query, positive, negative FROM examples WHERE dataset_id = ? AND status != 'rejected'`)
      .iterate(this.datasetId) as Iterable<{ query: string; positive: string; negative: string | null }>) {
      const r = this.dedup.check([e.query, e.positive, e.negative]);
      this.dedup.add(r.key, r.sig);
    }
    const pending = db
      .prepare(
        `SELECT id, type, kind, language, payload_json, seed, model, attempts, task_id, state FROM generation_items
         WHERE run_id = ? AND state IN ('pending','in_flight') ORDER BY json_extract(payload_json, '$.index'), id`,
      )
      .all(this.runId) as {
      id: number;
      type: 'brainstorm' | 'example';
      kind: Kind;
      language: string | null;
      payload_json: string;
      seed: number;
      model: string;
      attempts: number;
      task_id: number | null;
      state: string;
    }[];
    for (const r of pending) {
      const p = JSON.parse(r.payload_json) as { index: number; attrs?: Attributes };
      const item: Item = {
        id: r.id,
        type: r.type,
        kind: r.kind,
        language: r.language ?? '',
        seed: r.seed,
        model: r.model,
        attrs: p.attrs ?? {},
        index: p.index,
        attempts: r.attempts,
        taskId: r.task_id,
      };
      if (r.state === 'in_flight') {
        this.batchInflight.set(item.id, item);
        if (item.type === 'example') this.cell(item).inflight++;
        continue;
      }
      this.enqueue(item);
    }
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
    this.answers = (
      db
        .prepare(`SELECT count(*) AS n FROM generation_requests WHERE run_id = ? AND status = 'ok'`)
        .get(this.runId) as { n: number }
    ).n;
    this.tracker = new ProgressTracker(this.config.count, 'examples');
    this.tracker.update(this.accepted);
    this.db.transaction(() => this.topUp())();
  }

  private readonly batchInflight = new Map<number, Item>();

  private cell(item: Item): Cell {
    return this.cells.get(`${item.kind}|${item.language}`)!;
  }

  private enqueue(item: Item) {
    if (item.type === 'brainstorm') this.brainstormQ.push(item);
    else {
      this.cell(item).pending++;
      if (isAsym(item.kind) && !this.pools.get(item.kind)?.size) {
        const w = this.waiting.get(item.kind) ?? [];
        w.push(item);
        this.waiting.set(item.kind, w);
      } else this.ready.push(item);
    }
  }

  private addTask(kind: Kind, t: Task, used = false) {
    let pool = this.pools.get(kind);
    if (!pool) {
      pool = new TaskPool();
      this.pools.set(kind, pool);
    }
    pool.add(t, used);
    this.taskText.set(t.id, t.text);
    const w = this.waiting.get(kind);
    if (w?.length) {
      this.ready.push(...w);
      this.waiting.set(kind, []);
    }
  }

  // ---------------------------------------------------------------- items

  private insertItemStmt() {
    return this.db.prepare(
      `INSERT INTO generation_items (run_id, type, kind, language, payload_json, seed, model, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')`,
    );
  }

  private newExampleItem(c: Cell): Item {
    const index = c.nextIndex++;
    const seed = itemSeed(this.config.seed, c.kind, c.language, index);
    const attrs = sampleAttributes(c.kind, c.language, seed, this.config.languages);
    const model = pickModel(this.config.models, seed);
    const info = this.insertItemStmt().run(
      this.runId,
      'example',
      c.kind,
      c.language,
      JSON.stringify({ index, attrs }),
      seed,
      model,
    );
    return {
      id: Number(info.lastInsertRowid),
      type: 'example',
      kind: c.kind,
      language: c.language,
      seed,
      model,
      attrs,
      index,
      attempts: 0,
      taskId: null,
    };
  }

  private newBrainstormItem(kind: Kind, index: number): Item {
    const seed = itemSeed(this.config.seed, `brainstorm:${kind}`, '', index);
    const model = pickModel(this.config.models, seed);
    const info = this.insertItemStmt().run(
      this.runId,
      'brainstorm',
      kind,
      null,
      JSON.stringify({ index }),
      seed,
      model,
    );
    return {
      id: Number(info.lastInsertRowid),
      type: 'brainstorm',
      kind,
      language: '',
      seed,
      model,
      attrs: {},
      index,
      attempts: 0,
      taskId: null,
    };
  }

  /**
   * Keeps every cell's open work equal to what it still needs (quota − accepted), and makes sure an
   * asymmetric kind with open work but no tasks has a brainstorm queued. Runs inside a transaction.
   */
  private topUp() {
    for (const c of this.cells.values()) {
      const need = c.quota - c.accepted - c.pending - c.inflight;
      for (let i = 0; i < need; i++) this.enqueue(this.newExampleItem(c));
    }
    for (const kind of this.plan.kinds) {
      if (!isAsym(kind) || this.pools.get(kind)?.size) continue;
      const open = [...this.cells.values()].some((c) => c.kind === kind && c.accepted < c.quota);
      const queued =
        this.brainstormQ.some((b) => b.kind === kind) ||
        [...this.batchInflight.values()].some((b) => b.type === 'brainstorm' && b.kind === kind) ||
        (this.brainstormInflight.get(kind) ?? 0) > 0;
      if (open && !queued) {
        const n = (
          this.db
            .prepare(
              `SELECT count(*) AS n FROM generation_items WHERE run_id = ? AND type = 'brainstorm' AND kind = ?`,
            )
            .get(this.runId, kind) as { n: number }
        ).n;
        this.brainstormQ.push(this.newBrainstormItem(kind, n));
      }
    }
  }
  private readonly brainstormInflight = new Map<Kind, number>();

  /** Next item to send: brainstorms first, then examples of cells that still need answers. */
  private nextItem(): Item | null {
    const b = this.brainstormQ.shift();
    if (b) return b;
    while (this.readyHead < this.ready.length) {
      const it = this.ready[this.readyHead++];
      if (this.readyHead > 8192) {
        this.ready = this.ready.slice(this.readyHead);
        this.readyHead = 0;
      }
      const c = this.cell(it);
      c.pending--;
      if (c.accepted + c.inflight >= c.quota) {
        this.skipped.push(it.id);
        continue;
      }
      return it;
    }
    return null;
  }
  private skipped: number[] = [];

  private promptFor(item: Item): string {
    if (item.type === 'brainstorm')
      return render(this.templates[brainstormTemplateId(item.kind as never)], {});
    const tpl = this.templates[exampleTemplateId(item.kind)];
    if (isAsym(item.kind)) {
      if (item.taskId === null || !this.taskText.has(item.taskId)) {
        const t = this.pools.get(item.kind)!.draw(this.rng)!;
        item.taskId = t.id;
      }
      return render(tpl, { ...item.attrs, task: this.taskText.get(item.taskId)! });
    }
    return render(tpl, item.attrs);
  }

  private templateVersion(item: Item): string {
    return (
      item.type === 'brainstorm'
        ? this.templates[brainstormTemplateId(item.kind as never)]
        : this.templates[exampleTemplateId(item.kind)]
    ).version;
  }

  private estimate(item: Item, prompt: string) {
    const tokens =
      Math.ceil(prompt.length / 4) +
      EXPECTED_COMPLETION_TOKENS[item.type === 'brainstorm' ? 'brainstorm' : item.kind];
    const usd = costUsd(
      this.config.prices,
      item.model,
      Math.ceil(prompt.length / 4),
      tokens - Math.ceil(prompt.length / 4),
      this.config.batchApi,
    );
    return { tokens, usd };
  }

  private overBudget(extraUsd: number, extraTokens: number): boolean {
    const c = this.config;
    if (c.budgetUsd !== undefined && this.spentUsd + this.inflightUsd + extraUsd > c.budgetUsd) return true;
    if (c.budgetTokens !== undefined && this.spentTokens + this.inflightTokens + extraTokens > c.budgetTokens)
      return true;
    return false;
  }

  private complete(): boolean {
    for (const c of this.cells.values()) if (c.accepted < c.quota) return false;
    return true;
  }

  // ---------------------------------------------------------------- realtime path

  /** Runs until the run ends or stops; returns the summary. */
  async run(): Promise<RunSummary> {
    this.acquireLease();
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
      if (this.config.batchApi) await this.runBatch();
      else await this.runRealtime();
    } catch (e) {
      this.stopError = (e as Error).message;
      this.stopReason = 'failed';
      try {
        this.flush();
      } catch {
        // the answers stay unstored; their items are asked again on resume
      }
      this.releaseLease('failed');
      await this.pool?.close();
      await this.http?.close();
      throw e;
    }
    await this.pool?.close();
    await this.http?.close();
    this.flush();
    const final: RunState = this.complete() ? 'done' : (this.stopReason ?? 'failed');
    if (final === 'failed' && !this.stopError)
      this.stopError = 'the queue ran dry before the planned count was reached';
    this.releaseLease(final);
    this.state = final;
    this.emitProgress(true);
    return runSummary(this.db, this.runId);
  }

  private async runRealtime() {
    const c = this.config;
    const running = new Set<Promise<void>>();
    while (!this.stopReason) {
      if (this.complete()) break;
      // With the HTTP worker, up to twice `concurrency` calls are handed over so the worker always has the
      // next one ready (it keeps `concurrency` on the wire); not under rate limits, which pace the handing.
      // Answers waiting for the check or the store keep their cell's quota reserved; at most one
      // concurrency's worth of them, so a slow disk slows the sending instead of growing the backlog.
      const handOver = this.http?.threaded && !c.rpm && !c.tpm ? 2 * c.concurrency : c.concurrency;
      if (this.sending >= handOver || this.inflight >= handOver + c.concurrency) {
        await this.waitSignal(1000);
        continue;
      }
      const item = this.nextItem();
      if (!item) {
        if (this.inflight === 0 && !this.flushScheduled && !this.outbox.length) {
          // Nothing to send and nothing coming back: asymmetric items wait on a brainstorm that failed.
          this.db.transaction(() => this.topUp())();
          if (!this.brainstormQ.length && this.readyHead >= this.ready.length) {
            this.stop('failed', 'no work item can be sent (every brainstorm failed?)');
            break;
          }
          continue;
        }
        await this.waitSignal(1000);
        continue;
      }
      const prompt = this.promptFor(item);
      const est = this.estimate(item, prompt);
      if (this.overBudget(est.usd, est.tokens)) {
        // Stop sending once the next request could pass the cap; answers in flight still land.
        this.requeue(item);
        this.stop('budget');
        break;
      }
      let wait = this.limiter.take(est.tokens);
      while (wait > 0 && !this.stopReason) {
        await sleep(wait, this.aborter.signal);
        wait = this.limiter.take(est.tokens);
      }
      if (this.stopReason) {
        this.requeue(item);
        break;
      }
      this.inflight++;
      this.sending++;
      this.inflightUsd += est.usd;
      this.inflightTokens += est.tokens;
      if (item.type === 'example') this.cell(item).inflight++;
      else this.brainstormInflight.set(item.kind, (this.brainstormInflight.get(item.kind) ?? 0) + 1);
      this.claimed.push(item);
      const p = this.send(item, prompt, est)
        .then((o) => {
          this.sending--;
          this.signal();
          return this.precheck(o);
        })
        .then((o) => {
          this.outbox.push(o);
          this.scheduleFlush();
        });
      running.add(p);
      p.finally(() => running.delete(p));
    }
    while (running.size) await Promise.race(running);
    this.flush();
  }

  /** Checks an example answer (in the worker when one runs) before it is queued for storing. */
  private async precheck(o: Outcome): Promise<Outcome> {
    // Inline pools check here too (after the detector has loaded), so a worker that dies mid-run never
    // leaves ingest to check on a thread without the detector.
    if (!o.answer || o.item.type !== 'example' || !this.pool) return o;
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
    return o;
  }

  private requeue(item: Item) {
    if (item.type === 'brainstorm') this.brainstormQ.unshift(item);
    else {
      this.cell(item).pending++;
      this.ready.splice(this.readyHead, 0, item);
    }
  }

  private backoff(attempt: number, retryAfter?: number): number {
    const c = this.config;
    const exp = Math.min(c.backoffMaxMs, c.backoffBaseMs * 2 ** (attempt - 1));
    const jitter = 0.5 + Math.random() * 0.5;
    if (retryAfter !== undefined)
      return Math.min(
        Math.max(retryAfter, 0) + Math.random() * c.backoffBaseMs * 0.1,
        Math.max(c.backoffMaxMs, retryAfter),
      );
    return Math.round(exp * jitter);
  }

  /** One item's request with retries; never throws. */
  private async send(item: Item, prompt: string, est: { usd: number; tokens: number }): Promise<Outcome> {
    const c = this.config;
    const attempts: AttemptRec[] = [];
    for (;;) {
      const attempt = item.attempts + 1;
      item.attempts = attempt;
      const ac = new AbortController();
      if (this.aborter.signal.aborted) ac.abort();
      this.requestAborters.add(ac);
      try {
        const r = await this.http!.chat(item.model, prompt, {
          temperature: c.temperature,
          topP: c.topP,
          json: item.type === 'example',
          signal: ac.signal,
        }).finally(() => this.requestAborters.delete(ac));
        this.limiter.settle(est.tokens, r.promptTokens + r.completionTokens);
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
        return { item, attempts, answer: r, estUsd: est.usd, estTokens: est.tokens };
      } catch (e) {
        const err = e as LlmError;
        // Before it is stored or shown anywhere: some servers echo the key in their 401 (issue #21, item 16).
        err.message = redactSecrets(err.message, [this.providerOptions.apiKey, ...this.headerSecrets]);
        if (err.cls === 'aborted') {
          item.attempts--;
          return { item, attempts, requeue: true, estUsd: est.usd, estTokens: est.tokens };
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
          this.stop('failed', `the server refused the API key (${err.message}); check $${c.apiKeyEnv}`);
        if (
          !err.retryable ||
          attempt > c.maxRetries ||
          this.stopReason === 'cancelled' ||
          this.stopReason === 'failed'
        )
          return { item, attempts, failure: err, estUsd: est.usd, estTokens: est.tokens };
        await sleep(this.backoff(attempt, err.retryAfterMs), this.aborter.signal);
        if (this.aborter.signal.aborted)
          return { item, attempts, requeue: true, estUsd: est.usd, estTokens: est.tokens };
      }
    }
  }

  private lastFlush = 0;
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

  // ---------------------------------------------------------------- ingest

  private stmts?: ReturnType<RunEngine['prepare']>;
  private prepare() {
    const db = this.db;
    return {
      lease: db.prepare('SELECT lease_owner FROM generation_runs WHERE id = ?'),
      claim: db.prepare(
        `UPDATE generation_items SET state = 'in_flight', model = ?, task_id = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND state = 'pending'`,
      ),
      finish: db.prepare(
        `UPDATE generation_items SET state = ?, outcome = ?, error = ?, attempts = ?, task_id = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
      ),
      requeue: db.prepare(`UPDATE generation_items SET state = 'pending', attempts = ? WHERE id = ?`),
      request: db.prepare(
        `INSERT INTO generation_requests (run_id, item_id, model, kind, prompt_tokens, completion_tokens, cost_usd, latency_ms,
           attempts, status, error, error_class, reject_reason, raw_answer)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      example: db.prepare(
        `INSERT OR IGNORE INTO examples (dataset_id, kind, task_id, instruction, language, src_lang, tgt_lang, query,
           positive, negative, extras_json, attributes_json, seed, origin, generator_model, template_version, run_id,
           status, reject_reason, content_hash, surplus)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synthetic', ?, ?, ?, ?, ?, ?, ?)`,
      ),
      task: db.prepare(
        `INSERT INTO tasks (dataset_id, kind, text, origin, generator_model, template_version, run_id)
         VALUES (?, ?, ?, 'brainstorm', ?, ?, ?) ON CONFLICT (dataset_id, kind, text) DO NOTHING RETURNING id`,
      ),
      taskId: db.prepare('SELECT id FROM tasks WHERE dataset_id = ? AND kind = ? AND text = ?'),
    };
  }

  /** Stores every answer that came back since the last flush, in one transaction. */
  flush() {
    if (!this.outbox.length && !this.claimed.length && !this.skipped.length) return;
    const outs = this.outbox;
    this.outbox = [];
    const claimed = this.claimed;
    this.claimed = [];
    const skipped = this.skipped;
    this.skipped = [];
    const t0 = performance.now();
    if (!this.stmts) this.stmts = this.prepare();
    const s = this.stmts;
    this.db.transaction(() => {
      const lease = s.lease.get(this.runId) as { lease_owner: string | null };
      if (lease.lease_owner !== this.owner)
        throw new Error(`run ${this.runId}: lease lost to ${lease.lease_owner}`);
      for (const it of claimed) s.claim.run(it.model, it.taskId, it.id);
      for (const id of skipped) s.finish.run('done', 'skipped', null, 0, null, id);
      for (const o of outs) this.ingest(o);
      this.topUp();
    })();
    if (outs.length) {
      ingestTiming.ms += performance.now() - t0;
      ingestTiming.answers += outs.length;
      this.tracker.update(this.accepted);
      this.emitProgress(false);
    }
  }

  private ingest(o: Outcome) {
    const s = this.stmts!;
    const { item } = o;
    this.inflight = Math.max(0, this.inflight - (this.batchInflight.has(item.id) ? 0 : 1));
    this.batchInflight.delete(item.id);
    this.inflightUsd = Math.max(0, this.inflightUsd - o.estUsd);
    this.inflightTokens = Math.max(0, this.inflightTokens - o.estTokens);
    if (item.type === 'example') this.cell(item).inflight--;
    else
      this.brainstormInflight.set(item.kind, Math.max(0, (this.brainstormInflight.get(item.kind) ?? 1) - 1));
    let lastRequestId = 0;
    for (const a of o.attempts) {
      const info = s.request.run(
        this.runId,
        item.id,
        a.model,
        a.kind,
        a.promptTokens,
        a.completionTokens,
        a.costUsd,
        a.latencyMs,
        a.attempt,
        a.status,
        a.error,
        a.errorClass,
        null,
        null,
      );
      lastRequestId = Number(info.lastInsertRowid);
      this.requests++;
      if (a.attempt > 1) this.retries++;
      this.prompt += a.promptTokens;
      this.completion += a.completionTokens;
      this.spentUsd += a.costUsd;
      this.spentTokens += a.promptTokens + a.completionTokens;
    }
    if (o.requeue) {
      s.requeue.run(item.attempts, item.id);
      this.enqueue(item);
      return;
    }
    if (o.failure) {
      const cls = o.failure.cls as ErrorClass;
      s.finish.run('failed', 'failed', cls, item.attempts, item.taskId, item.id);
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
    const rejectRequest = (reason: RejectReason) => {
      this.db
        .prepare('UPDATE generation_requests SET reject_reason = ?, raw_answer = ? WHERE id = ?')
        .run(reason, text, lastRequestId);
      this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    };
    const version = this.templateVersion(item);
    if (item.type === 'brainstorm') {
      const parsed = parseTaskList(text);
      if (!parsed.ok) {
        rejectRequest(parsed.reason);
        s.finish.run('done', 'rejected', parsed.reason, item.attempts, null, item.id);
        return;
      }
      for (const t of parsed.tasks) {
        const row = (s.task.get(this.datasetId, item.kind, t, item.model, version, this.runId) ??
          s.taskId.get(this.datasetId, item.kind, t)) as { id: number };
        this.addTask(item.kind, { id: row.id, text: t });
      }
      s.finish.run('done', 'accepted', null, item.attempts, null, item.id);
      return;
    }
    const kind = item.kind;
    // Checked in the worker when one runs, else here; the index lookups below always happen here, in order.
    const chk =
      o.check ??
      checkAnswer({ id: item.id, kind, text, attrs: item.attrs, validation: this.config.validation });
    const parsed = chk.parsed;
    if (!parsed.ok) {
      rejectRequest(parsed.reason);
      s.finish.run('done', 'rejected', parsed.reason, item.attempts, item.taskId, item.id);
      return;
    }
    const v = chk.v!;
    const spec = KIND_KEYS[kind];
    const fields: Record<string, string> = v.fields ?? {};
    const val = (k: string | null) =>
      k === null
        ? null
        : (fields[k] ??
          (typeof parsed.value[k] === 'string'
            ? (parsed.value[k] as string)
            : parsed.value[k] === undefined
              ? ''
              : JSON.stringify(parsed.value[k])));
    const query = val(spec.query) ?? '';
    const positive = val(spec.positive) ?? '';
    const negative = val(spec.negative);
    let reason: RejectReason | null = v.ok ? null : v.reason;
    const dd = chk.sig ?? null;
    if (!reason && dd) reason = this.dedup.lookup(dd.key, dd.sig);
    const c = this.cell(item);
    const surplus = !reason && c.accepted >= c.quota;
    const bitext = kind === 'bitext';
    const extras: Record<string, unknown> = {};
    if (kind === 'sts' || bitext) {
      extras.high_score = Number(item.attrs.high_score);
      extras.low_score = Number(item.attrs.low_score);
    }
    if (v.ok && Object.keys(v.extraKeys).length) extras.extra_keys = v.extraKeys;
    if (reason) {
      extras.raw_answer = text;
      if (!v.ok && v.detail) extras.reject_detail = v.detail;
    }
    const info = s.example.run(
      this.datasetId,
      kind,
      item.taskId,
      isAsym(kind) ? (this.taskText.get(item.taskId ?? -1) ?? null) : (FIXED_INSTRUCTIONS[kind] ?? null),
      bitext ? null : item.attrs.language,
      bitext ? item.attrs.src_lang : null,
      bitext ? item.attrs.tgt_lang : null,
      query,
      positive,
      negative,
      JSON.stringify(extras),
      JSON.stringify(item.attrs),
      item.seed,
      item.model,
      this.templateVersion(item),
      this.runId,
      reason ? 'rejected' : 'unreviewed',
      reason,
      contentHash({
        kind,
        query,
        positive,
        negative,
        srcLang: bitext ? item.attrs.src_lang : null,
        tgtLang: bitext ? item.attrs.tgt_lang : null,
      }),
      surplus ? 1 : 0,
    );
    if (info.changes === 0) {
      // The same text is already a row of this dataset (content-hash unique): keep the answer on the
      // request row, with the reason it failed (a rejected answer) or 'duplicate' (a valid one).
      const r = reason ?? 'duplicate';
      rejectRequest(r);
      s.finish.run('done', 'rejected', r, item.attempts, item.taskId, item.id);
      return;
    }
    if (reason) {
      this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
      s.finish.run('done', 'rejected', reason, item.attempts, item.taskId, item.id);
      return;
    }
    this.dedup.add(dd!.key, dd!.sig);
    if (!surplus) {
      c.accepted++;
      this.accepted++;
    }
    s.finish.run('done', surplus ? 'surplus' : 'accepted', null, item.attempts, item.taskId, item.id);
  }

  // ---------------------------------------------------------------- progress

  private lastEmit = 0;
  private emitProgress(force: boolean) {
    const now = Date.now();
    if (!force && now - this.lastEmit < 100) return;
    this.lastEmit = now;
    const snap = this.tracker.snapshot();
    const rej = Object.values(this.rejected).reduce((a, b) => a + b, 0);
    const p: GenerationProgress = {
      run: this.runId,
      state: this.stopReason && force ? this.state : 'running',
      planned: this.config.count,
      accepted: this.accepted,
      rejected: rej,
      rejectedByReason: { ...this.rejected },
      failedByClass: { ...this.failed },
      inFlight: this.inflight + this.batchInflight.size,
      requests: this.requests,
      retries: this.retries,
      tokens: { prompt: this.prompt, completion: this.completion },
      costUsd: this.spentUsd,
      ratePerS: snap.ratePerS,
      etaS: snap.etaS,
    };
    this.emit('progress', p);
  }

  // ---------------------------------------------------------------- batch path

  private setBatch(id: string | null) {
    this.db.prepare('UPDATE generation_runs SET batch_id = ? WHERE id = ?').run(id, this.runId);
  }

  /**
   * Batch API rounds: send everything that can be sent (brainstorms and the kinds that need none first),
   * wait for the batch, ingest its output through the same path, repeat until the plan is met. The batch
   * id is stored on the run, so a restarted process picks the open batch up instead of sending it again.
   */
  private async runBatch() {
    const run = getRun(this.db, this.runId);
    if (run.batch_id) await this.collectBatch(run.batch_id);
    while (!this.stopReason && !this.complete()) {
      const items: Item[] = [];
      const lines: string[] = [];
      let usd = 0;
      let tokens = 0;
      for (let it = this.nextItem(); it; it = this.nextItem()) {
        const prompt = this.promptFor(it);
        const est = this.estimate(it, prompt);
        if (this.overBudget(usd + est.usd, tokens + est.tokens)) {
          this.requeue(it);
          break;
        }
        usd += est.usd;
        tokens += est.tokens;
        items.push(it);
        lines.push(
          JSON.stringify({
            custom_id: String(it.id),
            method: 'POST',
            url: '/v1/chat/completions',
            body: {
              model: it.model,
              messages: [{ role: 'user', content: prompt }],
              temperature: this.config.temperature,
              top_p: this.config.topP,
              ...(it.type === 'example' ? { response_format: { type: 'json_object' } } : {}),
            },
          }),
        );
      }
      this.flush();
      if (!items.length) {
        const left = this.brainstormQ.length + this.ready.length - this.readyHead > 0;
        this.stop(
          left ? 'budget' : 'failed',
          left ? undefined : 'no work item can be sent (every brainstorm failed?)',
        );
        break;
      }
      const id = await this.provider.submitBatch(lines.join('\n'), `${this.runId}-${Date.now()}`);
      this.db.transaction(() => {
        this.setBatch(id);
        const claim = this.db.prepare(
          `UPDATE generation_items SET state = 'in_flight', task_id = ? WHERE id = ?`,
        );
        for (const it of items) {
          claim.run(it.taskId, it.id);
          this.batchInflight.set(it.id, it);
          if (it.type === 'example') this.cell(it).inflight++;
          else this.brainstormInflight.set(it.kind, (this.brainstormInflight.get(it.kind) ?? 0) + 1);
        }
      })();
      this.inflightUsd += usd;
      this.inflightTokens += tokens;
      this.emitProgress(true);
      await this.collectBatch(id);
    }
  }

  private async collectBatch(id: string) {
    let st = await this.provider.batchStatus(id);
    while (!['completed', 'failed', 'expired', 'cancelled'].includes(st.status)) {
      if (this.stopReason === 'cancelled' || this.stopReason === 'failed') return;
      await sleep(this.config.batchPollMs, this.aborter.signal);
      st = await this.provider.batchStatus(id);
    }
    const seen = new Set<number>();
    const lines = [
      ...(st.outputFileId ? (await this.provider.fileText(st.outputFileId)).split('\n') : []),
      ...(st.errorFileId ? (await this.provider.fileText(st.errorFileId)).split('\n') : []),
    ];
    for (const line of lines) {
      if (!line.trim()) continue;
      let rec: BatchOutputLine;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      const item = this.batchInflight.get(Number(rec.custom_id));
      if (!item || seen.has(item.id)) continue;
      seen.add(item.id);
      this.pushBatchOutcome(item, rec);
    }
    // Items the batch never answered (expired, failed) count as failed requests; topUp replaces them.
    for (const item of [...this.batchInflight.values()])
      if (!seen.has(item.id))
        this.outbox.push({
          item,
          attempts: [],
          failure: new LlmError(
            `batch ${id} ended ${st.status} without an answer`,
            st.status === 'expired' ? 'timeout' : 'server',
          ),
          estUsd: 0,
          estTokens: 0,
        });
    this.inflightUsd = 0;
    this.inflightTokens = 0;
    this.db.transaction(() => this.setBatch(null))();
    this.flush();
  }

  private pushBatchOutcome(item: Item, rec: BatchOutputLine) {
    item.attempts++;
    const body = rec.response?.body;
    const text = body?.choices?.[0]?.message?.content;
    const status = rec.response?.status_code ?? 0;
    const pt = body?.usage?.prompt_tokens ?? 0;
    const ct = body?.usage?.completion_tokens ?? 0;
    const att: AttemptRec = {
      model: item.model,
      kind: item.kind,
      attempt: item.attempts,
      promptTokens: pt,
      completionTokens: ct,
      costUsd: costUsd(this.config.prices, item.model, pt, ct, true),
      latencyMs: 0,
      status: text && status < 400 ? 'ok' : 'error',
      errorClass: null,
      error: null,
    };
    if (text && status < 400) {
      this.outbox.push({
        item,
        attempts: [att],
        answer: { text, promptTokens: pt, completionTokens: ct, latencyMs: 0, jsonMode: true },
        estUsd: 0,
        estTokens: 0,
      });
      return;
    }
    const cls: ErrorClass =
      status === 429 ? 'rate_limit' : status >= 500 ? 'server' : status >= 400 ? 'bad_request' : 'empty';
    att.errorClass = cls;
    att.error = rec.error?.message ?? `status ${status}`;
    this.outbox.push({
      item,
      attempts: [att],
      failure: new LlmError(att.error, cls, status),
      estUsd: 0,
      estTokens: 0,
    });
  }
}
