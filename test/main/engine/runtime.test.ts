// Sessions: worker threads (under vitest and under tsx), feeding/fetching by name with transferred buffers,
// provider choice with reasons, frozen weights read in place from .safetensors (no copy, no second copy in
// memory), and build/run errors that name the op and layer and create no session.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createSession,
  EngineWorker,
  Graph,
  GraphError,
  grad,
  hostTensor,
  readSafetensorsHeader,
  SAFETENSORS_DTYPE,
  toOnnx,
  WorkerSession,
  writeSafetensors,
} from '../../../src/main/engine';
import type { Op } from '../../../src/main/engine/ops';
import { UserError } from '../../../src/main/errors';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

const ENGINE = path.join(REPO_ROOT, 'src/main/engine/index.ts');

function linearModel() {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 3]);
  const W = g.weight('W', 'float32', [2, 3], { data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
  const A = g.input('A', 'float32', [2, 3]);
  const y = g.add(g.linear(x, W), g.linear(x, A));
  const loss = g.sum(g.mul(y, y));
  const [dA] = grad(loss, [A]);
  return toOnnx({ y, loss, dA });
}

describe('sessions', () => {
  it('run in a worker thread under vitest, feeds transferred, outputs by name, reusable', async () => {
    const model = linearModel();
    const s = await createSession(model, { providers: ['cpu'], threads: 1 });
    expect(s).toBeInstanceOf(WorkerSession);
    const x = Float32Array.from([1, 1, 1, 0, 1, 0]);
    const out = await s.run({
      x: hostTensor('float32', [2, 3], x),
      A: hostTensor('float32', [2, 3], new Float32Array(6)),
    });
    expect(x.byteLength).toBe(0); // transferred, not copied
    expect(Array.from(out.y.data as Float32Array)).toEqual([6, 15, 2, 5]);
    expect((out.loss.data as Float32Array)[0]).toBe(36 + 225 + 4 + 25);
    // dL/dA = 2·Σ_rows y ⊗ x
    expect(Array.from(out.dA.data as Float32Array)).toEqual([12 + 0, 12 + 4, 12 + 0, 30, 30 + 10, 30]);
    const again = await s.run(
      {
        x: hostTensor('float32', [1, 3], Float32Array.from([0, 0, 1])),
        A: hostTensor('float32', [2, 3], new Float32Array(6)),
      },
      ['y'],
    );
    expect(Object.keys(again)).toEqual(['y']);
    expect(Array.from(again.y.data as Float32Array)).toEqual([3, 6]);
    await s.release();
  });

  it('several sessions share one worker; a bad feed is a clear error', async () => {
    const w = new EngineWorker();
    try {
      const a = await createSession(linearModel(), { worker: w, providers: ['cpu'] });
      const b = await createSession(linearModel(), { worker: w, providers: ['cpu'] });
      await expect(a.run({ x: hostTensor('float32', [1, 3], new Float32Array(3)) })).rejects.toThrow(
        /missing input 'A'/,
      );
      await expect(
        b.run({
          x: hostTensor('float32', [1, 4], new Float32Array(4)),
          A: hostTensor('float32', [2, 3], new Float32Array(6)),
        }),
      ).rejects.toThrow(/input 'x': fed \[1,4\], graph expects \[batch,3\]/);
      await a.release();
      await b.release();
    } finally {
      await w.terminate();
    }
  });

  it('provider choice explains each skipped provider', async () => {
    const s = await createSession(linearModel(), { providers: 'auto', inThread: true });
    const order = ['cuda', 'webgpu', 'cpu'];
    expect(order).toContain(s.provider);
    expect(s.skipped.map((k) => k.provider)).toEqual(order.slice(0, order.indexOf(s.provider)));
    for (const k of s.skipped) expect(k.reason.length).toBeGreaterThan(10);
    await s.release();
  });

  it('the worker also starts under tsx (the CLI path), and an idle worker lets the process exit', () => {
    const dir = tmpDir();
    const script = path.join(dir, 'run.mts');
    fs.writeFileSync(
      script,
      `import { Graph, createSession, hostTensor, toOnnx } from ${JSON.stringify(ENGINE)};
const g = new Graph();
const x = g.input('x', 'float64', [2]);
const s = await createSession(toOnnx({ y: g.mul(g.exp(x), 2) }), { providers: ['cpu'] });
const o = await s.run({ x: hostTensor('float64', [2], Float64Array.from([0, 1])) });
// No release on purpose: an idle worker must not keep the process alive.
console.log(JSON.stringify({ kind: s.constructor.name, y: Array.from(o.y.data) }));
`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(res.kind).toBe('WorkerSession');
    expect(res.y[0]).toBe(2);
    expect(res.y[1]).toBeCloseTo(2 * Math.E, 12);
  });
});

describe('external weights from .safetensors', () => {
  it('reads the header and keeps weights external, also through an HF-cache style symlink', async () => {
    const dir = tmpDir();
    const blobs = path.join(dir, 'blobs');
    const snap = path.join(dir, 'snapshots', 'abc123');
    fs.mkdirSync(blobs, { recursive: true });
    fs.mkdirSync(snap, { recursive: true });
    const wData = Float32Array.from({ length: 12 }, (_, i) => i - 5);
    const bData = Float32Array.from([0.5, -1, 2]);
    writeSafetensors(path.join(blobs, 'sha256-deadbeef'), {
      'lin.bias': { dtype: 'F32', shape: [3], data: bData },
      'lin.weight': { dtype: 'F32', shape: [3, 4], data: wData },
    });
    fs.symlinkSync('../../blobs/sha256-deadbeef', path.join(snap, 'model.safetensors'));
    const file = path.join(snap, 'model.safetensors');
    const hdr = readSafetensorsHeader(file);
    expect(hdr['lin.weight'].shape).toEqual([3, 4]);
    expect(hdr['lin.weight'].length).toBe(48);
    const raw = fs.readFileSync(file);
    const back = new Float32Array(
      raw.buffer.slice(
        raw.byteOffset + hdr['lin.weight'].offset,
        raw.byteOffset + hdr['lin.weight'].offset + 48,
      ),
    );
    expect(Array.from(back)).toEqual(Array.from(wData));

    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4]);
    const w = (n: string) => {
      const e = hdr[n];
      return g.weight(n, SAFETENSORS_DTYPE[e.dtype], e.shape, { file, offset: e.offset, length: e.length });
    };
    const y = g.linear(x, w('lin.weight'), w('lin.bias'));
    const model = toOnnx({ y });
    expect(model.externalDir).toBe(fs.realpathSync(blobs));
    expect(Buffer.from(model.bytes).includes(Buffer.from(wData.buffer))).toBe(false); // not inlined
    const s = await createSession(model, { providers: ['cpu'], inThread: true });
    const out = await s.run({ x: hostTensor('float32', [1, 4], Float32Array.from([1, 2, 3, 4])) });
    await s.release();
    const expected = [0, 1, 2].map(
      (o) => bData[o] + [0, 1, 2, 3].reduce((a, i) => a + wData[o * 4 + i] * (i + 1), 0),
    );
    expect(Array.from(out.y.data as Float32Array)).toEqual(expected);
  });

  it('forward+backward over a 64 MB frozen weight holds no second copy (RSS in a child process)', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'big.safetensors');
    const n = 4096;
    const w = new Float32Array(n * n);
    for (let i = 0; i < w.length; i += 1021) w[i] = ((i % 7) - 3) / 100;
    writeSafetensors(file, { W: { dtype: 'F32', shape: [n, n], data: w } });
    const script = path.join(dir, 'mem.mts');
    fs.writeFileSync(
      script,
      `import { Graph, createSession, grad, hostTensor, readSafetensorsHeader, toOnnx } from ${JSON.stringify(ENGINE)};
const file = ${JSON.stringify(file)};
const n = ${n};
// Load ORT and its threads first so the delta measures the model only.
{ const g = new Graph(); const x = g.input('x', 'float32', [1]);
  const s = await createSession(toOnnx({ y: g.exp(x) }), { inThread: true, providers: ['cpu'], threads: 1 });
  await s.run({ x: hostTensor('float32', [1], new Float32Array(1)) }); await s.release(); }
const before = process.memoryUsage().rss;
const e = readSafetensorsHeader(file).W;
const g = new Graph();
const x = g.input('x', 'float32', ['batch', n]);
const W = g.weight('W', 'float32', [n, n], { file, offset: e.offset, length: e.length });
const A = g.input('A', 'float32', [4, n]);
const B = g.input('B', 'float32', [n, 4]);
const y = g.add(g.linear(x, W), g.linear(g.linear(x, A), B));
const loss = g.sum(g.mul(y, y));
const [dx, dA, dB] = grad(loss, [x, A, B]);
const model = toOnnx({ loss, dx, dA, dB });
const s = await createSession(model, { inThread: true, providers: ['cpu'], threads: 1 });
const afterCreate = process.memoryUsage().rss;
const feeds = () => ({
  x: hostTensor('float32', [4, n], Float32Array.from({ length: 4 * n }, (_, i) => Math.sin(i))),
  A: hostTensor('float32', [4, n], new Float32Array(4 * n).fill(0.01)),
  B: hostTensor('float32', [n, 4], new Float32Array(4 * n).fill(0.01)),
});
let dxSum = 0;
for (let k = 0; k < 3; k++) { const o = await s.run(feeds()); dxSum = (o.dx.data as Float32Array).reduce((a, b) => a + Math.abs(b), 0); }
const afterRun = process.memoryUsage().rss;
console.log(JSON.stringify({ modelBytes: model.bytes.length, create: afterCreate - before, run: afterRun - before, dxSum }));
await s.release();
`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.stderr).toBe('');
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const MB = 1024 * 1024;
    const weight = 64 * MB;
    console.log(
      `64 MB weight: RSS +${(m.create / MB).toFixed(1)} MB after create, +${(m.run / MB).toFixed(1)} MB after 3 runs`,
    );
    expect(m.modelBytes).toBeLessThan(64 * 1024);
    expect(m.dxSum).toBeGreaterThan(0);
    // One mapped copy of W is expected (≈64 MB); a second copy would push this to ≥128 MB.
    expect(m.create).toBeLessThan(0.5 * weight);
    expect(m.run).toBeLessThan(1.4 * weight);
  });
});

