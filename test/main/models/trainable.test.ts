// The trainer's encoder (GradCache chunks over texts) against the fixture's full-batch InfoNCE gradients.
import fs from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { EmbeddingModel } from '../../../src/main/models/model';
import { readF32, readInt, readStHeader } from '../../../src/main/models/safetensors';
import { providerBlocker, toOnnx, writeSafetensors } from '../../../src/main/engine';
import { f32ToBf16 } from '../../../src/main/engine/safetensors';
import { buildForward, buildTrainingBackward } from '../../../src/main/models/graphs';
import {
  baseDtype,
  bfloat16Blocker,
  createTrainableEncoder,
  LoraEncoder,
  toPeftName,
} from '../../../src/main/models/trainable';
import { gradCacheStep } from '../../../src/main/training/gradcache';
import { referenceLoss } from '../../../src/main/training/loss';
import { mixSeed } from '../../../src/main/training/rng';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

const PARITY = path.join(FIXTURES, 'parity');

/** InfoNCE over [q0, q1 | d0..d3] and its gradient on the embeddings (rows as in the fixture). */
function infoNce(e: Float32Array, d: number, nq: number, nd: number, tau: number) {
  const dE = new Float64Array(e.length);
  let loss = 0;
  for (let i = 0; i < nq; i++) {
    const s = Array.from({ length: nd }, (_, j) => {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += e[i * d + k] * e[(nq + j) * d + k];
      return dot / tau;
    });
    const m = Math.max(...s);
    const z = s.reduce((a, v) => a + Math.exp(v - m), 0);
    loss += (m + Math.log(z) - s[i]) / nq;
    for (let j = 0; j < nd; j++) {
      const g = (Math.exp(s[j] - m) / z - (j === i ? 1 : 0)) / nq / tau;
      for (let k = 0; k < d; k++) {
        dE[i * d + k] += g * e[(nq + j) * d + k];
        dE[(nq + j) * d + k] += g * e[i * d + k];
      }
    }
  }
  return { loss, dE: Float32Array.from(dE) };
}

