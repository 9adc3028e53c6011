import { randomBytes } from 'node:crypto';
import { KINDS, type Kind } from '../../shared/domain';
import { UserError } from '../errors';
import { JobRegistry } from '../jobs/registry';
import type { Store } from '../store';
import { pickModel } from './attributes';
import { RUN_DEFAULTS, type GenerationProgress, type RunConfig, type RunSummary } from './config';
import { RunEngine } from './engine';
import { parseLanguages, type WeightedLanguage } from './languages';
import { makePlan, type ModelWeight, parseMix, parseModels, type Plan } from './plan';
import { loadPrices } from './prices';
import {
  type AsymKind,
  REQUIRED_PLACEHOLDERS,
  resolveTemplates,
  type TemplateOverrides,
  isAsym,
} from './prompts';
import type { Provider } from './provider';
import { itemSeed } from './rng';
import { rejectRateByModelLanguage } from '../store/generation-queue';
import { trackRun } from './run-job';
import { cellProgress, getRun, listRuns, runConfig, runPlan, runSummary, shortCells } from './runs';
import { DEFAULT_VALIDATION, type ValidationOptions } from './validate';

/** What a caller (CLI or app) asks for; everything but dataset, count and models has a default. */
export interface GenerateOptions {
  dataset: string;
  count: number;
  models: string | ModelWeight[];
  kinds?: Kind[] | string;
  mix?: Record<Kind, number> | string;
  baseUrl?: string;
  apiKeyEnv?: string;
  azureApiVersion?: string;
  headers?: Record<string, string>;
  concurrency?: number;
  rpm?: number;
  tpm?: number;
  budgetUsd?: number;
  budgetTokens?: number;
  /** `default`, `en,de`, `en=0.6,de=0.4`, a FILE, or a resolved list. */
  languages?: string | WeightedLanguage[];
  seed?: number;
  batchApi?: boolean;
  temperature?: number;
  topP?: number;
  timeoutMs?: number;
  maxRetries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  leaseTtlMs?: number;
  batchPollMs?: number;
  pricesFile?: string;
  validation?: Partial<ValidationOptions>;
  maxConsecutiveFailures?: number;
  maxAnswersFactor?: number;
  /** Attempts a cell may make before it is marked short (default: a few times its quota, see cellBudget). */
  maxAttemptsPerCell?: number;
  stallMs?: number;
}

/** The dry run warns about a model × language with at least this many past answers, this share rejected. */
export const WEAK_LANGUAGE = { minAnswers: 10, rejectRate: 0.5 } as const;

/** Settings a resume may change (the plan and the questions stay as created). */
export type ResumeOverrides = Partial<
  Pick<
    RunConfig,
    | 'budgetUsd'
    | 'budgetTokens'
    | 'concurrency'
    | 'rpm'
    | 'tpm'
    | 'timeoutMs'
    | 'maxRetries'
    | 'backoffBaseMs'
    | 'backoffMaxMs'
    | 'baseUrl'
    | 'batchPollMs'
    | 'leaseTtlMs'
    | 'maxAttemptsPerCell'
    | 'stallMs'
  >
>;

/** A started run: progress events, pause/cancel, and the summary when it ends. */
export interface RunHandle {
  runId: string;
  done: Promise<RunSummary>;
  pause(): void;
  cancel(): void;
  on(event: 'progress', fn: (p: GenerationProgress) => void): void;
}

const positive = (name: string, v: number | undefined) => {
  if (v !== undefined && !(Number.isFinite(v) && v > 0))
    throw new UserError(`${name} must be a number > 0`, 2);
  return v;
};

/** The generation service: plan, create, start/resume, pause/cancel, inspect runs. */
export class GenerationService {
  constructor(
    private readonly store: Store,
    /** Where each run's lifecycle and progress go (the workbench's registry; tests: one over the store). */
    private readonly jobs: JobRegistry = JobRegistry.over(store.db),
  ) {}

  private get db() {
    return this.store.db;
  }

