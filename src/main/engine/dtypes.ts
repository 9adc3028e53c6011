// Element types of the engine's tensors and the typed arrays that hold their data.
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'uint32'
  | 'int8'
  | 'uint8'
  | 'bool';
export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16'];
export const isFloat = (d: DType) => FLOAT_DTYPES.includes(d);

export type TypedArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Uint32Array
  | Int8Array
  | Uint8Array;

/** Where a frozen weight's bytes live: a byte range in a file (kept external, never copied) or inline data. */
export type WeightSource = { file: string; offset: number; length: number } | { data: TypedArray };

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  uint32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Element product of a static shape. */
export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** values as the typed array of dtype; undefined for float16/bfloat16 (build those in float32 and cast). */
export function typedArrayFor(dtype: DType, values: number[]): TypedArray | undefined {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v))));
    case 'int32':
      return Int32Array.from(values);
    case 'uint32':
      return Uint32Array.from(values.map((v) => v >>> 0));
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    default:
      return undefined;
  }
}