describe('build and lowering errors', () => {
  it('shape errors name the layer scope and the op with both shapes', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['b', 's', 4096]);
    const w = g.input('w', 'float32', [1024, 4096]);
    expect(() => g.scope('layers.3', () => g.scope('self_attn.q_proj', () => g.matmul(x, w)))).toThrow(
      'layers.3.self_attn.q_proj: matmul [b,s,4096] × [1024,4096]: inner dims differ (4096 vs 1024)',
    );
    expect(() => g.scope('mlp', () => g.add(x, g.input('y', 'float32', [3])))).toThrow(
      /^mlp: add \[b,s,4096\] × \[3\]: cannot broadcast/,
    );
    expect(() => g.scope('emb', () => g.linear(x, g.input('w2', 'float32', [8, 100])))).toThrow(
      /emb: linear \[b,s,4096\] × \[8,100\]: input features 4096 ≠ weight in 100/,
    );
    expect(() => g.add(x, g.input('i', 'int64', [4096]))).toThrow(/dtype mismatch float32 vs int64/);
    expect(() => g.reshape(x, [-1, 1000])).toThrow(/cannot infer -1/);
  });

  it('an unknown op fails at build; an unresolvable input fails at lowering, before any session exists', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    // The Op type refuses 'fancyOp'; the cast stands for code that gets around it.
    expect(() => g.scope('layers.0.custom', () => g.node('fancyOp' as Op, [x], {}, 'float32', [3]))).toThrow(
      "layers.0.custom: fancyOp [3]: op 'fancyOp' is not in the op table (ops.ts)",
    );
    expect(() => g.node('exp', [x, x], {}, 'float32', [3])).toThrow("op 'exp' does not take 2 inputs");
    let created = false;
    const compile = async (out: Record<string, ReturnType<Graph['exp']>>) => {
      const m = toOnnx(out);
      created = true;
      return createSession(m, { inThread: true });
    };
    const g2 = new Graph();
    const z = g2.zeros(['ghost', 2], 'float32');
    await expect(compile({ z })).rejects.toThrow(/dim 'ghost' appears on no graph input/);
    expect(created).toBe(false);
  });

  it('errors are UserErrors (one line, shown without a stack by the CLI)', () => {
    const g = new Graph();
    try {
      g.transpose(g.input('x', 'float32', [2, 3]), [0, 0]);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GraphError);
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).toMatch(/^transpose \[2,3\]: bad permutation/);
    }
  });
});

