// Activation recomputation: gradients with graph.recompute() equal those without, the backward reads no
// activation from inside a region (only region boundaries), and peak memory drops on a deep stack.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createSession,
  gelu,
  grad,
  Graph,
  hostTensor,
  rmsNorm,
  type Tensor,
  toOnnx,
} from '../../../src/main/engine';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';
import { normal, rng } from './helpers';

const H = 6;
const LAYERS = 3;

function build(ckpt: boolean) {
  const g = new Graph();
  let x = g.input('x', 'float64', ['batch', H]);
  const ws: Tensor[] = [];
  for (let l = 0; l < LAYERS; l++) {
    const w1 = g.input(`w1_${l}`, 'float64', [2 * H, H]);
    const w2 = g.input(`w2_${l}`, 'float64', [H, 2 * H]);
    const nw = g.input(`n_${l}`, 'float64', [H]);
    ws.push(w1, w2, nw);
    const body = (inp: Tensor) =>
      g.scope(`layers.${l}`, () =>
        g.add(inp, g.linear(gelu(g, g.linear(rmsNorm(g, inp, nw), w1), 'tanh'), w2)),
      );
    x = ckpt ? g.recompute(() => body(x)) : body(x);
  }
  const loss = g.sum(g.square(x));
  const fwdCount = g.nodes.length;
  const grads = grad(loss, [g.nodes[0], ...ws]);
  return { g, loss, grads, fwdCount };
}

describe('recompute()', () => {
  it('gives the same gradients and the backward only reads region boundaries', async () => {
    const r = normal(rng(5));
    const feeds: Record<string, ReturnType<typeof hostTensor>> = {
      x: hostTensor('float64', [3, H], Float64Array.from({ length: 3 * H }, r)),
    };
    for (let l = 0; l < LAYERS; l++) {
      feeds[`w1_${l}`] = hostTensor(
        'float64',
        [2 * H, H],
        Float64Array.from({ length: 2 * H * H }, () => r() * 0.4),
      );
      feeds[`w2_${l}`] = hostTensor(
        'float64',
        [H, 2 * H],
        Float64Array.from({ length: 2 * H * H }, () => r() * 0.4),
      );
      feeds[`n_${l}`] = hostTensor(
        'float64',
        [H],
        Float64Array.from({ length: H }, () => 1 + r() * 0.1),
      );
    }
    const results = [];
    for (const ckpt of [false, true]) {
      const { g, loss, grads, fwdCount } = build(ckpt);
      if (ckpt) {
        const fwd = g.nodes.slice(0, fwdCount);
        const boundary = new Set<number>();
        for (const t of fwd)
          for (const i of t.inputs) if (i.region >= 0 && i.region !== t.region) boundary.add(i.id);
        const back = g.nodes.slice(fwdCount);
        const leaks = back.flatMap((t) =>
          t.inputs.filter(
            (i) =>
              i.id < fwdCount &&
              i.region >= 0 &&
              !['input', 'weight', 'constant'].includes(i.op) &&
              !boundary.has(i.id),
          ),
        );
        expect(leaks).toEqual([]);
        expect(back.some((t) => t.scope.startsWith('recompute.'))).toBe(true);
      }
      const outs: Record<string, Tensor> = { loss };
      grads.forEach((t, i) => {
        outs[`g${i}`] = t;
      });
      const s = await createSession(toOnnx(outs), { inThread: true, providers: ['cpu'] });
      const copy = Object.fromEntries(
        Object.entries(feeds).map(([k, v]) => [k, { ...v, data: v.data.slice() }]),
      );
      results.push(await s.run(copy));
      await s.release();
    }
    const [plain, ck] = results;
    for (const k of Object.keys(plain)) {
      const a = plain[k].data as Float64Array;
      const b = ck[k].data as Float64Array;
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
      expect(err).toBeLessThan(1e-12);
    }
    expect(Math.max(...Array.from(plain.g1.data as Float64Array).map(Math.abs))).toBeGreaterThan(0);
  });

  it('lowers peak memory of a deep stack (peak RSS in child processes)', () => {
    const dir = tmpDir();
    const script = path.join(dir, 'peak.mts');
    const engine = path.join(REPO_ROOT, 'src/main/engine/index.ts');
    fs.writeFileSync(
      script,
      `import { Graph, createSession, grad, hostTensor, toOnnx } from ${JSON.stringify(engine)};
const ckpt = process.argv[2] === '1';
const H = 256, N = 4096, L = 8;
const g = new Graph();
let x = g.input('x', 'float32', ['rows', H]);
const ws = [];
for (let l = 0; l < L; l++) {
  const w1 = g.input('w1_' + l, 'float32', [2 * H, H]); const w2 = g.input('w2_' + l, 'float32', [H, 2 * H]);
  ws.push(w1, w2);
  const body = (inp) => g.add(inp, g.linear(g.tanh(g.linear(inp, w1)), w2));
  x = ckpt ? g.recompute(() => body(x)) : body(x);
}
const grads = grad(g.mean(g.square(x)), ws);
const outs = {}; grads.forEach((t, i) => { outs['g' + i] = t; });
const s = await createSession(toOnnx(outs), { inThread: true, providers: ['cpu'], threads: 1 });
const feeds = () => { const f = { x: hostTensor('float32', [N, H], new Float32Array(N * H).fill(0.01)) };
  for (let l = 0; l < L; l++) { f['w1_' + l] = hostTensor('float32', [2 * H, H], new Float32Array(2 * H * H).fill(0.001));
    f['w2_' + l] = hostTensor('float32', [H, 2 * H], new Float32Array(2 * H * H).fill(0.001)); } return f; };
const base = process.resourceUsage().maxRSS;
await s.run(feeds());
console.log(JSON.stringify({ peakKB: process.resourceUsage().maxRSS - base }));
`,
    );
    const peak = (flag: string) => {
      // A fixed mmap threshold makes glibc return freed tensors at once, so peak RSS tracks live tensors
      // (ORT's schedule) rather than allocator caching.
      const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '2' };
      const r = spawnSync(process.execPath, ['--import', 'tsx', script, flag], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env,
      });
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout.trim().split('\\n').pop()!).peakKB as number;
    };
    const plain = peak('0');
    const ck = peak('1');
    console.log(
      `peak RSS growth during one step: ${(plain / 1024).toFixed(0)} MB plain, ${(ck / 1024).toFixed(0)} MB checkpointed`,
    );
    expect(ck).toBeLessThan(0.75 * plain);
  });
});
