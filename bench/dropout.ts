// `npm run bench -- dropout [--shape qwen2-0.6b] [--layers 2] [--reps 5] [--threads 2] [--chunk 4] [--len 128]`
// What LoRA dropout on the device costs: GradCache's two calls per chunk (pass-1 forward, pass-2 forward +
// backward) at dropout 0 and 0.1 on the same model (real-shape random bf16 weights, r16 all-linear, float32
// compute on CPU), interleaved call by call so the shared machine's load hits both sides alike; the ratio of
// medians is the overhead. Also one backward call with layer recompute (its time and the plan's activations).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddingModel } from '../src/main/models/model';
import { LoraEncoder, trainingMemoryParts } from '../src/main/models/trainable';
import { mixSeed, mulberry32 } from '../src/main/training/rng';
import { ensureRealShape } from './real-shape';

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const shape = flag('shape', 'qwen2-0.6b');
const layers = Number(flag('layers', '2'));
const reps = Number(flag('reps', '5'));
const threads = Number(flag('threads', String(Math.min(2, os.availableParallelism()))));
const chunk = Number(flag('chunk', '4'));
const len = Number(flag('len', '128'));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main() {
  const f = ensureRealShape(shape, { layers });
  const model = EmbeddingModel.load(f.dir, { maxLength: len, inThread: true, device: 'cpu', threads });
  const cfg = (p: number) => ({
    r: 16,
    alpha: 32,
    dropout: p,
    targetModules: 'all-linear',
    useRslora: false,
  });
  const encs = { p0: new LoraEncoder(model, cfg(0)), p01: new LoraEncoder(model, cfg(0.1)) };
  const ckpt = new LoraEncoder(model, cfg(0.1), true);
  const lora = encs.p0.initLora(0);
  for (const [k, v] of lora) if (k.endsWith('lora_B.weight')) v.fill(0.01);
  // Texts long enough to fill `len` tokens.
  const rand = mulberry32(3);
  const words = 'the of and to in is was for on that with as by at from his it an were are which'.split(' ');
  const texts = Array.from({ length: chunk }, () =>
    Array.from({ length: 4 * len }, () => words[Math.floor(rand() * words.length)]).join(' '),
  );
  const drop = { p: 0.1, seeds: Uint32Array.from(texts, (_, i) => mixSeed(1, i)) };
  const dEmb = new Float32Array(chunk * model.dim).fill(0.01);
  const loadStart = load();
  const t: Record<string, { fwd: number[]; bwd: number[] }> = {
    p0: { fwd: [], bwd: [] },
    p01: { fwd: [], bwd: [] },
  };
  const time = async (fn: () => Promise<unknown>) => {
    const s = performance.now();
    await fn();
    return (performance.now() - s) / 1000;
  };
  // Warm-up (session creation: graph build, lowering, ORT session; the first call) outside the timings.
  const ready: Record<string, number> = {};
  for (const [k, e] of Object.entries(encs)) {
    const d = k === 'p0' ? null : drop;
    ready[k] = await time(async () => {
      await e.embed(texts, lora, d);
      await e.backward(texts, lora, d, dEmb);
    });
  }
  for (let r = 0; r < reps; r++) {
    // Alternate which side goes first so a load change between the two hits both.
    const order = r % 2 ? (['p01', 'p0'] as const) : (['p0', 'p01'] as const);
    for (const k of order) {
      const d = k === 'p0' ? null : drop;
      t[k].fwd.push(await time(() => encs[k].embed(texts, lora, d)));
      t[k].bwd.push(await time(() => encs[k].backward(texts, lora, d, dEmb)));
    }
  }
  const call = (k: 'p0' | 'p01') => median(t[k].fwd) + median(t[k].bwd);
  await ckpt.backward(texts, lora, drop, dEmb);
  const rcBwd: number[] = [];
  for (let r = 0; r < Math.max(1, Math.floor(reps / 2)); r++)
    rcBwd.push(await time(() => ckpt.backward(texts, lora, drop, dEmb)));
  await model.dispose();
  // ORT's node profile of both sessions at dropout 0.1: the time of the dropout nodes (the hash, the mask
  // and their gradients, scoped lora_dropout / dropout_hash) against the rest — a ratio measured within one
  // run, so the shared machine's load cancels out.
  const prefix = path.join(os.tmpdir(), `bench-dropout-${process.pid}`);
  process.env.EMBEDSMITH_ORT_PROFILE = prefix;
  const pm = EmbeddingModel.load(f.dir, { maxLength: len, inThread: true, device: 'cpu', threads });
  const pe = new LoraEncoder(pm, cfg(0.1));
  for (let r = 0; r < 3; r++) {
    await pe.embed(texts, lora, drop);
    await pe.backward(texts, lora, drop, dEmb);
  }
  await pm.dispose();
  delete process.env.EMBEDSMITH_ORT_PROFILE;
  const share = { forward: 0, fwd_bwd: 0 };
  for (const file of fs.readdirSync(os.tmpdir()).filter((x) => x.startsWith(path.basename(prefix)))) {
    const full = path.join(os.tmpdir(), file);
    const ev = JSON.parse(fs.readFileSync(full, 'utf8')) as { cat: string; name: string; dur: number }[];
    fs.rmSync(full);
    let all = 0;
    let dr = 0;
    let grads = false;
    for (const e of ev) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      all += e.dur;
      if (/lora_dropout|dropout_hash/.test(e.name)) dr += e.dur;
      if (e.name.startsWith('grad.')) grads = true;
    }
    share[grads ? 'fwd_bwd' : 'forward'] = dr / Math.max(1, all - dr);
  }
  const tokens = texts.length * len;
  const parts = trainingMemoryParts({
    modelDir: f.dir,
    rank: 16,
    alpha: 32,
    dropout: 0.1,
    targetModules: ['all-linear'],
    maxLength: len,
    device: 'cpu',
    dtype: 'auto',
  });
  const result = {
    bench: 'dropout',
    date: new Date().toISOString(),
    shape,
    layers,
    threads,
    chunk,
    tokens_per_chunk: tokens,
    reps,
    loadavg_start: loadStart,
    loadavg_end: load(),
    p0: { forward_s: median(t.p0.fwd), fwd_bwd_s: median(t.p0.bwd), sessions_and_first_calls_s: ready.p0 },
    p01: {
      forward_s: median(t.p01.fwd),
      fwd_bwd_s: median(t.p01.bwd),
      sessions_and_first_calls_s: ready.p01,
    },
    dropout_overhead: call('p01') / call('p0') - 1,
    dropout_overhead_min:
      (Math.min(...t.p01.fwd) + Math.min(...t.p01.bwd)) / (Math.min(...t.p0.fwd) + Math.min(...t.p0.bwd)) - 1,
    /** Dropout nodes' kernel time ÷ the other nodes' (ORT profile, one run): the load-independent overhead. */
    dropout_node_share: share,
    recompute: {
      fwd_bwd_s: median(rcBwd),
      time_ratio: median(rcBwd) / median(t.p01.bwd),
      plan_activation_mb_per_token_off: parts.activationBytes(chunk, len, false) / tokens / 2 ** 20,
      plan_activation_mb_per_token_on: parts.activationBytes(chunk, len, true) / tokens / 2 ** 20,
    },
  };
  console.error(
    `dropout 0.1 vs 0 (${shape}, ${layers} layers, chunk ${chunk} × ${len}): forward ${result.p01.forward_s.toFixed(2)} vs ${result.p0.forward_s.toFixed(2)} s, fwd+bwd ${result.p01.fwd_bwd_s.toFixed(2)} vs ${result.p0.fwd_bwd_s.toFixed(2)} s → overhead ${(result.dropout_overhead * 100).toFixed(1)}%; recompute fwd+bwd ${result.recompute.fwd_bwd_s.toFixed(2)} s (×${result.recompute.time_ratio.toFixed(2)})`,
  );
  console.error(
    `ORT profile: dropout nodes = ${(share.forward * 100).toFixed(1)}% of the rest of a forward call, ${(share.fwd_bwd * 100).toFixed(1)}% of a forward+backward call`,
  );
  console.log(JSON.stringify(result));
}

await main();
