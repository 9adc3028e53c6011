// Exact k-NN search run by onnxruntime-node over corpus chunks (never a JS loop over the n·d products).
// Chunk 0: Gemm(Q, Cᵀ) → TopK(k, unsorted). Later chunks: Gemm → Greater(S, running k-th score) →
// NonZero → GatherND, so only scores that can still enter the top-k return to JS, where a running top-k
// is merged with trec_eval's tie rule (score desc, lower row first). The graphs are written with
// onnx-proto (the engine's builder has no TopK/NonZero) and run through the engine's runtime, by default
// in its worker thread so session.run never blocks the caller.
import onnxProto from 'onnx-proto';
import {
  createSession,
  type EngineSession,
  EngineWorker,
  hostTensor,
  type OnnxModel,
  type Provider,
} from '../engine';
import { UserError } from '../errors';

// onnx-proto is CommonJS: take the namespace from its default export (named ESM imports fail at runtime).
const { onnx } = onnxProto;

/** Row-major float32 matrix. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  dim: number;
}

export const matrixFromRows = (rows: readonly Float32Array[], dim?: number): Matrix => {
  const d = dim ?? rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * d);
  rows.forEach((r, i) => {
    if (r.length !== d) throw new Error(`row ${i} has dimension ${r.length}, expected ${d}`);
    data.set(r, i * d);
  });
  return { data, rows: rows.length, dim: d };
};

export interface SearchOptions {
  /** ORT execution provider ('cpu' default; 'cuda' / 'webgpu' where installed). */
  provider?: string;
  /** Corpus rows per Gemm; the score block is queryBatch × chunkRows floats. */
  chunkRows?: number;
  queryBatch?: number;
  intraOpNumThreads?: number;
  onProgress?: (done: number, total: number) => void;
  /** Run ORT in the calling thread (tiny searches, tests) instead of the engine's worker. */
  inThread?: boolean;
  /** Reuse open sessions (from openSearchSession); they are then not released here. */
  session?: SearchSession;
}

export interface SearchResult {
  /** Per query: the top-k corpus row indices, best first (ties: lower row index first). */
  indices: Int32Array[];
  scores: Float32Array[];
}

let cachedModel: Uint8Array | null = null;
/** The graph bytes: S = Gemm(Q, C, transB=1); (V, I) = TopK(S, K, axis=1, largest, sorted). */
export function knnGraph(): Uint8Array {
  if (cachedModel) return cachedModel;
  const T = onnx.TensorProto.DataType;
  const vi = (name: string, elem: number, dims: (string | number)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: elem,
          shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
        },
      },
    });
  const graph = onnx.GraphProto.create({
    name: 'knn',
    node: [
      onnx.NodeProto.create({
        opType: 'Gemm',
        input: ['Q', 'C'],
        output: ['S'],
        attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      }),
      onnx.NodeProto.create({
        opType: 'TopK',
        input: ['S', 'K'],
        output: ['V', 'I'],
        attribute: [
          { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
          { name: 'largest', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
          // Unsorted: ORT selects the same set (its comparator orders ties by index) about twice as fast;
          // the few candidates that can enter the running top-k are sorted in JS (mergeChunk).
          { name: 'sorted', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
        ],
      }),
    ],
    input: [vi('Q', T.FLOAT, ['nq', 'd']), vi('C', T.FLOAT, ['nc', 'd']), vi('K', T.INT64, [1])],
    output: [vi('V', T.FLOAT, ['nq', 'k']), vi('I', T.INT64, ['nq', 'k'])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'embedsmith-eval',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
  cachedModel = onnx.ModelProto.encode(model).finish();
  return cachedModel;
}

let cachedFilter: Uint8Array | null = null;
/**
 * The graph for every chunk after the first: S = Gemm(Q, C, transB=1); the (query, row) pairs with
 * S > T[query] (T = each query's running k-th score) and their scores. Anything not above T cannot enter
 * the top-k, so this replaces a k-wide TopK by one comparison per score.
 */
export function filterGraph(): Uint8Array {
  if (cachedFilter) return cachedFilter;
  const T = onnx.TensorProto.DataType;
  const AT = onnx.AttributeProto.AttributeType;
  const vi = (name: string, elem: number, dims: string[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => ({ dimParam: d })) } } },
    });
  const graph = onnx.GraphProto.create({
    name: 'knn_filter',
    node: [
      {
        opType: 'Gemm',
        input: ['Q', 'C'],
        output: ['S'],
        attribute: [{ name: 'transB', type: AT.INT, i: 1 }],
      },
      { opType: 'Greater', input: ['S', 'T'], output: ['M'] },
      { opType: 'NonZero', input: ['M'], output: ['NZ'] },
      {
        opType: 'Transpose',
        input: ['NZ'],
        output: ['NZt'],
        attribute: [{ name: 'perm', type: AT.INTS, ints: [1, 0] }],
      },
      { opType: 'GatherND', input: ['S', 'NZt'], output: ['V'] },
    ],
    input: [vi('Q', T.FLOAT, ['nq', 'd']), vi('C', T.FLOAT, ['nc', 'd']), vi('T', T.FLOAT, ['nq', 'one'])],
    output: [vi('V', T.FLOAT, ['m']), vi('NZ', T.INT64, ['two', 'm'])],
  });
  cachedFilter = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'embedsmith-eval',
      opsetImport: [{ domain: '', version: 17 }],
      graph,
    }),
  ).finish();
  return cachedFilter;
}

