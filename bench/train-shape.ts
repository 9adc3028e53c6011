// `npm run bench -- train --shape qwen2-0.6b|qwen3-0.6b|e5-mistral-7b [--threads 2] [--steps 1]
//   [--dropout 0,0.1] [--layers N] [--mem] [--profile] [--plan] [--embed] [--startup] [--no-peer] [--no-step]`
// `--startup`: start-up phases of one chunk (sessions + weight conversion before step 1; issue #20 item 4).
// Our LoRA step at a real model shape (bench/real-shape.ts: random bf16 weights with the published config and
// tensor names), batch 8 (+8 positives, +8 negatives), GradCache chunks of 4 × 128 tokens, r16 all-linear,
// float32 compute on the CPU, against the real transformers 4.40.2 + peft 0.10.0 on Debian's torch
// (bench/py/train_peft.py) on the same weights, token ids and thread count. Each side runs in its own process
// (peak RSS is per process). `--mem`: activation memory per token from the peak RSS of one backward call at
// chunk 2 and chunk 4, with and without layer recompute. `--profile`: ORT's node profile of one backward
// call (Cast share). `--plan`: graph build time and the memory plan at 24 GB RAM and 24/80/141 GB VRAM.
// `--embed`: peak RSS of embedding 256 texts (the embed CLI's path). e5-mistral-7b runs a 2-layer slice
// (--layers) and extrapolates to 32 layers.
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
import { ensureRealShape, SHAPES } from './real-shape';
import { planShape } from './train-plan';
import { PY, torchEnv } from './torch-env';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const BATCH = 8;
const CHUNK = 4;
const MAX_LEN = 128;

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};

interface ChildSpec {
  mode: 'step' | 'mem' | 'profile' | 'embed' | 'startup';
  model: string;
  threads: number;
  dropout: number;
  steps: number;
  chunk: number;
  recompute: boolean;
  texts: string[];
  profileDir?: string;
  embedTexts?: number;
}

/** 3·BATCH texts of random English words, long enough that every one truncates to MAX_LEN tokens. */
function makeTexts(): string[] {
  const words =
    'the of and to in is was for on that with as by at from his her they this which an be are or had not but were one all their has have there been if more when will who so some time people would into about only other could new may after first also two like over made years such where most many state before through back much then three these well your world'.split(
      ' ',
    );
  const rand = mulberry32(7);
  return Array.from({ length: 3 * BATCH }, () =>
    Array.from({ length: 220 }, () => words[Math.floor(rand() * words.length)]).join(' '),
  );
}

const rssMb = () => process.memoryUsage().rss / 2 ** 20;
const peakMb = () => process.resourceUsage().maxRSS / 1024;

