import fs from 'node:fs';
import path from 'node:path';
import type { TrainSettingsInput } from '../../shared/training';
import { UserError, usageError } from '../errors';
import type { JobHandle, JobRunner } from '../jobs/runner';
import { ModelFolder } from '../models/model-folder';
import { bfloat16Blocker } from '../models/trainable';
import type { WorkspacePaths } from '../paths';
import type { Store } from '../store';
import {
  checkMaxLength,
  checkTargetModules,
  parseTrainConfig,
  queryFormatter,
  type TrainConfig,
} from './config';
import { loadTrainRows, stepsPerEpoch } from './data';
import type { TrainJobEvent, TrainJobInput } from './job';
import { latestCheckpoint } from './checkpoint';
import { type MemoryPlan, planRefusal } from './memory-plan';
import { trainingPlan } from './plan';
import { assertRunDirFree, lockRunDir, runLockHolder } from './run-lock';
import { diskFullError } from '../jobs/disk-full';
import { readRunJson, type StepEvent, totalStepsOf, type TrainResult, writeRunJson } from './trainer';

export interface PreparedRun {
  config: TrainConfig;
  runId: string;
  runDir: string;
  rows: number;
  totalSteps: number;
  resume: boolean;
  /** Things the caller should tell the user when the run starts (e.g. a config recovered from the DB). */
  notes: string[];
  /** The memory plan (memory-plan.ts), null for the reference encoder; it decided recompute 'auto'. */
  plan: MemoryPlan | null;
}

export interface TrainHooks {
  onStep?(e: StepEvent): void;
  onCheckpoint?(e: { step: number; path: string; loss: number | null }): void;
  onLog?(m: string): void;
}

const isTs = import.meta.url.endsWith('.ts');
const JOB_MODULE = new URL(isTs ? './job.ts' : './job.js', import.meta.url).href;

export const newRunId = () =>
  `run-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}-${Math.random().toString(36).slice(2, 6)}`;

/**
 * Training runs: validation before any work, a `training_runs` row and a `jobs` row per start, the loop in
 * a worker thread, events persisted (step, loss, checkpoints) as they arrive.
 */
export class TrainingService {
  constructor(
    private readonly store: Store,
    private readonly paths: WorkspacePaths,
    private readonly runner: JobRunner,
  ) {}

  /** Everything that can fail on bad input fails here, before a model is loaded or a file written. */
  /** planOnly: compute the memory plan but do not refuse on it (`train --plan` shows why). */
  prepare(input: TrainSettingsInput, opts: { resume?: string; planOnly?: boolean } = {}): PreparedRun {
    let config: TrainConfig;
    let runDir: string;
    const notes: string[] = [];
    if (opts.resume) {
      runDir = path.resolve(opts.resume);
      assertRunDirFree(runDir);
      config = parseTrainConfig(this.runConfig(runDir, opts.resume, notes));
    } else {
      config = parseTrainConfig(input);
      runDir = path.resolve(config.out);
      assertRunDirFree(runDir);
      if (fs.existsSync(path.join(runDir, 'run.json')))
        throw usageError(
          `--out ${config.out} already holds a run; continue it with --resume ${config.out} or pick another --out`,
        );
    }
    if (!fs.existsSync(path.join(config.model, 'config.json')))
      throw usageError(
        `--model ${config.model}: not a model folder (no config.json); pass a folder with --model`,
      );
    // config.json against the stored tensors before anything is derived from it (a num_hidden_layers of
    // 1e8 would otherwise build 7e8 module entries here); reads headers only.
    ModelFolder.open(config.model);
    // float16 runs everywhere (on CPU through ORT's inserted casts); bfloat16 only on CUDA.
    const bf16 = config.dtype === 'bfloat16' && config.encoder === 'model' && bfloat16Blocker(config.device);
    if (bf16) throw usageError(bf16);
    checkTargetModules(config);
    const rows = loadTrainRows(this.store, config.datasets, queryFormatter(config.model), {
      negatives: config.negatives,
      dropFalseNegatives: config.dropFalseNegatives,
    });
    if (stepsPerEpoch(rows, config.batchSize, config.groupBy) === 0)
      throw usageError(
        `the train split has ${rows.length} rows${config.groupBy !== 'none' ? ` (no ${config.groupBy} group with enough)` : ''}, fewer than --batch-size ${config.batchSize}; lower --batch-size`,
      );
    checkMaxLength(
      config,
      rows.map((r) => r.instruction),
    );
    // Before anything is loaded: a run whose chunk would not fit is refused, naming what would.
    const plan = config.encoder === 'model' ? trainingPlan(config) : null;
    const refusal = plan && !opts.planOnly && planRefusal(plan);
    if (refusal) throw usageError(refusal);
    const runId = opts.resume ? this.runIdFor(runDir) : path.basename(runDir);
    return {
      config,
      runId,
      runDir,
      rows: rows.length,
      totalSteps: totalStepsOf(config, rows),
      resume: Boolean(opts.resume),
      notes,
      plan,
    };
  }

