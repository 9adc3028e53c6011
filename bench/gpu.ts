// `npm run bench -- gpu [--shape qwen3-0.6b] [--batch 32] [--chunk 16] [--max-length 128] [--steps 2]`
// (or `bash native/gpu-check.sh`, which first readies Vulkan, the CUDA libraries and the CUDA provider and
// caps the whole run at 8 minutes). The GPU check in one go:
//   1. provider probe: GPUs (nvidia-smi), Vulkan loader + ICD, ORT version and providers, a one-node session
//      on each GPU provider;
//   2. per GPU provider (WebGPU in fp16, CUDA in bf16): embed parity against our CPU float32 embeddings at
//      the real 0.6B shape (bench/real-shape.ts), and a GradCache LoRA step (r16 all-linear) with tokens/s
//      and MFU;
//   3. the same step in PyTorch + PEFT on the same GPU (bench/py/gpu_peft.py, the machine's own torch,
//      transformers and peft), tokens/s and MFU.
// Without an NVIDIA GPU it says so in one line and runs its CPU mode (a 2-layer slice, CPU provider, the
// same code paths) so the script is known to work before a GPU machine runs it.
// Each provider runs in a child process (a provider that crashes on start-up cannot take the report with it).
// The CUDA child loads ORT 1.29.0 + the CUDA 13 provider from native/.cuda-ort when that exists
// (native/gpu-check.sh --prepare-cuda), else the installed onnxruntime-node's own CUDA provider, if any.
import { execFileSync, spawnSync } from 'node:child_process';
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
import { ensureRealShape, SHAPES, tensorsOf } from './real-shape';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const CUDA_ORT = path.join(ROOT, 'native/.cuda-ort');
const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};

/** Dense bf16/fp16 tensor-core peak (FLOP/s) by GPU name, from the vendors' data sheets (SXM parts). */
const PEAK: [RegExp, number][] = [
  [/H200|H100/, 989e12],
  [/A100/, 312e12],
  [/L40S/, 362e12],
  [/A10G?\b/, 125e12],
  [/RTX 4090/, 165e12],
];

interface Gpu {
  name: string;
  memoryMiB: number;
  driver: string;
}

function nvidiaSmi(): { gpus: Gpu[]; error: string | null } {
  try {
    const out = execFileSync(
      'nvidia-smi',
      ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const gpus = out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [name, mem, driver] = l.split(',').map((s) => s.trim());
        return { name, memoryMiB: Number(mem), driver };
      });
    return { gpus, error: null };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return {
      gpus: [],
      error:
        err.code === 'ENOENT'
          ? 'nvidia-smi not found (no NVIDIA driver)'
          : String(err.message).split('\n')[0],
    };
  }
}

