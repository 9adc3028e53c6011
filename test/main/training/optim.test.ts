import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdamW, clipGradNorm, DynamicLossScaler, linearSchedule } from '../../../src/main/training/optim';
import { readTensors } from '../../../src/main/training/tensors';
import { FIXTURES } from '../../helpers/tmp';

const ARCHS = ['mistral', 'qwen2', 'bert'] as const;

describe('AdamW parity with torch.optim.AdamW (fixtures)', () => {
  for (const arch of ARCHS) {
    it(`${arch}: step 1 from the fixture gradients reproduces step1 weights`, () => {
      const dir = path.join(FIXTURES, 'parity', arch);
      const grads = readTensors(path.join(dir, 'lora_grads.safetensors'));
      const init = readTensors(path.join(dir, 'adapter/adapter_model.safetensors'));
      const after = readTensors(path.join(dir, 'adamw_steps.safetensors'));
      const names = [...grads.keys()].filter((k) => k.includes('.lora_'));
      expect(names.length).toBeGreaterThan(20);
      const params = new Map<string, Float32Array>();
      const g = new Map<string, Float32Array>();
      for (const n of names) {
        const file = n.replace('.default.weight', '.weight');
        const w = init.get(file);
        if (!w) throw new Error(`adapter lacks ${file}`);
        params.set(n, Float32Array.from(w.data));
        g.set(n, (grads.get(n) as { data: Float32Array }).data);
      }
      const specs = names.map((name) => ({ name, shape: grads.get(name)?.shape ?? [] }));
      const opt = new AdamW(specs, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
      let gmax = 0;
      for (const v of g.values()) for (const x of v) gmax = Math.max(gmax, Math.abs(x));
      opt.update(params, g, 1e-3);
      let fragile = 0;
      let checked = 0;
      let worst = 0;
      for (const n of names) {
        const want = after.get(`step1.${n}`)?.data as Float32Array;
        const got = params.get(n) as Float32Array;
        const gr = g.get(n) as Float32Array;
        for (let i = 0; i < want.length; i++) {
          const diff = Math.abs(got[i] - want[i]);
          if (Math.abs(gr[i]) < 1e-4 * gmax) {
            fragile++;
            expect(diff).toBeLessThanOrEqual(2e-3 + 1e-6);
          } else {
            checked++;
            worst = Math.max(worst, diff);
          }
        }
      }
      expect(worst).toBeLessThan(1e-5);
      expect(checked).toBeGreaterThan(fragile);
      // Moments after step 1 are (1−β)g and (1−β2)g²: check one entry independently.
      const n0 = names[0];
      expect(opt.m.get(n0)?.[0]).toBeCloseTo(0.1 * (g.get(n0)?.[0] ?? 0), 7);
    });
  }

  it('decoupled weight decay: zero gradient still shrinks weights by lr·wd', () => {
    const opt = new AdamW([{ name: 'w', shape: [2] }], { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
    const p = new Map([['w', Float32Array.of(1, -2)]]);
    opt.update(p, new Map([['w', new Float32Array(2)]]), 0.01);
    expect(p.get('w')?.[0]).toBeCloseTo(1 * (1 - 0.001), 6);
    expect(p.get('w')?.[1]).toBeCloseTo(-2 * (1 - 0.001), 6);
  });
});

describe('schedule, clipping, loss scaling', () => {
  it('linear warm-up then linear decay (transformers semantics)', () => {
    expect(linearSchedule(1e-4, 10, 110, 0)).toBe(0);
    expect(linearSchedule(1e-4, 10, 110, 5)).toBeCloseTo(5e-5, 12);
    expect(linearSchedule(1e-4, 10, 110, 10)).toBeCloseTo(1e-4, 12);
    expect(linearSchedule(1e-4, 10, 110, 60)).toBeCloseTo(5e-5, 12);
    expect(linearSchedule(1e-4, 10, 110, 110)).toBe(0);
    expect(linearSchedule(1e-4, 0, 10, 0)).toBeCloseTo(1e-4, 12);
  });

  it('clips the global norm over all tensors', () => {
    const g = new Map([
      ['a', Float32Array.of(3, 0)],
      ['b', Float32Array.of(0, 4)],
    ]);
    expect(clipGradNorm(g, 1)).toBeCloseTo(5, 6);
    expect(clipGradNorm(g, null)).toBeCloseTo(1, 5);
    const small = new Map([['a', Float32Array.of(0.3, 0.4)]]);
    clipGradNorm(small, 1);
    expect(small.get('a')?.[0]).toBeCloseTo(0.3, 7);
  });

  it('dynamic loss scaler backs off on overflow and grows after clean steps', () => {
    const s = new DynamicLossScaler(1024, 0, 2);
    const g = new Map([['a', Float32Array.of(2048, Number.POSITIVE_INFINITY)]]);
    expect(s.unscale(g)).toBe(false);
    expect(s.scale).toBe(512);
    const ok = new Map([['a', Float32Array.of(512)]]);
    expect(s.unscale(ok)).toBe(true);
    expect(ok.get('a')?.[0]).toBe(1);
    s.unscale(new Map([['a', Float32Array.of(1)]]));
    expect(s.scale).toBe(1024);
  });
});
