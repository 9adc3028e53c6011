// `npm run bench -- engine [--quick]`: forward + backward of one Llama-style transformer block (RMSNorm, GQA
// attention with RoPE and a causal mask, SwiGLU MLP) with LoRA (r 16) on all seven linears, gradients for the
// LoRA weights and the block input from a fed upstream gradient. Our ORT-CPU graph vs the same computation
// in PyTorch on CPU (Debian's python3-torch, same weights, same thread count). Records BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  attention,
  createSession,
  grad,
  Graph,
  hostTensor,
  readSafetensorsHeader,
  rmsNorm,
  rope,
  ropeCosSin,
  silu,
  type Tensor,
  toOnnx,
  writeSafetensors,
} from '../src/main/engine';
import { hasOpenblas, PY, torchEnv } from './torch-env';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, 'bench/.cache/engine');
const quick = process.argv.includes('--quick');
// Same thread count on both sides; on a small shared machine one core is left to everything else (spinning
// thread pools on an oversubscribed box measure the scheduler, not the kernels).
const THREADS = Number(
  process.env.BENCH_THREADS ??
    Math.max(1, os.availableParallelism() - (os.availableParallelism() <= 4 ? 1 : 0)),
);
const OPT = (process.env.BENCH_ORT_OPT ?? 'disabled') as 'disabled' | 'basic' | 'extended' | 'all';
const BATCH = 8;
const SEQ = 128;
const R = 16;
const ALPHA = 32;
const ITERS = quick ? 2 : 5;

interface Cfg {
  hidden: number;
  heads: number;
  kvHeads: number;
  inter: number;
}
const cfgFor = (hidden: number): Cfg => {
  const heads = hidden / 64;
  return { hidden, heads, kvHeads: Math.max(1, heads / 4), inter: Math.ceil((8 * hidden) / 3 / 64) * 64 };
};
const LINEARS = (c: Cfg): Record<string, [number, number]> => ({
  q_proj: [c.heads * 64, c.hidden],
  k_proj: [c.kvHeads * 64, c.hidden],
  v_proj: [c.kvHeads * 64, c.hidden],
  o_proj: [c.hidden, c.heads * 64],
  gate_proj: [c.inter, c.hidden],
  up_proj: [c.inter, c.hidden],
  down_proj: [c.hidden, c.inter],
});

