import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';
import { type LinearModule, type LoraConfig, loadAdapter, saveAdapter } from '../models/lora';
import type { ParamSpec } from '../models/encoder';
import { readTensors, writeFileAtomic, writeTensors } from './tensors';

/** Everything needed to continue a run exactly where a checkpoint was taken. */
export interface TrainerState {
  /** Optimiser steps completed (= the schedule step of the next update). */
  step: number;
  totalSteps: number;
  seed: number;
  epoch: number;
  /** Position inside the epoch's batch list (the next batch to run). */
  position: number;
  /** The epoch's data order as example ids, batch by batch (seed + permutation). */
  permutation: number[][];
  adamStep: number;
  lossScale: number | null;
  lastLoss: number | null;
  elapsedS: number;
}

export interface CheckpointData {
  state: TrainerState;
  lora: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

const PEFT_PREFIX = 'base_model.model.';
/** Encoder parameter names may carry PEFT's `base_model.model.` prefix; adapter I/O keys by module path. */
export const modulePathKey = (name: string) =>
  name.startsWith(PEFT_PREFIX) ? name.slice(PEFT_PREFIX.length) : name;

/** Module list for the PEFT writer, derived from the LoRA tensors themselves. */
export function modulesOf(specs: ParamSpec[]): LinearModule[] {
  const out: LinearModule[] = [];
  for (const s of specs) {
    if (!s.name.endsWith('.lora_A.weight')) continue;
    const p = modulePathKey(s.name).slice(0, -'.lora_A.weight'.length);
    const b = specs.find((x) => modulePathKey(x.name) === `${p}.lora_B.weight`);
    if (!b) throw new Error(`LoRA parameter ${s.name} has no lora_B`);
    out.push({ path: p, inFeatures: s.shape[1], outFeatures: b.shape[0] });
  }
  return out;
}

/** Writes a PEFT adapter folder (models' writer) atomically: temp folder, then rename. */
export function writeAdapter(
  dir: string,
  specs: ParamSpec[],
  lora: Map<string, Float32Array>,
  config: LoraConfig,
  baseModel: string,
): void {
  assertFinite(lora, `${dir}: the adapter`);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const tensors = new Map(
    specs.map((s) => [modulePathKey(s.name), { shape: s.shape, data: lora.get(s.name) as Float32Array }]),
  );
  try {
    saveAdapter(tmp, { config, modules: modulesOf(specs), tensors }, { baseModel });
  } catch (e) {
    // A failed write (disk full) gives its space back rather than leaving a half folder.
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  replaceDir(tmp, dir);
}

function replaceDir(tmp: string, dir: string) {
  if (fs.existsSync(dir)) {
    const old = `${dir}.old-${process.pid}`;
    fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
  } else fs.renameSync(tmp, dir);
}

export const checkpointName = (step: number) => `step-${String(step).padStart(6, '0')}`;

/**
 * Saves a checkpoint under runDir/checkpoints/step-NNNNNN: adapter/ (the LoRA float32 masters, PEFT
 * format), optimizer.safetensors (m, v), trainer_state.json. Built in a temp folder and renamed, so a
 * kill at any moment leaves either the complete checkpoint or none.
 */
export function saveCheckpoint(
  runDir: string,
  specs: ParamSpec[],
  data: CheckpointData,
  lora: LoraConfig,
  baseModel: string,
): string {
  const root = path.join(runDir, 'checkpoints');
  const final = path.join(root, checkpointName(data.state.step));
  // A NaN in the weights or moments would poison every later resume: refuse to save it.
  assertFinite(data.lora, `${final}: the LoRA weights`);
  assertFinite(data.m, `${final}: the optimiser's first moments`);
  assertFinite(data.v, `${final}: the optimiser's second moments`);
  fs.mkdirSync(root, { recursive: true });
  const tmp = path.join(root, `.tmp-${checkpointName(data.state.step)}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  const tensors = new Map(
    specs.map((s) => [
      modulePathKey(s.name),
      { shape: s.shape, data: data.lora.get(s.name) as Float32Array },
    ]),
  );
  const opt = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const s of specs) {
    opt.set(`m.${s.name}`, { shape: s.shape, data: data.m.get(s.name) as Float32Array });
    opt.set(`v.${s.name}`, { shape: s.shape, data: data.v.get(s.name) as Float32Array });
  }
  try {
    saveAdapter(
      path.join(tmp, 'adapter'),
      { config: lora, modules: modulesOf(specs), tensors },
      { baseModel },
    );
    writeTensors(path.join(tmp, 'optimizer.safetensors'), opt);
    writeFileAtomic(path.join(tmp, 'trainer_state.json'), `${JSON.stringify(data.state)}\n`);
  } catch (e) {
    // A failed write (disk full) gives its space back; the previous checkpoints are untouched.
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  replaceDir(tmp, final);
  return final;
}

/** The run's complete checkpoints (folders with a trainer_state.json), newest first. */
export function listCheckpoints(runDir: string): string[] {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((n) => /^step-\d+$/.test(n) && fs.existsSync(path.join(root, n, 'trainer_state.json')))
    .sort()
    .reverse()
    .map((n) => path.join(root, n));
}

/** The newest complete checkpoint of a run, or null. */
export function latestCheckpoint(runDir: string): string | null {
  return listCheckpoints(runDir)[0] ?? null;
}

/**
 * Removes what an interrupted write left behind: `checkpoints/.tmp-step-*` folders and `adapter.tmp-*`.
 * A kill between the two renames of a replace leaves `X.old-*` without X: that one is put back. Call it
 * only while holding the run folder (its lock), so no live writer's temp folder is removed.
 */
export function removeLeftovers(runDir: string): string[] {
  const removed: string[] = [];
  const sweep = (dir: string, base: string) => {
    if (!fs.existsSync(dir)) return;
    for (const n of fs.readdirSync(dir)) {
      const p = path.join(dir, n);
      const old = /^(.*)\.old-\d+$/.exec(n);
      if (old && (old[1] === base || /^step-\d+$/.test(old[1]))) {
        const final = path.join(dir, old[1]);
        if (fs.existsSync(final)) fs.rmSync(p, { recursive: true, force: true });
        else fs.renameSync(p, final);
        removed.push(p);
      } else if (n.startsWith('.tmp-step-') || n.startsWith(`${base}.tmp-`)) {
        fs.rmSync(p, { recursive: true, force: true });
        removed.push(p);
      }
    }
  };
  sweep(runDir, 'adapter');
  sweep(path.join(runDir, 'checkpoints'), '');
  return removed;
}

/** Tensors with a NaN or ±Infinity are refused with the first offending name. */
export function assertFinite(
  tensors: Map<string, Float32Array>,
  what: string,
  consequence = 'not written',
): void {
  for (const [name, t] of tensors)
    for (let i = 0; i < t.length; i++)
      if (!Number.isFinite(t[i]))
        throw new UserError(`${what}: ${name} holds ${t[i]} (non-finite); ${consequence}`);
}

const STATE_FIELDS = ['step', 'totalSteps', 'seed', 'epoch', 'position', 'adamStep', 'elapsedS'] as const;

function readState(file: string): TrainerState {
  let s: TrainerState;
  try {
    s = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (s === null || typeof s !== 'object') throw new UserError(`${file}: not a trainer state object`);
  for (const k of STATE_FIELDS)
    if (typeof s[k] !== 'number' || !Number.isFinite(s[k]) || s[k] < 0)
      throw new UserError(`${file}: ${k} is ${JSON.stringify(s[k])}, expected a number ≥ 0`);
  if (!Array.isArray(s.permutation) || !s.permutation.every((b) => Array.isArray(b)))
    throw new UserError(`${file}: permutation is not a list of batches`);
  return s;
}

export function loadCheckpoint(dir: string, specs: ParamSpec[]): CheckpointData {
  const stateFile = path.join(dir, 'trainer_state.json');
  if (!fs.existsSync(stateFile)) throw new UserError(`${dir}: not a checkpoint (no trainer_state.json)`);
  const state = readState(stateFile);
  const adapter = loadAdapter(path.join(dir, 'adapter'), modulesOf(specs));
  const lora = new Map<string, Float32Array>();
  for (const s of specs) {
    const t = adapter.tensors.get(modulePathKey(s.name));
    if (!t)
      throw new UserError(`${dir}: adapter lacks ${s.name}; was the run started with other LoRA settings?`);
    lora.set(s.name, Float32Array.from(t.data));
  }
  const opt = readTensors(path.join(dir, 'optimizer.safetensors'));
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const s of specs) {
    const mm = opt.get(`m.${s.name}`);
    const vv = opt.get(`v.${s.name}`);
    if (!mm || !vv) throw new UserError(`${dir}: optimizer.safetensors lacks the moments of ${s.name}`);
    m.set(s.name, mm.data);
    v.set(s.name, vv.data);
  }
  assertFinite(lora, `${dir}/adapter`, 'unusable');
  assertFinite(m, `${dir}/optimizer.safetensors`, 'unusable');
  assertFinite(v, `${dir}/optimizer.safetensors`, 'unusable');
  return { state, lora, m, v };
}
