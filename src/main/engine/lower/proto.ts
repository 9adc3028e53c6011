// ONNX protobuf vocabulary shared by the lowering: dtype codes, attribute builders, raw tensor bytes.
import onnxProto from 'onnx-proto';
import type { DType, TypedArray } from '../graph';

export const { onnx } = onnxProto;
export type INode = onnxProto.onnx.INodeProto;
export type ITensor = onnxProto.onnx.ITensorProto;
export type IAttr = onnxProto.onnx.IAttributeProto;
export type IValueInfo = onnxProto.onnx.IValueInfoProto;

export const DT = onnx.TensorProto.DataType;
export const ONNX_DTYPE: Record<DType, number> = {
  float32: DT.FLOAT,
  float64: DT.DOUBLE,
  float16: DT.FLOAT16,
  bfloat16: DT.BFLOAT16,
  int64: DT.INT64,
  int32: DT.INT32,
  uint32: DT.UINT32,
  int8: DT.INT8,
  uint8: DT.UINT8,
  bool: DT.BOOL,
};

export const AT = onnx.AttributeProto.AttributeType;
export const attrI = (name: string, i: number): IAttr => ({ name, type: AT.INT, i });
export const attrF = (name: string, f: number): IAttr => ({ name, type: AT.FLOAT, f });
export const attrS = (name: string, s: string): IAttr => ({
  name,
  type: AT.STRING,
  s: new TextEncoder().encode(s),
});
export const attrIs = (name: string, ints: number[]): IAttr => ({ name, type: AT.INTS, ints });
export const attrT = (name: string, t: ITensor): IAttr => ({ name, type: AT.TENSOR, t });

export const bytesOf = (a: TypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function f32ToF16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (mant >>> 13);
}

/** One value of `dtype` as raw little-endian bytes (ConstantOfShape values, Range bounds). */
export function scalarBytes(dtype: DType, v: number): Uint8Array {
  switch (dtype) {
    case 'float32':
      return bytesOf(new Float32Array([v]));
    case 'float64':
      return bytesOf(new Float64Array([v]));
    case 'float16':
      return bytesOf(new Uint16Array([f32ToF16Bits(v)]));
    case 'bfloat16':
      return bytesOf(new Uint16Array([new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16]));
    case 'int64':
      return bytesOf(new BigInt64Array([BigInt(Math.trunc(v))]));
    case 'int32':
      return bytesOf(new Int32Array([v]));
    case 'uint32':
      return bytesOf(new Uint32Array([v >>> 0]));
    case 'int8':
      return bytesOf(new Int8Array([v]));
    default:
      return new Uint8Array([v ? 1 : 0]);
  }
}
