// Embedding throughput on CPU: our embed() (engine graph, ORT in a worker) vs @huggingface/transformers
// feature-extraction on our own ONNX export of the same weights, same texts, same batches, same threads.
// Models: random weights of real shapes written to a temp safetensors file — a BERT-base encoder and a
// small decoder (llama family, GQA). Usage: npm run bench -- embed [--texts N] [--threads T] [--batch B]
// [--only bert|decoder]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import { exportOnnx } from '../src/main/models/export';
import { EmbeddingModel } from '../src/main/models/model';
import { seededRandom } from '../src/main/models/lora';
import { type StTensorOut, writeSafetensors } from '../src/main/models/safetensors';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('texts', '256'));
const THREADS = Number(arg('threads', String(Math.min(4, os.availableParallelism()))));
const BATCH = Number(arg('batch', '16'));
const ONLY = arg('only', '');
const log = (s: string) => process.stderr.write(`${s}\n`);
const FIXTURES = path.resolve(import.meta.dirname, '../test/fixtures/parity');

interface Spec {
  name: string;
  tokenizerFrom: string;
  config: Record<string, unknown>;
  shapes: Record<string, number[]>;
}

function bertBase(): Spec {
  const H = 768;
  const I = 3072;
  const shapes: Record<string, number[]> = {
    'embeddings.word_embeddings.weight': [30522, H],
    'embeddings.position_embeddings.weight': [512, H],
    'embeddings.token_type_embeddings.weight': [2, H],
    'embeddings.LayerNorm.weight': [H],
    'embeddings.LayerNorm.bias': [H],
  };
  for (let i = 0; i < 12; i++) {
    const l = `encoder.layer.${i}`;
    for (const n of ['query', 'key', 'value'])
      Object.assign(shapes, {
        [`${l}.attention.self.${n}.weight`]: [H, H],
        [`${l}.attention.self.${n}.bias`]: [H],
      });
    Object.assign(shapes, {
      [`${l}.attention.output.dense.weight`]: [H, H],
      [`${l}.attention.output.dense.bias`]: [H],
      [`${l}.attention.output.LayerNorm.weight`]: [H],
      [`${l}.attention.output.LayerNorm.bias`]: [H],
      [`${l}.intermediate.dense.weight`]: [I, H],
      [`${l}.intermediate.dense.bias`]: [I],
      [`${l}.output.dense.weight`]: [H, I],
      [`${l}.output.dense.bias`]: [H],
      [`${l}.output.LayerNorm.weight`]: [H],
      [`${l}.output.LayerNorm.bias`]: [H],
    });
  }
  return {
    name: 'bert-base (110M)',
    tokenizerFrom: 'bert',
    config: {
      architectures: ['BertModel'],
      model_type: 'bert',
      hidden_size: H,
      intermediate_size: I,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      max_position_embeddings: 512,
      type_vocab_size: 2,
      vocab_size: 30522,
      layer_norm_eps: 1e-12,
      hidden_act: 'gelu',
      pad_token_id: 0,
    },
    shapes,
  };
}

function smallDecoder(): Spec {
  const H = 512;
  const I = 1408;
  const L = 8;
  const heads = 8;
  const kv = 2;
  const hd = H / heads;
  const shapes: Record<string, number[]> = { 'embed_tokens.weight': [32000, H], 'norm.weight': [H] };
  for (let i = 0; i < L; i++) {
    const p = `layers.${i}`;
    Object.assign(shapes, {
      [`${p}.input_layernorm.weight`]: [H],
      [`${p}.post_attention_layernorm.weight`]: [H],
      [`${p}.self_attn.q_proj.weight`]: [heads * hd, H],
      [`${p}.self_attn.k_proj.weight`]: [kv * hd, H],
      [`${p}.self_attn.v_proj.weight`]: [kv * hd, H],
      [`${p}.self_attn.o_proj.weight`]: [H, heads * hd],
      [`${p}.mlp.gate_proj.weight`]: [I, H],
      [`${p}.mlp.up_proj.weight`]: [I, H],
      [`${p}.mlp.down_proj.weight`]: [H, I],
    });
  }
  return {
    name: 'decoder (mistral-shaped, 8×512, GQA 8/2, 41M)',
    tokenizerFrom: 'mistral',
    config: {
      architectures: ['MistralModel'],
      model_type: 'mistral',
      hidden_size: H,
      intermediate_size: I,
      num_hidden_layers: L,
      num_attention_heads: heads,
      num_key_value_heads: kv,
      max_position_embeddings: 4096,
      vocab_size: 32000,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      hidden_act: 'silu',
      sliding_window: null,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 0,
    },
    shapes,
  };
}

function writeModel(spec: Spec, dir: string) {
  const rand = seededRandom(1);
  const tensors = new Map<string, StTensorOut>();
  for (const [k, shape] of Object.entries(spec.shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const norm = k.includes('LayerNorm.weight') || k.includes('layernorm.weight') || k === 'norm.weight';
    for (let i = 0; i < n; i++) data[i] = norm ? 1 : (rand() - 0.5) * 0.04;
    tensors.set(k, { shape, data });
  }
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec.config));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'modules.json', '1_Pooling'])
    fs.cpSync(path.join(FIXTURES, spec.tokenizerFrom, f), path.join(dir, f), { recursive: true });
}

