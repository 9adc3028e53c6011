import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelFolder } from '../../../src/main/models/model-folder';
import { bertConfig, bertLinears, llamaConfig, llamaLinears } from '../../../src/main/models/configs';
import {
  initLora,
  loadAdapter,
  loraKeyA,
  loraKeyB,
  loraScaling,
  matchesTarget,
  mergeInto,
  saveAdapter,
} from '../../../src/main/models/lora';
import { readF32, readStHeader, writeSafetensors } from '../../../src/main/models/safetensors';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

const PARITY = path.join(FIXTURES, 'parity');
const linearsOf = (ck: ModelFolder) =>
  ck.modelType === 'bert' ? bertLinears(bertConfig(ck.config)) : llamaLinears(llamaConfig(ck.config));

describe.each(['mistral', 'qwen2', 'bert'])('PEFT adapter %s', (name) => {
  const dir = path.join(PARITY, name);

  it('loads the fixture adapter, merges to merged.safetensors, saves with PEFT names', () => {
    const ck = ModelFolder.open(dir);
    const lin = linearsOf(ck);
    const w = loadAdapter(path.join(dir, 'adapter'), lin);
    expect(w.config).toMatchObject({ r: 4, alpha: 8, dropout: 0, useRslora: false });
    expect(w.modules.length).toBe(name === 'bert' ? 12 : 14);
    const scaling = loraScaling(w.config);
    expect(scaling).toBe(2);

    // Merge: W + scaling·B@A equals peft's merge_and_unload.
    const merged = readStHeader(path.join(dir, 'merged.safetensors'));
    let worst = 0;
    for (const m of w.modules) {
      const W = ck.read(`${m.path}.weight`);
      const got = mergeInto(
        W,
        w.tensors.get(loraKeyA(m.path))!.data,
        w.tensors.get(loraKeyB(m.path))!.data,
        m.outFeatures,
        m.inFeatures,
        w.config.r,
        scaling,
      );
      const ref = readF32(merged, `${m.path}.weight`);
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
    }
    console.log(`[${name}] merged weights max|diff| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-6);

    // Round trip: exactly PEFT's key names, shapes and config fields.
    const out = tmpDir();
    saveAdapter(out, w);
    const ours = readStHeader(path.join(out, 'adapter_model.safetensors'));
    const theirs = readStHeader(path.join(dir, 'adapter', 'adapter_model.safetensors'));
    expect([...ours.tensors.keys()].sort()).toEqual([...theirs.tensors.keys()].sort());
    for (const [k, e] of theirs.tensors) {
      expect(ours.tensors.get(k)!.shape).toEqual(e.shape);
      expect(Array.from(readF32(ours, k))).toEqual(Array.from(readF32(theirs, k)));
    }
    const ourCfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    const refCfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(Object.keys(ourCfg).sort()).toEqual(Object.keys(refCfg).sort());
    for (const k of Object.keys(refCfg))
      if (k === 'target_modules') expect([...ourCfg[k]].sort()).toEqual([...refCfg[k]].sort());
      else expect(ourCfg[k]).toEqual(refCfg[k]);
  });
});

describe('LoRA config semantics', () => {
  it('matches targets like PEFT (suffix names, regex, all-linear)', () => {
    expect(matchesTarget('encoder.layer.0.attention.output.dense', ['dense'])).toBe(true);
    expect(matchesTarget('encoder.layer.0.intermediate.dense', ['dense'])).toBe(true);
    expect(matchesTarget('layers.0.self_attn.q_proj', ['proj'])).toBe(false);
    expect(matchesTarget('layers.0.self_attn.q_proj', '.*\\.(q|v)_proj')).toBe(true);
    expect(matchesTarget('layers.0.mlp.up_proj', '.*\\.(q|v)_proj')).toBe(false);
    expect(matchesTarget('layers.0.mlp.up_proj', 'all-linear')).toBe(true);
  });

  it('scales alpha/r, or alpha/sqrt(r) with rsLoRA', () => {
    expect(loraScaling({ r: 16, alpha: 32, useRslora: false })).toBe(2);
    expect(loraScaling({ r: 16, alpha: 32, useRslora: true })).toBe(8);
  });

  it('initialises A kaiming-uniform(a=sqrt5) and B zeros', () => {
    const ck = ModelFolder.open(path.join(PARITY, 'mistral'));
    const w = initLora(llamaLinears(llamaConfig(ck.config)), {
      r: 8,
      alpha: 16,
      dropout: 0.1,
      targetModules: ['q_proj', 'down_proj'],
      useRslora: false,
    });
    expect(w.modules.map((m) => m.path)).toEqual([
      'layers.0.self_attn.q_proj',
      'layers.0.mlp.down_proj',
      'layers.1.self_attn.q_proj',
      'layers.1.mlp.down_proj',
    ]);
    const a = w.tensors.get('layers.0.mlp.down_proj.lora_A.weight')!;
    expect(a.shape).toEqual([8, 128]);
    const bound = 1 / Math.sqrt(128);
    const max = Math.max(...Array.from(a.data, Math.abs));
    expect(max).toBeLessThanOrEqual(bound);
    expect(max).toBeGreaterThan(0.9 * bound);
    // Uniform on [-b, b] has variance b²/3.
    const v = a.data.reduce((s, x) => s + x * x, 0) / a.data.length;
    expect(Math.abs(v / ((bound * bound) / 3) - 1)).toBeLessThan(0.15);
    const b = w.tensors.get('layers.0.mlp.down_proj.lora_B.weight')!;
    expect(b.shape).toEqual([64, 8]);
    expect(b.data.every((x) => x === 0)).toBe(true);
  });

  it('reads adapters saved over a task model (base_model.model.model.…) and with the adapter name', () => {
    const dir = path.join(PARITY, 'mistral');
    const lin = linearsOf(ModelFolder.open(dir));
    const ref = loadAdapter(path.join(dir, 'adapter'), lin);
    const out = tmpDir();
    fs.copyFileSync(path.join(dir, 'adapter', 'adapter_config.json'), path.join(out, 'adapter_config.json'));
    const renamed = new Map(
      [...ref.tensors].map(([k, t]) => [
        `base_model.model.model.${k.replace('.weight', '.default.weight')}`,
        t,
      ]),
    );
    writeSafetensors(path.join(out, 'adapter_model.safetensors'), renamed);
    const got = loadAdapter(out, lin);
    expect([...got.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
    for (const [k, t] of ref.tensors)
      expect(Array.from(got.tensors.get(k)!.data)).toEqual(Array.from(t.data));
  });

  it('rejects an adapter whose shapes do not fit the model', () => {
    const ck = ModelFolder.open(path.join(PARITY, 'bert'));
    expect(() => loadAdapter(path.join(PARITY, 'mistral', 'adapter'), linearsOf(ck))).toThrow(
      /not a linear layer/,
    );
  });
});
