import path from 'node:path';
import {
  decodeFloat32,
  f16ToF32,
  parseSafetensorsHeader,
  readTensorBytes,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type StDtype,
  writeSafetensors as writeSafetensorsFile,
} from '../engine/safetensors';
import { UserError } from '../errors';

/**
 * Whole tensors in and out of `.safetensors` files, for adapters, merges and the few weights the model
 * code touches in JS. The file format itself (header parsing, dtype conversion, writing) is the
 * engine's (src/main/engine/safetensors.ts); this module keeps the model-side API on top of it.
 */

export { f16ToF32, type StDtype };
export type StEntry = SafetensorsEntry;
export type StHeader = SafetensorsHeader;

export const readStHeader = (file: string): StHeader => parseSafetensorsHeader(file);

function entryOf(header: StHeader, name: string): StEntry {
  const e = header.tensors.get(name);
  if (!e) throw new UserError(`${path.basename(header.file)}: missing ${name}`);
  return e;
}

/** Reads a floating tensor as float32 (F16/BF16/F64 converted). */
export function readF32(header: StHeader, name: string): Float32Array {
  const e = entryOf(header, name);
  if (e.dtype !== 'F32' && e.dtype !== 'F16' && e.dtype !== 'BF16' && e.dtype !== 'F64')
    throw new UserError(`${path.basename(header.file)}: ${name} is ${e.dtype}, expected a float tensor`);
  return decodeFloat32(readTensorBytes(header.file, e), e.dtype) as Float32Array;
}

/** Reads an integer tensor (I64/I32) as numbers. */
export function readInt(header: StHeader, name: string): number[] {
  const e = entryOf(header, name);
  if (e.dtype !== 'I64' && e.dtype !== 'I32')
    throw new UserError(`${path.basename(header.file)}: ${name} is ${e.dtype}, expected an integer tensor`);
  const buf = readTensorBytes(header.file, e);
  if (e.dtype === 'I64')
    return Array.from({ length: e.length / 8 }, (_, i) => Number(buf.readBigInt64LE(i * 8)));
  return Array.from({ length: e.length / 4 }, (_, i) => buf.readInt32LE(i * 4));
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
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const f32 = new Map(entries.map(([k, t]) => [k, { dtype: 'F32', shape: t.shape, data: t.data }]));
  writeSafetensorsFile(file, f32, { metadata, sortKeys: true });
}