  /** Template overrides stored on a dataset (settings_json.generation.templates). */
  templateOverrides(dataset: string): TemplateOverrides {
    const d = this.store.datasets.get(dataset);
    const row = this.db.prepare('SELECT settings_json FROM datasets WHERE id = ?').get(d.id) as {
      settings_json: string;
    };
    return (JSON.parse(row.settings_json || '{}').generation?.templates ?? {}) as TemplateOverrides;
  }

  /** Sets (text) or removes (null) a dataset's override of one template; validated before it is stored. */
  setTemplateOverride(dataset: string, id: string, text: string | null): void {
    const d = this.store.datasets.get(dataset);
    if (!(id in REQUIRED_PLACEHOLDERS))
      throw new UserError(
        `unknown template "${id}"; ids are ${Object.keys(REQUIRED_PLACEHOLDERS).join(', ')}`,
      );
    this.store.transaction(() => {
      const row = this.db.prepare('SELECT settings_json FROM datasets WHERE id = ?').get(d.id) as {
        settings_json: string;
      };
      const s = JSON.parse(row.settings_json || '{}');
      s.generation ??= {};
      s.generation.templates ??= {};
      if (text === null) delete s.generation.templates[id];
      else {
        resolveTemplates({ [id]: { text } });
        s.generation.templates[id] = { text };
      }
      this.db.prepare('UPDATE datasets SET settings_json = ? WHERE id = ?').run(JSON.stringify(s), d.id);
    });
  }

  /** Resolves options into the stored config and computes the plan; nothing is written (the dry run). */
  plan(o: GenerateOptions): { config: RunConfig; plan: Plan } {
    this.store.datasets.get(o.dataset);
    const kinds = (
      typeof o.kinds === 'string'
        ? o.kinds
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : (o.kinds ?? [...KINDS])
    ) as Kind[];
    for (const k of kinds)
      if (!(KINDS as readonly string[]).includes(k))
        throw new UserError(`--kinds: unknown kind "${k}"; kinds are ${KINDS.join(', ')}`, 2);
    const models = typeof o.models === 'string' ? parseModels(o.models) : o.models;
    const languages = Array.isArray(o.languages) ? o.languages : parseLanguages(o.languages);
    const mix = typeof o.mix === 'string' || o.mix === undefined ? parseMix(o.mix) : o.mix;
    const prices = loadPrices(o.pricesFile);
    const templates = resolveTemplates(this.templateOverrides(o.dataset));
    const config: RunConfig = {
      dataset: o.dataset,
      kinds,
      count: o.count,
      mix,
      models,
      baseUrl: o.baseUrl,
      apiKeyEnv: o.apiKeyEnv ?? RUN_DEFAULTS.apiKeyEnv,
      azureApiVersion: o.azureApiVersion,
      headers: o.headers ?? {},
      concurrency: positive('--concurrency', o.concurrency) ?? RUN_DEFAULTS.concurrency,
      rpm: positive('--rpm', o.rpm),
      tpm: positive('--tpm', o.tpm),
      budgetUsd: positive('--budget-usd', o.budgetUsd),
      budgetTokens: positive('--budget-tokens', o.budgetTokens),
      languages,
      seed: o.seed ?? randomBytes(4).readUInt32LE(0) % 2 ** 31,
      batchApi: Boolean(o.batchApi),
      temperature: o.temperature ?? RUN_DEFAULTS.temperature,
      topP: o.topP ?? RUN_DEFAULTS.topP,
      timeoutMs: o.timeoutMs ?? RUN_DEFAULTS.timeoutMs,
      maxRetries: o.maxRetries ?? RUN_DEFAULTS.maxRetries,
      backoffBaseMs: o.backoffBaseMs ?? RUN_DEFAULTS.backoffBaseMs,
      backoffMaxMs: o.backoffMaxMs ?? RUN_DEFAULTS.backoffMaxMs,
      leaseTtlMs: o.leaseTtlMs ?? RUN_DEFAULTS.leaseTtlMs,
      batchPollMs: o.batchPollMs ?? RUN_DEFAULTS.batchPollMs,
      prices,
      templates,
      validation: { ...DEFAULT_VALIDATION, ...(o.validation ?? {}) },
      maxConsecutiveFailures: o.maxConsecutiveFailures ?? RUN_DEFAULTS.maxConsecutiveFailures,
      maxAnswersFactor: o.maxAnswersFactor ?? RUN_DEFAULTS.maxAnswersFactor,
      maxAttemptsPerCell: positive('--max-attempts-per-cell', o.maxAttemptsPerCell),
      stallMs: o.stallMs ?? RUN_DEFAULTS.stallMs,
    };
    const plan = makePlan({
      count: o.count,
      kinds,
      mix,
      languages,
      models,
      prices,
      templates,
      batch: config.batchApi,
    });
    if (config.budgetUsd !== undefined && plan.unpricedModels.length)
      throw new UserError(
        `--budget-usd needs a price for ${plan.unpricedModels.join(', ')}; add it to resources/prices.json or pass --prices FILE`,
        2,
      );
    return { config, plan };
  }

