import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';
import { readF32, readStHeader, type StEntry, type StHeader } from './safetensors';

/** A raw Hugging Face `config.json` (fields vary per model_type; the architectures read what they need). */
export type HfConfig = Record<string, unknown> & { model_type: string };

/** Where one weight lives: file, dtype, shape and byte range — enough for ONNX external data. */
export interface WeightRef extends StEntry {
  /** The name as stored in the file (may carry a `model.` prefix). */
  storedName: string;
  header: StHeader;
}

/**
 * A checkpoint folder: config and the weight index of its safetensors files (single or sharded).
 * Weights are addressed by their base-model names (`layers.0.self_attn.q_proj.weight`); a stored
 * `model.` (or `bert.`/`roberta.`) prefix, as written by *ForCausalLM / *ForMaskedLM, is accepted.
 */
export class Checkpoint {
  private constructor(
    readonly dir: string,
    readonly config: HfConfig,
    private readonly refs: Map<string, WeightRef>,
    /** Files the weights came from, relative to dir. */
    readonly files: string[],
  ) {}

  static open(dir: string): Checkpoint {
    const abs = path.resolve(dir);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory())
      throw new UserError(`${dir}: not a model folder (expected config.json and *.safetensors)`);
    const config = readConfig(abs);
    const files = weightFiles(abs);
    const refs = new Map<string, WeightRef>();
    for (const f of files) {
      const header = readStHeader(path.join(abs, f));
      for (const [name, e] of header.tensors) {
        const base = stripPrefix(name);
        // A base-model name wins over a prefixed duplicate (e.g. an LM head's `model.` copy).
        if (refs.has(base) && base !== name) continue;
        refs.set(base, { ...e, storedName: name, header });
      }
    }
    return new Checkpoint(abs, config, refs, files);
  }

  get modelType(): string {
    return this.config.model_type;
  }

  has(name: string): boolean {
    return this.refs.has(name);
  }

  names(): string[] {
    return [...this.refs.keys()];
  }

  /** The weight's location, or a UserError naming the file and the key. */
  ref(name: string, shape?: number[]): WeightRef {
    const r = this.refs.get(name);
    if (!r) throw new UserError(`${this.files.join(', ')}: missing ${name}`);
    if (shape && (shape.length !== r.shape.length || shape.some((d, i) => d !== r.shape[i])))
      throw new UserError(
        `${path.basename(r.header.file)}: ${name} has shape [${r.shape}], config.json implies [${shape}]`,
      );
    return r;
  }

  /** Reads a weight as float32. */
  read(name: string, shape?: number[]): Float32Array {
    const r = this.ref(name, shape);
    return readF32(r.header, r.storedName);
  }
}

const PREFIXES = ['model.', 'bert.', 'roberta.', 'transformer.'];
function stripPrefix(name: string): string {
  // Old BERT checkpoints name LayerNorm parameters gamma/beta (transformers renames them on load).
  const n = name
    .replace(/LayerNorm\.gamma$/, 'LayerNorm.weight')
    .replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
  for (const p of PREFIXES) if (n.startsWith(p)) return n.slice(p.length);
  return n;
}

function readConfig(dir: string): HfConfig {
  const f = path.join(dir, 'config.json');
  if (!fs.existsSync(f)) throw new UserError(`${dir}: missing config.json`);
  let c: HfConfig;
  try {
    c = JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch {
    throw new UserError(`config.json: not valid JSON in ${dir}`);
  }
  if (typeof c.model_type !== 'string') throw new UserError(`config.json: missing model_type`);
  return c;
}

function weightFiles(dir: string): string[] {
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    let j: { weight_map?: Record<string, string> };
    try {
      j = JSON.parse(fs.readFileSync(index, 'utf8'));
    } catch {
      throw new UserError(`model.safetensors.index.json: not valid JSON`);
    }
    if (!j.weight_map) throw new UserError(`model.safetensors.index.json: missing weight_map`);
    const files = [...new Set(Object.values(j.weight_map))].sort();
    for (const f of files)
      if (!fs.existsSync(path.join(dir, f)))
        throw new UserError(`model.safetensors.index.json: shard ${f} is missing from ${dir}`);
    return files;
  }
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return ['model.safetensors'];
  const bin =
    fs.existsSync(path.join(dir, 'pytorch_model.bin')) ||
    fs.existsSync(path.join(dir, 'pytorch_model.bin.index.json'));
  throw new UserError(
    bin
      ? `${dir}: only pytorch_model.bin here; convert it to safetensors (e.g. transformers save_pretrained(safe_serialization=True))`
      : `${dir}: no model.safetensors or model.safetensors.index.json`,
  );
}

/** Reads an optional JSON file of a model folder. */
export function readJsonIfExists<T>(file: string): T | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    throw new UserError(`${path.basename(file)}: not valid JSON (${file})`);
  }
}
