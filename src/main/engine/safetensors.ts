// The one implementation of the .safetensors format: u64 little-endian header length N, N bytes of
// JSON ({name: {dtype, shape, data_offsets}} plus optional __metadata__), then raw little-endian data.
// The engine owns it (it points ONNX external data into these files); models and training build on it.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';
import type { DType } from './graph';

export type StDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I8' | 'U8' | 'BOOL';

export interface SafetensorsEntry {
  /** Safetensors dtype code ('F32', 'F16', 'BF16', …). */
  dtype: StDtype;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file (8 + N + begin). */
  offset: number;
  length: number;
}

/** A parsed header: tensors in header order, `__metadata__`, and where the data section starts. */
export interface SafetensorsHeader {
  file: string;
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  dataStart: number;
}

export const SAFETENSORS_DTYPE: Record<StDtype, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

export const SAFETENSORS_BYTES: Record<StDtype, number> = {
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

const isDtype = (d: unknown): d is StDtype => typeof d === 'string' && Object.hasOwn(SAFETENSORS_BYTES, d);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Parses and validates the header of a .safetensors file (no tensor data is read). */
export function parseSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new UserError(`${file}: cannot open the safetensors file (${(e as NodeJS.ErrnoException).code})`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const lenBuf = Buffer.alloc(8);
    if (size < 8 || fs.readSync(fd, lenBuf, 0, 8, 0) !== 8)
      throw new UserError(`${file}: not a safetensors file (too short)`);
    const n = Number(lenBuf.readBigUInt64LE(0));
    // The format caps headers at 100 MB; anything larger is not a safetensors file.
    if (n <= 0 || n > 100_000_000 || 8 + n > size)
      throw new UserError(`${file}: not a safetensors file (bad header length ${n})`);
    let json: unknown;
    try {
      json = JSON.parse(readRange(fd, file, 8, n).toString('utf8'));
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${file}: safetensors header is not valid JSON`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new UserError(`${file}: safetensors header is not a JSON object`);
    const tensors = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
      if (k === '__metadata__') {
        metadata = (v ?? {}) as Record<string, string>;
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!isDtype(e?.dtype)) throw new UserError(`${file}: tensor '${k}' has unsupported dtype ${e?.dtype}`);
      const shape = e.shape;
      const offs = e.data_offsets;
      if (!Array.isArray(shape) || !shape.every(isInt) || !Array.isArray(offs) || offs.length !== 2)
        throw new UserError(`${file}: tensor '${k}' has a malformed header entry`);
      const [begin, end] = offs as [number, number];
      const count = (shape as number[]).reduce((a, d) => a * d, 1);
      if (!isInt(begin) || !isInt(end) || end - begin !== count * SAFETENSORS_BYTES[e.dtype])
        throw new UserError(`${file}: tensor '${k}' has data_offsets that do not match its shape`);
      if (8 + n + end > size) throw new UserError(`${file}: tensor '${k}' runs past the end of the file`);
      tensors.set(k, {
        dtype: e.dtype,
        shape: shape as number[],
        offset: 8 + n + begin,
        length: end - begin,
      });
    }
    return { file, tensors, metadata, dataStart: 8 + n };
  } finally {
    fs.closeSync(fd);
  }
}

/** Read the header of a .safetensors file: {tensorName: {dtype, shape, offset, length}} (no data read). */
export function readSafetensorsHeader(file: string): Record<string, SafetensorsEntry> {
  return Object.fromEntries(parseSafetensorsHeader(file).tensors);
}

function readRange(fd: number, file: string, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const r = fs.readSync(fd, buf, got, length - got, offset + got);
    if (r <= 0) throw new UserError(`${path.basename(file)}: truncated at byte ${offset + got}`);
    got += r;
  }
  return buf;
}

/** The raw bytes of one tensor. */
export function readTensorBytes(file: string, entry: SafetensorsEntry): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    return readRange(fd, file, entry.offset, entry.length);
  } finally {
    fs.closeSync(fd);
  }
}

/** IEEE half → float. */
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
  const e = exp - 127 + 15;
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
  // A carry out of the mantissa rolls into the exponent, which is the correct rounding.
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** float → bfloat16, round to nearest even. */
export function f32ToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** Decodes little-endian float data (F32/F64/F16/BF16) as float32; undefined for other dtypes. */
export function decodeFloat32(buf: Buffer, dtype: StDtype): Float32Array | undefined {
  const count = buf.length / SAFETENSORS_BYTES[dtype];
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      // The host is little-endian (x64/arm64): copy straight through an aligned view.
      if (buf.byteOffset % 4 === 0) out.set(new Float32Array(buf.buffer, buf.byteOffset, count));
      else for (let i = 0; i < count; i++) out[i] = buf.readFloatLE(i * 4);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = buf.readDoubleLE(i * 8);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = f16ToF32(buf.readUInt16LE(i * 2));
      return out;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = buf.readUInt16LE(i * 2) << 16;
      return out;
    }
    default:
      return undefined;
  }
}

/** f16 bit pattern → float32 bit pattern, built from f16ToF32 so the fast path equals the scalar one. */
let f16Table: Uint32Array | null = null;
function f16Bits(): Uint32Array {
  if (!f16Table) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f16ToF32(h);
    f16Table = new Uint32Array(t.buffer);
  }
  return f16Table;
}

/**
 * Reads one float tensor (F32/F16/BF16) of an open file straight into a new Float32Array: the stored half
 * words are read into the upper half of the output's own buffer and widened in place, front to back (word i
 * lands on bytes 4i..4i+3, below every unread word), so there is one allocation, one read and no per-value
 * Buffer call. Equal bit for bit to decodeFloat32 (BF16: bits << 16; F16: f16ToF32). Undefined for other dtypes.
 */
export function readFloat32(fd: number, file: string, entry: SafetensorsEntry): Float32Array | undefined {
  const { dtype } = entry;
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') return undefined;
  const count = entry.length / SAFETENSORS_BYTES[dtype];
  const out = new Float32Array(count);
  const bytes = new Uint8Array(out.buffer);
  const at = dtype === 'F32' ? 0 : 2 * count;
  for (let got = 0; got < entry.length; ) {
    const r = fs.readSync(fd, bytes, at + got, entry.length - got, entry.offset + got);
    if (r <= 0) throw new UserError(`${path.basename(file)}: truncated at byte ${entry.offset + got}`);
    got += r;
  }
  if (dtype === 'F32') return out;
  const src = new Uint16Array(out.buffer, at, count);
  const dst = new Uint32Array(out.buffer);
  if (dtype === 'BF16') for (let i = 0; i < count; i++) dst[i] = src[i] << 16;
  else {
    const t = f16Bits();
    for (let i = 0; i < count; i++) dst[i] = t[src[i]];
  }
  return out;
}

export interface SafetensorsTensorIn {
  dtype: string;
  shape: number[];
  /** Raw little-endian data, already in `dtype`. */
  data: ArrayBufferView;
}

export interface SafetensorsWriteOptions {
  /** Written first as `__metadata__` (torch's save_file writes {format: 'pt'}); omitted when absent. */
  metadata?: Record<string, string>;
  /** Sort tensors by name (the standard layout); otherwise insertion order. */
  sortKeys?: boolean;
  /** Temp file + fsync + rename, so readers never see half a file (checkpoints, exports). */
  atomic?: boolean;
}

/** Writes a safetensors file; the header is padded with spaces to a multiple of 8 bytes. */
export function writeSafetensors(
  file: string,
  tensors: Map<string, SafetensorsTensorIn> | Record<string, SafetensorsTensorIn>,
  opts: SafetensorsWriteOptions = {},
): void {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  if (opts.sortKeys) entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = opts.metadata ? { __metadata__: opts.metadata } : {};
  let off = 0;
  for (const [k, t] of entries) {
    if (!isDtype(t.dtype)) throw new Error(`writeSafetensors: ${k} has unknown dtype ${t.dtype}`);
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count * SAFETENSORS_BYTES[t.dtype] !== t.data.byteLength)
      throw new Error(`writeSafetensors: ${k} shape [${t.shape}] ≠ ${t.data.byteLength} bytes of ${t.dtype}`);
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let hs = JSON.stringify(header);
  while (Buffer.byteLength(hs) % 8) hs += ' ';
  const hb = Buffer.from(hs, 'utf8');
  const head = Buffer.alloc(8 + hb.length);
  head.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(head, 8);
  const chunks: Uint8Array[] = [head];
  for (const [, t] of entries)
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeChunks(file, chunks, opts.atomic ?? false);
}

/** Write to a temp file in the same directory, fsync, rename: readers never see half a file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  writeChunks(file, [typeof data === 'string' ? Buffer.from(data, 'utf8') : data], true);
}

function writeChunks(file: string, chunks: Uint8Array[], atomic: boolean): void {
  const target = atomic ? `${file}.tmp-${process.pid}-${Date.now()}` : file;
  const fd = fs.openSync(target, 'w');
  try {
    for (const c of chunks) {
      // writeSync may write less than asked for very large buffers.
      for (let done = 0; done < c.byteLength; ) done += fs.writeSync(fd, c, done, c.byteLength - done);
    }
    if (atomic) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (atomic) fs.renameSync(target, file);
}
