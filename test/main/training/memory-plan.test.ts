// The memory plan: the pure arithmetic (planMemory / planRefusal), the activation count of real graphs
// (engine peakActivationBytes via trainingMemoryParts), and the CLI: `train --plan`, the refusal before loading.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Graph, peakActivationBytes } from '../../../src/main/engine';
import { main } from '../../../src/main/cli/index';
import { trainingMemoryParts } from '../../../src/main/models/trainable';
import { Store } from '../../../src/main/store';
import {
  formatPlan,
  type MemoryPlanInput,
  planMemory,
  planRefusal,
} from '../../../src/main/training/memory-plan';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

const GIB = 1024 ** 3;
const MODEL = path.join(FIXTURES, 'parity/mistral');

const input = (over: Partial<MemoryPlanInput> = {}): MemoryPlanInput => ({
  provider: 'cpu',
  dtype: 'float32',
  weightsBytes: 2 * GIB,
  weightsNote: 'test',
  loraParams: 10e6,
  textsPerStep: 96,
  queries: 32,
  dim: 1024,
  chunkSize: 16,
  maxLength: 512,
  // 1 GiB per sequence kept, 0.1 GiB with recompute.
  activationBytes: (c, rc) => c * (rc ? 0.1 : 1) * GIB,
  recompute: 'auto',
  budgetBytes: 12 * GIB,
  budgetSource: '--memory-gb',
  runtimeBytes: 0.5 * GIB,
  ...over,
});

describe('planMemory', () => {
  it('adds the parts, turns recompute on in auto mode when the chunk would not fit, finds the largest chunk', () => {
    const p = planMemory(input());
    const fixed = 2 * GIB + 10e6 * 24 + p.batchBytes + 0.5 * GIB;
    expect(p.loraStateBytes).toBe(10e6 * 24);
    expect(p.activations).toEqual({ off: 16 * GIB, on: 1.6 * GIB });
    expect(p.recompute).toBe(true);
    expect(p.totalBytes).toBeCloseTo(fixed + 1.6 * GIB, 0);
    expect(p.fits).toBe(true);
    // Largest k with fixed + k·GiB ≤ 12 GiB (and k·0.1 GiB, capped at the texts per step).
    expect(p.largestChunk.off).toBe(Math.floor((12 * GIB - fixed) / GIB));
    expect(p.largestChunk.on).toBe(Math.min(96, Math.floor((12 * GIB - fixed) / (0.1 * GIB))));
    expect(planRefusal(p)).toBeNull();
    expect(formatPlan(p).join('\n')).toMatch(/recompute auto → on: fits/);
  });

  it('keeps recompute off in auto mode when the chunk fits without it', () => {
    const p = planMemory(input({ chunkSize: 4 }));
    expect(p.recompute).toBe(false);
    expect(p.fits).toBe(true);
  });

  it('refuses with one line naming the flag or chunk size that would fit', () => {
    const off = planMemory(input({ recompute: 'off' }));
    expect(off.fits).toBe(false);
    expect(planRefusal(off)).toMatch(
      /^memory plan: chunk 16 × 512 tokens needs .*; use --recompute on \(or auto\)$/,
    );
    const tight = planMemory(input({ budgetBytes: 3.5 * GIB }));
    expect(tight.fits).toBe(false);
    const best = tight.largestChunk.on!;
    expect(best).toBeGreaterThan(0);
    expect(best).toBeLessThan(16);
    expect(planRefusal(tight)).toBe(
      `memory plan: chunk 16 × 512 tokens needs ~${(tight.totalBytes / GIB).toFixed(2)} GiB with layer recompute, over the 3.50 GiB budget (--memory-gb); use --chunk-size ${best}`,
    );
    const none = planMemory(input({ budgetBytes: 2 * GIB }));
    expect(planRefusal(none)).toMatch(/even --chunk-size 1 does not fit; lower --max-length/);
    expect(planRefusal(none)!.split('\n')).toHaveLength(1);
  });

  it('an unknown budget never refuses and says how to give one', () => {
    const p = planMemory(input({ budgetBytes: null, budgetSource: 'webgpu reports no memory size' }));
    expect(p.fits).toBe(true);
    expect(p.largestChunk).toEqual({ off: null, on: null });
    expect(planRefusal(p)).toBeNull();
    expect(formatPlan(p)[0]).toMatch(/pass --memory-gb/);
  });
});

