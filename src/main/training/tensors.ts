import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';

/**
 * Minimal safetensors I/O for the training state (optimiser moments, LoRA masters, merged exports).
 * Kept inside training so checkpoints do not depend on code still being written elsewhere; float
 * tensors are read as float32 and written as F32, F16 or BF16.
 */
export type Dtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32';
const BYTES: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface StInfo {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export function readHeader(file: string): { entries: Map<string, StInfo>; dataStart: number } {
  const buf = fs.readFileSync(file);
  return parseHeader(buf, file);
}

function parseHeader(buf: Buffer, file: string) {
  if (buf.length < 8) throw new UserError(`${file}: not a safetensors file (too short)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new UserError(`${file}: not a safetensors file (bad header length)`);
  const json = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const entries = new Map<string, StInfo>();
  for (const [k, v] of Object.entries(json)) {
    if (k === '__metadata__') continue;
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    entries.set(k, { dtype: e.dtype, shape: e.shape, begin: e.data_offsets[0], end: e.data_offsets[1] });
  }
  return { entries, dataStart: 8 + n };
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float → IEEE half, round to nearest even. */
export function f32ToF16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  return sign | half;
}

/** float → bfloat16, round to nearest even. */
export function f32ToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** Reads every (or the named) float tensors of a file as float32. */
export function readTensors(file: string, names?: string[]): Map<string, Tensor & { dtype: string }> {
  const buf = fs.readFileSync(file);
  const { entries, dataStart } = parseHeader(buf, file);
  const out = new Map<string, Tensor & { dtype: string }>();
  for (const [k, e] of entries) {
    if (names && !names.includes(k)) continue;
    const count = (e.end - e.begin) / (BYTES[e.dtype] ?? 1);
    const data = new Float32Array(count);
    const o = dataStart + e.begin;
    switch (e.dtype) {
      case 'F32':
        for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(o + 4 * i);
        break;
      case 'F64':
        for (let i = 0; i < count; i++) data[i] = buf.readDoubleLE(o + 8 * i);
        break;
      case 'F16':
        for (let i = 0; i < count; i++) data[i] = f16ToF32(buf.readUInt16LE(o + 2 * i));
        break;
      case 'BF16':
        for (let i = 0; i < count; i++) {
          u32[0] = buf.readUInt16LE(o + 2 * i) << 16;
          data[i] = f32[0];
        }
        break;
      case 'I64':
        for (let i = 0; i < count; i++) data[i] = Number(buf.readBigInt64LE(o + 8 * i));
        break;
      default:
        continue;
    }
    out.set(k, { shape: e.shape, data, dtype: e.dtype });
  }
  return out;
}

/** Writes tensors (keys sorted, header padded to 8 bytes) to `file` atomically (temp file + rename). */
export function writeTensors(
  file: string,
  tensors: Map<string, Tensor & { dtype?: string }> | Record<string, Tensor & { dtype?: string }>,
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  const dts: string[] = [];
  for (const [k, t] of entries) {
    const dt = t.dtype === 'F16' || t.dtype === 'BF16' ? t.dtype : 'F32';
    dts.push(dt);
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length) throw new Error(`writeTensors: ${k} shape [${t.shape}] ≠ ${t.data.length}`);
    header[k] = { dtype: dt, shape: t.shape, data_offsets: [off, off + count * BYTES[dt]] };
    off += count * BYTES[dt];
  }
  let hs = JSON.stringify(header);
  while (Buffer.byteLength(hs) % 8) hs += ' ';
  const hb = Buffer.from(hs, 'utf8');
  const out = Buffer.alloc(8 + hb.length + off);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  let p = 8 + hb.length;
  entries.forEach(([, t], i) => {
    const dt = dts[i];
    if (dt === 'F32') {
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, p);
      p += t.data.byteLength;
    } else {
      const conv = dt === 'F16' ? f32ToF16 : f32ToBf16;
      for (let j = 0; j < t.data.length; j++, p += 2) out.writeUInt16LE(conv(t.data[j]), p);
    }
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, out);
}

/** Write to a temp file in the same directory, fsync, rename: readers never see half a file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
