import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import type { ContrastiveLoss, LossInput, LossOutput } from '../../../src/main/training/loss';

// onnx-proto is CommonJS: its namespace comes through the default export under plain Node ESM.
const { onnx } = onnxProto;
/**
 * InfoNCE and its embedding gradient as one ONNX graph, for batches where the float64 JS reference is
 * too slow (B=2048, M=4096, d=4096 is ~34 GFLOP per matmul). The gradient is written analytically
 * (dS = (softmax − onehot)/B on allowed candidates, dQ = dS·C/τ, dC = dSᵀ·Q/τ), so the graph needs no
 * autodiff. Inputs: q [B,d], c [M,d], allowed [B,M] bool, labels [B] int64 (= 0..B-1), inv_tau [1].
 * Hand-built with onnx-proto: the test's independent cross-check of EngineInfoNce (the one production path,
 * src/main/training/loss-onnx.ts), kept here so that src has one InfoNCE graph and ORT only in the engine.
 */
export function buildInfoNceModel(elem: 'float32' | 'float16' = 'float32'): Uint8Array {
  const T = elem === 'float16' ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT;
  const F = onnx.TensorProto.DataType.FLOAT;
  const vi = (name: string, type: number, dims: (string | number)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: type,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
  const attrI = (name: string, i: number) =>
    onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
  const attrInts = (name: string, ints: number[]) =>
    onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
  const node = (
    op: string,
    inputs: string[],
    outputs: string[],
    attribute: onnxProto.onnx.IAttributeProto[] = [],
  ) => onnx.NodeProto.create({ opType: op, input: inputs, output: outputs, attribute });
  const constF = (name: string, v: number) =>
    onnx.TensorProto.create({ name, dataType: F, dims: [], floatData: [v] });
  const constI = (name: string, v: number[]) =>
    onnx.TensorProto.create({
      name,
      dataType: onnx.TensorProto.DataType.INT64,
      dims: [v.length],
      int64Data: v,
    });
  const nodes = [
    // Scores in float32 even for float16 embeddings: 1/τ = 50 amplifies rounding.
    node('Cast', ['q'], ['q32'], [attrI('to', F)]),
    node('Cast', ['c'], ['c32'], [attrI('to', F)]),
    node('Gemm', ['q32', 'c32'], ['s_raw'], [attrI('transB', 1)]),
    node('Mul', ['s_raw', 'inv_tau'], ['s']),
    node('Where', ['allowed', 's', 'neg_big'], ['s_masked']),
    node('ReduceLogSumExp', ['s_masked'], ['lse'], [attrInts('axes', [1]), attrI('keepdims', 1)]),
    node('Unsqueeze', ['labels', 'axis1'], ['labels2']),
    node('GatherElements', ['s', 'labels2'], ['s_pos'], [attrI('axis', 1)]),
    node('Sub', ['lse', 's_pos'], ['row_loss']),
    node('ReduceMean', ['row_loss'], ['loss'], [attrI('keepdims', 0)]),
    node('Sub', ['s_masked', 'lse'], ['logp']),
    node('Exp', ['logp'], ['p']),
    node('Shape', ['c32'], ['c_shape']),
    node('Gather', ['c_shape', 'zero'], ['m_dim'], [attrI('axis', 0)]),
    node('OneHot', ['labels', 'm_dim', 'onehot_values'], ['onehot'], [attrI('axis', -1)]),
    node('Sub', ['p', 'onehot'], ['p_minus']),
    node('Shape', ['q32'], ['q_shape']),
    node('Gather', ['q_shape', 'zero'], ['b_dim'], [attrI('axis', 0)]),
    node('Cast', ['b_dim'], ['b_f'], [attrI('to', F)]),
    node('Div', ['inv_tau', 'b_f'], ['g_scale']),
    node('Mul', ['p_minus', 'g_scale'], ['ds_tau']),
    node('MatMul', ['ds_tau', 'c32'], ['dq32']),
    node('Gemm', ['ds_tau', 'q32'], ['dc32'], [attrI('transA', 1)]),
    node('Cast', ['dq32'], ['dq'], [attrI('to', T)]),
    node('Cast', ['dc32'], ['dc'], [attrI('to', T)]),
  ];
  const graph = onnx.GraphProto.create({
    name: 'infonce',
    node: nodes,
    input: [
      vi('q', T, ['B', 'd']),
      vi('c', T, ['M', 'd']),
      vi('allowed', onnx.TensorProto.DataType.BOOL, ['B', 'M']),
      vi('labels', onnx.TensorProto.DataType.INT64, ['B']),
      vi('inv_tau', F, [1]),
    ],
    output: [vi('loss', F, []), vi('dq', T, ['B', 'd']), vi('dc', T, ['M', 'd'])],
    initializer: [
      constF('neg_big', -1e30),
      constI('axis1', [1]),
      onnx.TensorProto.create({
        name: 'zero',
        dataType: onnx.TensorProto.DataType.INT64,
        dims: [],
        int64Data: [0],
      }),
      onnx.TensorProto.create({ name: 'onehot_values', dataType: F, dims: [2], floatData: [0, 1] }),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'embedsmith-training',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The ONNX loss backend (CPU by default; pass executionProviders for GPU). */
export class OnnxInfoNce implements ContrastiveLoss {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(executionProviders: string[] = ['cpu']): Promise<OnnxInfoNce> {
    const session = await ort.InferenceSession.create(buildInfoNceModel(), {
      executionProviders,
      graphOptimizationLevel: 'all',
    });
    return new OnnxInfoNce(session);
  }

  async compute(x: LossInput): Promise<LossOutput> {
    const toF32 = (a: Float32Array | Float64Array) => (a instanceof Float32Array ? a : Float32Array.from(a));
    const labels = BigInt64Array.from({ length: x.B }, (_, i) => BigInt(i));
    const allowed = new Uint8Array(x.mask);
    const feeds = {
      q: new ort.Tensor('float32', toF32(x.q), [x.B, x.d]),
      c: new ort.Tensor('float32', toF32(x.c), [x.M, x.d]),
      allowed: new ort.Tensor('bool', allowed, [x.B, x.M]),
      labels: new ort.Tensor('int64', labels, [x.B]),
      inv_tau: new ort.Tensor('float32', Float32Array.of(1 / x.temperature), [1]),
    };
    const r = await this.session.run(feeds);
    const out = {
      loss: Number((r.loss.data as Float32Array)[0]),
      dq: Float32Array.from(r.dq.data as Float32Array),
      dc: Float32Array.from(r.dc.data as Float32Array),
    };
    for (const t of Object.values(r)) t.dispose();
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