  /**
   * The config a resumed run was started with: run.json, or, when that file is unreadable, the copy in the
   * run's `training_runs` row (saying so, and rewriting run.json from it at start).
   */
  private runConfig(runDir: string, given: string, notes: string[]): unknown {
    const file = path.join(runDir, 'run.json');
    const row = this.store.db
      .prepare('SELECT config_json FROM training_runs WHERE out_dir = ? ORDER BY created_at DESC LIMIT 1')
      .get(runDir) as { config_json: string } | undefined;
    if (!fs.existsSync(file) && !row)
      throw usageError(
        `--resume ${given}: no run.json there; pass the run folder a previous \`train\` wrote`,
      );
    let why = 'it is missing';
    if (fs.existsSync(file)) {
      let j: { config?: unknown } | null = null;
      try {
        j = readRunJson(runDir);
        why = 'it has no config';
      } catch (e) {
        why = `not valid JSON (${(e as Error).message})`;
      }
      if (j?.config && typeof j.config === 'object') return j.config;
    }
    if (!row)
      throw new UserError(
        `${file}: ${why}, and this workspace holds no copy of the run's config; start a new run with --out`,
      );
    notes.push(`${file}: ${why}; using the copy of the run's config kept in the workspace database`);
    this.recoveredConfig.set(runDir, JSON.parse(row.config_json));
    return JSON.parse(row.config_json);
  }

  private readonly recoveredConfig = new Map<string, unknown>();

  private runIdFor(runDir: string): string {
    const r = this.store.db.prepare('SELECT id FROM training_runs WHERE out_dir = ?').get(runDir) as
      | { id: string }
      | undefined;
    return r?.id ?? path.basename(runDir);
  }

