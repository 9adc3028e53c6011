import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TextBatch } from '../../../src/main/training/gradcache';
import { gradCacheStep } from '../../../src/main/training/gradcache';
import { referenceLoss } from '../../../src/main/training/loss';
import { ReferenceEncoder } from '../../../src/main/training/reference-encoder';
import { mixSeed } from '../../../src/main/training/rng';
import { FIXTURES } from '../../helpers/tmp';

const words =
  'the of and to in is was for on that with as by at from his it an were are which this be or'.split(' ');
const text = (i: number, n: number) =>
  Array.from({ length: n }, (_, k) => words[(i * 7 + k * 3 + ((i * k) % 5)) % words.length]).join(' ');

function makeEncoder() {
  const enc = ReferenceEncoder.load({
    modelDir: path.join(FIXTURES, 'parity/mistral'),
    rank: 4,
    alpha: 8,
    dropout: 0.1,
    targetModules: ['all-linear'],
    maxLength: 32,
    device: 'cpu',
    dtype: 'float32',
  });
  const lora = enc.initLora(3);
  // Non-zero B so both A and B receive gradient.
  const B = lora.get(enc.params[1].name) as Float32Array;
  for (let i = 0; i < B.length; i++) B[i] = Math.sin(i) * 0.05;
  return { enc, lora };
}

const batch: TextBatch = {
  queries: Array.from({ length: 8 }, (_, i) => `Instruct: find\nQuery: ${text(i, 5)}`),
  positives: Array.from({ length: 8 }, (_, i) => (i === 5 ? text(1, 9) : text(i, 9))),
  negatives: Array.from({ length: 5 }, (_, i) => text(i + 20, 7)),
};

describe('GradCache', () => {
  it('chunked gradients equal the full-batch gradients with LoRA dropout on', async () => {
    const { enc, lora } = makeEncoder();
    const common = { temperature: 0.02, dropoutP: 0.1, seedOf: (i: number) => mixSeed(42, 1, i) };
    const full = await gradCacheStep(enc, lora, batch, referenceLoss, { ...common, chunkSize: 1000 });
    expect(full.maxChunk).toBe(21);
    for (const c of [1, 3, 4]) {
      const cached = await gradCacheStep(enc, lora, batch, referenceLoss, { ...common, chunkSize: c });
      expect(cached.maxChunk).toBe(c);
      expect(cached.loss).toBeCloseTo(full.loss, 10);
      for (const [k, g] of full.grads) {
        const h = cached.grads.get(k) as Float32Array;
        const scale = Math.max(...Array.from(g, Math.abs));
        expect(scale).toBeGreaterThan(0);
        for (let i = 0; i < g.length; i++) expect(Math.abs(h[i] - g[i])).toBeLessThan(1e-5 * scale);
      }
    }
  });

  it('the dropout masks matter: other seeds give another gradient (the test above can fail)', async () => {
    const { enc, lora } = makeEncoder();
    const a = await gradCacheStep(enc, lora, batch, referenceLoss, {
      temperature: 0.02,
      dropoutP: 0.1,
      chunkSize: 4,
      seedOf: (i) => mixSeed(42, 1, i),
    });
    const b = await gradCacheStep(enc, lora, batch, referenceLoss, {
      temperature: 0.02,
      dropoutP: 0.1,
      chunkSize: 4,
      seedOf: (i) => mixSeed(43, 1, i),
    });
    const k = enc.params[0].name;
    const ga = a.grads.get(k) as Float32Array;
    const gb = b.grads.get(k) as Float32Array;
    let diff = 0;
    for (let i = 0; i < ga.length; i++) diff = Math.max(diff, Math.abs(ga[i] - gb[i]));
    expect(diff).toBeGreaterThan(1e-4 * Math.max(...Array.from(ga, Math.abs)));
  });

  it('the LoRA gradient matches finite differences of the batch loss', async () => {
    const { enc, lora } = makeEncoder();
    const opts = { temperature: 0.05, dropoutP: 0.1, chunkSize: 5, seedOf: (i: number) => mixSeed(9, i) };
    const { grads } = await gradCacheStep(enc, lora, batch, referenceLoss, opts);
    const lossAt = async () => (await gradCacheStep(enc, lora, batch, referenceLoss, opts)).loss;
    for (const p of enc.params) {
      const w = lora.get(p.name) as Float32Array;
      const g = grads.get(p.name) as Float32Array;
      for (const i of [0, 7, w.length - 1]) {
        const keep = w[i];
        const h = 1e-3;
        w[i] = keep + h;
        const up = await lossAt();
        w[i] = keep - h;
        const dn = await lossAt();
        w[i] = keep;
        const fd = (up - dn) / (2 * h);
        expect(Math.abs(fd - g[i])).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
      }
    }
  });
});
