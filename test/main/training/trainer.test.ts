import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../../src/main/store';
import {
  latestCheckpoint,
  loadCheckpoint,
  modulePathKey,
  modulesOf,
} from '../../../src/main/training/checkpoint';
import { parseTrainConfig, queryFormatter } from '../../../src/main/training/config';
import { loadTrainRows } from '../../../src/main/training/data';
import { referenceLoss } from '../../../src/main/training/loss';
import { ReferenceEncoder } from '../../../src/main/training/reference-encoder';
import { runTraining, type StepEvent } from '../../../src/main/training/trainer';
import { loadAdapter } from '../../../src/main/models/lora';
import { EmbeddingModel } from '../../../src/main/models/model';
import type { LoraEncoder } from '../../../src/main/models/trainable';
import type { TrainableEncoder } from '../../../src/main/models/encoder';
import { loadEncoder } from '../../../src/main/training/job';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');

function recallAt1(q: Float32Array, d: Float32Array, n: number, dim: number): number {
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestS = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += q[i * dim + k] * d[j * dim + k];
      if (s > bestS) {
        bestS = s;
        best = j;
      }
    }
    if (best === i) hits++;
  }
  return hits / n;
}

/** A workspace with dataset 'syn': `n` synthetic examples, the last `test` of them in the test split. */
function synDataset(n: number, seed: number, test: number) {
  const dir = tmpDir();
  const store = Store.open(path.join(dir, 'db.sqlite'));
  const ds = store.datasets.create('syn');
  const all = syntheticTask(n, seed);
  store.examples.insertMany(ds.id, all.slice(0, n - test));
  store.examples.insertMany(
    ds.id,
    all.slice(n - test).map((e) => ({ ...e, split: 'test' as const })),
  );
  return { dir, store, ds };
}