/** A single MatMul graph Y = A·B, used by the benchmark to measure the provider's peak GFLOP/s. */
export function matmulGraph(): Uint8Array {
  const T = onnx.TensorProto.DataType;
  const vi = (name: string, dims: string[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: T.FLOAT, shape: { dim: dims.map((d) => ({ dimParam: d })) } } },
    });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'mm',
      node: [{ opType: 'MatMul', input: ['A', 'B'], output: ['Y'] }],
      input: [vi('A', ['m', 'k']), vi('B', ['k', 'n'])],
      output: [vi('Y', ['m', 'n'])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The k-NN graph as the engine's OnnxModel (dynamic dims; no weights). */
export function knnModel(): OnnxModel {
  return {
    bytes: knnGraph(),
    inputs: [
      { name: 'Q', dtype: 'float32', shape: ['nq', 'd'] },
      { name: 'C', dtype: 'float32', shape: ['nc', 'd'] },
      { name: 'K', dtype: 'int64', shape: [1] },
    ],
    outputs: [
      { name: 'V', dtype: 'float32', shape: ['nq', 'k'] },
      { name: 'I', dtype: 'int64', shape: ['nq', 'k'] },
    ],
    externalDir: null,
    nodeCount: 2,
  };
}

/** The two search sessions (first chunk: TopK; later chunks: threshold filter), in one worker or in-thread. */
export interface SearchSession {
  topk: EngineSession;
  filter: EngineSession;
  release(): Promise<void>;
}

/** Opens the search sessions through the engine: in one worker thread of their own unless `inThread`. */
export async function openSearchSession(
  opts: Pick<SearchOptions, 'provider' | 'intraOpNumThreads' | 'inThread'> = {},
): Promise<SearchSession> {
  const provider = (opts.provider ?? 'cpu') as Provider;
  if (!['cpu', 'cuda', 'webgpu'].includes(provider))
    throw new UserError(`unknown provider "${opts.provider}"; use cpu, cuda or webgpu`);
  const worker = opts.inThread ? undefined : new EngineWorker();
  const o = {
    providers: [provider],
    threads: opts.intraOpNumThreads,
    optimization: 'all' as const,
    inThread: opts.inThread,
    worker,
  };
  try {
    const topk = await createSession(knnModel(), o);
    const filter = await createSession(
      {
        bytes: filterGraph(),
        inputs: [
          { name: 'Q', dtype: 'float32', shape: ['nq', 'd'] },
          { name: 'C', dtype: 'float32', shape: ['nc', 'd'] },
          { name: 'T', dtype: 'float32', shape: ['nq', 1] },
        ],
        outputs: [
          { name: 'V', dtype: 'float32', shape: ['m'] },
          { name: 'NZ', dtype: 'int64', shape: [2, 'm'] },
        ],
        externalDir: null,
        nodeCount: 5,
      },
      o,
    );
    return {
      topk,
      filter,
      async release() {
        await topk.release();
        await filter.release();
        await worker?.terminate();
      },
    };
  } catch (e) {
    await worker?.terminate();
    throw e;
  }
}

const ROW_BITS = 2 ** 21;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Folds one chunk's unsorted top-k of one query into the running list: keep candidates strictly above the
 * running k-th score (a later chunk loses ties), sort them by (score desc, row asc), merge. The sort is a
 * native Float64Array sort of exact 53-bit keys: an order-preserving map of the float32 score's bits
 * (32 bits, inverted for descending) times 2^21, plus the row within the chunk (< 2^21).
 */
export function mergeChunk(
  bestV: Float32Array,
  bestI: Int32Array,
  V: Float32Array,
  I: BigInt64Array,
  off: number,
  kc: number,
  c0: number,
  k: number,
  /** Where candidate j's row is in I (the filter graph's NonZero lists rows after the m query ids). */
  iOff = 0,
): [Float32Array, Int32Array] {
  const floor = bestV.length >= k ? bestV[k - 1] : Number.NEGATIVE_INFINITY;
  let n = 0;
  for (let j = off; j < off + kc; j++) if (V[j] > floor) n++;
  if (n === 0) return [bestV, bestI];
  const keys = new Float64Array(n);
  n = 0;
  for (let j = off; j < off + kc; j++) {
    const v = V[j];
    if (!(v > floor)) continue;
    f32[0] = v === 0 ? 0 : v; // -0 and +0 are the same score
    const u = u32[0];
    const asc = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
    keys[n++] = (0xffffffff - asc) * ROW_BITS + Number(I[j + iOff]);
  }
  keys.sort();
  const cv = new Float32Array(n);
  const ci = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    const desc = Math.floor(keys[t] / ROW_BITS);
    const asc = 0xffffffff - desc;
    u32[0] = asc & 0x80000000 ? asc & 0x7fffffff : ~asc >>> 0;
    cv[t] = f32[0];
    ci[t] = keys[t] - desc * ROW_BITS + c0;
  }
  return mergeTopK(bestV, bestI, cv, ci, k);
}

