// `npm run bench -- train [--gpu] [--batch 16] [--steps 3] [--threads 2]`; `--shape NAME`: bench/train-shape.ts
// CPU examples/s and tokens/s of one LoRA training step (GradCache forward + loss + backward + AdamW) of a
// small Mistral-architecture decoder, against PyTorch doing the same model, LoRA, batch and loss; peak memory
// vs batch size with and without GradCache. Each measurement runs in its own process (peak RSS is per
// process). `--gpu` runs the comparison on CUDA against transformers + PEFT (needs them installed).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddingModel } from '../src/main/models/model';
import { createTrainableEncoder } from '../src/main/models/trainable';
import { gradCacheStep } from '../src/main/training/gradcache';
import { EngineInfoNce } from '../src/main/training/loss-onnx';
import { AdamW } from '../src/main/training/optim';
import { mixSeed, mulberry32 } from '../src/main/training/rng';
import { writeTensors } from '../src/main/training/tensors';
import { torchEnv } from './torch-env';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = path.join(ROOT, 'test/fixtures/parity/mistral');
const SELF = fileURLToPath(import.meta.url);

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const GPU = argv.includes('--gpu');

interface ChildSpec {
  model: string;
  batch: number;
  chunk: number;
  steps: number;
  threads: number;
  device: string;
  texts: string[];
}

/** A random-weight Mistral-architecture model folder (vocab and tokenizer of the parity fixture). */
function makeModel(dir: string, o = { hidden: 256, layers: 4, heads: 8, kv: 4, inter: 704 }) {
  fs.mkdirSync(dir, { recursive: true });
  const rand = mulberry32(1);
  const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const w = (shape: number[], scale: number) => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => normal() * scale),
  });
  const ones = (n: number) => ({ shape: [n], data: new Float32Array(n).fill(1) });
  const hd = o.hidden / o.heads;
  const t: Record<string, { shape: number[]; data: Float32Array }> = {
    'embed_tokens.weight': w([512, o.hidden], 0.5),
    'norm.weight': ones(o.hidden),
  };
  for (let i = 0; i < o.layers; i++) {
    const p = `layers.${i}.`;
    const s = 1 / Math.sqrt(o.hidden);
    t[`${p}input_layernorm.weight`] = ones(o.hidden);
    t[`${p}post_attention_layernorm.weight`] = ones(o.hidden);
    t[`${p}self_attn.q_proj.weight`] = w([o.hidden, o.hidden], s);
    t[`${p}self_attn.k_proj.weight`] = w([o.kv * hd, o.hidden], s);
    t[`${p}self_attn.v_proj.weight`] = w([o.kv * hd, o.hidden], s);
    t[`${p}self_attn.o_proj.weight`] = w([o.hidden, o.hidden], s);
    t[`${p}mlp.gate_proj.weight`] = w([o.inter, o.hidden], s);
    t[`${p}mlp.up_proj.weight`] = w([o.inter, o.hidden], s);
    t[`${p}mlp.down_proj.weight`] = w([o.hidden, o.inter], 1 / Math.sqrt(o.inter));
  }
  writeTensors(path.join(dir, 'model.safetensors'), t);
  const cfg = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8'));
  Object.assign(cfg, {
    hidden_size: o.hidden,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    num_key_value_heads: o.kv,
    intermediate_size: o.inter,
    max_position_embeddings: 512,
    initializer_range: 0.02,
  });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  for (const f of [
    'tokenizer.json',
    'tokenizer_config.json',
    'modules.json',
    'config_sentence_transformers.json',
  ])
    fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  fs.cpSync(path.join(FIXTURE, '1_Pooling'), path.join(dir, '1_Pooling'), { recursive: true });
  return { params: Object.values(t).reduce((a, x) => a + x.data.length, 0), ...o };
}

/** 3B texts (queries, positives, negatives) of `words` random vocabulary words. */
function makeTexts(b: number, words: number): string[] {
  const vocab = Object.keys(
    JSON.parse(fs.readFileSync(path.join(FIXTURE, 'tokenizer.json'), 'utf8')).model.vocab as Record<
      string,
      number
    >,
  ).slice(5);
  const rand = mulberry32(7);
  return Array.from({ length: 3 * b }, () =>
    Array.from({ length: words }, () => vocab[Math.floor(rand() * vocab.length)]).join(' '),
  );
}