describe('training loop (reference encoder)', () => {
  it('loss falls, held-out retrieval improves over the base, the adapter reloads to the same embeddings', async () => {
    const { dir, store, ds } = synDataset(200, 5, 40);
    const fmt = queryFormatter(MODEL);
    const rows = loadTrainRows(store, ['syn'], fmt);
    expect(rows.length).toBe(160);
    expect(rows[0].query.startsWith('Instruct: Retrieve the mapped words\nQuery: ')).toBe(true);
    const config = parseTrainConfig({
      datasets: ['syn'],
      model: MODEL,
      encoder: 'reference',
      loraRank: 16,
      loraAlpha: 32,
      loraDropout: 0.05,
      targetModules: ['all-linear'],
      batchSize: 16,
      chunkSize: 8,
      lr: 1e-2,
      warmup: 5,
      weightDecay: 0.01,
      temperature: 0.05,
      epochs: 8,
      maxSteps: 70,
      maxLength: 32,
      checkpointEvery: 25,
      out: path.join(dir, 'run'),
    });
    const enc = ReferenceEncoder.load({
      modelDir: MODEL,
      rank: 16,
      alpha: 32,
      dropout: 0.05,
      targetModules: ['all-linear'],
      maxLength: 32,
      device: 'cpu',
      dtype: 'float32',
    });
    const events: StepEvent[] = [];
    const res = await runTraining({
      config,
      rows,
      encoder: enc,
      loss: referenceLoss,
      runDir: config.out,
      resume: false,
      hooks: { onStep: (e) => events.push(e) },
    });
    expect(res.state).toBe('done');
    expect(events.length).toBe(70);
    expect(events[0].lr).toBe(0);
    expect(events.every((e) => e.examplesPerS > 0 && e.tokensPerS > 0 && e.memoryMb > 0)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(events.slice(0, 10).map((e) => e.loss));
    const last = mean(events.slice(-10).map((e) => e.loss));
    expect(last).toBeLessThan(0.6 * first);
    const log = fs.readFileSync(path.join(config.out, 'train.log.jsonl'), 'utf8').trim().split('\n');
    expect(log.length).toBe(70);
    expect(fs.readdirSync(path.join(config.out, 'checkpoints')).sort()).toEqual([
      'step-000025',
      'step-000050',
      'step-000070',
    ]);

    // Held-out retrieval: base (B = 0) vs the trained adapter reloaded from disk.
    const test = [...store.examples.iterate(ds.id, { split: 'test' })];
    const qs = test.map((e) => fmt(e.instruction as string, e.query));
    const docs = test.map((e) => e.positive);
    const base = enc.initLora(config.seed);
    const adapter = loadAdapter(path.join(config.out, 'adapter'), modulesOf(enc.params));
    const trained = new Map(
      enc.params.map((p) => [p.name, adapter.tensors.get(modulePathKey(p.name))?.data as Float32Array]),
    );
    const r0 = recallAt1(
      await enc.embed(qs, base, null),
      await enc.embed(docs, base, null),
      test.length,
      enc.dim,
    );
    const r1 = recallAt1(
      await enc.embed(qs, trained, null),
      await enc.embed(docs, trained, null),
      test.length,
      enc.dim,
    );
    expect(r1).toBeGreaterThan(r0 + 0.2);
    // The adapter on disk holds exactly the final float32 masters of the last checkpoint.
    const last70 = loadCheckpoint(latestCheckpoint(config.out) as string, enc.params);
    const e1 = await enc.embed(qs.slice(0, 4), last70.lora, null);
    const e2 = await enc.embed(qs.slice(0, 4), trained, null);
    expect(Array.from(e2)).toEqual(Array.from(e1));
    store.close();
  });
});

describe('training loop (real mistral fixture model, ONNX training graphs)', () => {
  it('loss falls and held-out retrieval improves over the base model', async () => {
    const { dir, store, ds } = synDataset(120, 11, 24);
    const fmt = queryFormatter(MODEL);
    const rows = loadTrainRows(store, ['syn'], fmt);
    const test = [...store.examples.iterate(ds.id, { split: 'test' })];
    store.close();
    const config = realModelConfig(dir, { maxSteps: 30 });
    const enc = await loadEncoder(config);
    const events: StepEvent[] = [];
    await runTraining({
      config,
      rows,
      encoder: enc,
      loss: referenceLoss,
      runDir: config.out,
      resume: false,
      hooks: { onStep: (e) => events.push(e) },
    });
    await enc.dispose?.();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(events.slice(-5).map((e) => e.loss))).toBeLessThan(
      0.7 * mean(events.slice(0, 5).map((e) => e.loss)),
    );
    const model = EmbeddingModel.load(MODEL, { maxLength: 16, inThread: true });
    const qs = test.map((e) => fmt(e.instruction as string, e.query));
    const docs = test.map((e) => e.positive);
    const adapter = model.loadAdapter(path.join(config.out, 'adapter'));
    const r0 = recallAt1(await model.embed(qs), await model.embed(docs), test.length, model.dim);
    const r1 = recallAt1(
      await model.embed(qs, { adapter }),
      await model.embed(docs, { adapter }),
      test.length,
      model.dim,
    );
    await model.dispose();
    expect(r1).toBeGreaterThan(r0 + 0.15);
  });
});

