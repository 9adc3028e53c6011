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
 * A model folder: config and the weight index of its safetensors files (single or sharded).
 * Weights are addressed by their base-model names (`layers.0.self_attn.q_proj.weight`); a stored
 * `model.` (or `bert.`/`roberta.`) prefix, as written by *ForCausalLM / *ForMaskedLM, is accepted.
 */
export class ModelFolder {
  private constructor(
    readonly dir: string,
    readonly config: HfConfig,
    private readonly refs: Map<string, WeightRef>,
    /** Files the weights came from, relative to dir. */
    readonly files: string[],
  ) {}

  static open(dir: string): ModelFolder {
    const abs = path.resolve(dir);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory())
      throw new UserError(`${dir}: not a model folder (expected config.json and *.safetensors)`);
    const config = readConfig(abs);
    const files = weightFiles(abs);
    for (const f of files) regularFile(path.join(abs, f));
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
    checkConfigAgainstWeights(config, refs, files);
    return new ModelFolder(abs, config, refs, files);
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
  const c = readModelJson(f);
  if (typeof c.model_type !== 'string') throw new UserError(`${f}: missing model_type`);
  return c as HfConfig;
}

/**
 * Only regular files are opened: a FIFO would block the read forever and a directory throws EISDIR deep in a
 * reader, so both become one line naming the file.
 */
export function regularFile(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new UserError(`${file}: no such file`);
  }
  if (!st.isFile())
    throw new UserError(
      `${file}: not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'a special file'}); replace it with the real file`,
    );
  return file;
}

/** Reads a model-folder JSON file that must hold an object (`null`, arrays and junk are one-line errors). */
export function readModelJson(file: string): Record<string, unknown> {
  regularFile(file);
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new UserError(`${file}: not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new UserError(
      `${file}: expected a JSON object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`,
    );
  return v as Record<string, unknown>;
}

/** config.json fields that count something: each must be a positive integer when present. */
const COUNT_FIELDS = [
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'vocab_size',
  'max_position_embeddings',
];
const EMBEDDINGS = ['embed_tokens.weight', 'embeddings.word_embeddings.weight', 'wte.weight'];
const LAYER = /^(?:layers|encoder\.layer|h)\.(\d+)\./;

/**
 * config.json against the tensors, before anything is built: sizes must be positive integers, the
 * embedding matrix must be [vocab_size, hidden_size] and the layer count must be the number of stored layers
 * (a `num_hidden_layers: 1e8` would otherwise build a graph for a hundred million layers).
 */
function checkConfigAgainstWeights(config: HfConfig, refs: Map<string, WeightRef>, files: string[]): void {
  const where = files.join(', ');
  for (const k of COUNT_FIELDS) {
    const v = config[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
      throw new UserError(`config.json: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  const emb = EMBEDDINGS.map((n) => refs.get(n)).find(Boolean);
  if (emb && emb.shape.length === 2) {
    const [vocab, hidden] = emb.shape;
    if (typeof config.hidden_size === 'number' && config.hidden_size !== hidden)
      throw new UserError(
        `config.json: hidden_size ${config.hidden_size}, but ${where} stores ${emb.storedName} as [${emb.shape}] (hidden size ${hidden})`,
      );
    if (typeof config.vocab_size === 'number' && config.vocab_size !== vocab)
      throw new UserError(
        `config.json: vocab_size ${config.vocab_size}, but ${where} stores ${emb.storedName} as [${emb.shape}] (vocabulary ${vocab})`,
      );
  }
  const layers = new Set<number>();
  for (const n of refs.keys()) {
    const m = LAYER.exec(n);
    if (m) layers.add(Number(m[1]));
  }
  const L = config.num_hidden_layers;
  if (typeof L === 'number' && layers.size > 0 && L !== layers.size)
    throw new UserError(`config.json: num_hidden_layers ${L}, but ${where} stores ${layers.size} layers`);
}

function weightFiles(dir: string): string[] {
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    const j = readModelJson(index) as { weight_map?: Record<string, string> };
    if (!j.weight_map || typeof j.weight_map !== 'object')
      throw new UserError(`model.safetensors.index.json: missing weight_map`);
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
  regularFile(file);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    throw new UserError(`${file}: not valid JSON`);
  }
}
