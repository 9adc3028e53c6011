import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureRealShape, paramCount, SHAPES } from '../../bench/real-shape';
import { parseSafetensorsHeader } from '../../src/main/engine/safetensors';
import { tmpDir } from '../helpers/tmp';

const saved = process.env.EMBEDSMITH_BENCH_CACHE;
afterEach(() => {
  if (saved === undefined) delete process.env.EMBEDSMITH_BENCH_CACHE;
  else process.env.EMBEDSMITH_BENCH_CACHE = saved;
});

describe('real-shape checkpoints (bench generator)', () => {
  it('has the published parameter counts', () => {
    // Model cards: Qwen3-Embedding-0.6B 0.6B (595.8M), Qwen2-0.5B 0.49B, Mistral-7B without LM head 7.11B.
    expect(paramCount(SHAPES['qwen3-0.6b'])).toBe(595_776_512);
    expect(Math.round(paramCount(SHAPES['qwen2-0.5b']) / 1e6)).toBe(494);
    expect(Math.round(paramCount(SHAPES['e5-mistral-7b']) / 1e7)).toBe(711);
  });

  it('streams a slice our loader reads: names, bf16 dtype, shapes, config and tokenizer', () => {
    process.env.EMBEDSMITH_BENCH_CACHE = tmpDir();
    const f = ensureRealShape('qwen2-0.5b', { layers: 1, log: () => {} });
    const h = parseSafetensorsHeader(path.join(f.dir, 'model.safetensors'));
    expect(h.tensors.get('model.layers.0.self_attn.k_proj.weight')).toMatchObject({
      dtype: 'BF16',
      shape: [128, 896],
    });
    expect(h.tensors.get('model.layers.0.self_attn.q_proj.bias')?.shape).toEqual([896]);
    expect(h.tensors.has('model.layers.1.mlp.up_proj.weight')).toBe(false);
    const cfg = JSON.parse(fs.readFileSync(path.join(f.dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'qwen2',
      num_hidden_layers: 1,
      hidden_size: 896,
      vocab_size: 151936,
    });
    expect(fs.statSync(path.join(f.dir, 'model.safetensors')).size).toBe(f.bytes);
    expect(f.bytes).toBeGreaterThan(2 * f.params);
    // A norm gain is 1.0 in bf16 (0x3F80); a weight is random, not zero.
    const fd = fs.openSync(path.join(f.dir, 'model.safetensors'), 'r');
    const read = (name: string) => {
      const e = h.tensors.get(name);
      if (!e) throw new Error(name);
      const b = Buffer.alloc(16);
      fs.readSync(fd, b, 0, 16, e.offset);
      return b;
    };
    expect(read('model.norm.weight').readUInt16LE(0)).toBe(0x3f80);
    expect(read('model.layers.0.mlp.down_proj.weight').some((x) => x !== 0)).toBe(true);
    fs.closeSync(fd);
    expect(fs.existsSync(path.join(f.dir, 'tokenizer.json'))).toBe(true);
    // Cached: a second call returns the same folder without rewriting it.
    const mtime = fs.statSync(path.join(f.dir, 'model.safetensors')).mtimeMs;
    expect(ensureRealShape('qwen2-0.5b', { layers: 1, log: () => {} }).dir).toBe(f.dir);
    expect(fs.statSync(path.join(f.dir, 'model.safetensors')).mtimeMs).toBe(mtime);
  });
});
