import type { JobContext } from '../jobs/runner';
import { createTrainableEncoder } from '../models/trainable';
import { Store } from '../store';
import { openDatabase } from '../store/db';
import type { TrainConfig } from './config';
import { gib } from './memory-plan';
import { encoderOptions, queryFormatter } from './config';
import { loadTrainRows } from './data';
import type { TrainableEncoder } from '../models/encoder';
import { type ContrastiveLoss, referenceLoss } from './loss';
import { EngineInfoNce } from './loss-onnx';
import { ReferenceEncoder } from './reference-encoder';
import { type CheckpointEvent, runTraining, type StepEvent, type TrainResult } from './trainer';

/** What the main thread hands the training worker. */
export interface TrainJobInput {
  config: TrainConfig;
  dbFile: string;
  runDir: string;
  resume: boolean;
  /** Layer recompute as the memory plan resolved --recompute (auto); absent: on only for 'on'. */
  recompute?: boolean;
  /** The plan's total estimate in bytes, logged beside the measured peak after the first step. */
  planBytes?: number;
}

export type TrainJobEvent = ({ type: 'step' } & StepEvent) | ({ type: 'checkpoint' } & CheckpointEvent);

/**
 * Above this many score-matrix multiply-adds per step the loss runs as the ONNX graph; below it the float64
 * reference is faster than a session call (and exact).
 */
const ONNX_LOSS_MIN_MACS = 2e7;

export function lossFor(c: TrainConfig, dim: number): Promise<ContrastiveLoss> {
  const macs = c.batchSize * 2 * c.batchSize * dim;
  if (macs < ONNX_LOSS_MIN_MACS) return Promise.resolve(referenceLoss);
  // The engine picks the provider ('auto': cuda → webgpu → cpu, skipping what is not installed).
  return Promise.resolve(
    new EngineInfoNce(c.device === 'auto' ? 'auto' : c.device === 'cpu' ? ['cpu'] : [c.device, 'cpu']),
  );
}

export async function loadEncoder(
  c: TrainConfig,
  recompute = c.recompute === 'on',
): Promise<TrainableEncoder> {
  const o = encoderOptions(c);
  // Already off the main thread: the model's sessions run in this worker.
  return c.encoder === 'reference'
    ? ReferenceEncoder.load(o)
    : createTrainableEncoder(o, { inThread: true }, { recomputeLayers: recompute });
}

/** The training job (runs in a worker thread started by the job runner). */
export async function handler(input: TrainJobInput, ctx: JobContext): Promise<TrainResult> {
  const { config: c } = input;
  const store = new Store(openDatabase(input.dbFile, { readonly: true }));
  let rows: ReturnType<typeof loadTrainRows>;
  try {
    rows = loadTrainRows(store, c.datasets, queryFormatter(c.model), {
      negatives: c.negatives,
      dropFalseNegatives: c.dropFalseNegatives,
    });
  } finally {
    store.close();
  }
  const enc = await loadEncoder(c, input.recompute);
  let firstStep = true;
  const loss = await lossFor(c, enc.dim);
  try {
    return await runTraining({
      config: c,
      rows,
      encoder: enc,
      loss,
      runDir: input.runDir,
      resume: input.resume,
      hooks: {
        signal: ctx.signal,
        onLog: (m) => ctx.log(m),
        onStep: (e) => {
          if (firstStep && input.planBytes) {
            // The plan's estimate against what the first step really took (peak RSS of this process).
            const peak = process.resourceUsage().maxRSS * 1024;
            ctx.log(
              `memory after step ${e.step}: peak RSS ${gib(peak)}, plan estimated ${gib(input.planBytes)} (${((peak / input.planBytes) * 100).toFixed(0)}%)`,
            );
          }
          firstStep = false;
          ctx.emit({ type: 'step', ...e } satisfies TrainJobEvent);
          ctx.progress({
            done: e.step,
            total: e.totalSteps,
            unit: 'steps',
            ratePerS: e.examplesPerS,
            etaS: e.etaS,
            message: `loss ${e.loss.toFixed(4)}`,
          });
        },
        onCheckpoint: (e) => ctx.emit({ type: 'checkpoint', ...e } satisfies TrainJobEvent),
      },
    });
  } finally {
    await enc.dispose?.();
    await loss.dispose?.();
  }
}