describe.each(['mistral', 'bert'])('LoraEncoder %s', (name) => {
  const dir = path.join(PARITY, name);

  it('GradCache chunks over texts reproduce PEFT full-batch loss and LoRA gradients', async () => {
    const model = EmbeddingModel.load(dir, { inThread: true });
    const adapter = model.loadAdapter(path.join(dir, 'adapter'));
    const enc = new LoraEncoder(model, adapter.config);
    expect(enc.params.map((p) => p.name).sort()).toEqual([...adapter.tensors.keys()].map(toPeftName).sort());
    const lora = new Map([...adapter.tensors].map(([k, t]) => [toPeftName(k), t.data]));
    // Texts whose tokenization is exactly the fixture's lora_batch rows (content ids → their vocabulary words).
    const cases = readStHeader(path.join(dir, 'cases.safetensors'));
    const ids = readInt(cases, 'lora_batch.input_ids');
    const mask = readInt(cases, 'lora_batch.attention_mask');
    const specials = name === 'bert' ? [101, 102] : [1, 2];
    const texts = Array.from({ length: 6 }, (_, r) =>
      ids
        .slice(r * 16, r * 16 + 16)
        .filter((id, t) => mask[r * 16 + t] && !specials.includes(id))
        .map((id) => model.tokenizer.idToToken(id))
        .join(' '),
    );
    expect(model.tokenize(texts).flat()).toEqual(ids.filter((_, i) => mask[i]));
    expect(enc.countTokens(texts)).toEqual([7, 11, 16, 6, 13, 9]);
    // Pass 1 in chunks of 4 + 2, loss on the whole batch, pass 2 in chunks of 2.
    const e = new Float32Array(6 * enc.dim);
    e.set(await enc.embed(texts.slice(0, 4), lora, null), 0);
    e.set(await enc.embed(texts.slice(4), lora, null), 4 * enc.dim);
    const { loss, dE } = infoNce(e, enc.dim, 2, 4, 0.05);
    const grads = readStHeader(path.join(dir, 'lora_grads.safetensors'));
    expect(Math.abs(loss / readF32(grads, 'lora_on.loss')[0] - 1)).toBeLessThan(1e-4);
    const sum = new Map<string, Float32Array>();
    for (let lo = 0; lo < 6; lo += 2) {
      const g = await enc.backward(
        texts.slice(lo, lo + 2),
        lora,
        null,
        dE.slice(lo * enc.dim, (lo + 2) * enc.dim),
      );
      for (const [k, v] of g) {
        const a = sum.get(k) ?? new Float32Array(v.length);
        v.forEach((x, i) => {
          a[i] += x;
        });
        sum.set(k, a);
      }
    }
    let worst = 0;
    for (const [k, v] of sum) {
      const ref = readF32(grads, k.replace(/\.lora_([AB])\.weight$/, '.lora_$1.default.weight'));
      const gmax = Math.max(...Array.from(ref, Math.abs));
      const err = v.reduce((w, x, i) => Math.max(w, Math.abs(x - ref[i])), 0) / gmax;
      worst = Math.max(worst, err);
    }
    console.log(
      `[${name}] GradCache (texts, chunks 4+2 / 2) loss rel ${Math.abs(loss / readF32(grads, 'lora_on.loss')[0] - 1).toExponential(2)}, grads max|Δg|/max|g| ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(1e-3);
    await enc.dispose();
  });

  it('dropout masks are computed in the graph from per-text seeds, the same whatever the chunking', async () => {
    const model = EmbeddingModel.load(dir, { inThread: true });
    const enc = new LoraEncoder(model, {
      r: 4,
      alpha: 8,
      dropout: 0.3,
      targetModules: 'all-linear',
      useRslora: false,
    });
    const lora = enc.initLora(7);
    // B = 0 at init makes dropout invisible; give B values so the LoRA branch acts.
    for (const [k, v] of lora)
      if (k.includes('lora_B'))
        v.forEach((_, i) => {
          v[i] = 0.05 * Math.sin(i + k.length);
        });
    const texts = ['the cat sat on the mat', 'hello world', 'a b c', 'one more text here', 'x y', 'the end'];
    const seeds = Uint32Array.from([11, 12, 13, 14, 15, 16]);
    const all = await enc.embed(texts, lora, { p: 0.3, seeds });
    const parts = new Float32Array(all.length);
    parts.set(await enc.embed(texts.slice(0, 2), lora, { p: 0.3, seeds: seeds.slice(0, 2) }), 0);
    parts.set(await enc.embed(texts.slice(2), lora, { p: 0.3, seeds: seeds.slice(2) }), 2 * enc.dim);
    const diff = (a: Float32Array, b: Float32Array) =>
      a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0);
    expect(diff(all, parts)).toBeLessThan(1e-6);
    const other = await enc.embed(texts, lora, { p: 0.3, seeds: seeds.map((s) => s + 100) });
    expect(diff(all, other)).toBeGreaterThan(1e-4);
    // The backward sees the forward's masks: its gradient of Σ e·u matches a central difference along it.
    const drop = { p: 0.3, seeds };
    const u = Float32Array.from(all, (_, i) => Math.sin(i * 0.37));
    const g = await enc.backward(texts, lora, drop, u);
    const norm = Math.sqrt([...g.values()].reduce((a, v) => a + v.reduce((b, x) => b + x * x, 0), 0));
    const shifted = (eps: number) =>
      new Map(
        [...lora].map(([k, v]) => [k, Float32Array.from(v, (x, i) => x + (eps * g.get(k)![i]) / norm)]),
      );
    const f = async (eps: number) =>
      (await enc.embed(texts, shifted(eps), drop)).reduce((a, x, i) => a + x * u[i], 0);
    const eps = 1e-2;
    const fd = ((await f(eps)) - (await f(-eps))) / (2 * eps);
    expect(Math.abs(fd / norm - 1)).toBeLessThan(2e-2);
    await enc.dispose();
  });
});

/** The fixture's lora_batch rows as texts (content ids → their vocabulary words). */
function fixtureTexts(model: EmbeddingModel, dir: string, bert: boolean): string[] {
  const cases = readStHeader(path.join(dir, 'cases.safetensors'));
  const ids = readInt(cases, 'lora_batch.input_ids');
  const mask = readInt(cases, 'lora_batch.attention_mask');
  const specials = bert ? [101, 102] : [1, 2];
  return Array.from({ length: 6 }, (_, r) =>
    ids
      .slice(r * 16, r * 16 + 16)
      .filter((id, t) => mask[r * 16 + t] && !specials.includes(id))
      .map((id) => model.tokenizer.idToToken(id))
      .join(' '),
  );
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0);

describe('LoraEncoder eval mode with dropout configured (PEFT eval: y = Wx + B(A x)·scaling)', () => {
  it('embed(texts, lora, null) equals dropout 0 and EmbeddingModel.embed with the adapter', async () => {
    const dir = path.join(PARITY, 'mistral');
    const model = EmbeddingModel.load(dir, { inThread: true });
    const adapter = model.loadAdapter(path.join(dir, 'adapter'));
    const lora = new Map([...adapter.tensors].map(([k, t]) => [toPeftName(k), t.data]));
    const texts = fixtureTexts(model, dir, false).map(model.prompt('document'));
    const withDrop = new LoraEncoder(model, { ...adapter.config, dropout: 0.1 });
    const noDrop = new LoraEncoder(model, { ...adapter.config, dropout: 0 });
    const evalEmb = await withDrop.embed(texts, lora, null);
    const ref = await noDrop.embed(texts, lora, null);
    const viaModel = await model.embed(texts, { role: 'document', adapter });
    const base = await model.embed(texts, { role: 'document' });
    // The LoRA branch moves the embeddings far more than 1e-5, so a 1/(1−p) = 1.11 factor on it would show.
    expect(maxAbsDiff(ref, base)).toBeGreaterThan(1e-3);
    console.log(
      `[eval dropout 0.1] vs dropout 0: ${maxAbsDiff(evalEmb, ref).toExponential(2)}, vs EmbeddingModel.embed: ${maxAbsDiff(evalEmb, viaModel).toExponential(2)} (LoRA effect ${maxAbsDiff(ref, base).toExponential(2)})`,
    );
    expect(maxAbsDiff(evalEmb, ref)).toBeLessThan(1e-5);
    expect(maxAbsDiff(evalEmb, viaModel)).toBeLessThan(1e-5);
    // Training mode still drops: same graph, masks and 1/(1−p) fed.
    const train = await withDrop.embed(texts, lora, { p: 0.1, seeds: Uint32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(maxAbsDiff(train, ref)).toBeGreaterThan(1e-4);
    await model.dispose();
  });
});

describe.each(['mistral', 'bert'])('LoraEncoder %s in float16', (name) => {
  const dir = path.join(PARITY, name);

  /** Full GradCache gradient (chunks of 3) of the fixture's InfoNCE with dropout seeds, at a given dtype. */
  async function grads(dtype: 'float32' | 'float16') {
    const model = EmbeddingModel.load(dir, { inThread: true, dtype });
    const adapter = model.loadAdapter(path.join(dir, 'adapter'));
    const enc = new LoraEncoder(model, { ...adapter.config, dropout: 0.1 });
    const lora = new Map([...adapter.tensors].map(([k, t]) => [toPeftName(k), t.data]));
    const texts = fixtureTexts(model, dir, name === 'bert');
    const seeds = Uint32Array.from([5, 6, 7, 8, 9, 10]);
    const drop = (lo: number) => ({ p: 0.1, seeds: seeds.slice(lo, lo + 3) });
    const e = new Float32Array(6 * enc.dim);
    for (const lo of [0, 3]) e.set(await enc.embed(texts.slice(lo, lo + 3), lora, drop(lo)), lo * enc.dim);
    const { loss, dE } = infoNce(e, enc.dim, 2, 4, 0.05);
    const sum = new Map<string, Float32Array>();
    for (const lo of [0, 3]) {
      const g = await enc.backward(
        texts.slice(lo, lo + 3),
        lora,
        drop(lo),
        dE.slice(lo * enc.dim, (lo + 3) * enc.dim),
      );
      for (const [k, v] of g) {
        expect(v).toBeInstanceOf(Float32Array); // LoRA gradients stay float32
        const a = sum.get(k) ?? new Float32Array(v.length);
        v.forEach((x, i) => {
          a[i] += x;
        });
        sum.set(k, a);
      }
    }
    await enc.dispose();
    return { loss, e, sum };
  }

  it('training graphs keep base weights in float16; LoRA gradients within 2e-2·max|g| of float32', async () => {
    const f32 = await grads('float32');
    const f16 = await grads('float16');
    let worst = 0;
    let gmax = 0;
    for (const [k, ref] of f32.sum) {
      const got = f16.sum.get(k)!;
      expect(got.every(Number.isFinite)).toBe(true);
      gmax = Math.max(gmax, ...Array.from(ref, Math.abs));
      worst = Math.max(worst, maxAbsDiff(got, ref));
    }
    const embDiff = maxAbsDiff(f16.e, f32.e);
    console.log(
      `[${name} fp16] loss ${f16.loss.toFixed(5)} vs ${f32.loss.toFixed(5)}, emb max|Δ| ${embDiff.toExponential(2)}, grads max|Δg|/max|g| ${(worst / gmax).toExponential(2)}`,
    );
    // Half precision really is in the graph (not silently float32), and stays close.
    expect(embDiff).toBeGreaterThan(0);
    expect(embDiff).toBeLessThan(5e-3);
    expect(Math.abs(f16.loss - f32.loss) / f32.loss).toBeLessThan(1e-2);
    expect(worst / gmax).toBeLessThan(2e-2);
  });
});

describe('createTrainableEncoder dtype', () => {
  const opts = {
    modelDir: path.join(PARITY, 'mistral'),
    rank: 4,
    alpha: 8,
    dropout: 0,
    targetModules: ['all-linear'],
    maxLength: 16,
  };

  it('refuses bfloat16 on the CPU provider with one line naming --dtype and cuda', async () => {
    for (const device of ['cpu', 'webgpu'])
      await expect(
        createTrainableEncoder({ ...opts, device, dtype: 'bfloat16' }, { inThread: true }),
      ).rejects.toThrow(/^--dtype bfloat16 needs the cuda provider [^\n]*--device cuda[^\n]*$/);
    expect(bfloat16Blocker('cuda')).toBeNull();
    // auto: refused exactly when the CUDA provider is not installed (this machine decides which).
    expect(bfloat16Blocker('auto') === null).toBe(providerBlocker('cuda') === null);
  });

  it('builds float16 training graphs from --dtype float16 / fp16 and float32 from auto', async () => {
    expect(baseDtype('fp16')).toBe('float16');
    expect(baseDtype('bf16')).toBe('bfloat16');
    expect(baseDtype('auto')).toBe('float32');
    const enc = await createTrainableEncoder(
      { ...opts, device: 'cpu', dtype: 'float16' },
      { inThread: true },
    );
    expect(enc.model.dtype).toBe('float16');
    await enc.dispose();
  });
});

describe('LoraEncoder device dropout in GradCache', () => {
  it('GradCache with dropout (masks computed in the graph) equals the full batch, with and without recompute', async () => {
    const dir = path.join(PARITY, 'mistral');
    const model = EmbeddingModel.load(dir, { inThread: true });
    const cfg = { r: 4, alpha: 8, dropout: 0.3, targetModules: 'all-linear', useRslora: false } as const;
    const enc = new LoraEncoder(model, cfg);
    const ckpt = new LoraEncoder(model, cfg, true);
    const lora = enc.initLora(5);
    for (const [k, v] of lora)
      if (k.includes('lora_B'))
        v.forEach((_, i) => {
          v[i] = 0.05 * Math.cos(i + k.length);
        });
    const texts = fixtureTexts(model, dir, false);
    const batch = { queries: texts.slice(0, 2), positives: texts.slice(2, 4), negatives: texts.slice(4) };
    const run = (e: LoraEncoder, chunkSize: number, seed = 42) =>
      gradCacheStep(e, lora, batch, referenceLoss, {
        chunkSize,
        temperature: 0.05,
        dropoutP: 0.3,
        seedOf: (i) => mixSeed(seed, 1, i),
      });
    const full = await run(enc, 6);
    const worstVs = (r: Awaited<ReturnType<typeof run>>) => {
      let worst = 0;
      let gmax = 0;
      for (const [k, g] of full.grads) {
        gmax = Math.max(gmax, ...Array.from(g, Math.abs));
        worst = Math.max(worst, maxAbsDiff(r.grads.get(k)!, g));
      }
      return worst / gmax;
    };
    const chunked = await run(enc, 2);
    const recomputed = await run(ckpt, 4);
    const other = await run(enc, 6, 43);
    console.log(
      `[device dropout] GradCache chunks of 2 vs full: ${worstVs(chunked).toExponential(2)}, recompute chunks of 4: ${worstVs(recomputed).toExponential(2)}, other seeds: ${worstVs(other).toExponential(2)}`,
    );
    expect(Math.abs(chunked.loss - full.loss)).toBeLessThan(1e-6);
    expect(worstVs(chunked)).toBeLessThan(1e-5);
    expect(worstVs(recomputed)).toBeLessThan(1e-5);
    // The masks matter (so the equalities above can fail): other seeds give another gradient.
    expect(worstVs(other)).toBeGreaterThan(1e-2);
    await model.dispose();
  });
});

describe('half-precision checkpoints on CPU: weights converted once, no per-call Cast', () => {
  /** The mistral fixture with every weight stored as bfloat16 (round to nearest even). */
  function bf16Copy(): string {
    const src = path.join(PARITY, 'mistral');
    const dir = tmpDir();
    for (const f of fs.readdirSync(src))
      if (f !== 'model.safetensors') fs.cpSync(path.join(src, f), path.join(dir, f), { recursive: true });
    const h = readStHeader(path.join(src, 'model.safetensors'));
    const out = new Map(
      [...h.tensors.keys()].map((k) => {
        const v = readF32(h, k);
        return [k, { dtype: 'BF16', shape: h.tensors.get(k)!.shape, data: Uint16Array.from(v, f32ToBf16) }];
      }),
    );
    writeSafetensors(path.join(dir, 'model.safetensors'), out);
    return dir;
  }

  it('feeds float32 copies made once (graph has no Cast of a weight) with the gradients of in-graph casts', async () => {
    const dir = bf16Copy();
    const cfg = { r: 4, alpha: 8, dropout: 0.1, targetModules: 'all-linear', useRslora: false } as const;
    const texts = ['the cat sat on the mat', 'hello world', 'a b c', 'one more text here'];
    const drop = { p: 0.1, seeds: Uint32Array.from([1, 2, 3, 4]) };
    const u = Float32Array.from({ length: 4 * 64 }, (_, i) => Math.sin(i));
    const gradsOf = async (model: EmbeddingModel) => {
      const enc = new LoraEncoder(model, cfg);
      const lora = enc.initLora(3);
      for (const [k, v] of lora) if (k.includes('lora_B')) v.fill(0.01);
      const g = await enc.backward(texts, lora, drop, u.subarray(0, 4 * enc.dim));
      const bytes = model.convertedBytes;
      await enc.dispose();
      return { g, bytes };
    };
    const local = EmbeddingModel.load(dir, { inThread: true, device: 'cpu' });
    expect(local.hostWeights).toBe(true);
    const built = buildTrainingBackward(local.ck, local.arch, {
      causal: true,
      lora: { modules: local.linears, r: 4, scaling: 2, dropout: 0.1 },
      feedWeights: true,
    });
    const onnx = toOnnx(built.outputs);
    const weightNames = new Set(built.fedWeights!.keys());
    expect(weightNames.size).toBe(local.ck.names().length);
    const nodes = onnxProto.onnx.ModelProto.decode(onnx.bytes).graph!.node!;
    expect(nodes.filter((n) => n.opType === 'Cast' && weightNames.has(n.input![0])).length).toBe(0);
    // Without fed weights (workers, GPUs, inference) the embedding rows are gathered in bf16, then cast:
    // the table itself is never converted.
    const inference = buildForward(local.ck, local.arch, { causal: true, pooled: true, dtype: 'float32' });
    const inodes = onnxProto.onnx.ModelProto.decode(toOnnx(inference.outputs).bytes).graph!.node!;
    expect(inodes.some((n) => n.opType === 'Cast' && n.input![0] === 'embed_tokens.weight')).toBe(false);
    const gatherOut = inodes.find((n) => n.opType === 'Gather' && n.input![0] === 'embed_tokens.weight')!
      .output![0];
    expect(inodes.some((n) => n.opType === 'Cast' && n.input![0] === gatherOut)).toBe(true);
    const fed = await gradsOf(local);
    expect(fed.bytes).toBe(
      local.ck.names().reduce((n, k) => n + local.ck.ref(k).shape.reduce((a, b) => a * b, 1) * 4, 0),
    );
    // The worker-session path keeps bf16 initializers and casts in the graph: the same numbers.
    const inGraph = await gradsOf(EmbeddingModel.load(dir, { device: 'cpu' }));
    let worst = 0;
    expect(inGraph.bytes).toBe(0);
    for (const [k, g] of inGraph.g) worst = Math.max(worst, maxAbsDiff(fed.g.get(k)!, g));
    expect(worst).toBe(0);
  });
});