/** Texts of 8–120 known words (the fixture vocabulary), deterministic. */
function makeTexts(): string[] {
  const vocab = Object.keys(
    JSON.parse(fs.readFileSync(path.join(FIXTURES, 'mistral', 'tokenizer.json'), 'utf8')).model.vocab,
  ).filter((w) => /^[a-z]+$/.test(w));
  const rand = seededRandom(2);
  return Array.from({ length: N }, () => {
    const len = 8 + Math.floor(rand() * 113);
    return Array.from({ length: len }, () => vocab[Math.floor(rand() * vocab.length)]).join(' ');
  });
}

async function benchOne(spec: Spec, root: string, texts: string[]) {
  const dir = path.join(root, spec.name.split(' ')[0]);
  let t = performance.now();
  writeModel(spec, dir);
  log(`${spec.name}: wrote random weights in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const model = EmbeddingModel.load(dir, { device: 'cpu', threads: THREADS });
  const tokens = model.tokenize(texts).reduce((a, s) => a + s.length, 0);
  // Same batches for both: sorted by length, BATCH texts each (what our embed() does).
  const order = [...texts.keys()].sort((a, b) => texts[b].length - texts[a].length);
  const batches: string[][] = [];
  for (let i = 0; i < N; i += BATCH) batches.push(order.slice(i, i + BATCH).map((j) => texts[j]));

  const exportRoot = path.join(root, 'export');
  const name = path.basename(dir);
  exportOnnx(model, path.join(exportRoot, name), { weights: 'external' });
  env.allowRemoteModels = false;
  env.localModelPath = exportRoot;
  const pipe = await pipeline('feature-extraction', name, {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: THREADS },
  });
  // Mean pooling on the transformers.js side for both models: pooling is negligible next to the forward,
  // and its last_token pooling assumes left padding.
  const theirsRun = (b: string[]) => pipe(b, { pooling: 'mean', normalize: true });
  const oursRun = (b: string[]) => model.embed(b, { batchSize: BATCH });
  await oursRun(batches[batches.length - 1]); // warm-up: session creation
  await theirsRun(batches[batches.length - 1]);
  // Interleaved, alternating who goes first, so load from other processes hits both sides alike.
  let ours = 0;
  let theirs = 0;
  for (const [i, b] of batches.entries()) {
    for (const side of i % 2 ? ['theirs', 'ours'] : ['ours', 'theirs']) {
      t = performance.now();
      if (side === 'ours') await oursRun(b);
      else await theirsRun(b);
      const dt = (performance.now() - t) / 1000;
      if (side === 'ours') ours += dt;
      else theirs += dt;
    }
  }
  // As each is used: our embed() on the whole list (it buckets by length), transformers.js on consecutive
  // batches in input order (a pipeline pads each batch to its longest text). This is the headline figure:
  // it measures what a user gets, including what length bucketing saves.
  const inputBatches: string[][] = [];
  for (let i = 0; i < N; i += BATCH) inputBatches.push(texts.slice(i, i + BATCH));
  let oursUsed = 0;
  let theirsUsed = 0;
  for (let rep = 0; rep < 2; rep++) {
    for (const side of rep % 2 ? ['theirs', 'ours'] : ['ours', 'theirs']) {
      t = performance.now();
      if (side === 'ours') await model.embed(texts, { batchSize: BATCH });
      else for (const b of inputBatches) await theirsRun(b);
      const dt = (performance.now() - t) / 1000 / 2;
      if (side === 'ours') oursUsed += dt;
      else theirsUsed += dt;
    }
  }
  await pipe.dispose();
  await model.dispose();
  const r = {
    model: spec.name,
    texts: N,
    tokens,
    ours: { seconds: oursUsed, textsPerS: N / oursUsed, tokensPerS: tokens / oursUsed },
    transformersjs: { seconds: theirsUsed, textsPerS: N / theirsUsed, tokensPerS: tokens / theirsUsed },
    ratio: theirsUsed / oursUsed,
    sameBatches: { oursSeconds: ours, theirsSeconds: theirs, ratio: theirs / ours },
  };
  log(
    `${spec.name}: as used — ours ${r.ours.textsPerS.toFixed(1)} texts/s ${r.ours.tokensPerS.toFixed(0)} tok/s | transformers.js ${r.transformersjs.textsPerS.toFixed(1)} texts/s ${r.transformersjs.tokensPerS.toFixed(0)} tok/s | ratio ${r.ratio.toFixed(2)}; same sorted batches: ratio ${r.sameBatches.ratio.toFixed(2)}`,
  );
  return r;
}

async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-bench-embed-'));
  try {
    const texts = makeTexts();
    log(`${N} texts, batch ${BATCH}, ${THREADS} threads, CPU ${os.cpus()[0]?.model ?? '?'}`);
    const results = [];
    if (ONLY !== 'decoder') results.push(await benchOne(bertBase(), root, texts));
    if (ONLY !== 'bert') results.push(await benchOne(smallDecoder(), root, texts));
    const geo = Math.exp(results.reduce((a, r) => a + Math.log(r.ratio), 0) / results.length);
    console.log(
      JSON.stringify({
        bench: 'embed',
        threads: THREADS,
        batch: BATCH,
        results,
        ratio_vs_transformersjs: Number(geo.toFixed(3)),
        ratio_same_batches: Number(
          Math.exp(results.reduce((a, r) => a + Math.log(r.sameBatches.ratio), 0) / results.length).toFixed(
            3,
          ),
        ),
      }),
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