  /**
   * Languages the run's models wrote badly in this workspace before: a model × language of the plan with
   * at least WEAK_LANGUAGE.minAnswers answers in earlier runs, WEAK_LANGUAGE.rejectRate or more rejected.
   */
  weakLanguages(config: RunConfig, plan: Plan): string[] {
    const langs = new Set(plan.cells.map((c) => c.language));
    return rejectRateByModelLanguage(
      this.db,
      config.models.map((m) => m.name),
    )
      .filter(
        (r) =>
          langs.has(r.language) &&
          r.answers >= WEAK_LANGUAGE.minAnswers &&
          r.rejected / r.answers >= WEAK_LANGUAGE.rejectRate,
      )
      .sort((a, b) => b.rejected / b.answers - a.rejected / a.answers)
      .map(
        (r) =>
          `${r.model} in ${r.language}: ${Math.round((100 * r.rejected) / r.answers)}% of ${r.answers} earlier answers rejected${r.top ? ` (mostly ${r.top})` : ''}; expect short cells, or drop it from --languages`,
      );
  }

  /** Stores a new run (state 'pending') with its planned brainstorm items; examples are queued on first start. */
  create(o: GenerateOptions): { runId: string; config: RunConfig; plan: Plan } {
    const { config, plan } = this.plan(o);
    const d = this.store.datasets.get(o.dataset);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const runId = `gen-${stamp}-${randomBytes(3).toString('hex')}`;
    this.store.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO generation_runs (id, dataset_id, config_json, plan_json, state) VALUES (?, ?, ?, ?, ?)',
        )
        .run(runId, d.id, JSON.stringify(config), JSON.stringify(plan), 'pending');
      const ins = this.db.prepare(
        `INSERT INTO generation_items (run_id, type, kind, language, payload_json, seed, model, state) VALUES (?, 'brainstorm', ?, NULL, ?, ?, ?, 'pending')`,
      );
      for (const [kind, n] of Object.entries(plan.brainstormCalls) as [AsymKind, number][])
        for (let i = 0; i < n; i++) {
          const seed = itemSeed(config.seed, `brainstorm:${kind}`, '', i);
          ins.run(runId, kind, JSON.stringify({ index: i }), seed, pickModel(config.models, seed));
        }
    });
    return { runId, config, plan };
  }

  /** The API key for a run: from the environment variable the run names (never stored). */
  apiKeyFor(config: RunConfig, env: NodeJS.ProcessEnv = process.env): string {
    const key = env[config.apiKeyEnv];
    if (key) return key;
    const local =
      !config.baseUrl || /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:|\/|$)/.test(config.baseUrl);
    if (config.baseUrl && local) return 'no-key';
    throw new UserError(
      `the API key variable $${config.apiKeyEnv} is not set; export it, or name another with --api-key-env VAR`,
    );
  }

  /**
   * Starts (or resumes) a run in this process. Takes the run's lease first: a run worked by another live
   * process is refused with a UserError.
   */
  start(
    runId: string,
    opts: {
      apiKey?: string;
      overrides?: ResumeOverrides;
      provider?: Provider;
      /** Check answers in a worker thread (default: runs of 1,000+ examples). */
      checkWorker?: boolean;
      /** Make the chat calls from a worker thread (default: runs of 1,000+ examples). */
      httpWorker?: boolean;
      /** Give the cells that ended short a fresh attempt budget. */
      retryShort?: boolean;
      onProgress?: (p: GenerationProgress) => void;
    } = {},
  ): RunHandle {
    const run = getRun(this.db, runId);
    const short = opts.retryShort ? shortCells(this.db, runId) : [];
    if (run.state === 'done' && !short.length) {
      const hint =
        !opts.retryShort && shortCells(this.db, runId).length
          ? `, or try its short cells again with --resume ${runId} --retry-short`
          : '';
      throw new UserError(
        opts.retryShort
          ? `run ${runId} is done and no cell is short; start a new run for more examples`
          : `run ${runId} is already done; start a new run for more examples${hint}`,
      );
    }
    if ((opts.overrides && Object.keys(opts.overrides).length) || short.length) {
      const c = runConfig(run);
      for (const [k, v] of Object.entries(opts.overrides ?? {}))
        if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
      // A short cell's attempts so far stop counting: it gets its budget again.
      if (short.length) {
        c.attemptOffsets = { ...(c.attemptOffsets ?? {}) };
        for (const s of short) c.attemptOffsets[`${s.kind}|${s.language}`] = s.attempts;
      }
      this.db.transaction(() => {
        this.db
          .prepare('UPDATE generation_runs SET config_json = ? WHERE id = ?')
          .run(JSON.stringify(c), runId);
        if (short.length && run.state === 'done')
          this.db.prepare(`UPDATE generation_runs SET state = 'paused' WHERE id = ?`).run(runId);
      })();
    }
    const config = runConfig(getRun(this.db, runId));
    const apiKey = opts.apiKey ?? this.apiKeyFor(config);
    const engine = new RunEngine(this.db, runId, {
      apiKey,
      provider: opts.provider,
      checkWorker: opts.checkWorker,
      httpWorker: opts.httpWorker,
    });
    if (opts.onProgress) engine.on('progress', opts.onProgress);
    // Resolve after the caller had a chance to subscribe; the lease is taken synchronously inside run().
    const done = engine.run();
    trackRun(
      this.jobs,
      { runId, dataset: config.dataset, resumed: run.state !== 'pending' },
      { done, cancel: () => engine.cancel(), on: (fn) => engine.on('progress', fn) },
      [apiKey],
    );
    return {
      runId,
      done,
      pause: () => engine.pause(),
      cancel: () => engine.cancel(),
      on: (_e, fn) => {
        engine.on('progress', fn);
      },
    };
  }

  /**
   * Asks a run worked elsewhere to pause or cancel (the worker notices at its next lease renewal); a run
   * nobody works is changed at once.
   */
  request(runId: string, state: 'paused' | 'cancelled'): RunSummary {
    const run = getRun(this.db, runId);
    if (['done', 'cancelled'].includes(run.state)) return runSummary(this.db, runId);
    const live = run.lease_owner && (run.lease_expires_at ?? 0) > Date.now();
    this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE generation_runs SET state = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
        )
        .run(state, runId);
      if (!live && !run.batch_id)
        this.db
          .prepare(`UPDATE generation_items SET state = 'pending' WHERE run_id = ? AND state = 'in_flight'`)
          .run(runId);
    })();
    return runSummary(this.db, runId);
  }

  summary(runId: string): RunSummary {
    return runSummary(this.db, runId);
  }

  /** Everything about one run: summary, stored settings (no key), plan and per-cell progress. */
  show(runId: string) {
    const run = getRun(this.db, runId);
    const { templates: _t, prices: _p, ...config } = runConfig(run);
    return {
      summary: runSummary(this.db, runId),
      config,
      plan: { ...runPlan(run), cells: undefined },
      cells: cellProgress(this.db, runId),
      batchId: run.batch_id,
      lease: run.lease_owner
        ? { owner: run.lease_owner, expiresAt: new Date(run.lease_expires_at ?? 0).toISOString() }
        : null,
      createdAt: run.created_at,
      updatedAt: run.updated_at,
    };
  }

  list(dataset?: string) {
    return listRuns(this.db, dataset ? this.store.datasets.get(dataset).id : undefined);
  }
}

export { isAsym };