describe('onnxOp escape hatch', () => {
  it('runs a multi-output ONNX op (TopK) and refuses to differentiate it, naming it', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['q', 5]);
    const k = g.constant([2], 'int64', [1]);
    const [vals, idx] = g.onnxOp('TopK', [x, k], { axis: 1, largest: 1, sorted: 1 }, [
      { dtype: 'float32', shape: ['q', 2] },
      { dtype: 'int64', shape: ['q', 2] },
    ]);
    const s = await createSession(toOnnx({ vals, idx }), { inThread: true, providers: ['cpu'] });
    const o = await s.run({ x: hostTensor('float32', [1, 5], Float32Array.from([0.1, 0.9, 0.3, 0.95, 0])) });
    await s.release();
    expect(Array.from(o.vals.data as Float32Array)).toEqual([0.95, 0.9].map(Math.fround));
    expect(Array.from(o.idx.data as BigInt64Array)).toEqual([3n, 1n]);
    expect(() => grad(g.sum(vals), [x])).toThrow(/no gradient rule for op 'onnx:TopK'/);
  });
});

describe('half-precision frozen weights', () => {
  const bf16 = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16;
  const f16 = (v: number) => {
    // exact for the small dyadic values used here
    const x = new Uint32Array(new Float32Array([v]).buffer)[0];
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    return v === 0 ? 0 : ((x >>> 16) & 0x8000) | (exp << 10) | ((x & 0x7fffff) >>> 13);
  };
  it('fp16 and bf16 weights are cast in-graph; the backward rebuilds the cast instead of keeping it', async () => {
    const vals = [0.5, -1, 2, 0.25, -0.75, 1.5];
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 3]);
    const w16 = g.cast(
      g.weight('w16', 'float16', [2, 3], { data: Uint16Array.from(vals.map(f16)) }),
      'float32',
    );
    const wbf = g.cast(
      g.weight('wbf', 'bfloat16', [2, 3], { data: Uint16Array.from(vals.map(bf16)) }),
      'float32',
    );
    const y = g.add(g.linear(x, w16), g.linear(x, wbf));
    const fwd = g.nodes.length;
    const [dx] = grad(g.sum(y), [x]);
    const back = g.nodes.slice(fwd);
    // The backward reads its own Cast copies, never the forward ones (which die after the forward).
    expect(back.some((t) => t.inputs.includes(w16) || t.inputs.includes(wbf))).toBe(false);
    expect(back.filter((t) => t.op === 'cast' && t.scope.startsWith('rebuild.')).length).toBe(2);
    const s = await createSession(toOnnx({ y, dx }), { inThread: true, providers: ['cpu'] });
    const o = await s.run({ x: hostTensor('float32', [1, 3], Float32Array.from([1, 2, 3])) });
    await s.release();
    const row = (r: number) => 2 * (vals[r * 3] + 2 * vals[r * 3 + 1] + 3 * vals[r * 3 + 2]);
    expect(Array.from(o.y.data as Float32Array)).toEqual([row(0), row(1)]);
    expect(Array.from(o.dx.data as Float32Array)).toEqual([0, 1, 2].map((i) => 2 * (vals[i] + vals[3 + i])));
  });
});