/** The CUDA libraries of the Python env's nvidia-* wheels (cuBLAS, cuDNN, runtime) for the loader path. */
function nvidiaWheelLibs(): string[] {
  const r = spawnSync('python3', ['-c', 'import nvidia, os; print("\\n".join(nvidia.__path__))'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return [];
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .flatMap((d) => (fs.existsSync(d) ? fs.readdirSync(d).map((x) => path.join(d, x, 'lib')) : []))
    .filter((d) => fs.existsSync(d));
}

function vulkan() {
  const loader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1'].find((f) =>
    fs.existsSync(f),
  );
  const icdDirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  const icds = icdDirs.flatMap((d) =>
    fs.existsSync(d) ? fs.readdirSync(d).map((f) => path.join(d, f)) : [],
  );
  return { loader: loader ?? null, icds };
}

/** Environment of a provider child: CUDA libraries on the loader path, ORT override for the CUDA provider. */
function childEnv(provider: string): { env: NodeJS.ProcessEnv; args: string[]; ort: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const libs = nvidiaWheelLibs();
  if (libs.length) env.LD_LIBRARY_PATH = [...libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  if (provider === 'cuda' && fs.existsSync(path.join(CUDA_ORT, 'node_modules/onnxruntime-node'))) {
    env.EMBEDSMITH_ORT_NODE_DIR = CUDA_ORT;
    return {
      env,
      args: ['--import', './native/ort-override.mjs'],
      ort: 'native/.cuda-ort (ORT 1.29.0 + CUDA 13 provider)',
    };
  }
  return { env, args: [], ort: 'node_modules/onnxruntime-node' };
}

function runPart(part: Record<string, unknown>, dir: string) {
  const file = path.join(dir, `part-${part.provider}.json`);
  fs.writeFileSync(file, JSON.stringify(part));
  const { env, args, ort } = childEnv(String(part.provider));
  const r = spawnSync(process.execPath, [...args, '--import', 'tsx', SELF, '--part', file], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
    timeout: Number(part.timeoutS) * 1000,
  });
  process.stderr.write(r.stderr ?? '');
  const line = (r.stdout ?? '').trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    return {
      ort,
      error: `child failed (status ${r.status}, signal ${r.signal}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`,
    };
  return { ort, ...JSON.parse(line) };
}

function texts(n: number, words: number): string[] {
  const bank =
    'the of and to in is was for on that with as by at from his her they this which an be are or had not but were one all their has have there been if more when will who so some time people would into about only other could new may after first also two like over made years such where most many state before through back much then three these well your world'.split(
      ' ',
    );
  const rand = mulberry32(11);
  return Array.from({ length: n }, () =>
    Array.from({ length: words }, () => bank[Math.floor(rand() * bank.length)]).join(' '),
  );
}

interface Part {
  provider: 'cpu' | 'webgpu' | 'cuda';
  dtype: 'float32' | 'float16' | 'bfloat16';
  model: string;
  batch: number;
  chunk: number;
  maxLength: number;
  steps: number;
  /** Non-embedding parameters (the FLOPs of a token), and the GPU's peak FLOP/s (null: unknown). */
  flopParams: number;
  peak: number | null;
  /** The CPU part writes its embeddings here; GPU parts compare against them. */
  reference: string;
  timeoutS: number;
}

/** One provider, in this process: embed parity against the CPU reference, then the LoRA step. */
async function part(p: Part) {
  const out: Record<string, unknown> = { provider: p.provider, dtype: p.dtype };
  const parityTexts = texts(16, 90);
  try {
    const t0 = performance.now();
    const m = EmbeddingModel.load(p.model, {
      maxLength: p.maxLength,
      device: p.provider,
      dtype: p.dtype,
      inThread: true,
    });
    const e = await m.embed(parityTexts);
    out.embed_s = (performance.now() - t0) / 1000;
    if (p.provider !== 'cpu') {
      const ref = new Float32Array(fs.readFileSync(p.reference).buffer.slice(0));
      const d = ref.length / parityTexts.length;
      let minCos = 1;
      let maxAbs = 0;
      for (let i = 0; i < parityTexts.length; i++) {
        let c = 0;
        for (let k = 0; k < d; k++) {
          c += e[i * d + k] * ref[i * d + k];
          maxAbs = Math.max(maxAbs, Math.abs(e[i * d + k] - ref[i * d + k]));
        }
        minCos = Math.min(minCos, c);
      }
      out.parity = { texts: parityTexts.length, min_cosine_vs_cpu_f32: minCos, max_abs_diff: maxAbs };
    } else fs.writeFileSync(p.reference, Buffer.from(e.buffer, e.byteOffset, e.byteLength));
    await m.dispose();
  } catch (err) {
    out.embed_error = String((err as Error).message).split('\n')[0];
  }
  try {
    const enc = await createTrainableEncoder(
      {
        modelDir: p.model,
        rank: 16,
        alpha: 32,
        dropout: 0.1,
        targetModules: ['all-linear'],
        maxLength: p.maxLength,
        device: p.provider,
        dtype: p.dtype,
      },
      { inThread: true },
    );
    const loss = new EngineInfoNce(p.provider === 'cpu' ? ['cpu'] : [p.provider, 'cpu']);
    const lora = enc.initLora(0);
    const opt = new AdamW(enc.params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
    const all = texts(3 * p.batch, 220);
    const batch = {
      queries: all.slice(0, p.batch),
      positives: all.slice(p.batch, 2 * p.batch),
      negatives: all.slice(2 * p.batch),
    };
    let tokens = 0;
    let lastLoss = Number.NaN;
    const one = async (k: number) => {
      const t = performance.now();
      const r = await gradCacheStep(enc, lora, batch, loss, {
        chunkSize: p.chunk,
        temperature: 0.02,
        dropoutP: 0.1,
        seedOf: (i) => mixSeed(k, i),
      });
      opt.update(lora, r.grads, 1e-4);
      tokens = r.tokens;
      lastLoss = r.loss;
      return (performance.now() - t) / 1000;
    };
    const first = await one(0);
    let sum = 0;
    for (let k = 1; k <= p.steps; k++) sum += await one(k);
    const stepS = sum / Math.max(1, p.steps);
    // Model FLOPs of a LoRA step: forward + activation backward (4 N per token); GradCache's second
    // forward, attention scores and the LoRA matmuls are not counted (the usual MFU convention).
    const flops = 4 * p.flopParams * tokens;
    out.step = {
      batch: p.batch,
      chunk: p.chunk,
      max_length: p.maxLength,
      first_step_s: first,
      step_s: stepS,
      tokens,
      tokens_per_s: tokens / stepS,
      mfu: p.peak ? flops / stepS / p.peak : null,
      loss: lastLoss,
      finite: Number.isFinite(lastLoss),
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    };
    await enc.dispose();
    await loss.dispose?.();
  } catch (err) {
    out.step_error = String((err as Error).message).split('\n')[0];
  }
  return out;
}

function probeSession(provider: string) {
  const { env, args } = childEnv(provider);
  const r = spawnSync(process.execPath, [...args, 'native/probe-gpu.mjs', '--session', provider, '--json'], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  try {
    return JSON.parse(r.stdout).session;
  } catch {
    return { ep: provider, ok: false, error: (r.stderr || `exit ${r.status}`).trim().split('\n').at(-1) };
  }
}

function torchPeer(
  o: {
    model: string;
    batch: number;
    chunk: number;
    maxLength: number;
    steps: number;
    flopParams: number;
    peak: number | null;
    seqs: number[][];
  },
  dir: string,
  timeoutS: number,
) {
  const probe = spawnSync(
    'python3',
    [
      '-c',
      'import torch, transformers, peft; assert torch.cuda.is_available(); print(torch.__version__, transformers.__version__, peft.__version__)',
    ],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0)
    return {
      not_run: `python3 has no CUDA torch + transformers + peft (${(probe.stderr || '').trim().split('\n').at(-1)})`,
    };
  const file = path.join(dir, 'torch-gpu.json');
  fs.writeFileSync(file, JSON.stringify(o));
  const r = spawnSync('python3', [path.join(ROOT, 'bench/py/gpu_peft.py'), file], {
    encoding: 'utf8',
    timeout: timeoutS * 1000,
    maxBuffer: 64 * 2 ** 20,
  });
  const line = (r.stdout ?? '').trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    return {
      error: `PyTorch peer failed (status ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`,
    };
  return JSON.parse(line);
}

async function main() {
  const started = Date.now();
  const budgetS = Number(flag('budget-s', '460'));
  const left = () => budgetS - (Date.now() - started) / 1000;
  const smi = nvidiaSmi();
  const vk = vulkan();
  const gpu = smi.gpus[0] ?? null;
  const cpuMode = gpu === null;
  const name = flag('shape', 'qwen3-0.6b');
  const shape = SHAPES[name];
  if (!shape) throw new Error(`--shape ${name}: use one of ${Object.keys(SHAPES).join(', ')}`);
  const layers = Number(flag('layers', cpuMode ? '2' : String(shape.config.num_hidden_layers)));
  const report: Record<string, unknown> = {
    bench: 'gpu',
    date: new Date().toISOString(),
    host: os.hostname(),
    loadavg: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    mode: cpuMode ? 'cpu' : 'gpu',
    gpus: smi.gpus,
    vulkan: vk,
  };
  if (cpuMode)
    console.error(
      `no NVIDIA GPU here (${smi.error}): the GPU rows are NOT run; CPU mode: a ${layers}-layer slice of ${name} on the CPU provider, same code paths`,
    );
  const ortPkg = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'node_modules/onnxruntime-node/package.json'), 'utf8'),
  );
  const providers = cpuMode ? [] : (['webgpu', 'cuda'] as const);
  const probes: Record<string, unknown> = {};
  for (const p of providers) {
    probes[p] = probeSession(p);
    console.error(`probe ${p}: ${JSON.stringify(probes[p])}`);
  }
  report.probe = { onnxruntime_node: ortPkg.version, cuda_ort: childEnv('cuda').ort, sessions: probes };
  const f = ensureRealShape(name, { layers });
  report.shape = { name, source: shape.source, layers: f.layers, params: f.params };
  const embedParams = tensorsOf(shape, f.layers)
    .filter((t) => /embed|word_embeddings|position_embeddings|token_type/.test(t.name))
    .reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const flopParams = f.params - embedParams;
  const peak = gpu ? (PEAK.find(([re]) => re.test(gpu.name))?.[1] ?? null) : null;
  const batch = Number(flag('batch', cpuMode ? '4' : '32'));
  const chunk = Number(flag('chunk', cpuMode ? '4' : '16'));
  const maxLength = Number(flag('max-length', '128'));
  const steps = Number(flag('steps', cpuMode ? '1' : '2'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gpu-'));
  const common = {
    model: f.dir,
    batch,
    chunk,
    maxLength,
    steps,
    flopParams,
    peak,
    reference: path.join(dir, 'ref.f32'),
  };
  try {
    const ref = runPart(
      { ...common, provider: 'cpu', dtype: 'float32', timeoutS: Math.max(60, left() - 30) },
      dir,
    );
    report.cpu = ref;
    console.error(`cpu f32: ${JSON.stringify(ref.step ?? ref.step_error ?? ref.error)}`);
    const gpuRuns: Record<string, unknown> = {};
    for (const p of providers) {
      if ((probes[p] as { ok?: boolean }).ok !== true) {
        gpuRuns[p] = { not_run: `provider probe failed: ${(probes[p] as { error?: string }).error}` };
        continue;
      }
      if (left() < 60) {
        gpuRuns[p] = { not_run: 'out of the time budget' };
        continue;
      }
      const dtype = p === 'cuda' ? 'bfloat16' : 'float16';
      gpuRuns[p] = runPart({ ...common, provider: p, dtype, timeoutS: Math.max(60, left() - 60) }, dir);
      console.error(`${p} ${dtype}: ${JSON.stringify(gpuRuns[p])}`);
    }
    report.gpu = cpuMode ? { not_run: `no NVIDIA GPU (${smi.error})` } : gpuRuns;
    if (cpuMode) report.pytorch = { not_run: 'no NVIDIA GPU' };
    else if (left() < 45) report.pytorch = { not_run: 'out of the time budget' };
    else {
      const seqs = EmbeddingModel.load(f.dir, { maxLength }).tokenize(texts(3 * batch, 220));
      report.pytorch = torchPeer({ ...common, seqs }, dir, Math.max(40, left() - 5));
      console.error(`pytorch + peft: ${JSON.stringify(report.pytorch)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  report.seconds = (Date.now() - started) / 1000;
  console.log(JSON.stringify(report));
}

const pi = argv.indexOf('--part');
if (pi >= 0)
  console.log(JSON.stringify(await part(JSON.parse(fs.readFileSync(argv[pi + 1], 'utf8')) as Part)));
else await main();
