import fs from 'node:fs';
import path from 'node:path';
import {
  f32ToBf16,
  f32ToF16,
  parseSafetensorsHeader,
  readTensorBytes,
  type SafetensorsTensorIn,
  type StDtype,
  writeSafetensors,
} from '../engine/safetensors';
import { UserError } from '../errors';
import { exportOnnx, MODEL_FOLDER_FILES, mergedWeights, writeEmbeddingFolderFiles } from '../models/export';
import { EmbeddingModel } from '../models/model';
import { modelReference } from '../models/origin';
import { latestCheckpoint } from './checkpoint';
import { readRunJson } from './trainer';

export interface ResolvedRun {
  runDir: string;
  modelDir: string;
  adapterDir: string;
}

/** RUN is a run folder, or a run id under the workspace's runs/ folder. */
export function resolveRun(run: string, runsDir: string): ResolvedRun {
  const candidates = [path.resolve(run), path.join(runsDir, run)];
  const runDir = candidates.find((d) => fs.existsSync(path.join(d, 'run.json')));
  if (!runDir)
    throw new UserError(
      `${run}: not a training run (no run.json there or in ${runsDir}); pass the folder \`train\` wrote`,
    );
  // run.json keeps the model absolute; runs written before that may hold a path relative to the directory
  // `train` ran in, most often the run folder's parent (`--out runs/x` beside `--model models/y`).
  const recorded = readRunJson(runDir).config.model;
  const modelDir =
    path.isAbsolute(recorded) || fs.existsSync(path.join(recorded, 'config.json'))
      ? path.resolve(recorded)
      : ([path.dirname(runDir), path.dirname(path.dirname(runDir))]
          .map((d) => path.join(d, recorded))
          .find((d) => fs.existsSync(path.join(d, 'config.json'))) ?? recorded);
  let adapterDir = path.join(runDir, 'adapter');
  if (!fs.existsSync(path.join(adapterDir, 'adapter_model.safetensors'))) {
    const ck = latestCheckpoint(runDir);
    if (!ck) throw new UserError(`${run}: the run has no adapter and no checkpoint yet; train it first`);
    adapterDir = path.join(ck, 'adapter');
  }
  if (!fs.existsSync(path.join(modelDir, 'config.json')))
    throw new UserError(`${run}: its base model ${modelDir} is gone; restore that folder to export`);
  return { runDir, modelDir, adapterDir };
}

// The merged model keeps the base's shards, so their index and the generation config come along too.
const COPY = [...MODEL_FOLDER_FILES, 'model.safetensors.index.json', 'generation_config.json'];
const PREFIXES = ['model.', 'bert.', 'roberta.', 'transformer.'];

