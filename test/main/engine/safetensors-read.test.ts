import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeFloat32,
  parseSafetensorsHeader,
  readFloat32,
  readTensorBytes,
  writeSafetensors,
} from '../../../src/main/engine/safetensors';
import { readFloat32InWorker } from '../../../src/main/engine/worker';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

/** readFloat32 (one read, widened in place) against the per-value decoder, bit for bit. */
function sameAsDecoder(file: string): number {
  const h = parseSafetensorsHeader(file);
  const fd = fs.openSync(file, 'r');
  let n = 0;
  try {
    for (const [name, e] of h.tensors) {
      const fast = readFloat32(fd, file, e);
      if (e.dtype !== 'F32' && e.dtype !== 'F16' && e.dtype !== 'BF16') {
        expect(fast, name).toBeUndefined();
        continue;
      }
      const slow = decodeFloat32(readTensorBytes(file, e), e.dtype) as Float32Array;
      expect(fast?.length, name).toBe(slow.length);
      const a = new Uint32Array((fast as Float32Array).buffer);
      const b = new Uint32Array(slow.buffer);
      expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)), name).toBe(0);
      n++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

/** Every 16-bit pattern once (NaNs, infinities, subnormals, both zeros), in a shuffled order. */
function allHalfWords(): Uint16Array {
  const w = Uint16Array.from({ length: 65536 }, (_, i) => i);
  for (let i = w.length - 1; i > 0; i--) {
    const j = (i * 40503 + 17) % (i + 1);
    [w[i], w[j]] = [w[j], w[i]];
  }
  return w;
}

describe('readFloat32', () => {
  it('equals the per-value decoder on every float tensor of the parity fixtures', () => {
    let n = 0;
    for (const m of ['qwen2', 'mistral'])
      n += sameAsDecoder(path.join(FIXTURES, 'parity', m, 'model.safetensors'));
    expect(n).toBeGreaterThan(10);
  });

  it('equals it for BF16/F16/F32 at odd file offsets, all 65536 half patterns, odd lengths', () => {
    const words = allHalfWords();
    const f32 = Float32Array.from({ length: 7 }, (_, i) => (i - 3) * 1.25e-3);
    const file = path.join(tmpDir(), 'odd.safetensors');
    // The 3-byte U8 tensors put every following tensor's data at an odd absolute offset.
    writeSafetensors(file, {
      a_pad: { dtype: 'U8', shape: [3], data: Uint8Array.of(1, 2, 3) },
      b_bf16: { dtype: 'BF16', shape: [256, 256], data: words },
      c_pad: { dtype: 'U8', shape: [1], data: Uint8Array.of(9) },
      d_f16: { dtype: 'F16', shape: [65536], data: words },
      e_odd: { dtype: 'BF16', shape: [3], data: words.subarray(100, 103) },
      f_pad: { dtype: 'U8', shape: [1], data: Uint8Array.of(0) },
      g_f32: { dtype: 'F32', shape: [7], data: f32 },
      h_one: { dtype: 'F16', shape: [1], data: Uint16Array.of(0x3c00) },
    });
    const h = parseSafetensorsHeader(file);
    expect((h.tensors.get('b_bf16')?.offset ?? 0) % 2).toBe(1);
    expect((h.tensors.get('g_f32')?.offset ?? 0) % 4).not.toBe(0);
    expect(sameAsDecoder(file)).toBe(5);
    // And against the definition, not only the old code: bf16 is the upper half of a float32.
    const fd = fs.openSync(file, 'r');
    const bf = new Uint32Array(
      (readFloat32(fd, file, h.tensors.get('b_bf16') as never) as Float32Array).buffer,
    );
    const one = readFloat32(fd, file, h.tensors.get('h_one') as never) as Float32Array;
    fs.closeSync(fd);
    for (let i = 0; i < words.length; i += 997) expect(bf[i]).toBe(words[i] * 65536);
    expect(one[0]).toBe(1);
  });

  it('reads the same bits in a worker thread (buffers transferred back), undefined for non-float tensors', async () => {
    const file = path.join(FIXTURES, 'parity', 'qwen2', 'model.safetensors');
    const h = parseSafetensorsHeader(file);
    const entries = [...h.tensors.values()].slice(0, 6);
    const words = allHalfWords();
    const odd = path.join(tmpDir(), 'w.safetensors');
    writeSafetensors(odd, {
      a: { dtype: 'U8', shape: [1], data: Uint8Array.of(7) },
      b: { dtype: 'BF16', shape: [65536], data: words },
    });
    const oh = parseSafetensorsHeader(odd);
    const [a, b] = await readFloat32InWorker(odd, [...oh.tensors.values()]);
    expect(a).toBeUndefined();
    const bits = new Uint32Array((b as Float32Array).buffer);
    for (let i = 0; i < words.length; i += 1009) expect(bits[i]).toBe(words[i] * 65536);
    const got = await readFloat32InWorker(file, entries);
    const fd = fs.openSync(file, 'r');
    entries.forEach((e, i) => {
      const want = readFloat32(fd, file, e) as Float32Array;
      expect(Buffer.compare(Buffer.from((got[i] as Float32Array).buffer), Buffer.from(want.buffer))).toBe(0);
    });
    fs.closeSync(fd);
  });

  it('says which file is truncated', () => {
    const file = path.join(tmpDir(), 't.safetensors');
    writeSafetensors(file, { w: { dtype: 'BF16', shape: [64], data: new Uint16Array(64) } });
    const h = parseSafetensorsHeader(file);
    fs.truncateSync(file, fs.statSync(file).size - 10);
    const fd = fs.openSync(file, 'r');
    expect(() => readFloat32(fd, file, h.tensors.get('w') as never)).toThrow(/t\.safetensors: truncated/);
    fs.closeSync(fd);
  });
});
