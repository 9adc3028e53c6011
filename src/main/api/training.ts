// The contract's `training` procedures: the training service runs each run in a worker thread (the jobs
// runner); this file starts it with the app's settings, relays step events, and lists runs.
import type { Services, TrainingRunInfo, TrainStep } from '../../shared/contract';
import fs from 'node:fs';
import path from 'node:path';
import type { TrainSettings } from '../../shared/training';
import { UserError } from '../errors';
import { resolveProvider } from '../models/trainable';
import { latestCheckpoint } from '../training/checkpoint';
import { formatPlan, planRefusal } from '../training/memory-plan';
import { runLockHolder } from '../training/run-lock';
import { newRunId, type PreparedRun, type TrainingService } from '../training/service';
import { readTrainLog } from '../training/train-log';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';

interface Live {
  cancel(): void;
  /** lr and grad norm ride along for the curve's right axis (LossChart reads them when present). */
  losses: { step: number; loss: number; lr: number; gradNorm: number }[];
  last: TrainStep | null;
  adapterDir: string | null;
  error: string | null;
  running: boolean;
  deviceUsed: string | null;
}

interface RunRow {
  id: string;
  state: string;
  step: number;
  total_steps: number | null;
  last_loss: number | null;
  model_path: string;
  out_dir: string;
  config_json: string;
  created_at: string;
  error: string | null;
}

/** A runs-table row: the stored run, plus what this process saw live, plus what its folder holds. */
function runInfo(r: RunRow, l: Live | undefined, resumable: boolean): TrainingRunInfo {
  let config: Partial<TrainSettings> = {};
  try {
    config = JSON.parse(r.config_json);
  } catch {}
  const adapter = path.join(r.out_dir, 'adapter');
  return {
    id: r.id,
    state: r.state,
    step: r.step,
    totalSteps: r.total_steps,
    lastLoss: r.last_loss,
    model: r.model_path,
    outDir: r.out_dir,
    createdAt: r.created_at,
    // Runs this process did not watch (finished, CLI, before a restart): from the run's log.
    losses: l?.losses.length ? l.losses.slice(-2000) : readTrainLog(r.out_dir),
    live: l?.last ?? null,
    adapterDir: l?.adapterDir ?? (fs.existsSync(path.join(adapter, 'adapter_config.json')) ? adapter : null),
    error: l?.error ?? r.error ?? null,
    datasets: config.datasets ?? [],
    device: config.device ?? 'auto',
    // The provider the trainer's encoder resolves the device to on this machine (the reference encoder is JS).
    deviceUsed:
      l?.deviceUsed ??
      (config.encoder === 'reference'
        ? 'cpu (reference)'
        : config.device
          ? resolveProvider(config.device)
          : null),
    resumable,
  };
}

