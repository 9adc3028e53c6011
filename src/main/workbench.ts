import fs from 'node:fs';
import { resolveHome, workspacePaths, type WorkspacePaths } from './paths';
import { EvalService } from './eval/service';
import { GenerationService } from './generation';
import { MiningService } from './mining';
import { JobRegistry } from './jobs/registry';
import { JobRunner } from './jobs/runner';
import { Store } from './store';
import { TrainingService } from './training/service';

export interface WorkbenchOptions {
  /** --home DIR; falls back to EMBEDSMITH_HOME, then the OS app-data directory. */
  home?: string;
}

/**
 * The service root. Electron main, the CLI and `serve` each call openWorkbench once and only wire what it
 * returns; no service is constructed anywhere else.
 */
export class Workbench {
  readonly paths: WorkspacePaths;
  readonly store: Store;
  /** The one job mechanism: every long operation's `jobs` row and lifecycle (src/main/jobs/registry.ts). */
  readonly jobs: JobRegistry;
  /** Worker-thread jobs (training) on that registry. */
  readonly runner: JobRunner;
  /** LoRA training runs (src/main/training). */
  readonly training: TrainingService;
  readonly generation: GenerationService;
  /** Evaluation: tasks, runs, stored results, comparison tables (src/main/eval). */
  readonly evaluation: EvalService;
  /** Hard-negative mining and review scores (src/main/mining). */
  readonly mining: MiningService;

  private constructor(paths: WorkspacePaths, store: Store) {
    this.paths = paths;
    this.store = store;
    this.jobs = JobRegistry.over(store.db);
    this.runner = new JobRunner(this.jobs);
    this.training = new TrainingService(store, paths, this.runner);
    this.generation = new GenerationService(store, this.jobs);
    this.evaluation = new EvalService(paths, store);
    this.mining = new MiningService(store, paths);
  }

  static open(opts: WorkbenchOptions = {}): Workbench {
    const paths = workspacePaths(resolveHome(opts.home));
    fs.mkdirSync(paths.home, { recursive: true });
    const store = Store.open(paths.db);
    const wb = new Workbench(paths, store);
    // Start-up reconciliation: jobs and runs whose process is gone (killed server or CLI) stop looking live.
    wb.jobs.store.reconcile();
    wb.training.reconcile();
    return wb;
  }

  close(): void {
    this.store.close();
  }
}

export const openWorkbench = (opts: WorkbenchOptions = {}) => Workbench.open(opts);