/** A copy in its own buffer: worker feeds are transferred, and a view would drag its whole buffer along. */
const own = (a: Float32Array, from: number, to: number) => a.slice(from, to);

/**
 * Exact top-k by dot product of every query row against every corpus row (normalise both first for
 * cosine). Ties keep the lower corpus row first (ONNX TopK's rule, kept by the merge), so a caller that
 * orders its corpus by the wanted tie-break gets that order. The next chunk is already queued in the
 * worker while the main thread merges the current one.
 */
export async function searchTopK(
  queries: Matrix,
  corpus: Matrix,
  k: number,
  opts: SearchOptions = {},
): Promise<SearchResult> {
  if (corpus.rows === 0)
    throw new UserError('cannot search an empty corpus; give the task at least one document');
  if (queries.dim !== corpus.dim)
    throw new UserError(`query dimension ${queries.dim} differs from corpus dimension ${corpus.dim}`);
  const d = corpus.dim;
  const kk = Math.min(k, corpus.rows);
  const qb = Math.max(1, opts.queryBatch ?? 1024);
  // Keep the score block (queryBatch × chunkRows floats) around 64 MB by default.
  // Rows within a chunk must stay below 2^21 (mergeChunk's sort keys).
  const chunk = Math.min(
    2 ** 21,
    Math.max(kk, opts.chunkRows ?? Math.max(1024, Math.floor((16 * 1024 * 1024) / qb))),
  );
  const session = opts.session ?? (await openSearchSession(opts));
  const indices: Int32Array[] = [];
  const scores: Float32Array[] = [];
  const nChunks = Math.ceil(corpus.rows / chunk);
  const total = queries.rows * nChunks;
  let done = 0;
  try {
    for (let q0 = 0; q0 < queries.rows; q0 += qb) {
      const nq = Math.min(qb, queries.rows - q0);
      const Qdata = queries.data.subarray(q0 * d, (q0 + nq) * d);
      const bestV: Float32Array[] = Array.from({ length: nq }, () => new Float32Array(0));
      const bestI: Int32Array[] = Array.from({ length: nq }, () => new Int32Array(0));
      const chunkFeed = (c: number) => {
        const c0 = c * chunk;
        const nc = Math.min(chunk, corpus.rows - c0);
        return {
          Q: hostTensor('float32', [nq, d], opts.inThread ? Qdata : Qdata.slice()),
          // Worker feeds are transferred, so the chunk is copied out of the corpus (ORT refuses
          // SharedArrayBuffer-backed tensors, which would have avoided it).
          C: hostTensor(
            'float32',
            [nc, d],
            opts.inThread
              ? corpus.data.subarray(c0 * d, (c0 + nc) * d)
              : own(corpus.data, c0 * d, (c0 + nc) * d),
          ),
        };
      };
      // Chunk 0: TopK gives every query its first k (the first chunk holds at least k rows).
      const first = await session.topk.run({
        ...chunkFeed(0),
        K: hostTensor('int64', [1], BigInt64Array.from([BigInt(kk)])),
      });
      {
        const V = first.V.data as Float32Array;
        const I = first.I.data as BigInt64Array;
        for (let i = 0; i < nq; i++)
          [bestV[i], bestI[i]] = mergeChunk(bestV[i], bestI[i], V, I, i * kk, kk, 0, kk);
      }
      done += nq;
      opts.onProgress?.(done, total);
      // Later chunks: only scores above each query's running k-th score come back. The next chunk is
      // queued with the thresholds known when it is launched (looser, still exact: merging re-filters).
      const thresholds = () => Float32Array.from(bestV, (v) => v[kk - 1]);
      const launch = (c: number) =>
        session.filter.run({ ...chunkFeed(c), T: hostTensor('float32', [nq, 1], thresholds()) });
      let pending = nChunks > 1 ? launch(1) : null;
      for (let c = 1; c < nChunks; c++) {
        const out = await pending!;
        if (c + 1 < nChunks) pending = launch(c + 1);
        const V = out.V.data as Float32Array;
        const NZ = out.NZ.data as BigInt64Array;
        const m = V.length;
        // NonZero lists (query, row) pairs in row-major order: one run of candidates per query.
        let a = 0;
        while (a < m) {
          const q = Number(NZ[a]);
          let b = a + 1;
          while (b < m && Number(NZ[b]) === q) b++;
          [bestV[q], bestI[q]] = mergeChunk(bestV[q], bestI[q], V, NZ, a, b - a, c * chunk, kk, m);
          a = b;
        }
        done += nq;
        opts.onProgress?.(done, total);
      }
      indices.push(...bestI);
      scores.push(...bestV);
    }
  } finally {
    if (!opts.session) await session.release();
  }
  return { indices, scores };
}