describe('training loop in float16 (real mistral fixture model, half-precision base weights on CPU)', () => {
  it('loss falls; gradients are unscaled before clipping and AdamW; an overflow step is skipped', async () => {
    const { dir, store } = synDataset(96, 11, 0);
    const rows = loadTrainRows(store, ['syn'], queryFormatter(MODEL));
    store.close();
    const config = realModelConfig(dir, { maxSteps: 20, device: 'cpu', dtype: 'float16' });
    const inner = await loadEncoder(config);
    expect((inner as LoraEncoder).model.dtype).toBe('float16');
    // Wrapper: records the LoRA weights each step starts from and the gradients the graph returns, and
    // makes step 6's gradients overflow (as a too-large loss scale does in float16).
    const OVERFLOW_STEP = 6;
    let step = 0;
    let backwardSeen = true; // a step's first embed call follows the previous step's backward calls
    const startWeights: Float32Array[] = [];
    const rawGrads: Map<string, Float32Array>[] = []; // per step, summed over chunks
    const enc: TrainableEncoder = {
      dim: inner.dim,
      params: inner.params,
      initLora: (s) => inner.initLora(s),
      countTokens: (t) => inner.countTokens(t),
      embed: async (texts, lora, drop) => {
        if (backwardSeen) {
          backwardSeen = false;
          step++;
          startWeights.push(Float32Array.from([...lora.values()].flatMap((v) => Array.from(v))));
        }
        return inner.embed(texts, lora, drop);
      },
      backward: async (texts, lora, drop, dEmb) => {
        backwardSeen = true;
        const g = await inner.backward(texts, lora, drop, dEmb);
        rawGrads[step - 1] ??= new Map();
        const acc = rawGrads[step - 1];
        for (const [k, v] of g) {
          const t = acc.get(k) ?? new Float32Array(v.length);
          v.forEach((x, i) => {
            t[i] += x;
          });
          acc.set(k, t);
        }
        if (step === OVERFLOW_STEP) [...g.values()][0][0] = Number.POSITIVE_INFINITY;
        return g;
      },
    };
    const events: StepEvent[] = [];
    await runTraining({
      config,
      rows,
      encoder: enc,
      loss: referenceLoss,
      runDir: config.out,
      resume: false,
      hooks: { onStep: (e) => events.push(e) },
    });
    await inner.dispose?.();
    expect(events.length).toBe(20);
    expect(startWeights.length).toBe(20);
    const skipped = events.filter((e) => e.skipped).map((e) => e.step);
    console.log(
      `[fp16 train] losses ${events.map((e) => e.loss.toFixed(3)).join(' ')}; skipped ${skipped.join(',') || 'none'}; scales ${[...new Set(events.map((e) => e.lossScale))].join(' → ')}`,
    );
    expect(skipped).toEqual([OVERFLOW_STEP]);
    // The skipped step left the weights untouched and halved the scale; clean steps moved the weights.
    const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => v === b[i]);
    expect(same(startWeights[OVERFLOW_STEP], startWeights[OVERFLOW_STEP - 1])).toBe(true);
    expect(same(startWeights[OVERFLOW_STEP - 1], startWeights[OVERFLOW_STEP - 2])).toBe(false);
    // The graph gave gradients × scale; clipping (whose pre-clip norm is gradNorm) and AdamW got them
    // divided by the scale of that step.
    const norm = (m: Map<string, Float32Array>) =>
      Math.sqrt([...m.values()].reduce((a, v) => a + v.reduce((b, x) => b + x * x, 0), 0));
    for (const e of events.filter((x) => !x.skipped)) {
      const scaleUsed = e.step > OVERFLOW_STEP ? 2 ** 15 : 2 ** 16;
      expect(e.lossScale).toBe(scaleUsed);
      expect(Math.abs(e.gradNorm / (norm(rawGrads[e.step - 1]) / scaleUsed) - 1)).toBeLessThan(1e-5);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(events.slice(-5).map((e) => e.loss))).toBeLessThan(
      0.7 * mean(events.slice(0, 5).map((e) => e.loss)),
    );
  });
});

/** The real-model runs' shared settings: tiny batches of the synthetic task on the mistral fixture. */
function realModelConfig(dir: string, overrides: Record<string, unknown>) {
  return parseTrainConfig({
    datasets: ['syn'],
    model: MODEL,
    loraRank: 8,
    loraAlpha: 16,
    loraDropout: 0.05,
    targetModules: ['all-linear'],
    batchSize: 16,
    chunkSize: 16,
    lr: 1e-2,
    warmup: 3,
    weightDecay: 0.01,
    temperature: 0.05,
    epochs: 5,
    maxLength: 16,
    checkpointEvery: 0,
    out: path.join(dir, 'run'),
    ...overrides,
  });
}
