import fs from 'node:fs';
import path from 'node:path';
import { mulberry32 } from '../../shared/random';
import { UserError } from '../errors';
import { readModelJson, regularFile } from './model-folder';
import { modelReference } from './origin';
import { readF32, readStHeader, writeSafetensors, type StTensorOut } from './safetensors';

/** A linear layer of an architecture, named by its transformers module path (`layers.0.self_attn.q_proj`). */
export interface LinearModule {
  path: string;
  inFeatures: number;
  outFeatures: number;
}

/** LoRA hyper-parameters with PEFT's meaning. */
export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** PEFT names (suffix match on module paths), a single regex string, or 'all-linear'. */
  targetModules: string[] | string;
  useRslora: boolean;
}

export const defaultLora = (over: Partial<LoraConfig> = {}): LoraConfig => ({
  r: 16,
  alpha: 32,
  dropout: 0.05,
  targetModules: 'all-linear',
  useRslora: false,
  ...over,
});

/** alpha / r, or alpha / √r with rsLoRA (PEFT's LoraLayer.update_layer). */
export const loraScaling = (c: Pick<LoraConfig, 'r' | 'alpha' | 'useRslora'>) =>
  c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;

/**
 * PEFT's target matching (tuners_utils.check_target_module_exists): a list matches a module whose path
 * equals a name or ends with `.name`; a string is a regex that must match the whole path; 'all-linear'
 * takes every linear of the base model (these models have no output head to exclude).
 */
export function matchesTarget(modulePath: string, target: string[] | string): boolean {
  if (target === 'all-linear') return true;
  if (typeof target === 'string') return new RegExp(`^(?:${target})$`).test(modulePath);
  return target.some((t) => modulePath === t || modulePath.endsWith(`.${t}`));
}

export function selectTargets(linears: LinearModule[], target: string[] | string): LinearModule[] {
  const hit = linears.filter((m) => matchesTarget(m.path, target));
  if (hit.length === 0) {
    const names = [...new Set(linears.map((m) => m.path.split('.').at(-1)))].join(', ');
    throw new UserError(
      `LoRA target_modules ${JSON.stringify(target)} match no layer; this model has: ${names}`,
    );
  }
  return hit;
}

/** The trainable weights: per target module, A [r, in] and B [out, r] as float32 masters. */
export interface LoraWeights {
  config: LoraConfig;
  modules: LinearModule[];
  /** Keyed by `${module.path}.lora_A.weight` / `.lora_B.weight`. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export const loraKeyA = (p: string) => `${p}.lora_A.weight`;
export const loraKeyB = (p: string) => `${p}.lora_B.weight`;

/** A seeded generator so an initialisation can be reproduced (mulberry32, shared with the trainer). */
export const seededRandom = mulberry32;

/**
 * PEFT's default init: A ~ kaiming_uniform(a=√5) = U(−1/√in, 1/√in) (gain √(2/(1+5)), bound √3·gain/√in),
 * B = 0, so the adapted model starts equal to the base model.
 */
export function initLora(linears: LinearModule[], config: LoraConfig, seed = 0): LoraWeights {
  const rand = seededRandom(seed);
  const modules = selectTargets(linears, config.targetModules);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const m of modules) {
    const bound = 1 / Math.sqrt(m.inFeatures);
    const a = new Float32Array(config.r * m.inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rand() - 1) * bound;
    tensors.set(loraKeyA(m.path), { shape: [config.r, m.inFeatures], data: a });
    tensors.set(loraKeyB(m.path), {
      shape: [m.outFeatures, config.r],
      data: new Float32Array(m.outFeatures * config.r),
    });
  }
  return { config, modules, tensors };
}

/** W [out, in] + scaling · B [out, r] @ A [r, in], in float64 accumulation (PEFT merge). */
export function mergeInto(
  W: Float32Array,
  A: Float32Array,
  B: Float32Array,
  out: number,
  inF: number,
  r: number,
  scaling: number,
): Float32Array {
  const res = new Float32Array(W);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += B[o * r + k] * A[k * inF + i];
      res[o * inF + i] += scaling * s;
    }
  return res;
}

// ---------- PEFT adapter files ----------

const PEFT_PREFIX = 'base_model.model.';

/**
 * The target_modules PEFT saves: 'all-linear' resolved to the last name component of every adapted linear
 * (peft/tuners/tuners_utils.py `_maybe_include_all_linear_layers`), since PEFT < 0.8 reads the literal
 * string as a regex that matches nothing; a list or regex as given.
 */
export function savedTargetModules(c: LoraConfig, modules?: LinearModule[]): string[] | string {
  if (c.targetModules === 'all-linear' && modules?.length)
    return [...new Set(modules.map((m) => m.path.split('.').at(-1) as string))].sort();
  return typeof c.targetModules === 'string' ? c.targetModules : [...c.targetModules];
}