/**
 * Merges two lists sorted by score desc (ties: lower index first) into the best k. Every index of `b`
 * is larger than every index of `a` (later chunk), so on equal scores `a` wins.
 */
export function mergeTopK(
  av: Float32Array,
  ai: Int32Array,
  bv: Float32Array,
  bi: Int32Array,
  k: number,
): [Float32Array, Int32Array] {
  const n = Math.min(k, av.length + bv.length);
  const ov = new Float32Array(n);
  const oi = new Int32Array(n);
  let x = 0;
  let y = 0;
  for (let t = 0; t < n; t++) {
    if (y >= bv.length || (x < av.length && av[x] >= bv[y])) {
      ov[t] = av[x];
      oi[t] = ai[x++];
    } else {
      ov[t] = bv[y];
      oi[t] = bi[y++];
    }
  }
  return [ov, oi];
}

/** The reference: brute force in float64 with the same tie rule (used by tests and the benchmark). */
export function bruteForceTopK(queries: Matrix, corpus: Matrix, k: number): SearchResult {
  const d = corpus.dim;
  const indices: Int32Array[] = [];
  const scores: Float32Array[] = [];
  const s = new Float64Array(corpus.rows);
  for (let q = 0; q < queries.rows; q++) {
    for (let c = 0; c < corpus.rows; c++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += queries.data[q * d + j] * corpus.data[c * d + j];
      s[c] = acc;
    }
    const order = Array.from({ length: corpus.rows }, (_, i) => i).sort((a, b) => s[b] - s[a] || a - b);
    const top = order.slice(0, Math.min(k, corpus.rows));
    indices.push(Int32Array.from(top));
    scores.push(Float32Array.from(top.map((i) => s[i])));
  }
  return { indices, scores };
}
