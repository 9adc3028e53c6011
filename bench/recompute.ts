// `npm run bench -- recompute [--shape qwen3-0.6b] [--layers N] [--len 128] [--chunks 2,4] [--dropout 0.1] [--threads 2]`
// Activation memory per token with and without layer recompute, and the memory plan's estimate beside it:
// one child process per (chunk, recompute) runs one GradCache backward call (forward + backward of one chunk,
// dropout 0.1, r16 all-linear, float32 compute on CPU from the real-shape bf16 checkpoint) and reports its
// peak RSS; MB/token is the slope between the two chunk sizes, so the weights and the runtime cancel out.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { EmbeddingModel } from '../src/main/models/model';
import { LoraEncoder, trainingMemoryParts } from '../src/main/models/trainable';
import { planMemory } from '../src/main/training/memory-plan';
import { mixSeed, mulberry32 } from '../src/main/training/rng';
import { ensureRealShape } from './real-shape';

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const MB = 2 ** 20;

async function child(
  dir: string,
  chunk: number,
  len: number,
  recompute: boolean,
  threads: number,
  p: number,
) {
  const model = EmbeddingModel.load(dir, { maxLength: len, inThread: true, device: 'cpu', threads });
  const cfg = { r: 16, alpha: 32, dropout: p, targetModules: 'all-linear', useRslora: false } as const;
  const enc = new LoraEncoder(model, cfg, recompute);
  const lora = enc.initLora(0);
  for (const [k, v] of lora) if (k.endsWith('lora_B.weight')) v.fill(0.01);
  const rand = mulberry32(3);
  const words = 'the of and to in is was for on that with as by at from his it an were are which'.split(' ');
  const texts = Array.from({ length: chunk }, () =>
    Array.from({ length: 4 * len }, () => words[Math.floor(rand() * words.length)]).join(' '),
  );
  const drop = p > 0 ? { p, seeds: Uint32Array.from(texts, (_, i) => mixSeed(1, i)) } : null;
  const t0 = performance.now();
  await enc.backward(texts, lora, drop, new Float32Array(chunk * model.dim).fill(0.01));
  const s = (performance.now() - t0) / 1000;
  const tokens = enc.countTokens(texts).reduce((a, b) => a + b, 0);
  const peak = process.resourceUsage().maxRSS * 1024;
  await model.dispose();
  return { chunk, recompute, tokens, first_call_s: s, peak_rss_mb: peak / MB };
}

async function main() {
  if (argv[0] === '--child') {
    const [dir, chunk, len, rc, threads, p] = argv.slice(1);
    const r = await child(dir, Number(chunk), Number(len), rc === '1', Number(threads), Number(p));
    console.log(JSON.stringify(r));
    return;
  }
  const shape = flag('shape', 'qwen3-0.6b');
  const f = ensureRealShape(shape, flag('layers', '') ? { layers: Number(flag('layers', '')) } : {});
  const len = Number(flag('len', '128'));
  const chunks = flag('chunks', '2,4').split(',').map(Number);
  const dropout = Number(flag('dropout', '0.1'));
  const threads = Number(flag('threads', String(Math.min(2, os.availableParallelism()))));
  const load0 = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const parts = trainingMemoryParts({
    modelDir: f.dir,
    rank: 16,
    alpha: 32,
    dropout,
    targetModules: ['all-linear'],
    maxLength: len,
    device: 'cpu',
    dtype: 'auto',
  });
  const runs: Record<string, unknown>[] = [];
  for (const rc of [false, true])
    for (const c of chunks) {
      const p = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--child',
          f.dir,
          String(c),
          String(len),
          rc ? '1' : '0',
          String(threads),
          String(dropout),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      const line = p.stdout.trim().split('\n').at(-1) ?? '';
      if (p.status !== 0 || !line.startsWith('{')) throw new Error(`child failed: ${p.stderr.slice(-2000)}`);
      const r = JSON.parse(line) as { peak_rss_mb: number; tokens: number };
      // The plan's total for this one call (no batch state, one chunk).
      const plan = planMemory({
        provider: parts.provider,
        dtype: parts.dtype,
        weightsBytes: parts.weightsBytes,
        weightsNote: '',
        loraParams: parts.loraParams,
        textsPerStep: c,
        queries: 0,
        dim: parts.dim,
        chunkSize: c,
        maxLength: len,
        activationBytes: (k, on) => parts.activationBytes(k, len, on),
        recompute: rc ? 'on' : 'off',
        budgetBytes: null,
        budgetSource: 'none',
      });
      const row = {
        ...r,
        plan_total_mb: plan.totalBytes / MB,
        measured_over_plan: (r.peak_rss_mb * MB) / plan.totalBytes,
      };
      runs.push(row);
      console.error(
        `chunk ${c} × ${len}, recompute ${rc ? 'on ' : 'off'}: peak RSS ${r.peak_rss_mb.toFixed(0)} MB, plan ${(plan.totalBytes / MB).toFixed(0)} MB (measured ${(row.measured_over_plan * 100).toFixed(0)}% of plan)`,
      );
    }
  const slope = (rc: boolean) => {
    const [a, b] = runs.filter((r) => r.recompute === rc) as { peak_rss_mb: number; tokens: number }[];
    return (b.peak_rss_mb - a.peak_rss_mb) / (b.tokens - a.tokens);
  };
  const planSlope = (rc: boolean) =>
    (parts.activationBytes(chunks[1], len, rc) - parts.activationBytes(chunks[0], len, rc)) /
    ((chunks[1] - chunks[0]) * len) /
    MB;
  const result = {
    bench: 'recompute',
    date: new Date().toISOString(),
    shape,
    layers: f.layers,
    len,
    chunks,
    dropout,
    threads,
    loadavg_start: load0,
    loadavg_end: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    mb_per_token: { off: slope(false), on: slope(true) },
    plan_mb_per_token: { off: planSlope(false), on: planSlope(true) },
    runs,
  };
  console.error(
    `activation MB/token: ${result.mb_per_token.off.toFixed(2)} without recompute, ${result.mb_per_token.on.toFixed(2)} with (plan ${result.plan_mb_per_token.off.toFixed(2)} / ${result.plan_mb_per_token.on.toFixed(2)})`,
  );
  console.log(JSON.stringify(result));
}

await main();