/** One measurement in this process. */
async function child(spec: ChildSpec) {
  const t0 = performance.now();
  if (spec.mode === 'embed') {
    // The embed command's path: an inference session with the default optimisation, 256 texts.
    const m = EmbeddingModel.load(spec.model, { maxLength: MAX_LEN, threads: spec.threads });
    const texts = Array.from({ length: spec.embedTexts ?? 256 }, (_, i) => spec.texts[i % spec.texts.length]);
    const e = await m.embed(texts);
    const s = (performance.now() - t0) / 1000;
    await m.dispose();
    return { texts: texts.length, dim: e.length / texts.length, seconds: s, peak_rss_mb: peakMb() };
  }
  const enc = await createTrainableEncoder(
    {
      modelDir: spec.model,
      rank: 16,
      alpha: 32,
      dropout: spec.dropout,
      targetModules: ['all-linear'],
      maxLength: MAX_LEN,
      device: 'cpu',
      dtype: 'float32',
    },
    { inThread: true, threads: spec.threads },
    { recomputeLayers: spec.recompute },
  );
  const loadS = (performance.now() - t0) / 1000;
  const lora = enc.initLora(0);
  for (const p of enc.params)
    if (p.name.endsWith('lora_B.weight'))
      lora.set(p.name, new Float32Array(lora.get(p.name)?.length ?? 0).fill(0.01));
  // Per-call timings: GradCache's pass-1 forward (embed) and pass-2 forward + backward (backward).
  const calls = { embed: [] as number[], backward: [] as number[] };
  const embed = enc.embed.bind(enc);
  const backward = enc.backward.bind(enc);
  enc.embed = async (...a) => {
    const t = performance.now();
    const r = await embed(...a);
    calls.embed.push((performance.now() - t) / 1000);
    return r;
  };
  enc.backward = async (...a) => {
    const t = performance.now();
    const r = await backward(...a);
    calls.backward.push((performance.now() - t) / 1000);
    return r;
  };
  const drop = (n: number) =>
    spec.dropout > 0
      ? { p: spec.dropout, seeds: Uint32Array.from({ length: n }, (_, i) => mixSeed(1, i)) }
      : null;
  if (spec.mode === 'startup') {
    // Start-up phases of one chunk (4 × 128 tokens): each first call minus the same call again is what
    // session creation + weight conversion cost it; sessions_ready = load + both extras (#20 start-up).
    const texts = spec.texts.slice(0, spec.chunk);
    const cpu0 = process.cpuUsage();
    const dEmb = () => new Float32Array(texts.length * enc.dim).fill(0.01);
    for (let k = 0; k < 2; k++) await enc.embed(texts, lora, drop(texts.length));
    for (let k = 0; k < 2; k++) await enc.backward(texts, lora, drop(texts.length), dEmb());
    const cpu = process.cpuUsage(cpu0);
    const [e1, e2] = calls.embed;
    const [b1, b2] = calls.backward;
    await enc.dispose();
    return {
      load_s: loadS,
      forward_first_s: e1,
      forward_s: e2,
      backward_first_s: b1,
      backward_s: b2,
      sessions_ready_s: loadS + (e1 - e2) + (b1 - b2),
      cpu_user_s: cpu.user / 1e6,
      cpu_system_s: cpu.system / 1e6,
      peak_rss_mb: peakMb(),
    };
  }
  if (spec.mode !== 'step') {
    // One backward call of one chunk: its session creation, then its peak (the memory this chunk size needs).
    const texts = spec.texts.slice(0, spec.chunk);
    const rssBefore = rssMb();
    await enc.backward(texts, lora, drop(texts.length), new Float32Array(texts.length * enc.dim).fill(0.01));
    const first = calls.backward[0];
    await enc.backward(texts, lora, drop(texts.length), new Float32Array(texts.length * enc.dim).fill(0.01));
    const tokens = enc.countTokens(texts).reduce((a, b) => a + b, 0);
    await enc.dispose();
    return {
      load_s: loadS,
      first_backward_s: first,
      backward_s: calls.backward[1],
      rss_before_mb: rssBefore,
      peak_rss_mb: peakMb(),
      tokens,
    };
  }
  const loss = new EngineInfoNce(['cpu']);
  const opt = new AdamW(enc.params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
  const batch = {
    queries: spec.texts.slice(0, BATCH),
    positives: spec.texts.slice(BATCH, 2 * BATCH),
    negatives: spec.texts.slice(2 * BATCH),
  };
  let tokens = 0;
  const one = async (k: number) => {
    const t = performance.now();
    const r = await gradCacheStep(enc, lora, batch, loss, {
      chunkSize: spec.chunk,
      temperature: 0.02,
      dropoutP: spec.dropout,
      seedOf: (i) => mixSeed(k, i),
    });
    opt.update(lora, r.grads, 1e-4);
    tokens = r.tokens;
    return (performance.now() - t) / 1000;
  };
  const firstStep = await one(0);
  const firstCalls = { embed: calls.embed.length, backward: calls.backward.length };
  const steps: number[] = [];
  for (let k = 1; k <= spec.steps; k++) steps.push(await one(k));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
  const stepS = mean(steps);
  const out = {
    load_s: loadS,
    first_step_s: firstStep,
    step_s: stepS,
    // Sessions (and graph lowering) happen inside the first calls: their extra time over a steady call.
    sessions_ready_s: loadS + firstStep - stepS,
    chunk_forward_s: mean(calls.embed.slice(firstCalls.embed)),
    chunk_fwd_bwd_s: mean(calls.backward.slice(firstCalls.backward)),
    tokens_per_step: tokens,
    tokens_per_s: tokens / stepS,
    peak_rss_mb: peakMb(),
  };
  await enc.dispose();
  await loss.dispose?.();
  return out;
}

function runChild(spec: ChildSpec, dir: string, env: NodeJS.ProcessEnv = process.env) {
  const file = path.join(dir, `child-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', file], {
    encoding: 'utf8',
    cwd: ROOT,
    env,
    maxBuffer: 64 * 2 ** 20,
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    throw new Error(`bench child failed (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line);
}

/** The peer's missing pieces, as one line saying how to get them; null when it can run. */
function peerBlocker(src: string | undefined): string | null {
  if (
    spawnSync(PY, ['-c', 'import torch, numpy, yaml, tqdm, regex, requests, filelock, psutil']).status !== 0
  )
    return 'PyTorch peer needs Debian packages: apt-get install python3-torch python3-numpy python3-yaml python3-tqdm python3-regex python3-requests python3-filelock python3-psutil libopenblas0-pthread';
  const need = ['transformers', 'peft', 'huggingface_hub', 'accelerate'];
  if (!src || need.some((p) => !fs.existsSync(path.join(src, p))))
    return `PyTorch peer needs EMBEDSMITH_PY_SRC = a folder holding the source packages ${need.join(', ')} at the versions of test/fixtures/parity/README.md (transformers 4.40.2, peft 0.10.0, huggingface_hub 0.22.2, accelerate 0.29.3): \`git archive <tag commit> src | tar -x\` of each repository, then move each src/<package> into that folder`;
  return null;
}

function runPeer(args: Record<string, unknown> & { threads: number }, dir: string) {
  const file = path.join(dir, `peer-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(args));
  const { env, openblasCore } = torchEnv(args.threads);
  const r = spawnSync(PY, [path.join(ROOT, 'bench/py/train_peft.py'), file], {
    encoding: 'utf8',
    env,
    maxBuffer: 64 * 2 ** 20,
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    throw new Error(`PyTorch peer failed: ${r.stderr.slice(-2000)}`);
  return { ...JSON.parse(line), openblas_core: openblasCore };
}

/** Cast share of ORT's node profile(s): per file, node time by op type. */
function castShare(dir: string) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json') && f.startsWith('ort'))
    .map((f) => {
      const ev = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as {
        cat?: string;
        name?: string;
        dur?: number;
        args?: { op_name?: string };
      }[];
      const byOp = new Map<string, number>();
      for (const e of ev)
        if (e.cat === 'Node' && e.name?.endsWith('_kernel_time') && e.args?.op_name)
          byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + (e.dur ?? 0));
      const total = [...byOp.values()].reduce((a, b) => a + b, 0);
      const top = [...byOp.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
      return {
        file: f,
        node_ms: total / 1000,
        cast_share: total ? (byOp.get('Cast') ?? 0) / total : 0,
        top: Object.fromEntries(top.map(([k, v]) => [k, Number((v / total).toFixed(3))])),
      };
    })
    .sort((a, b) => b.node_ms - a.node_ms);
}

async function main() {
  const name = flag('shape', 'qwen2-0.6b');
  const shape = SHAPES[name];
  if (!shape) throw new Error(`--shape ${name}: use one of ${Object.keys(SHAPES).join(', ')}`);
  const threads = Number(flag('threads', String(Math.min(2, os.availableParallelism()))));
  const steps = Number(flag('steps', '1'));
  const dropouts = flag('dropout', '0,0.1').split(',').map(Number);
  const fullLayers = shape.config.num_hidden_layers as number;
  const layers = Number(flag('layers', name.includes('7b') ? '2' : String(fullLayers)));
  const f = ensureRealShape(name, { layers });
  const scale = fullLayers / f.layers;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-shape-'));
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.error(
    `shape ${name} (${shape.source}): ${f.layers}/${fullLayers} layers, ${(f.params / 1e6).toFixed(0)}M params, ${threads} threads, batch ${BATCH}, chunk ${CHUNK} × ${MAX_LEN} tokens, load ${load}`,
  );
  const texts = makeTexts();
  const result: Record<string, unknown> = {
    bench: 'train-shape',
    shape: name,
    source: shape.source,
    layers: f.layers,
    full_layers: fullLayers,
    params: f.params,
    threads,
    batch: BATCH,
    chunk: CHUNK,
    max_length: MAX_LEN,
    loadavg_start: load,
    date: new Date().toISOString(),
  };
  try {
    const ours: Record<string, unknown> = {};
    // --no-step: only the --mem / --profile / --embed / --plan sections (each a short child of its own).
    for (const p of argv.includes('--no-step') ? [] : dropouts) {
      const r = runChild(
        { mode: 'step', model: f.dir, threads, dropout: p, steps, chunk: CHUNK, recompute: false, texts },
        dir,
      );
      ours[`p${p}`] = r;
      console.error(
        `ours p=${p}: step ${r.step_s.toFixed(1)} s (first ${r.first_step_s.toFixed(1)} s), chunk fwd ${r.chunk_forward_s.toFixed(2)} s, fwd+bwd ${r.chunk_fwd_bwd_s.toFixed(2)} s, sessions ready ${r.sessions_ready_s.toFixed(1)} s, peak ${r.peak_rss_mb.toFixed(0)} MB`,
      );
    }
    result.ours = ours;
    if (dropouts.length > 1 && !argv.includes('--no-step')) {
      const a = ours[`p${dropouts[0]}`] as { step_s: number };
      const b = ours[`p${dropouts[1]}`] as { step_s: number };
      result.dropout_overhead = b.step_s / a.step_s - 1;
    }
    const src = process.env.EMBEDSMITH_PY_SRC;
    const why =
      argv.includes('--no-peer') || argv.includes('--no-step')
        ? 'skipped (--no-peer / --no-step)'
        : shape.arch === 'qwen2' || shape.arch === 'mistral'
          ? peerBlocker(src)
          : `transformers 4.40.2 has no ${shape.arch}; run --shape qwen2-0.6b for the PyTorch ratio`;
    if (why) {
      console.error(`PyTorch peer: not run: ${why}`);
      result.pytorch = { not_run: why };
    } else {
      const seqs = EmbeddingModel.load(f.dir, { maxLength: MAX_LEN }).tokenize(texts.slice(0, CHUNK));
      const peer: Record<string, unknown> = {};
      const ratio: Record<string, unknown> = {};
      for (const p of dropouts) {
        const r = runPeer(
          { model: f.dir, seqs, threads, rank: 16, alpha: 32, dropout: p, iters: steps },
          dir,
        );
        peer[`p${p}`] = r;
        const o = ours[`p${p}`] as { chunk_fwd_bwd_s: number; chunk_forward_s: number };
        ratio[`p${p}`] = {
          chunk_fwd_bwd: o.chunk_fwd_bwd_s / r.fwd_bwd_s,
          chunk_forward: o.chunk_forward_s / r.forward_s,
        };
        console.error(
          `pytorch+peft p=${p}: chunk fwd ${r.forward_s.toFixed(2)} s, fwd+bwd ${r.fwd_bwd_s.toFixed(2)} s, ready ${r.ready_s.toFixed(1)} s, peak ${r.peak_rss_mb.toFixed(0)} MB; ours ÷ theirs fwd+bwd ${(o.chunk_fwd_bwd_s / r.fwd_bwd_s).toFixed(2)}`,
        );
      }
      result.pytorch = peer;
      result.ratio_vs_pytorch = ratio;
    }
    if (argv.includes('--startup')) {
      const r = runChild(
        {
          mode: 'startup',
          model: f.dir,
          threads,
          dropout: dropouts.at(-1) ?? 0,
          steps: 0,
          chunk: CHUNK,
          recompute: false,
          texts,
        },
        dir,
      );
      result.startup = {
        ...r,
        loadavg_end: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      };
      console.error(
        `start-up: sessions ready ${r.sessions_ready_s.toFixed(1)} s (load ${r.load_s.toFixed(1)} s, forward first/steady ${r.forward_first_s.toFixed(1)}/${r.forward_s.toFixed(1)} s, backward ${r.backward_first_s.toFixed(1)}/${r.backward_s.toFixed(1)} s), peak ${r.peak_rss_mb.toFixed(0)} MB`,
      );
    }
    if (argv.includes('--mem')) {
      const mem: Record<string, unknown> = {};
      for (const recompute of [false, true]) {
        const at = (chunk: number) =>
          runChild(
            { mode: 'mem', model: f.dir, threads, dropout: 0.1, steps: 1, chunk, recompute, texts },
            dir,
          );
        const a = at(2);
        const b = at(4);
        const perTok = (b.peak_rss_mb - a.peak_rss_mb) / (b.tokens - a.tokens);
        mem[recompute ? 'recompute' : 'no_recompute'] = {
          peak_chunk2_mb: a.peak_rss_mb,
          peak_chunk4_mb: b.peak_rss_mb,
          mb_per_token: perTok,
          backward_s_chunk4: b.backward_s,
        };
        console.error(
          `memory (${recompute ? 'recompute' : 'no recompute'}): peak chunk 2 ${a.peak_rss_mb.toFixed(0)} MB, chunk 4 ${b.peak_rss_mb.toFixed(0)} MB → ${perTok.toFixed(2)} MB/token; fwd+bwd chunk 4 ${b.backward_s.toFixed(2)} s`,
        );
      }
      result.memory = mem;
    }
    if (argv.includes('--profile')) {
      const pdir = path.join(dir, 'profile');
      fs.mkdirSync(pdir);
      runChild(
        {
          mode: 'profile',
          model: f.dir,
          threads,
          dropout: 0.1,
          steps: 1,
          chunk: CHUNK,
          recompute: false,
          texts,
        },
        dir,
        { ...process.env, EMBEDSMITH_ORT_PROFILE: path.join(pdir, 'ort') },
      );
      const prof = castShare(pdir);
      result.profile = prof;
      for (const p of prof)
        console.error(
          `ORT profile ${p.file}: ${p.node_ms.toFixed(0)} ms of nodes, Cast ${(100 * p.cast_share).toFixed(1)}%, top ${JSON.stringify(p.top)}`,
        );
    }
    if (argv.includes('--embed')) {
      // Calls embed 16 texts each: the peak of 256 texts is that of one call, so fewer texts measure it too.
      const embedTexts = Number(flag('embed-texts', '256'));
      const r = runChild(
        {
          mode: 'embed',
          model: f.dir,
          threads,
          dropout: 0,
          steps: 1,
          chunk: CHUNK,
          recompute: false,
          texts,
          embedTexts,
        },
        dir,
      );
      result.embed = r;
      console.error(
        `embed ${r.texts} texts: ${r.seconds.toFixed(1)} s, peak RSS ${r.peak_rss_mb.toFixed(0)} MB`,
      );
    }
    if (argv.includes('--plan')) {
      // The full-depth checkpoint as a sparse all-zero file: graphs and plans need only its header.
      const full = ensureRealShape(name, { sparse: true });
      const plan = planShape(full.dir, [
        {
          label: '24 GB RAM',
          budgetGb: 24,
          dtype: 'float32',
          batch: BATCH,
          chunk: CHUNK,
          maxLength: MAX_LEN,
        },
        ...[24, 80, 141].map((gb) => ({
          label: `${gb} GB VRAM`,
          budgetGb: gb,
          dtype: 'float16' as const,
          batch: 2048,
          chunk: 16,
          maxLength: 512,
        })),
      ]);
      for (const p of plan.plans) console.error(p.lines.join('\n'));
      console.error(
        `graph build (both training graphs, ${fullLayers} layers): ${JSON.stringify(plan.graph_build_s)} s`,
      );
      result.plan = {
        graph_build_s: plan.graph_build_s,
        cases: plan.plans.map((p) => ({
          budget: p.label,
          dtype: p.plan.dtype,
          chunk: p.plan.chunkSize,
          max_length: p.plan.maxLength,
          weights_gib: p.plan.weightsBytes / 2 ** 30,
          activations_gib: { off: p.plan.activations.off / 2 ** 30, on: p.plan.activations.on / 2 ** 30 },
          total_gib: p.plan.totalBytes / 2 ** 30,
          fits: p.plan.fits,
          recompute: p.plan.recompute,
          largest_chunk: p.plan.largestChunk,
        })),
      };
    }
    if (scale > 1 && !argv.includes('--no-step')) {
      // A slice: per-layer cost scales with layers; the embedding/norm/pooling part is small beside them.
      const p0 = ours[`p${dropouts[0]}`] as { step_s: number; chunk_fwd_bwd_s: number };
      result.extrapolated_full = {
        note: `×${scale} layers (${f.layers} → ${fullLayers}), embedding gather not scaled`,
        step_s: p0.step_s * scale,
        chunk_fwd_bwd_s: p0.chunk_fwd_bwd_s * scale,
      };
      console.error(
        `extrapolated to ${fullLayers} layers: step ≈ ${(p0.step_s * scale).toFixed(0)} s, chunk fwd+bwd ≈ ${(p0.chunk_fwd_bwd_s * scale).toFixed(1)} s`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  result.loadavg_end = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(JSON.stringify(result));
}

const ci = argv.indexOf('--child');
if (ci >= 0)
  console.log(JSON.stringify(await child(JSON.parse(fs.readFileSync(argv[ci + 1], 'utf8')) as ChildSpec)));
else await main();