  /** Starts the prepared run in a worker; resolves when it ends (done or cancelled). */
  start(p: PreparedRun, hooks: TrainHooks = {}): JobHandle<TrainResult> & { runId: string } {
    const c = p.config;
    // The run folder is this process's until the job ends: a second train on it fails naming our pid.
    const lock = lockRunDir(p.runDir);
    try {
      if (!p.resume && fs.existsSync(path.join(p.runDir, 'run.json')))
        throw usageError(
          `--out ${c.out} already holds a run; continue it with --resume ${c.out} or pick another --out`,
        );
      if (!p.resume || this.recoveredConfig.has(p.runDir))
        writeRunJson(p.runDir, c, {
          runId: p.runId,
          rows: p.rows,
          totalSteps: p.totalSteps,
          createdAt: new Date().toISOString(),
        });
    } catch (e) {
      lock.release();
      throw diskFullError(e, path.join(p.runDir, 'run.json'), 65536, 'start the run again') ?? e;
    }
    this.recoveredConfig.delete(p.runDir);
    for (const n of p.notes) hooks.onLog?.(n);
    const db = this.store.db;
    const resumeHint = `resume with \`embedsmith train --resume ${p.runDir}\` (its checkpoints are intact)`;
    // A database write that fails (disk full) stops the run at a checkpoint instead of throwing out of a
    // worker message handler (which would end the process with a stack trace); `done` then rejects with it.
    let dbFailure: Error | null = null;
    let stop: (() => void) | null = null;
    const dbWrite = (write: () => void) => {
      if (dbFailure) return;
      try {
        write();
      } catch (e) {
        dbFailure = diskFullError(e, this.paths.db, 65536, resumeHint) ?? (e as Error);
        stop?.();
      }
    };
    // A resumed run's previous job died with its process (kill, crash): close that row.
    if (p.resume)
      try {
        const prev = db.prepare('SELECT job_id FROM training_runs WHERE id = ?').get(p.runId) as
          | { job_id: string | null }
          | undefined;
        if (prev?.job_id) this.runner.registry.interrupt(prev.job_id, 'interrupted (resumed by a later job)');
      } catch (e) {
        lock.release();
        throw diskFullError(e, this.paths.db, 65536, 'start the run again') ?? e;
      }
    const input: TrainJobInput = {
      config: c,
      dbFile: this.paths.db,
      runDir: p.runDir,
      resume: p.resume,
      recompute: p.plan?.recompute,
      planBytes: p.plan?.totalBytes,
    };
    let h: JobHandle<TrainResult>;
    try {
      h = this.startJob(p, input, hooks, dbWrite);
    } catch (e) {
      lock.release();
      throw diskFullError(e, this.paths.db, 65536, 'start the run again') ?? e;
    }
    stop = () => h.cancel();
    const setState = (s: string, error: string | null = null) =>
      dbWrite(() =>
        db
          .prepare(
            `UPDATE training_runs SET state = ?, error = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
          )
          .run(s, error, p.runId),
      );
    const done = h.done.then(
      (r) => {
        lock.release();
        if (dbFailure) throw dbFailure;
        setState(r.state);
        if (dbFailure) throw dbFailure;
        return r;
      },
      (e) => {
        lock.release();
        // A failed resume leaves the run as it was (its checkpoints intact): interrupted, resumable again.
        setState(p.resume ? 'interrupted' : 'failed', (e as Error).message);
        throw diskFullError(e, this.paths.db, 65536, resumeHint) ?? e;
      },
    );
    return { ...h, done, runId: p.runId };
  }

  /** The job and its `training_runs` row (a failure after the job started terminates it). */
  private startJob(
    p: PreparedRun,
    input: TrainJobInput,
    hooks: TrainHooks,
    dbWrite: (w: () => void) => void,
  ): JobHandle<TrainResult> {
    const c = p.config;
    const db = this.store.db;
    const ds = this.store.datasets.find(c.datasets[0]);
    const h = this.runner.start<TrainResult, TrainJobEvent>(
      'training',
      { runId: p.runId, runDir: p.runDir, resume: p.resume, datasets: c.datasets, model: c.model },
      {
        label: `${p.resume ? 'resume' : 'train'} ${p.runId} on ${c.datasets.join(', ')}`,
        moduleUrl: JOB_MODULE,
        input,
        onLog: hooks.onLog,
        onEvent: (e) => {
          if (e.type === 'step') {
            dbWrite(() =>
              db
                .prepare(
                  `UPDATE training_runs SET step = ?, total_steps = ?, last_loss = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
                )
                .run(e.step, e.totalSteps, e.loss, p.runId),
            );
            hooks.onStep?.(e);
          } else {
            dbWrite(() =>
              db
                .prepare('INSERT OR REPLACE INTO checkpoints (run_id, step, path, loss) VALUES (?, ?, ?, ?)')
                .run(p.runId, e.step, e.path, e.loss),
            );
            hooks.onCheckpoint?.(e);
          }
        },
      },
    );
    try {
      db.prepare(
        `INSERT INTO training_runs (id, dataset_id, job_id, model_path, out_dir, config_json, state, total_steps)
       VALUES (?, ?, ?, ?, ?, ?, 'running', ?)
       ON CONFLICT(id) DO UPDATE SET job_id = excluded.job_id, state = 'running', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`,
      ).run(p.runId, ds?.id ?? null, h.id, path.resolve(c.model), p.runDir, JSON.stringify(c), p.totalSteps);
    } catch (e) {
      h.cancel(0);
      throw e;
    }
    return h;
  }

  /** Asks a running training job to checkpoint and stop (the app's cancel button). */
  cancel(jobId: string): boolean {
    return this.runner.cancel(jobId);
  }

  /**
   * Start-up reconciliation: a run left 'running'/'queued' whose run folder no live process holds (the
   * server or CLI running it was killed) becomes 'interrupted', resumable from the app and the CLI. Its
   * jobs row is closed by JobStore.reconcile. Returns the run ids it changed.
   */
  reconcile(): string[] {
    const rows = this.store.db
      .prepare(`SELECT id, out_dir FROM training_runs WHERE state IN ('running','queued')`)
      .all() as { id: string; out_dir: string }[];
    const gone = rows.filter((r) => !runLockHolder(r.out_dir));
    const mark = this.store.db.prepare(
      `UPDATE training_runs SET state = 'interrupted', error = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
       WHERE id = ? AND state IN ('running','queued')`,
    );
    for (const r of gone)
      mark.run('interrupted: the process running it is gone; resume it from its last checkpoint', r.id);
    return gone.map((r) => r.id);
  }

  /** Runs listed newest first. */
  list() {
    return this.store.db.prepare('SELECT * FROM training_runs ORDER BY created_at DESC').all();
  }

  latestCheckpoint(runDir: string) {
    return latestCheckpoint(runDir);
  }
}
