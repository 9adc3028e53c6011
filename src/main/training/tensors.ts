import {
  decodeFloat32,
  f32ToBf16,
  f32ToF16,
  parseSafetensorsHeader,
  readTensorBytes,
  type SafetensorsTensorIn,
  writeFileAtomic,
  writeSafetensors,
} from '../engine/safetensors';

/**
 * Safetensors I/O for the training state (optimiser moments, LoRA masters, merged exports), on top of
 * the engine's implementation of the format: float tensors are read as float32 and written as F32,
 * F16 or BF16, always atomically so a crash never leaves half a checkpoint.
 */
export { writeFileAtomic };

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** Reads every (or the named) float tensors of a file as float32 (I64 too; other integer dtypes are skipped). */
export function readTensors(file: string, names?: string[]): Map<string, Tensor & { dtype: string }> {
  const { tensors } = parseSafetensorsHeader(file);
  const out = new Map<string, Tensor & { dtype: string }>();
  for (const [k, e] of tensors) {
    if (names && !names.includes(k)) continue;
    if (!['F32', 'F64', 'F16', 'BF16', 'I64'].includes(e.dtype)) continue;
    const buf = readTensorBytes(file, e);
    let data = decodeFloat32(buf, e.dtype);
    if (!data) {
      data = new Float32Array(e.length / 8);
      for (let i = 0; i < data.length; i++) data[i] = Number(buf.readBigInt64LE(8 * i));
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
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const encoded = new Map(
    entries.map(([k, t]): [string, SafetensorsTensorIn] => {
      const count = t.shape.reduce((a, d) => a * d, 1);
      if (count !== t.data.length)
        throw new Error(`writeTensors: ${k} shape [${t.shape}] ≠ ${t.data.length}`);
      if (t.dtype !== 'F16' && t.dtype !== 'BF16') return [k, { dtype: 'F32', shape: t.shape, data: t.data }];
      const conv = t.dtype === 'F16' ? f32ToF16 : f32ToBf16;
      return [k, { dtype: t.dtype, shape: t.shape, data: Uint16Array.from(t.data, conv) }];
    }),
  );
  writeSafetensors(file, encoded, { metadata, sortKeys: true, atomic: true });
}