/** One measurement in this process: warm-up step, then `steps` timed steps. */
async function child(spec: ChildSpec) {
  const enc = await createTrainableEncoder(
    {
      modelDir: spec.model,
      rank: 16,
      alpha: 32,
      dropout: 0.1,
      targetModules: ['all-linear'],
      maxLength: 512,
      device: spec.device,
      dtype: 'float32',
    },
    { inThread: true, threads: spec.threads },
  );
  const loss = new EngineInfoNce(spec.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu']);
  const lora = enc.initLora(0);
  for (const p of enc.params)
    if (p.name.endsWith('lora_B.weight'))
      lora.set(p.name, new Float32Array(lora.get(p.name)?.length ?? 0).fill(0.01));
  const opt = new AdamW(enc.params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
  const B = spec.batch;
  const batch = {
    queries: spec.texts.slice(0, B),
    positives: spec.texts.slice(B, 2 * B),
    negatives: spec.texts.slice(2 * B),
  };
  let tokens = 0;
  const one = async (k: number) => {
    const r = await gradCacheStep(enc, lora, batch, loss, {
      chunkSize: spec.chunk,
      temperature: 0.02,
      dropoutP: 0.1,
      seedOf: (i) => mixSeed(k, i),
    });
    opt.update(lora, r.grads, 1e-4);
    tokens = r.tokens;
  };
  await one(0);
  const t0 = performance.now();
  for (let k = 1; k <= spec.steps; k++) await one(k);
  const dt = (performance.now() - t0) / 1000 / spec.steps;
  await enc.dispose();
  await loss.dispose?.();
  return {
    examples_per_s: B / dt,
    tokens_per_s: tokens / dt,
    step_s: dt,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
}

function runChild(spec: ChildSpec) {
  const file = path.join(path.dirname(spec.model), `child-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', file], {
    encoding: 'utf8',
    cwd: ROOT,
    maxBuffer: 64 * 2 ** 20,
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    throw new Error(`bench child failed (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line);
}

function ensureTorch(hf: boolean) {
  const probe = hf ? 'import torch, transformers, peft' : 'import torch, numpy';
  if (spawnSync('/usr/bin/python3', ['-c', probe]).status === 0) return;
  if (hf)
    throw new Error('--gpu needs PyTorch with CUDA, transformers and peft importable by /usr/bin/python3');
  console.error('installing Debian python3-torch (apt-get) …');
  const r = spawnSync(
    'sh',
    ['-c', 'apt-get update -qq && apt-get install -y -qq python3-torch python3-numpy'],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error('could not apt-get install python3-torch; install it and rerun');
}

// `--torch-blas system` keeps the system BLAS for the PyTorch process (default: OpenBLAS, bench/torch-env.ts).
const peerEnv = (threads: number) => torchEnv(threads, flag('torch-blas', 'openblas') === 'openblas').env;

function runTorch(args: Record<string, unknown> & { threads: number }, dir: string) {
  const file = path.join(dir, 'torch-args.json');
  fs.writeFileSync(file, JSON.stringify(args));
  const r = spawnSync('/usr/bin/python3', [path.join(ROOT, 'bench/train_torch.py'), file], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
    env: peerEnv(args.threads),
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    throw new Error(`PyTorch side failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(line);
}

async function mainBench() {
  const batch = Number(flag('batch', '16'));
  const steps = Number(flag('steps', '3'));
  const threads = Number(flag('threads', String(Math.min(os.availableParallelism(), 16))));
  const words = Number(flag('words', '48'));
  const device = GPU ? 'cuda' : 'cpu';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
  try {
    const modelDir = path.join(dir, 'model');
    const shape = GPU
      ? makeModel(modelDir, { hidden: 1024, layers: 8, heads: 16, kv: 8, inter: 2816 })
      : makeModel(modelDir);
    console.error(
      `model: mistral-arch ${JSON.stringify(shape)}; batch ${batch} (+${batch} positives, +${batch} negatives), ${words} words/text, ${threads} threads, ${device}`,
    );
    const texts = makeTexts(batch, words);
    const seqs = EmbeddingModel.load(modelDir, { maxLength: 512 }).tokenize(texts);
    const chunk = Number(flag('chunk', '16'));
    const ours = runChild({ model: modelDir, batch, chunk, steps, threads, device, texts });
    console.error(
      `embedsmith (GradCache c=${chunk}): ${ours.examples_per_s.toFixed(1)} ex/s, ${ours.tokens_per_s.toFixed(0)} tok/s, peak ${ours.peak_rss_mb.toFixed(0)} MB`,
    );
    ensureTorch(GPU);
    const torch = runTorch(
      {
        model: modelDir,
        seqs,
        batch,
        steps,
        threads,
        rank: 16,
        alpha: 32,
        dropout: 0.1,
        temperature: 0.02,
        device,
        impl: GPU ? 'hf' : 'plain',
        dtype: 'float32',
      },
      dir,
    );
    console.error(
      `pytorch (full batch autograd): ${torch.examples_per_s.toFixed(1)} ex/s, ${torch.tokens_per_s.toFixed(0)} tok/s, peak ${torch.peak_rss_mb.toFixed(0)} MB`,
    );
    const peak: Record<string, { gradcache: number; full: number }> = {};
    for (const b of (flag('mem-batches', GPU ? '32,64,128' : '8,16,32,64') as string)
      .split(',')
      .map(Number)) {
      const t = makeTexts(b, words);
      const gc = runChild({ model: modelDir, batch: b, chunk: 8, steps: 1, threads, device, texts: t });
      const full = runChild({ model: modelDir, batch: b, chunk: 3 * b, steps: 1, threads, device, texts: t });
      peak[String(b)] = { gradcache: Math.round(gc.peak_rss_mb), full: Math.round(full.peak_rss_mb) };
      console.error(
        `peak RSS batch ${b}: GradCache c=8 ${peak[String(b)].gradcache} MB, full batch ${peak[String(b)].full} MB`,
      );
    }
    console.log(
      JSON.stringify({
        bench: 'train',
        device,
        model: shape,
        batch,
        words_per_text: words,
        threads,
        ours: { examples_per_s: ours.examples_per_s, tokens_per_s: ours.tokens_per_s, chunk },
        pytorch: { examples_per_s: torch.examples_per_s, tokens_per_s: torch.tokens_per_s },
        ratio_vs_pytorch: ours.examples_per_s / torch.examples_per_s,
        peak_mb: peak,
      }),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const ci = argv.indexOf('--child');
// `--shape NAME`: the real-shape bench (bench/train-shape.ts) instead of the small-model one.
if (argv.includes('--shape')) await import('./train-shape');
else if (ci >= 0)
  console.log(JSON.stringify(await child(JSON.parse(fs.readFileSync(argv[ci + 1], 'utf8')) as ChildSpec)));
else await mainBench();