export function createTrainingApi(wb: Workbench, hub: EventHub): Services['training'] {
  const service = () => wb.training;
  const runs = new Map<string, Live>();

  /** Runs a prepared (new or resumed) run in the jobs worker, relaying its steps to every window. */
  const launch = (s: TrainingService, p: PreparedRun) => {
    const live: Live = {
      cancel: () => {},
      losses: [],
      last: null,
      adapterDir: null,
      error: null,
      running: true,
      deviceUsed: p.config.encoder === 'reference' ? 'cpu (reference)' : resolveProvider(p.config.device),
    };
    let lastEmit = 0;
    const h = s.start(p, {
      onStep: (e) => {
        const step: TrainStep = {
          step: e.step,
          totalSteps: e.totalSteps,
          loss: e.loss,
          lr: e.lr,
          examplesPerS: e.examplesPerS,
          tokensPerS: e.tokensPerS,
          etaS: e.etaS,
        };
        live.last = step;
        live.losses.push({ step: e.step, loss: e.loss, lr: e.lr, gradNorm: e.gradNorm });
        const now = Date.now();
        if (now - lastEmit >= 200 || e.step === e.totalSteps) {
          lastEmit = now;
          hub.emit({ topic: 'training', runId: p.runId, step });
        }
      },
    });
    live.cancel = () => h.cancel();
    runs.set(p.runId, live);
    h.done.then(
      (r) => {
        live.running = false;
        live.adapterDir = r.adapterDir;
        hub.emit({ topic: 'training', runId: p.runId, state: r.state });
      },
      (e) => {
        live.running = false;
        live.error = (e as Error).message;
        hub.emit({ topic: 'training', runId: p.runId, state: 'failed' });
      },
    );
    return { runId: p.runId, rows: p.rows, totalSteps: p.totalSteps };
  };

  const rowOf = (runId: string) => {
    const r = (service().list() as RunRow[]).find((x) => x.id === runId);
    if (!r) throw new UserError(`no training run ${runId}; pick one from the Runs table`);
    return r;
  };
  const isResumable = (r: RunRow) =>
    !runs.get(r.id)?.running &&
    !['done', 'discarded', 'running', 'queued'].includes(r.state) &&
    latestCheckpoint(r.out_dir) !== null;

  return {
    start(i) {
      // Defaults and bounds were applied by the contract's schema (src/shared/training.ts).
      const s = service();
      return launch(s, s.prepare({ ...i, out: `${wb.paths.runs}/${newRunId()}` }));
    },
    resume(i) {
      const r = rowOf(i.runId);
      if (runs.get(r.id)?.running) throw new UserError(`run ${r.id} is already running`);
      if (!isResumable(r))
        throw new UserError(
          r.state === 'done'
            ? `run ${r.id} is finished; start a new run instead`
            : r.state === 'discarded'
              ? `run ${r.id} was cancelled for good; start a new run instead`
              : `run ${r.id} has no checkpoint to resume from; start it again`,
        );
      const s = service();
      const p = s.prepare({ datasets: [], model: '', out: r.out_dir }, { resume: r.out_dir });
      return launch(s, p);
    },
    discard(i) {
      const r = rowOf(i.runId);
      if (runs.get(r.id)?.running) throw new UserError(`run ${r.id} is running; stop it first`);
      if (r.state === 'done') throw new UserError(`run ${r.id} is finished; there is nothing to cancel`);
      wb.store.db
        .prepare(
          `UPDATE training_runs SET state = 'discarded', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
        )
        .run(r.id);
      hub.emit({ topic: 'training', runId: r.id, state: 'discarded' });
      return { runId: r.id };
    },
    preview(i) {
      const p = service().prepare({ ...i, out: `${wb.paths.runs}/${newRunId()}` }, { planOnly: true });
      const { out: _out, ...config } = p.config;
      const memory = p.plan
        ? { lines: formatPlan(p.plan), fits: p.plan.fits, refusal: planRefusal(p.plan) }
        : null;
      return { config, rows: p.rows, totalSteps: p.totalSteps, memory };
    },
    cancel(i) {
      const l = runs.get(i.runId);
      if (!l?.running) {
        // An interrupted run (its process gone, or its resume failed) is cancelled where it stands.
        const r = rowOf(i.runId);
        const holder = runLockHolder(r.out_dir);
        if (holder)
          throw new UserError(
            `training run ${r.id} runs in another process (pid ${holder.pid}); stop it there`,
          );
        if (r.state !== 'interrupted' && r.state !== 'failed')
          throw new UserError(`training run ${i.runId} is not running (${r.state})`);
        wb.store.db
          .prepare(
            `UPDATE training_runs SET state = 'cancelled', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
          )
          .run(r.id);
        hub.emit({ topic: 'training', runId: r.id, state: 'cancelled' });
        return { runId: r.id };
      }
      l.cancel();
      return { runId: i.runId };
    },
    list(): TrainingRunInfo[] {
      const rows = service().list() as RunRow[];
      return rows.map((r) => runInfo(r, runs.get(r.id), isResumable(r)));
    },
  };
}