function rand(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

/** Frozen weights and LoRA weights in one safetensors file, shared by both implementations. */
function makeWeights(c: Cfg): string {
  const file = path.join(CACHE, `block-${c.hidden}.safetensors`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(CACHE, { recursive: true });
  const r = rand(c.hidden);
  const t: Record<string, { dtype: string; shape: number[]; data: Float32Array }> = {};
  const mk = (name: string, shape: number[], scale: number) => {
    t[name] = {
      dtype: 'F32',
      shape,
      data: Float32Array.from({ length: shape[0] * (shape[1] ?? 1) }, () => r() * scale),
    };
  };
  for (const [n, [o, i]] of Object.entries(LINEARS(c))) {
    mk(`${n}.weight`, [o, i], 2 / Math.sqrt(i));
    mk(`${n}.lora_A`, [R, i], 2 / Math.sqrt(i));
    mk(`${n}.lora_B`, [o, R], 0.02);
  }
  t['input_layernorm.weight'] = { dtype: 'F32', shape: [c.hidden], data: new Float32Array(c.hidden).fill(1) };
  t['post_attention_layernorm.weight'] = {
    dtype: 'F32',
    shape: [c.hidden],
    data: new Float32Array(c.hidden).fill(1),
  };
  mk('x', [BATCH * SEQ, c.hidden], 2);
  mk('dy', [BATCH * SEQ, c.hidden], 0.02);
  writeSafetensors(file, t);
  return file;
}

function flops(c: Cfg): number {
  const n = BATCH * SEQ;
  let f = 0;
  for (const [o, i] of Object.values(LINEARS(c))) f += 4 * n * i * o + 6 * n * (i * R + R * o);
  f += 12 * BATCH * c.heads * SEQ * SEQ * 64; // QKᵀ and PV: forward 2 matmuls, backward 4
  return f;
}

async function ours(c: Cfg, file: string) {
  const hdr = readSafetensorsHeader(file);
  const g = new Graph();
  const frozen = (n: string) => {
    const e = hdr[n];
    return g.weight(n, 'float32', e.shape, { file, offset: e.offset, length: e.length });
  };
  const x = g.input('x', 'float32', ['batch', 'seq', c.hidden]);
  const pos = g.input('pos', 'int64', ['batch', 'seq']);
  const lora: Tensor[] = [];
  const lin = (name: string, inp: Tensor) =>
    g.scope(name, () => {
      const [o, i] = LINEARS(c)[name];
      const A = g.input(`${name}.lora_A`, 'float32', [R, i]);
      const B = g.input(`${name}.lora_B`, 'float32', [o, R]);
      lora.push(A, B);
      return g.add(g.linear(inp, frozen(`${name}.weight`)), g.mul(g.linear(g.linear(inp, A), B), ALPHA / R));
    });
  const heads = (t: Tensor, h: number) => g.transpose(g.reshape(t, ['batch', 'seq', h, 64]), [0, 2, 1, 3]);
  const h1 = rmsNorm(g, x, frozen('input_layernorm.weight'), 1e-6);
  const { cos, sin } = ropeCosSin(g, pos, 64, 10000);
  const q = rope(g, heads(lin('q_proj', h1), c.heads), cos, sin);
  const k = rope(g, heads(lin('k_proj', h1), c.kvHeads), cos, sin);
  const v = heads(lin('v_proj', h1), c.kvHeads);
  const a = attention(g, q, k, v, { causal: true });
  const x2 = g.add(x, lin('o_proj', g.reshape(g.transpose(a, [0, 2, 1, 3]), ['batch', 'seq', c.heads * 64])));
  const h2 = rmsNorm(g, x2, frozen('post_attention_layernorm.weight'), 1e-6);
  const mlp = lin('down_proj', g.mul(silu(g, lin('gate_proj', h2)), lin('up_proj', h2)));
  const y = g.add(x2, mlp);
  const dy = g.input('dy', 'float32', ['batch', 'seq', c.hidden]);
  const grads = grad(y, [x, ...lora], { seeds: [dy] });
  const outs: Record<string, Tensor> = { y_sum: g.sum(y), dx: grads[0] };
  lora.forEach((t, i) => {
    outs[`d.${t.name}`] = grads[i + 1];
  });
  const s = await createSession(toOnnx(outs), { providers: ['cpu'], threads: THREADS, optimization: OPT });
  const raw = fs.readFileSync(file);
  const arr = (n: string) => {
    const e = hdr[n];
    return new Float32Array(
      raw.buffer.slice(raw.byteOffset + e.offset, raw.byteOffset + e.offset + e.length),
    );
  };
  const feeds = () => {
    const f: Record<string, ReturnType<typeof hostTensor>> = {
      x: hostTensor('float32', [BATCH, SEQ, c.hidden], arr('x')),
      dy: hostTensor('float32', [BATCH, SEQ, c.hidden], arr('dy')),
      pos: hostTensor(
        'int64',
        [BATCH, SEQ],
        BigInt64Array.from({ length: BATCH * SEQ }, (_, i) => BigInt(i % SEQ)),
      ),
    };
    for (const t of lora) f[t.name!] = hostTensor('float32', [...t.shape] as number[], arr(t.name!));
    return f;
  };
  const times: number[] = [];
  let out: Awaited<ReturnType<typeof s.run>> = {};
  await s.run(feeds()); // warm-up
  for (let i = 0; i < ITERS; i++) {
    const f = feeds();
    const t0 = performance.now();
    out = await s.run(f);
    times.push(performance.now() - t0);
  }
  await s.release();
  const norm = (a: Float32Array) => Math.sqrt(a.reduce((acc, v) => acc + v * v, 0));
  return {
    ms: Math.min(...times), // least disturbed run: the machine is shared
    ySum: (out.y_sum.data as Float32Array)[0],
    dxNorm: norm(out.dx.data as Float32Array),
    dANorm: norm(out['d.q_proj.lora_A'].data as Float32Array),
  };
}

const TORCH = String.raw`
import json, struct, sys, time, math
import numpy as np, torch
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg['threads'])
H, NH, KV, I, B, S, R, ALPHA, ITERS = cfg['hidden'], cfg['heads'], cfg['kv'], cfg['inter'], cfg['batch'], cfg['seq'], cfg['r'], cfg['alpha'], cfg['iters']
raw = open(cfg['file'], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
def T(name, grad=False):
    e = hdr[name]; b, en = e['data_offsets']
    t = torch.from_numpy(np.frombuffer(raw, dtype=np.float32, count=(en - b) // 4, offset=8 + n + b).copy()).reshape(e['shape'])
    return t.requires_grad_(grad)
names = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']
W = {k: T(k + '.weight') for k in names}
A = {k: T(k + '.lora_A', True) for k in names}
Bm = {k: T(k + '.lora_B', True) for k in names}
n1, n2 = T('input_layernorm.weight'), T('post_attention_layernorm.weight')
def lin(k, x): return x @ W[k].t() + ((x @ A[k].t()) @ Bm[k].t()) * (ALPHA / R)
def rms(x, w): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w
inv = 10000 ** (-torch.arange(0, 64, 2, dtype=torch.float32) / 64)
fr = torch.arange(S, dtype=torch.float32)[:, None] * inv[None, :]
emb = torch.cat([fr, fr], -1); cos, sin = emb.cos(), emb.sin()
def rot(x): return torch.cat([-x[..., 32:], x[..., :32]], -1)
def rope(x): return x * cos + rot(x) * sin
causal = torch.ones(S, S, dtype=torch.bool).tril()
def block(x):
    h = rms(x, n1)
    q = lin('q_proj', h).view(B, S, NH, 64).transpose(1, 2)
    k = lin('k_proj', h).view(B, S, KV, 64).transpose(1, 2)
    v = lin('v_proj', h).view(B, S, KV, 64).transpose(1, 2)
    q, k = rope(q), rope(k)
    k = k.repeat_interleave(NH // KV, 1); v = v.repeat_interleave(NH // KV, 1)
    sc = (q @ k.transpose(-1, -2)) / 8.0
    sc = sc.masked_fill(~causal, torch.finfo(torch.float32).min)
    a = torch.softmax(sc, -1) @ v
    x2 = x + lin('o_proj', a.transpose(1, 2).reshape(B, S, NH * 64))
    h2 = rms(x2, n2)
    return x2 + lin('down_proj', torch.nn.functional.silu(lin('gate_proj', h2)) * lin('up_proj', h2))
x0 = T('x').reshape(B, S, H); dy = T('dy').reshape(B, S, H)
def step():
    x = x0.clone().requires_grad_(True)
    for p in list(A.values()) + list(Bm.values()): p.grad = None
    y = block(x); y.backward(dy)
    return y, x
step()
ts = []
for _ in range(ITERS):
    t0 = time.perf_counter(); y, x = step(); ts.append((time.perf_counter() - t0) * 1000)
ts.sort()
print(json.dumps({'ms': ts[0], 'ySum': float(y.sum()), 'dxNorm': float(x.grad.norm()), 'dANorm': float(A['q_proj'].grad.norm()), 'torch': torch.__version__}))
`;

function ensureTorch(): void {
  if (spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return;
  console.error('installing python3-torch (apt-get) for the PyTorch baseline…');
  const r = spawnSync('apt-get', ['install', '-y', 'python3-torch'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) throw new Error('apt-get install -y python3-torch failed; install it and rerun');
}

/** One PyTorch baseline: on the system BLAS (reference netlib here), or with `openblas` on OpenBLAS, the
 * stronger one, when installed (bench/torch-env.ts). */
function torchRun(c: Cfg, file: string, openblas: boolean) {
  // The reference-BLAS run is ~20× slower: one timed run is enough to show it.
  const iters = openblas ? ITERS : 1;
  const arg = JSON.stringify({
    threads: THREADS,
    hidden: c.hidden,
    heads: c.heads,
    kv: c.kvHeads,
    inter: c.inter,
    batch: BATCH,
    seq: SEQ,
    r: R,
    alpha: ALPHA,
    iters,
    file,
  });
  const { env } = torchEnv(THREADS, openblas);
  const r = spawnSync(PY, ['-c', TORCH, arg], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`PyTorch baseline failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    ms: number;
    ySum: number;
    dxNorm: number;
    dANorm: number;
    torch: string;
  };
}

function recordMarkdown(rows: string[], summary: Record<string, unknown>): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const section = [
    '## engine',
    '',
    `${new Date().toISOString().slice(0, 10)} · ${cpu} · ${THREADS} threads · onnxruntime-node CPU (graph optimisation '${OPT}') vs PyTorch ${summary.torch} CPU · \`npm run bench -- engine\``,
    '',
    'One Llama-style block (RMSNorm, GQA attention with RoPE and a causal mask, SwiGLU MLP), LoRA r16 on all',
    `seven linears, forward + backward from a fed upstream gradient (dLoRA and dx), batch ${BATCH}, seq ${SEQ}; best of ${ITERS} runs after a warm-up (shared machine).`,
    '',
    "PyTorch is Debian's python3-torch 1.13 (no MKL); its default BLAS here is the reference netlib one, so the",
    `main baseline runs it with OpenBLAS (libopenblas0-pthread via LD_LIBRARY_PATH; kernels: ${torchEnv(THREADS).openblasCore},`,
    'named by bench/torch-env.ts where OpenBLAS does not recognise the CPU); both are shown. On a shared',
    'machine single runs vary a lot (up to ×3 between invocations); compare ratios from one invocation only.',
    '',
    '| hidden | ours (ms) | PyTorch+OpenBLAS (ms) | PyTorch default BLAS (ms) | ours ÷ PyTorch+OpenBLAS | ours ÷ PyTorch default | ours GFLOP/s | PyTorch+OpenBLAS GFLOP/s | max rel. diff (y, dx, dA) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const re = /## engine\n[\s\S]*?(?=\n## |$)/;
  const next = re.test(before)
    ? before.replace(re, `${section.trimEnd()}\n`)
    : `${before.trimEnd()}\n\n${section}`;
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

async function main() {
  ensureTorch();
  const sizes = quick ? [256] : [256, 1024];
  const rows: string[] = [];
  let last: Record<string, number> = {};
  let torchVersion = '';
  for (const hidden of sizes) {
    const c = cfgFor(hidden);
    const file = makeWeights(c);
    const o = await ours(c, file);
    const p0 = torchRun(c, file, false);
    const openblas = hasOpenblas();
    const p = openblas ? torchRun(c, file, true) : p0;
    torchVersion = p.torch;
    const f = flops(c);
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
    const diff = Math.max(rel(o.ySum, p.ySum), rel(o.dxNorm, p.dxNorm), rel(o.dANorm, p.dANorm));
    const ratio = o.ms / p.ms;
    const gf = (ms: number) => (f / ms / 1e6).toFixed(1);
    console.error(
      `hidden ${hidden}: ours ${o.ms.toFixed(1)} ms (${gf(o.ms)} GFLOP/s); PyTorch+OpenBLAS ${openblas ? p.ms.toFixed(1) : 'n/a'} ms; PyTorch default BLAS ${p0.ms.toFixed(1)} ms; ratio ${ratio.toFixed(2)}; rel diff ${diff.toExponential(1)}`,
    );
    rows.push(
      `| ${hidden} | ${o.ms.toFixed(1)} | ${openblas ? p.ms.toFixed(1) : 'n/a'} | ${p0.ms.toFixed(1)} | ${ratio.toFixed(2)} | ${(o.ms / p0.ms).toFixed(2)} | ${gf(o.ms)} | ${gf(p.ms)} | ${diff.toExponential(1)} |`,
    );
    last = {
      hidden,
      ours_ms: o.ms,
      pytorch_ms: p.ms,
      pytorch_default_blas_ms: p0.ms,
      ratio,
      ratio_default_blas: o.ms / p0.ms,
      gflops: f / o.ms / 1e6,
      pytorch_gflops: f / p.ms / 1e6,
      rel_diff: diff,
      openblas: openblas ? 1 : 0,
    };
  }
  const summary = {
    bench: 'engine',
    ratio_vs_pytorch: Number(last.ratio.toFixed(3)),
    gflops: Number(last.gflops.toFixed(2)),
    pytorch_gflops: Number(last.pytorch_gflops.toFixed(2)),
    hidden: last.hidden,
    ours_ms: Number(last.ours_ms.toFixed(1)),
    pytorch_ms: Number(last.pytorch_ms.toFixed(1)),
    pytorch_baseline: last.openblas ? 'python3-torch + OpenBLAS' : 'python3-torch, default BLAS',
    ratio_vs_pytorch_default_blas: Number(last.ratio_default_blas.toFixed(3)),
    pytorch_default_blas_ms: Number(last.pytorch_default_blas_ms.toFixed(1)),
    rel_diff: Number(last.rel_diff.toExponential(2)),
    threads: THREADS,
    ort_optimization: OPT,
    torch: torchVersion,
  };
  if (!quick) recordMarkdown(rows, summary);
  console.log(JSON.stringify(summary));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
