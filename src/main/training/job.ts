import type { JobContext } from '../jobs/runner';
import { createTrainableEncoder } from '../models/trainable';
import { Store } from '../store';
import { openDatabase } from '../store/db';
import type { TrainConfig } from './config';
import { queryFormatter } from './config';
import { loadTrainRows } from './data';
import type { TrainableEncoder } from './encoder';
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

export async function loadEncoder(c: TrainConfig): Promise<TrainableEncoder> {
  const o = {
    modelDir: c.model,
    rank: c.loraRank,
    alpha: c.loraAlpha,
    dropout: c.loraDropout,
    targetModules: c.targetModules,
    maxLength: c.maxLength,
    device: c.device,
    dtype: c.dtype,
  };
  // Already off the main thread: the model's sessions run in this worker.
  return c.encoder === 'reference' ? ReferenceEncoder.load(o) : createTrainableEncoder(o, { inThread: true });
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
  const enc = await loadEncoder(c);
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