/** Writes into a temp folder beside `out`, then renames it into place. */
function intoFreshDir(out: string, fn: (tmp: string) => void): void {
  if (fs.existsSync(out) && fs.readdirSync(out).length)
    throw new UserError(`--out ${out} exists and is not empty; pick another --out or remove it`);
  const tmp = `${out.replace(/\/$/, '')}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    fn(tmp);
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function copyFolderFiles(src: string, dst: string) {
  for (const f of COPY)
    if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(dst, f));
  // sentence-transformers module folders (1_Pooling, 2_Normalize, …).
  for (const d of fs.readdirSync(src))
    if (/^\d+_/.test(d) && fs.statSync(path.join(src, d)).isDirectory())
      fs.cpSync(path.join(src, d), path.join(dst, d), { recursive: true });
}

/**
 * The adapter merged into the base weights (PEFT merge_and_unload: W += α/r · B·A), written as the base
 * folder's safetensors files (same names, shards and dtypes) plus its config, tokenizer and
 * sentence-transformers files: a folder transformers / sentence-transformers load like the base.
 */
export function exportMerged(
  r: ResolvedRun,
  out: string,
  o: { instruction?: string | null } = {},
): { out: string; files: string[]; merged: number } {
  const model = EmbeddingModel.load(r.modelDir);
  const adapter = model.loadAdapter(r.adapterDir);
  const merged = mergedWeights(model, adapter);
  const files: string[] = [];
  let hits = 0;
  intoFreshDir(out, (tmp) => {
    for (const f of model.ck.files) {
      const file = path.join(model.ck.dir, f);
      const header = parseSafetensorsHeader(file);
      const tensors = new Map<string, SafetensorsTensorIn>();
      for (const [stored, e] of header.tensors) {
        const base = merged.has(stored)
          ? stored
          : (PREFIXES.map((p) => (stored.startsWith(p) ? stored.slice(p.length) : null)).find(
              (n) => n && merged.has(n),
            ) ?? null);
        if (base) {
          tensors.set(stored, { dtype: e.dtype, shape: e.shape, data: encodeAs(merged.get(base)!, e.dtype) });
          hits++;
        } else tensors.set(stored, { dtype: e.dtype, shape: e.shape, data: readTensorBytes(file, e) });
      }
      // Everything not merged (I64 position ids, U8/BOOL masks, norms, embeddings) keeps its bytes and dtype.
      writeSafetensors(path.join(tmp, f), tensors, {
        metadata: header.metadata,
        sortKeys: true,
        atomic: true,
      });
      files.push(f);
    }
    copyFolderFiles(model.ck.dir, tmp);
    // Ours over the base's: a tokenizer that ends last-token inputs with EOS, and sentence-transformers files.
    files.push(...writeEmbeddingFolderFiles(model, tmp, o));
  });
  if (hits !== merged.size) throw new Error(`merge: wrote ${hits} of ${merged.size} adapted weights`);
  return { out, files, merged: hits };
}

/** A merged float32 weight in the base tensor's own float dtype. */
function encodeAs(data: Float32Array, dtype: StDtype): ArrayBufferView {
  if (dtype === 'F32') return data;
  if (dtype === 'F64') return Float64Array.from(data);
  if (dtype === 'F16') return Uint16Array.from(data, f32ToF16);
  if (dtype === 'BF16') return Uint16Array.from(data, f32ToBf16);
  throw new Error(`merge: an adapted weight stored as ${dtype}`);
}

/**
 * The run's PEFT adapter as a folder sentence-transformers loads with `SentenceTransformer(path)`: the
 * adapter files (transformers' PEFT integration loads the base named by base_model_name_or_path, a hub id
 * or an absolute path), our embedding tokenizer and the sentence-transformers files beside them.
 */
export function exportAdapter(
  r: ResolvedRun,
  out: string,
  o: { instruction?: string | null } = {},
): { out: string; files: string[] } {
  const model = EmbeddingModel.load(r.modelDir);
  model.loadAdapter(r.adapterDir); // refuses an adapter that does not fit the base
  const files = ['adapter_config.json', 'adapter_model.safetensors'];
  intoFreshDir(out, (tmp) => {
    fs.copyFileSync(path.join(r.adapterDir, files[1]), path.join(tmp, files[1]));
    // The base as the run knows it (adapters written elsewhere may carry "" or a cwd-relative path).
    const cfg = JSON.parse(fs.readFileSync(path.join(r.adapterDir, files[0]), 'utf8'));
    const ref = modelReference(r.modelDir);
    cfg.base_model_name_or_path = ref.name;
    cfg.revision = ref.revision;
    fs.writeFileSync(path.join(tmp, files[0]), `${JSON.stringify(cfg, null, 2)}\n`);
    files.push(...writeEmbeddingFolderFiles(model, tmp, o));
  });
  return { out, files };
}

/** The models area's ONNX export of the base with this run's adapter merged. */
export function exportRunOnnx(
  r: ResolvedRun,
  out: string,
  o: { instruction?: string | null } = {},
): { out: string; files: string[] } {
  const model = EmbeddingModel.load(r.modelDir);
  const adapter = model.loadAdapter(r.adapterDir);
  let files: string[] = [];
  intoFreshDir(out, (tmp) => {
    files = exportOnnx(model, tmp, { adapter, instruction: o.instruction }).files;
  });
  return { out, files };
}
