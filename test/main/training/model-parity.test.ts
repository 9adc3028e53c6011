import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTrainableEncoder, type LoraEncoder } from '../../../src/main/models/trainable';
import { gradCacheStep, type TextBatch } from '../../../src/main/training/gradcache';
import { referenceLoss } from '../../../src/main/training/loss';
import { AdamW } from '../../../src/main/training/optim';
import { mixSeed } from '../../../src/main/training/rng';
import { readTensors } from '../../../src/main/training/tensors';
import { FIXTURES } from '../../helpers/tmp';

/** The fixture's LoRA batch as texts: the WordLevel vocab maps ids back to words one to one. */
function loraBatchTexts(dir: string): TextBatch {
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')).model.vocab as Record<
    string,
    number
  >;
  const word = new Map(Object.entries(vocab).map(([w, id]) => [id, w]));
  const cases = readTensors(path.join(dir, 'cases.safetensors'));
  const ids = cases.get('lora_batch.input_ids')?.data as Float32Array;
  const mask = cases.get('lora_batch.attention_mask')?.data as Float32Array;
  const texts: string[] = [];
  for (let r = 0; r < 6; r++) {
    const row: number[] = [];
    for (let t = 0; t < 16; t++) if (mask[r * 16 + t]) row.push(ids[r * 16 + t]);
    texts.push(
      row
        .slice(1, -1)
        .map((id) => word.get(id))
        .join(' '),
    );
  }
  return { queries: texts.slice(0, 2), positives: texts.slice(2, 4), negatives: texts.slice(4, 6) };
}

/** Adapter-file name → the peft parameter name the fixtures key gradients and steps by. */
const peftName = (n: string) => n.replace(/\.lora_([AB])\.weight$/, '.lora_$1.default.weight');

const scalar = (m: Map<string, { data: Float32Array }>, k: string) => {
  const t = m.get(k);
  if (!t) throw new Error(`fixture lacks ${k}`);
  return t.data[0];
};

const encoders: LoraEncoder[] = [];
afterAll(async () => {
  for (const e of encoders) await e.dispose();
});

async function encoderFor(arch: string, dropout: number) {
  const dir = path.join(FIXTURES, 'parity', arch);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'lora_grads.json'), 'utf8'));
  const enc = await createTrainableEncoder(
    {
      modelDir: dir,
      rank: 4,
      alpha: 8,
      dropout,
      targetModules: cfg.lora_config.target_modules,
      maxLength: 16,
      device: 'cpu',
      dtype: 'float32',
    },
    { inThread: true },
  );
  encoders.push(enc);
  const adapter = readTensors(path.join(dir, 'adapter/adapter_model.safetensors'));
  const lora = new Map(
    enc.params.map((p) => [p.name, Float32Array.from(adapter.get(p.name)?.data as Float32Array)]),
  );
  return { dir, enc, lora };
}

describe('training on the real models vs transformers + peft + torch.optim.AdamW', () => {
  for (const arch of ['mistral', 'qwen2', 'bert']) {
    it(`${arch}: three GradCache + AdamW steps reproduce the fixture losses and weights`, async () => {
      const { dir, enc, lora } = await encoderFor(arch, 0);
      const batch = loraBatchTexts(dir);
      const steps = readTensors(path.join(dir, 'adamw_steps.safetensors'));
      const grads0 = readTensors(path.join(dir, 'lora_grads.safetensors'));
      const opt = new AdamW(enc.params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
      let gmax = 0;
      for (const [k, t] of grads0)
        if (k.includes('.lora_')) for (const x of t.data) gmax = Math.max(gmax, Math.abs(x));
      const fragile = new Map<string, Float32Array>();
      for (const p of enc.params) fragile.set(p.name, grads0.get(peftName(p.name))?.data as Float32Array);
      for (let k = 1; k <= 3; k++) {
        const r = await gradCacheStep(enc, lora, batch, referenceLoss, {
          chunkSize: 2,
          temperature: 0.05,
          dropoutP: 0,
          seedOf: (i) => mixSeed(1, k, i),
        });
        const want = scalar(steps, `step${k}.loss`);
        expect(Math.abs(r.loss - want) / want).toBeLessThan(1e-4);
        if (k === 1)
          for (const p of enc.params) {
            const g = r.grads.get(p.name) as Float32Array;
            const ref = fragile.get(p.name) as Float32Array;
            const scale = Math.max(...Array.from(ref, Math.abs));
            for (let i = 0; i < g.length; i++)
              expect(Math.abs(g[i] - ref[i])).toBeLessThan(1e-3 * scale + 1e-7);
          }
        opt.update(lora, r.grads, 1e-3);
        let worst = 0;
        for (const p of enc.params) {
          const w = steps.get(`step${k}.${peftName(p.name)}`)?.data as Float32Array;
          const got = lora.get(p.name) as Float32Array;
          const g1 = fragile.get(p.name) as Float32Array;
          for (let i = 0; i < w.length; i++) {
            const d = Math.abs(got[i] - w[i]);
            if (Math.abs(g1[i]) < 1e-4 * gmax) expect(d).toBeLessThan(2e-3 * k + 1e-5);
            else worst = Math.max(worst, d);
          }
        }
        expect(worst).toBeLessThan(1e-5);
      }
      const after = await gradCacheStep(enc, lora, batch, referenceLoss, {
        chunkSize: 6,
        temperature: 0.05,
        dropoutP: 0,
        seedOf: () => 0,
      });
      const want = scalar(steps, 'after_step3.loss');
      expect(Math.abs(after.loss - want) / want).toBeLessThan(1e-3);
    });
  }

  it('mistral: GradCache chunks equal the full batch with LoRA dropout on', async () => {
    const { dir, enc, lora } = await encoderFor('mistral', 0.1);
    const batch = loraBatchTexts(dir);
    const o = { temperature: 0.05, dropoutP: 0.1, seedOf: (i: number) => mixSeed(7, i) };
    const full = await gradCacheStep(enc, lora, batch, referenceLoss, { ...o, chunkSize: 6 });
    const cached = await gradCacheStep(enc, lora, batch, referenceLoss, { ...o, chunkSize: 2 });
    const noDrop = await gradCacheStep(enc, lora, batch, referenceLoss, { ...o, dropoutP: 0, chunkSize: 6 });
    expect(Math.abs(cached.loss - full.loss)).toBeLessThan(1e-5 * full.loss);
    expect(Math.abs(noDrop.loss - full.loss)).toBeGreaterThan(1e-4);
    for (const [k, g] of full.grads) {
      const h = cached.grads.get(k) as Float32Array;
      const scale = Math.max(...Array.from(g, Math.abs));
      for (let i = 0; i < g.length; i++) expect(Math.abs(h[i] - g[i])).toBeLessThan(1e-4 * scale);
    }
  });
});
