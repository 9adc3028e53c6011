import fs from 'node:fs';
import path from 'node:path';
import type { LoraConfig } from '../models/lora';
import { modelReference } from '../models/origin';
import { UserError } from '../errors';
import { diskFullError } from '../jobs/disk-full';
import {
  type CheckpointData,
  checkpointName,
  listCheckpoints,
  loadCheckpoint,
  removeLeftovers,
  saveCheckpoint,
  type TrainerState,
  writeAdapter,
} from './checkpoint';
import type { TrainConfig } from './config';
import { type EpochPlan, planEpoch, stepsPerEpoch, type TrainRow } from './data';
import type { TrainableEncoder } from '../models/encoder';
import { gradCacheStep, type TextBatch } from './gradcache';
import type { ContrastiveLoss } from './loss';
import { AdamW, clipGradNorm, DynamicLossScaler, linearSchedule } from './optim';
import { mixSeed } from './rng';
import { writeFileAtomic } from './tensors';

/** Emitted after every optimiser step (also the JSONL training log line). */
export interface StepEvent {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  examplesPerS: number;
  tokensPerS: number;
  memoryMb: number;
  etaS: number | null;
  elapsedS: number;
  /** float16 only: the step was skipped for inf/NaN gradients. */
  skipped?: boolean;
  lossScale?: number;
}

export interface CheckpointEvent {
  step: number;
  path: string;
  loss: number | null;
}

export interface TrainerHooks {
  onStep?(e: StepEvent): void;
  onCheckpoint?(e: CheckpointEvent): void;
  onLog?(msg: string): void;
  signal?: AbortSignal;
}

export interface TrainResult {
  state: 'done' | 'cancelled';
  step: number;
  totalSteps: number;
  lastLoss: number | null;
  adapterDir: string | null;
  runDir: string;
}

export const loraConfigOf = (c: TrainConfig): LoraConfig => ({
  r: c.loraRank,
  alpha: c.loraAlpha,
  dropout: c.loraDropout,
  targetModules:
    c.targetModules.length === 1 && c.targetModules[0] === 'all-linear' ? 'all-linear' : c.targetModules,
  useRslora: false,
});

export function totalStepsOf(c: TrainConfig, rows: TrainRow[]): number {
  const per = stepsPerEpoch(rows, c.batchSize, c.groupBy);
  const all = per * c.epochs;
  return c.maxSteps !== null ? Math.min(c.maxSteps, all) : all;
}

/** Writes run.json (the run's config and what it trained on) atomically. */
export function writeRunJson(runDir: string, c: TrainConfig, extra: Record<string, unknown>): void {
  fs.mkdirSync(runDir, { recursive: true });
  writeFileAtomic(
    path.join(runDir, 'run.json'),
    // The model as an absolute path (a cwd-relative one breaks `export` run elsewhere), plus its hub id.
    `${JSON.stringify({ version: 1, config: { ...c, model: path.resolve(c.model) }, baseModel: modelReference(c.model), ...extra }, null, 2)}\n`,
  );
}

export function readRunJson(runDir: string): { config: TrainConfig } & Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
}

