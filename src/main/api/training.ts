// The contract's `training` procedures: the training service runs each run in a worker thread (the jobs
// runner); this file starts it with the app's settings, relays step events, and lists runs.
import type { Services, TrainingRunInfo, TrainStep } from '../../shared/contract';
import { UserError } from '../errors';
import { JobRunner } from '../jobs/runner';
import { JobStore } from '../jobs/store';
import { newRunId, TrainingService } from '../training/service';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';

interface Live {
  cancel(): void;
  losses: { step: number; loss: number }[];
  last: TrainStep | null;
  adapterDir: string | null;
  error: string | null;
}

export function createTrainingApi(wb: Workbench, hub: EventHub): Services['training'] {
  // The workbench field when the training area adds one; until then one service for this API.
  let svc: TrainingService | undefined;
  const service = () => {
    const own = (wb as unknown as { training?: TrainingService }).training;
    if (own) return own;
    svc ??= new TrainingService(wb.store, wb.paths, new JobRunner(new JobStore(wb.store.db)));
    return svc;
  };
  const runs = new Map<string, Live>();

  return {
    start(i) {
      const s = service();
      // Defaults and bounds were applied by the contract's schema (src/shared/training.ts).
      const p = s.prepare({ ...i, out: `${wb.paths.runs}/${newRunId()}` });
      const live: Live = { cancel: () => {}, losses: [], last: null, adapterDir: null, error: null };
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
          live.losses.push({ step: e.step, loss: e.loss });
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
          live.adapterDir = r.adapterDir;
          hub.emit({ topic: 'training', runId: p.runId, state: r.state });
        },
        (e) => {
          live.error = (e as Error).message;
          hub.emit({ topic: 'training', runId: p.runId, state: 'failed' });
        },
      );
      return { runId: p.runId, rows: p.rows, totalSteps: p.totalSteps };
    },
    preview(i) {
      const p = service().prepare({ ...i, out: `${wb.paths.runs}/${newRunId()}` });
      const { out: _out, ...config } = p.config;
      return { config, rows: p.rows, totalSteps: p.totalSteps };
    },
    cancel(i) {
      const l = runs.get(i.runId);
      if (!l) throw new UserError(`training run ${i.runId} is not running in this app`);
      l.cancel();
      return { runId: i.runId };
    },
    list(): TrainingRunInfo[] {
      const rows = service().list() as {
        id: string;
        state: string;
        step: number;
        total_steps: number | null;
        last_loss: number | null;
        model_path: string;
        out_dir: string;
        created_at: string;
      }[];
      return rows.map((r) => {
        const l = runs.get(r.id);
        return {
          id: r.id,
          state: r.state,
          step: r.step,
          totalSteps: r.total_steps,
          lastLoss: r.last_loss,
          model: r.model_path,
          outDir: r.out_dir,
          createdAt: r.created_at,
          losses: l?.losses.slice(-2000) ?? [],
          live: l?.last ?? null,
          adapterDir: l?.adapterDir ?? null,
          error: l?.error ?? null,
        };
      });
    },
  };
}
