import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';

/**
 * Tensor data in and out of `.safetensors` files (u64 LE header length N, N bytes of JSON, raw data).
 * The engine only needs headers (it points ONNX external data into the files); this module reads and
 * writes whole tensors, for adapters, merges and the few weights the model code touches in JS.
 */

export type StDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I8' | 'U8' | 'BOOL';

export interface StEntry {
  dtype: StDtype;
  shape: number[];
  /** Absolute byte offset of the data in the file (8 + N + begin). */
  offset: number;
  length: number;
}

export interface StHeader {
  file: string;
  tensors: Map<string, StEntry>;
  metadata: Record<string, string>;
}

const BYTES: Record<StDtype, number> = {
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

export function readStHeader(file: string): StHeader {
  const name = path.basename(file);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    throw new UserError(`${name}: cannot open ${file}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const lenBuf = Buffer.alloc(8);
    if (size < 8 || fs.readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new UserError(`${name}: file too short`);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n <= 0 || 8 + n > size) throw new UserError(`${name}: bad header length ${n}`);
    const hb = Buffer.alloc(n);
    fs.readSync(fd, hb, 0, n, 8);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(hb.toString('utf8'));
    } catch {
      throw new UserError(`${name}: header is not JSON`);
    }
    const tensors = new Map<string, StEntry>();
    let metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(json)) {
      if (k === '__metadata__') {
        metadata = (v ?? {}) as Record<string, string>;
        continue;
      }
      const e = v as { dtype: StDtype; shape: number[]; data_offsets: [number, number] };
      if (!(e.dtype in BYTES)) throw new UserError(`${name}: ${k} has unsupported dtype ${e.dtype}`);
      const [b, end] = e.data_offsets;
      const count = e.shape.reduce((a, d) => a * d, 1);
      if (end - b !== count * BYTES[e.dtype] || 8 + n + end > size)
        throw new UserError(`${name}: ${k} has data_offsets that do not match its shape`);
      tensors.set(k, { dtype: e.dtype, shape: e.shape, offset: 8 + n + b, length: end - b });
    }
    return { file, tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

function readBytes(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const r = fs.readSync(fd, buf, got, length - got, offset + got);
      if (r <= 0) throw new UserError(`${path.basename(file)}: truncated at byte ${offset + got}`);
      got += r;
    }
    return buf;
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

/** Reads a floating tensor as float32 (F16/BF16/F64 converted). */
export function readF32(header: StHeader, name: string): Float32Array {
  const e = header.tensors.get(name);
  if (!e) throw new UserError(`${path.basename(header.file)}: missing ${name}`);
  const buf = readBytes(header.file, e.offset, e.length);
  const count = e.length / BYTES[e.dtype];
  const out = new Float32Array(count);
  switch (e.dtype) {
    case 'F32':
      // Buffer.alloc of a large size owns its ArrayBuffer at offset 0; the host is little-endian (x64/arm64).
      if (buf.byteOffset % 4 === 0) out.set(new Float32Array(buf.buffer, buf.byteOffset, count));
      else for (let i = 0; i < count; i++) out[i] = buf.readFloatLE(i * 4);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = buf.readDoubleLE(i * 8);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = f16ToF32(buf.readUInt16LE(i * 2));
      break;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = buf.readUInt16LE(i * 2) << 16;
      break;
    }
    default:
      throw new UserError(`${path.basename(header.file)}: ${name} is ${e.dtype}, expected a float tensor`);
  }
  return out;
}

/** Reads an integer tensor (I64/I32) as numbers. */
export function readInt(header: StHeader, name: string): number[] {
  const e = header.tensors.get(name);
  if (!e) throw new UserError(`${path.basename(header.file)}: missing ${name}`);
  const buf = readBytes(header.file, e.offset, e.length);
  if (e.dtype === 'I64')
    return Array.from({ length: e.length / 8 }, (_, i) => Number(buf.readBigInt64LE(i * 8)));
  if (e.dtype === 'I32') return Array.from({ length: e.length / 4 }, (_, i) => buf.readInt32LE(i * 4));
  throw new UserError(`${path.basename(header.file)}: ${name} is ${e.dtype}, expected an integer tensor`);
}

export interface StTensorOut {
  shape: number[];
  data: Float32Array;
}

/**
 * Writes float32 tensors in the standard layout (keys sorted, header padded with spaces to 8 bytes,
 * `__metadata__: {format: pt}` as torch's save_file writes it).
 */
export function writeSafetensors(
  file: string,
  tensors: Map<string, StTensorOut> | Record<string, StTensorOut>,
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const [k, t] of entries) {
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length)
      throw new Error(`writeSafetensors: ${k} shape ${t.shape} ≠ ${t.data.length}`);
    header[k] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + count * 4] };
    off += count * 4;
  }
  let hs = JSON.stringify(header);
  while (Buffer.byteLength(hs) % 8) hs += ' ';
  const hb = Buffer.from(hs, 'utf8');
  const out = Buffer.alloc(8 + hb.length + off);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  let p = 8 + hb.length;
  for (const [, t] of entries) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, p);
    p += t.data.byteLength;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, out);
}