describe('peakActivationBytes', () => {
  it('counts live values in execution order, views free, named dims evaluated', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4]);
    const a = g.mul(x, 2); // 16·batch bytes
    const b = g.add(g.reshape(a, ['batch', 2, 2]), 1); // a still alive through the view
    const out = g.sum(b);
    const e = peakActivationBytes({ out }, { batch: 10 });
    expect(e.feedBytes).toBe(160);
    // a (160) + b (160) at b; then a dies; the scalar sum and the scalar constants are tiny.
    expect(e.peakBytes).toBeGreaterThanOrEqual(320);
    expect(e.peakBytes).toBeLessThan(320 + 16);
  });

  it('on a real training graph: grows with chunk and length, and recompute keeps less', () => {
    const p = trainingMemoryParts({
      modelDir: MODEL,
      rank: 4,
      alpha: 8,
      dropout: 0.1,
      targetModules: ['all-linear'],
      maxLength: 64,
      device: 'cpu',
      dtype: 'auto',
    });
    expect(p.dtype).toBe('float32');
    expect(p.activationBytes(4, 64, false)).toBeGreaterThan(1.9 * p.activationBytes(2, 64, false));
    expect(p.activationBytes(2, 128, false)).toBeGreaterThan(p.activationBytes(2, 64, false));
    expect(p.activationBytes(4, 64, true)).toBeLessThan(p.activationBytes(4, 64, false));
  });
});

describe('embedsmith train --plan and the refusal before loading', () => {
  let stderr = '';
  let stdout = '';
  beforeEach(() => {
    stderr = '';
    stdout = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    });
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      stdout += String(s);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  function home(): string {
    const h = tmpDir();
    const store = Store.open(path.join(h, 'embedsmith.db'));
    store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(64, 5));
    store.close();
    return h;
  }
  const args = (h: string, extra: string[]) => [
    'train',
    '--home',
    h,
    '--dataset',
    'syn',
    '--model',
    MODEL,
    '--out',
    path.join(h, 'run'),
    '--batch-size',
    '16',
    '--chunk-size',
    '8',
    '--max-length',
    '64',
    ...extra,
  ];

  it('--plan prints the plan and writes nothing; --json gives the numbers', async () => {
    const h = home();
    expect(await main(args(h, ['--plan']))).toBe(0);
    expect(stdout).toMatch(/memory plan: cpu, float32 compute, budget .* from RAM/);
    expect(stdout).toMatch(/activations +chunk 8 × 64 tokens: .* without recompute, .* with/);
    expect(stdout).toMatch(/largest chunk that fits: \d+ without recompute, \d+ with/);
    expect(fs.existsSync(path.join(h, 'run'))).toBe(false);
    stdout = '';
    expect(await main(args(h, ['--plan', '--json']))).toBe(0);
    const j = JSON.parse(stdout) as { plan: { activations: { off: number; on: number }; fits: boolean } };
    expect(j.plan.activations.on).toBeLessThan(j.plan.activations.off);
    expect(j.plan.fits).toBe(true);
  });

  it('a budget the chunk does not fit is refused in one line naming the chunk size that fits', async () => {
    const h = home();
    expect(await main(args(h, ['--plan', '--json']))).toBe(0);
    const plan = JSON.parse(stdout).plan as { totalBytes: number; activations: { off: number; on: number } };
    // Room for about half the chunk's activations with recompute: chunk 8 no longer fits, some smaller one does.
    const fixed = plan.totalBytes - plan.activations.off;
    const gb = (fixed + plan.activations.on / 2) / GIB;
    const code = await main(args(h, ['--memory-gb', String(gb)]));
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /memory plan: chunk 8 × 64 tokens needs .* over the .* budget \(--memory-gb\); use --chunk-size [1-7]\b/,
    );
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(path.join(h, 'run'))).toBe(false);
  });

  it('a run prints the plan first and, after step 1, the measured peak beside the estimate', async () => {
    const h = home();
    const code = await main(args(h, ['--max-steps', '1', '--warmup', '0', '--recompute', 'on', '--json']));
    expect(code).toBe(0);
    expect(stderr).toMatch(/memory plan: cpu, float32 compute/);
    expect(stderr).toMatch(/total .* recompute on: fits/);
    const m = /memory after step 1: peak RSS ([\d.]+) GiB, plan estimated ([\d.]+) GiB/.exec(stderr);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(h, 'run', 'adapter', 'adapter_model.safetensors'))).toBe(true);
  });
});
