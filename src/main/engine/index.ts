// Public API of the training engine: build a graph, differentiate it, lower it to ONNX, run it in ORT.
//
// Usage (a LoRA linear over a frozen weight read in place from a .safetensors file):
//
//   import { Graph, grad, toOnnx, createSession, readSafetensorsHeader, SAFETENSORS_DTYPE, hostTensor } from '../engine';
//   const g = new Graph();
//   const x = g.input('x', 'float32', ['batch', 'seq', 1024]);
//   const hdr = readSafetensorsHeader(file);
//   const e = hdr['layers.0.self_attn.q_proj.weight'];
//   const W = g.weight('q_proj.weight', SAFETENSORS_DTYPE[e.dtype], e.shape, { file, offset: e.offset, length: e.length });
//   const A = g.input('q_proj.lora_A', 'float32', [16, 1024]);        // trainable: fed every step
//   const B = g.input('q_proj.lora_B', 'float32', [1024, 16]);
//   const y = g.scope('layers.0.self_attn.q_proj', () =>
//     g.add(g.linear(x, W), g.mul(g.linear(g.linear(x, A), B), 2)));  // W x + s·B(A x)
//   const seed = g.input('dy', 'float32', y.shape);                    // upstream gradient (GradCache pass 2)
//   const [dA, dB] = grad(y, [A, B], { seeds: [seed] });                // W gets no gradient tensor
//   const model = toOnnx({ y, dA, dB });                                // W stays external (offset into file)
//   const s = await createSession(model, { providers: 'auto', threads: 4 });  // in a worker thread
//   const out = await s.run({ x: hostTensor('float32', [2, 8, 1024], xs), ... }); // out.dA.data …
//   await s.release();
//
// Composites: linear, attention (causal + padding, GQA), rope/ropeCosSin, rmsNorm, layerNorm, l2Normalize,
// softmax/logSoftmax, crossEntropy, gelu, silu, dropout (fed keep-mask), hashKeepMask (dropout masks
// computed on the device from fed uint32 row keys; see hash.ts). `g.scope(name, fn)` names layers in
// errors; `g.recompute(fn)` recomputes fn's activations in the backward instead of keeping them.
// `g.onnxOp('TopK', [x, k], { axis: 1 }, [{ dtype, shape }, …])` runs any other ONNX op (no gradient).
// ONNX opset 18 (IR 8). Sessions: graph optimisation 'disabled' by default (no folded weight copies).
import type { OnnxModel } from './onnx';
import { LocalSession, type EngineSession, type SessionOptions } from './runtime';
import { WorkerSession, type EngineWorker } from './worker';

export {
  type AttentionOptions,
  attention,
  crossEntropy,
  dropout,
  gelu,
  hashKeepMask,
  l2Normalize,
  layerNorm,
  type NormOptions,
  rmsNorm,
  rope,
  ropeCosSin,
  silu,
} from './compose';
export type { Dim, Shape } from './dims';
export { dimMul, dimProd, fmtShape } from './dims';
export {
  DTYPE_BYTES,
  type DType,
  Graph,
  GraphError,
  isFloat,
  numel,
  Tensor,
  type TypedArray,
  type WeightSource,
} from './graph';
export { grad, type GradOptions, unbroadcast, VJP, type VjpContext } from './gradient';
export { dropoutSalt, dropoutThreshold, fmix32, hash32, hashString } from './hash';
export { type ActivationEstimate, peakActivationBytes } from './memory';
export { type IOInfo, type LowerOptions, OPSET, type OnnxModel, toOnnx } from './onnx';
export {
  type EngineSession,
  type Feeds,
  type Fetches,
  type HostTensor,
  hostTensor,
  LocalSession,
  type Provider,
  providerBlocker,
  type SessionInfo,
  type SessionOptions,
} from './runtime';
export {
  readSafetensorsHeader,
  SAFETENSORS_DTYPE,
  type SafetensorsEntry,
  writeSafetensors,
} from './safetensors';
export { EngineWorker, WorkerSession } from './worker';

/**
 * Create a session for a lowered model. Default: in a worker thread (the main thread never blocks on
 * run()); `inThread: true` runs it in the calling thread (tests, tiny graphs).
 */
export async function createSession(
  model: OnnxModel,
  opts: SessionOptions & { inThread?: boolean; worker?: EngineWorker } = {},
): Promise<EngineSession> {
  const { inThread, worker, ...o } = opts;
  return inThread ? LocalSession.create(model, o) : WorkerSession.create(model, o, worker);
}