/** Keeps only log lines of steps ≤ step (a resumed run rewrites what came after its checkpoint). */
function truncateLog(file: string, step: number): void {
  if (!fs.existsSync(file)) return;
  const keep = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => {
      if (!l.trim()) return false;
      try {
        return (JSON.parse(l) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileAtomic(file, keep.length ? `${keep.join('\n')}\n` : '');
}

/**
 * The training loop: GradCache steps over seeded batches, AdamW with warm-up/decay and clipping,
 * a JSONL log, checkpoints every N steps and at the end, the final PEFT adapter. With resume it loads
 * the newest checkpoint of runDir and continues exactly (same batches, dropout seeds, moments).
 */
export async function runTraining(o: {
  config: TrainConfig;
  rows: TrainRow[];
  encoder: TrainableEncoder;
  loss: ContrastiveLoss;
  runDir: string;
  resume: boolean;
  hooks?: TrainerHooks;
}): Promise<TrainResult> {
  const { config: c, rows, encoder: enc, loss, runDir } = o;
  const hooks = o.hooks ?? {};
  const specs = enc.params;
  const loraCfg = loraConfigOf(c);
  const totalSteps = totalStepsOf(c, rows);
  const per = stepsPerEpoch(rows, c.batchSize, c.groupBy);
  const logFile = path.join(runDir, 'train.log.jsonl');
  const opt = new AdamW(specs, { betas: c.betas, eps: c.eps, weightDecay: c.weightDecay });
  // float16 compute (--dtype float16, or auto on WebGPU) needs loss scaling; the encoder knows what auto became.
  const scaler = (enc.computeDtype ?? c.dtype) === 'float16' ? new DynamicLossScaler() : null;
  const indexOfId = new Map(rows.map((r, i) => [r.id, i]));
  let lora: Map<string, Float32Array>;
  let state: TrainerState;
  let plan: EpochPlan | null = null;
  fs.mkdirSync(runDir, { recursive: true });
  for (const p of removeLeftovers(runDir)) hooks.onLog?.(`removed ${p}, left by an interrupted write`);
  if (!fs.existsSync(path.join(runDir, 'run.json')))
    writeRunJson(runDir, c, { rows: rows.length, totalSteps, createdAt: new Date().toISOString() });
  const usable = o.resume ? usableCheckpoint(runDir, specs, indexOfId, hooks) : null;
  if (usable) {
    const { dir: ckpt, data, batches } = usable;
    lora = data.lora;
    state = data.state;
    opt.step = state.adamStep;
    for (const s of specs) {
      opt.m.set(s.name, data.m.get(s.name) as Float32Array);
      opt.v.set(s.name, data.v.get(s.name) as Float32Array);
    }
    if (scaler && state.lossScale) scaler.scale = state.lossScale;
    // A checkpoint from before the first step (stopped at once) has no data order yet: plan it afresh.
    plan = batches.length ? { epoch: state.epoch, batches } : null;
    truncateLog(logFile, state.step);
    hooks.onLog?.(`resumed from ${ckpt} at step ${state.step}/${totalSteps}`);
  } else {
    if (o.resume) hooks.onLog?.(`no checkpoint in ${runDir}; starting from step 0`);
    lora = enc.initLora(c.seed);
    state = {
      step: 0,
      totalSteps,
      seed: c.seed,
      epoch: 0,
      position: 0,
      permutation: [],
      adamStep: 0,
      lossScale: scaler?.scale ?? null,
      lastLoss: null,
      elapsedS: 0,
    };
    fs.rmSync(logFile, { force: true });
  }
  const snapshot = (): TrainerState => ({
    ...state,
    permutation: (plan?.batches ?? []).map((b) => b.map((i) => rows[i].id)),
    adamStep: opt.step,
    lossScale: scaler?.scale ?? null,
  });
  // A checkpoint holds the LoRA weights and both moments (float32), plus small JSON files.
  const ckptBytes = 3 * 4 * specs.reduce((a, s) => a + s.shape.reduce((x, d) => x * d, 1), 0) + 65536;
  const resumeHint = `resume with \`embedsmith train --resume ${runDir}\` (earlier checkpoints are intact)`;
  /** Disk full while writing `target`: one line naming it and the space needed instead of a stack trace. */
  const onFull = <T>(target: string, bytes: number, write: () => T): T => {
    try {
      return write();
    } catch (e) {
      throw diskFullError(e, target, bytes, resumeHint) ?? e;
    }
  };
  const checkpoint = () => {
    const s = snapshot();
    const p = onFull(path.join(runDir, 'checkpoints', checkpointName(s.step)), ckptBytes, () =>
      saveCheckpoint(runDir, specs, { state: s, lora, m: opt.m, v: opt.v }, loraCfg, c.model),
    );
    hooks.onCheckpoint?.({ step: s.step, path: p, loss: s.lastLoss });
  };
  const log = fs.openSync(logFile, 'a');
  const t0 = Date.now() - state.elapsedS * 1000;
  let emaStep: number | null = null;
  try {
    while (state.step < totalSteps) {
      // Let the worker see a cancel message: a step of pure JS (the reference encoder) never yields to the
      // event loop on its own, so without this the abort would only land after the whole run.
      if (hooks.signal) await new Promise((r) => setImmediate(r));
      if (hooks.signal?.aborted) {
        state.elapsedS = (Date.now() - t0) / 1000;
        checkpoint();
        return {
          state: 'cancelled',
          step: state.step,
          totalSteps,
          lastLoss: state.lastLoss,
          adapterDir: null,
          runDir,
        };
      }
      const epoch = Math.floor(state.step / per);
      const position = state.step % per;
      if (!plan || plan.epoch !== epoch) plan = planEpoch(rows, c.batchSize, c.seed, epoch, c.groupBy);
      state.epoch = epoch;
      state.position = position;
      const picked = plan.batches[position].map((i) => rows[i]);
      const batch: TextBatch = {
        queries: picked.map((r) => r.query),
        positives: picked.map((r) => r.positive),
        negatives: picked.flatMap((r) => [
          ...(r.negative !== null ? [r.negative] : []),
          ...(r.extraNegatives ?? []),
        ]),
      };
      const ts = Date.now();
      const lr = linearSchedule(c.lr, c.warmup, totalSteps, state.step);
      const step = state.step;
      const r = await gradCacheStep(enc, lora, batch, loss, {
        chunkSize: c.chunkSize,
        temperature: c.temperature,
        dropoutP: c.loraDropout,
        seedOf: (i) => mixSeed(c.seed, step, i),
        lossScale: scaler?.scale,
      });
      const ok = scaler ? scaler.unscale(r.grads) : true;
      const gradNorm = clipGradNorm(r.grads, c.maxGradNorm > 0 ? c.maxGradNorm : null);
      // A non-finite loss or norm means the run diverged (or its state is corrupt): stop before it reaches
      // the weights, a log line or a checkpoint. float16's skipped steps are the loss scaler's business.
      const bad = !Number.isFinite(r.loss)
        ? `the loss is ${r.loss}`
        : ok && !Number.isFinite(gradNorm)
          ? `the gradient norm is ${gradNorm}`
          : null;
      if (bad) {
        const last = listCheckpoints(runDir)[0];
        throw new UserError(
          `training stopped at step ${step + 1}: ${bad} (non-finite); no adapter was written${last ? `, the last checkpoint is ${path.basename(last)}` : ''}; lower --lr or --lora-alpha, or check the data`,
        );
      }
      if (ok) opt.update(lora, r.grads, lr);
      state.step++;
      state.lastLoss = r.loss;
      const dt = Math.max(1e-6, (Date.now() - ts) / 1000);
      emaStep = emaStep === null ? dt : 0.8 * emaStep + 0.2 * dt;
      state.elapsedS = (Date.now() - t0) / 1000;
      const ev: StepEvent = {
        step: state.step,
        totalSteps,
        epoch,
        loss: r.loss,
        lr,
        gradNorm,
        examplesPerS: picked.length / dt,
        tokensPerS: r.tokens / dt,
        memoryMb: Math.round(process.memoryUsage().rss / 2 ** 20),
        etaS: emaStep * (totalSteps - state.step),
        elapsedS: state.elapsedS,
        ...(scaler ? { skipped: !ok, lossScale: scaler.scale } : {}),
      };
      const line = `${JSON.stringify(ev)}\n`;
      onFull(logFile, line.length, () => fs.writeSync(log, line));
      hooks.onStep?.(ev);
      if (c.checkpointEvery > 0 && state.step % c.checkpointEvery === 0 && state.step < totalSteps)
        checkpoint();
    }
  } finally {
    fs.closeSync(log);
  }
  if (!fs.existsSync(path.join(runDir, 'checkpoints', checkpointName(state.step)))) checkpoint();
  const adapterDir = path.join(runDir, 'adapter');
  onFull(adapterDir, ckptBytes / 3, () => writeAdapter(adapterDir, specs, lora, loraCfg, c.model));
  return { state: 'done', step: state.step, totalSteps, lastLoss: state.lastLoss, adapterDir, runDir };
}

/**
 * The newest checkpoint that loads, is finite and whose data order still names train rows. Each one skipped
 * is said (why, and which older one is used); when none is usable the newest's reason fails the resume in
 * one line. No checkpoint at all is a fresh start (null).
 */
function usableCheckpoint(
  runDir: string,
  specs: TrainableEncoder['params'],
  indexOfId: Map<number, number>,
  hooks: TrainerHooks,
): { dir: string; data: CheckpointData; batches: number[][] } | null {
  const all = listCheckpoints(runDir);
  let first: string | null = null;
  for (const dir of all) {
    let why: string;
    try {
      const data = loadCheckpoint(dir, specs);
      const missing = new Set<number>();
      const batches = data.state.permutation.map((b) =>
        b.map((id) => {
          const i = indexOfId.get(id);
          if (i === undefined) missing.add(id);
          return i ?? -1;
        }),
      );
      if (!missing.size) {
        if (dir !== all[0]) hooks.onLog?.(`resuming from the older ${path.basename(dir)} instead`);
        return { dir, data, batches };
      }
      why = `${missing.size} example(s) of its data order (e.g. id ${[...missing][0]}) are no longer in the train split (was \`datasets split --reassign\` run?)`;
    } catch (e) {
      why = (e as Error).message;
    }
    first ??= `${path.basename(dir)}: ${why}`;
    hooks.onLog?.(`checkpoint ${path.basename(dir)} is not usable: ${why}`);
  }
  if (first)
    throw new UserError(
      `cannot resume ${runDir}: no usable checkpoint (newest ${first}); start a new run with --out`,
    );
  return null;
}
