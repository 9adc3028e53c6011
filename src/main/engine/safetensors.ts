// Minimal safetensors header reader: u64 little-endian header length N, N bytes of JSON, then raw data.
// Offsets returned are absolute file offsets (8 + N + begin) ready for ONNX external data.
import fs from 'node:fs';
import { UserError } from '../errors';
import type { DType } from './graph';

export interface SafetensorsEntry {
  /** Safetensors dtype code ('F32', 'F16', 'BF16', …). */
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  length: number;
}

export const SAFETENSORS_DTYPE: Record<string, DType> = {
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

/** Read the header of a .safetensors file: {tensorName: {dtype, shape, offset, length}} (no data read). */
export function readSafetensorsHeader(file: string): Record<string, SafetensorsEntry> {
  const fd = fs.openSync(file, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    if (fs.readSync(fd, lenBuf, 0, 8, 0) !== 8)
      throw new UserError(`${file}: not a safetensors file (too short)`);
    const n = Number(lenBuf.readBigUInt64LE(0));
    const size = fs.fstatSync(fd).size;
    if (n <= 0 || n > 100_000_000 || 8 + n > size)
      throw new UserError(`${file}: not a safetensors file (bad header length)`);
    const hdr = Buffer.alloc(n);
    fs.readSync(fd, hdr, 0, n, 8);
    let json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    try {
      json = JSON.parse(hdr.toString('utf8'));
    } catch {
      throw new UserError(`${file}: safetensors header is not valid JSON`);
    }
    const out: Record<string, SafetensorsEntry> = {};
    for (const [name, e] of Object.entries(json)) {
      if (name === '__metadata__') continue;
      const [begin, end] = e.data_offsets;
      out[name] = { dtype: e.dtype, shape: e.shape, offset: 8 + n + begin, length: end - begin };
      if (8 + n + end > size) throw new UserError(`${file}: tensor '${name}' runs past the end of the file`);
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** Write a safetensors file from float32/other typed arrays (tests, adapters). */
export function writeSafetensors(
  file: string,
  tensors: Record<string, { dtype: string; shape: number[]; data: ArrayBufferView }>,
): void {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // 8-byte alignment of the data section
  const hdr = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, len);
    fs.writeSync(fd, hdr);
    for (const t of Object.values(tensors))
      fs.writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    fs.closeSync(fd);
  }
}