describe('checkpoints over 4 GB', () => {
  it('external data offsets past 2^32 work and untouched weight pages are never read (sparse file)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'huge.safetensors');
    const rows = 1_179_648; // × 1024 float32 = 4.5 GiB, kept sparse on disk
    const bigBytes = rows * 1024 * 4;
    const tail = Float32Array.from([1.5, -2, 3.25, 4]);
    const header = JSON.stringify({
      'embed.weight': { dtype: 'F32', shape: [rows, 1024], data_offsets: [0, bigBytes] },
      'tail.weight': { dtype: 'F32', shape: [4], data_offsets: [bigBytes, bigBytes + 16] },
    });
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, len);
    fs.writeSync(fd, header);
    const dataStart = 8 + header.length;
    fs.writeSync(fd, Buffer.from(Float32Array.from([7, 8]).buffer), 0, 8, dataStart + 5 * 1024 * 4); // row 5, cols 0–1
    fs.writeSync(fd, Buffer.from(tail.buffer), 0, 16, dataStart + bigBytes);
    fs.closeSync(fd);
    const hdr = readSafetensorsHeader(file);
    expect(hdr['tail.weight'].offset).toBeGreaterThan(2 ** 32);
    const g = new Graph();
    const w = (n: string) =>
      g.weight(n, 'float32', hdr[n].shape, { file, offset: hdr[n].offset, length: hdr[n].length });
    const ids = g.input('ids', 'int64', ['n']);
    const rowsOut = g.gather(w('embed.weight'), ids);
    const t = g.mul(w('tail.weight'), 2);
    const model = toOnnx({ rows: rowsOut, t });
    expect(model.bytes.length).toBeLessThan(4096);
    const s = await createSession(model, { providers: ['cpu'], inThread: true });
    const o = await s.run({ ids: hostTensor('int64', [2], BigInt64Array.from([5n, 9n])) });
    await s.release();
    expect(Array.from(o.t.data as Float32Array)).toEqual([3, -4, 6.5, 8]);
    const r = o.rows.data as Float32Array;
    expect([r[0], r[1], r[2], r[1024]]).toEqual([7, 8, 0, 0]);
  });
});