/** The fields PEFT 0.10 writes in adapter_config.json, in its order. */
export function peftConfigJson(
  c: LoraConfig,
  baseModel = '',
  taskType = 'FEATURE_EXTRACTION',
  o: { modules?: LinearModule[]; revision?: string | null } = {},
) {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: c.r,
    rank_pattern: {},
    revision: o.revision ?? null,
    target_modules: savedTargetModules(c, o.modules),
    task_type: taskType,
    use_dora: false,
    use_rslora: c.useRslora,
  };
}

/** Writes `adapter_config.json` + `adapter_model.safetensors` with PEFT's key names (over a bare base model). */
export function saveAdapter(dir: string, w: LoraWeights, opts: { baseModel?: string } = {}): void {
  // A hub id (pulled models) or an absolute path, so PEFT and `export` find the base from anywhere.
  const ref = modelReference(opts.baseModel ?? '');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'adapter_config.json'),
    `${JSON.stringify(peftConfigJson(w.config, ref.name, undefined, { modules: w.modules, revision: ref.revision }), null, 2)}\n`,
  );
  const out = new Map<string, StTensorOut>();
  for (const [k, t] of w.tensors) out.set(PEFT_PREFIX + k, t);
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), out);
}

/**
 * Reads a PEFT LoRA adapter. Keys may be over the bare model (`base_model.model.layers.0…`) or over a
 * task model (`base_model.model.model.layers…`, `base_model.model.bert.encoder…`), with or without the
 * adapter name (`.default`). Every key must land on a linear of the architecture with matching shapes.
 */
export function loadAdapter(dir: string, linears: LinearModule[]): LoraWeights {
  const cfgFile = path.join(dir, 'adapter_config.json');
  if (!fs.existsSync(cfgFile)) throw new UserError(`${dir}: missing adapter_config.json`);
  const c = readModelJson(cfgFile);
  if (c.peft_type !== 'LORA')
    throw new UserError(`adapter_config.json: peft_type ${String(c.peft_type)} (only LORA)`);
  if (c.use_dora) throw new UserError('adapter_config.json: use_dora is not supported');
  if (c.fan_in_fan_out) throw new UserError('adapter_config.json: fan_in_fan_out is not supported');
  if (c.bias && c.bias !== 'none')
    throw new UserError(`adapter_config.json: bias "${String(c.bias)}" (only "none")`);
  const rp = c.rank_pattern as Record<string, unknown> | undefined;
  const ap = c.alpha_pattern as Record<string, unknown> | undefined;
  if ((rp && Object.keys(rp).length) || (ap && Object.keys(ap).length))
    throw new UserError('adapter_config.json: rank_pattern / alpha_pattern are not supported');
  if (!Number.isSafeInteger(c.r) || (c.r as number) < 1)
    throw new UserError(`${cfgFile}: r must be a positive integer, got ${JSON.stringify(c.r)}`);
  if (typeof c.lora_alpha !== 'number' || !Number.isFinite(c.lora_alpha))
    throw new UserError(
      `${cfgFile}: lora_alpha must be a finite number, got ${JSON.stringify(c.lora_alpha)}`,
    );
  const config: LoraConfig = {
    r: Number(c.r),
    alpha: Number(c.lora_alpha),
    dropout: Number(c.lora_dropout ?? 0),
    targetModules: (c.target_modules as string[] | string) ?? 'all-linear',
    useRslora: Boolean(c.use_rslora),
  };
  const file = path.join(dir, 'adapter_model.safetensors');
  if (!fs.existsSync(file))
    throw new UserError(`${dir}: missing adapter_model.safetensors (adapter_model.bin is not supported)`);
  const header = readStHeader(regularFile(file));
  const byPath = new Map(linears.map((m) => [m.path, m]));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const used = new Set<string>();
  for (const key of header.tensors.keys()) {
    const m = /^(.*)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(key);
    if (!m) throw new UserError(`adapter_model.safetensors: unexpected key ${key} (only lora_A / lora_B)`);
    let p = m[1].startsWith(PEFT_PREFIX) ? m[1].slice(PEFT_PREFIX.length) : m[1];
    if (!byPath.has(p))
      for (const pre of ['model.', 'bert.', 'roberta.'])
        if (p.startsWith(pre) && byPath.has(p.slice(pre.length))) p = p.slice(pre.length);
    const lin = byPath.get(p);
    if (!lin)
      throw new UserError(
        `adapter_model.safetensors: ${key} targets ${p}, which is not a linear layer of this model`,
      );
    const shape = m[2] === 'A' ? [config.r, lin.inFeatures] : [lin.outFeatures, config.r];
    const e = header.tensors.get(key)!;
    if (e.shape.join() !== shape.join())
      throw new UserError(`adapter_model.safetensors: ${key} has shape [${e.shape}], expected [${shape}]`);
    tensors.set(m[2] === 'A' ? loraKeyA(p) : loraKeyB(p), { shape, data: readF32(header, key) });
    used.add(p);
  }
  const modules = linears.filter((l) => used.has(l.path));
  for (const l of modules)
    if (!tensors.has(loraKeyA(l.path)) || !tensors.has(loraKeyB(l.path)))
      throw new UserError(`adapter_model.safetensors: ${l.path} has lora_A without lora_B or the reverse`);
  return { config, modules, tensors };
}
