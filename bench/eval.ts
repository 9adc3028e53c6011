// Retrieval throughput over a 100k-document corpus of cached embeddings (dimension 1024) on CPU:
// the ORT MatMul+TopK search (engine worker) vs a plain JS dot-product loop, against the measured peak
// GFLOP/s of one big ORT MatMul. Usage: npm run bench -- eval [--docs N] [--queries N] [--dim D] [--k K]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { CachedEmbedder } from '../src/main/eval/cache';
import type { EmbedOptions, Embedder } from '../src/main/eval/embedder';
import { RandomState } from '../src/main/eval/metrics/rng';
import { l2normalize } from '../src/main/eval/metrics/stats';
import {
  type Matrix,
  matmulGraph,
  matrixFromRows,
  openSearchSession,
  searchTopK,
} from '../src/main/eval/search';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('docs', 100_000);
const NQ = arg('queries', 1000);
const DIM = arg('dim', 1024);
const K = arg('k', 1000);
const JS_QUERIES = arg('js-queries', 10);

/** Deterministic pseudo-embeddings (a stand-in model: the benchmark measures search, not the model). */
class RandomEmbedder implements Embedder {
  readonly id = `bench:random-${DIM}`;
  readonly dim = DIM;
  async embed(texts: string[], _o: EmbedOptions) {
    return texts.map((t) => {
      const rng = new RandomState(Number.parseInt(t.slice(1), 10) + (t[0] === 'q' ? 1e9 : 0));
      const v = new Float32Array(DIM);
      for (let i = 0; i < DIM; i++) v[i] = rng.random() - 0.5;
      return l2normalize(v);
    });
  }
}

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-bench-eval-'));
  try {
    const docs = Array.from({ length: N }, (_, i) => `d${i}`);
    const queries = Array.from({ length: NQ }, (_, i) => `q${i}`);
    // Fill the cache once, then time reading it back (what a re-evaluation does).
    let t = performance.now();
    await new CachedEmbedder(new RandomEmbedder(), dir).embed(docs, { role: 'document' });
    log(`generated + cached ${N} × ${DIM} embeddings in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const cached = new CachedEmbedder(new RandomEmbedder(), dir);
    t = performance.now();
    const dv = await cached.embed(docs, { role: 'document' });
    const cacheLoadS = (performance.now() - t) / 1000;
    log(
      `loaded ${N} cached embeddings in ${cacheLoadS.toFixed(2)} s (hits ${cached.stats.hits}, misses ${cached.stats.misses})`,
    );
    const C: Matrix = matrixFromRows(dv, DIM);
    const Q: Matrix = matrixFromRows(await new RandomEmbedder().embed(queries, { role: 'query' }), DIM);

    // 1. Peak: one big MatMul (2048×DIM · DIM×8192). The machine may be shared, so it is measured before,
    // between and after the searches, best run kept, with ORT's default session options (memory arena on).
    const peakSession = await ort.InferenceSession.create(matmulGraph(), { graphOptimizationLevel: 'all' });
    const M = 2048;
    const Nn = 8192;
    const A = new ort.Tensor(
      'float32',
      new Float32Array(M * DIM).map(() => Math.random()),
      [M, DIM],
    );
    const B = new ort.Tensor(
      'float32',
      new Float32Array(DIM * Nn).map(() => Math.random()),
      [DIM, Nn],
    );
    let peak = 0;
    const measurePeak = async (runs: number) => {
      for (let r = 0; r < runs; r++) {
        const s = performance.now();
        await peakSession.run({ A, B });
        peak = Math.max(peak, (2 * M * DIM * Nn) / ((performance.now() - s) / 1000) / 1e9);
      }
    };
    await peakSession.run({ A, B }); // warm-up
    await measurePeak(3);
    log(`peak MatMul so far: ${peak.toFixed(1)} GFLOP/s (${M}×${DIM} · ${DIM}×${Nn})`);

    // 2. ORT search, top-K over the whole corpus: in the engine's worker (the default path), then in-thread.
    const session = await openSearchSession();
    await searchTopK({ ...Q, data: Q.data.subarray(0, 8 * DIM), rows: 8 }, C, K, { session }); // warm-up
    t = performance.now();
    const res = await searchTopK(Q, C, K, { session });
    const ortS = (performance.now() - t) / 1000;
    await session.release();
    const qps = NQ / ortS;
    const gflops = (qps * 2 * N * DIM) / 1e9;
    log(
      `ORT search (worker): ${NQ} queries × ${N} docs, top-${K}: ${ortS.toFixed(2)} s → ${qps.toFixed(1)} queries/s, ${gflops.toFixed(1)} GFLOP/s`,
    );
    t = performance.now();
    await searchTopK(Q, C, K, { inThread: true });
    const inThreadQps = NQ / ((performance.now() - t) / 1000);
    log(`ORT search (calling thread): ${inThreadQps.toFixed(1)} queries/s`);
    await measurePeak(2);
    t = performance.now();
    await searchTopK(Q, C, 10, { inThread: true });
    const top10Qps = NQ / ((performance.now() - t) / 1000);
    log(`ORT search (calling thread, top-10): ${top10Qps.toFixed(1)} queries/s`);

    // 3. Plain JS: dot products in a loop + top-K by sorting, a few queries.
    t = performance.now();
    const s = new Float32Array(N);
    let agree = 0;
    for (let q = 0; q < JS_QUERIES; q++) {
      const qo = q * DIM;
      for (let c = 0; c < N; c++) {
        let acc = 0;
        const co = c * DIM;
        for (let j = 0; j < DIM; j++) acc += Q.data[qo + j] * C.data[co + j];
        s[c] = acc;
      }
      const idx = Array.from({ length: N }, (_, i) => i).sort((a, b) => s[b] - s[a] || a - b);
      if (idx[0] === res.indices[q][0]) agree++;
    }
    const jsS = (performance.now() - t) / 1000;
    await measurePeak(3);
    await peakSession.release();
    log(`peak MatMul (best of 8 runs spread over the benchmark): ${peak.toFixed(1)} GFLOP/s`);
    const jsQps = JS_QUERIES / jsS;
    log(
      `JS loop: ${JS_QUERIES} queries in ${jsS.toFixed(2)} s → ${jsQps.toFixed(2)} queries/s; top-1 agrees with ORT on ${agree}/${JS_QUERIES}`,
    );

    const out = {
      bench: 'eval',
      docs: N,
      dim: DIM,
      queries: NQ,
      top_k: K,
      queries_per_s: Math.round(qps * 10) / 10,
      search_gflops: Math.round(gflops * 10) / 10,
      peak_matmul_gflops: Math.round(peak * 10) / 10,
      fraction_of_peak: Math.round((gflops / peak) * 1000) / 1000,
      in_thread_queries_per_s: Math.round(inThreadQps * 10) / 10,
      top10_queries_per_s: Math.round(top10Qps * 10) / 10,
      js_loop_queries_per_s: Math.round(jsQps * 100) / 100,
      speedup_vs_js: Math.round((qps / jsQps) * 10) / 10,
      cache_load_s: Math.round(cacheLoadS * 100) / 100,
      cpus: os.cpus().length,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
