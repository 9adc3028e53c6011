import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { main } from '../../../src/main/cli/index';
import { EmbeddingModel } from '../../../src/main/models/model';
import { Store } from '../../../src/main/store';
import { latestCheckpoint, loadCheckpoint } from '../../../src/main/training/checkpoint';
import { parseTrainConfig, queryFormatter } from '../../../src/main/training/config';
import { loadTrainRows } from '../../../src/main/training/data';
import { loadEncoder } from '../../../src/main/training/job';
import { referenceLoss } from '../../../src/main/training/loss';
import { readTensors } from '../../../src/main/training/tensors';
import {
  parseSafetensorsHeader,
  readTensorBytes,
  type SafetensorsTensorIn,
  writeSafetensors,
} from '../../../src/main/engine/safetensors';
import { readRunJson, runTraining, writeRunJson } from '../../../src/main/training/trainer';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { pullModel } from '../../../src/main/models/hub';
import { hubServer, SHA } from '../models/hub-server';
import { syntheticTask } from './synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');

/** A run folder whose adapter is the fixture's (written by peft itself). */
function fixtureRun(model = MODEL): string {
  const run = path.join(tmpDir(), 'run');
  writeRunJson(run, { model } as never, {});
  fs.cpSync(path.join(model, 'adapter'), path.join(run, 'adapter'), { recursive: true });
  return run;
}

let stdout = '';
let stderr = '';
beforeEach(() => {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('embedsmith export', () => {
  it('merged: equals peft merge_and_unload (fixture merged.safetensors) and is a complete model folder', async () => {
    const run = fixtureRun();
    const out = path.join(tmpDir(), 'merged');
    expect(await main(['export', 'merged', run, '--out', out, '--json', '--home', tmpDir()])).toBe(0);
    expect(JSON.parse(stdout).merged).toBe(14);
    const got = readTensors(path.join(out, 'model.safetensors'));
    const want = readTensors(path.join(MODEL, 'merged.safetensors'));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    let worst = 0;
    for (const [k, t] of want) {
      const g = got.get(k)?.data as Float32Array;
      for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(g[i] - t.data[i]));
    }
    expect(worst).toBeLessThan(1e-6);
    for (const f of [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'modules.json',
      '1_Pooling/config.json',
    ])
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    // An existing non-empty --out is refused.
    expect(await main(['export', 'merged', run, '--out', out, '--home', tmpDir()])).toBe(1);
  });

  it('onnx: the exported graph reproduces the merged model hidden states', async () => {
    const run = fixtureRun();
    const out = path.join(tmpDir(), 'onnx');
    expect(await main(['export', 'onnx', run, '--out', out, '--home', tmpDir()])).toBe(0);
    const cases = readTensors(path.join(MODEL, 'cases.safetensors'));
    const ids = cases.get('lora_batch.input_ids')?.data as Float32Array;
    const mask = cases.get('lora_batch.attention_mask')?.data as Float32Array;
    const want = cases.get('merged.last_hidden_state')?.data as Float32Array;
    const s = await ort.InferenceSession.create(path.join(out, 'onnx/model.onnx'));
    const i64 = (a: ArrayLike<number>) => BigInt64Array.from(Array.from(a, (x) => BigInt(x)));
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', i64(ids), [6, 16]),
      attention_mask: new ort.Tensor('int64', i64(mask), [6, 16]),
    };
    if (s.inputNames.includes('position_ids'))
      feeds.position_ids = new ort.Tensor(
        'int64',
        i64(Array.from({ length: 96 }, (_, i) => i % 16)),
        [6, 16],
      );
    const r = await s.run(feeds);
    const h = r.last_hidden_state.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++)
      if (mask[Math.floor(i / 64)]) worst = Math.max(worst, Math.abs(h[i] - want[i]));
    expect(worst).toBeLessThan(1e-4);
    await s.release();
  });

  it('dataset: one file per split in the sentence-transformers and FlagEmbedding layouts', async () => {
    const home = tmpDir();
    const store = Store.open(path.join(home, 'embedsmith.db'));
    const ds = store.datasets.create('syn');
    const rows = syntheticTask(30, 3);
    store.examples.insertMany(
      ds.id,
      rows.map((e, i) => ({ ...e, split: i < 20 ? ('train' as const) : ('test' as const) })),
    );
    store.close();
    const st = path.join(home, 'st');
    expect(
      await main([
        'export',
        'dataset',
        'syn',
        '--layout',
        'sentence-transformers',
        '--out',
        st,
        '--home',
        home,
      ]),
    ).toBe(0);
    const train = fs
      .readFileSync(path.join(st, 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(train.length).toBe(20);
    expect(Object.keys(train[0]).sort()).toEqual(['anchor', 'negative', 'positive']);
    expect(fs.readFileSync(path.join(st, 'test.jsonl'), 'utf8').trim().split('\n').length).toBe(10);
    const fe = path.join(home, 'fe');
    expect(
      await main(['export', 'dataset', 'syn', '--layout', 'flagembedding', '--out', fe, '--home', home]),
    ).toBe(0);
    const first = JSON.parse(fs.readFileSync(path.join(fe, 'train.jsonl'), 'utf8').split('\n')[0]);
    expect(first.prompt).toBe('Retrieve the mapped words');
    expect(Array.isArray(first.pos) && Array.isArray(first.neg)).toBe(true);
    expect(await main(['export', 'dataset', 'syn', '--layout', 'bogus', '--out', fe, '--home', home])).toBe(
      2,
    );
  });

  it('a trained adapter reloads (models API) to the same embeddings, and the merged export agrees', async () => {
    const dir = tmpDir();
    const store = Store.open(path.join(dir, 'db.sqlite'));
    const ds = store.datasets.create('syn');
    store.examples.insertMany(ds.id, syntheticTask(24, 9));
    const rows = loadTrainRows(store, ['syn'], queryFormatter(MODEL));
    store.close();
    const config = parseTrainConfig({
      datasets: ['syn'],
      model: MODEL,
      loraRank: 4,
      loraAlpha: 8,
      loraDropout: 0.1,
      targetModules: ['all-linear'],
      batchSize: 8,
      chunkSize: 4,
      lr: 1e-2,
      warmup: 0,
      weightDecay: 0.1,
      temperature: 0.05,
      epochs: 1,
      maxLength: 32,
      out: path.join(dir, 'run'),
    });
    const enc = await loadEncoder(config);
    const res = await runTraining({
      config,
      rows,
      encoder: enc,
      loss: referenceLoss,
      runDir: config.out,
      resume: false,
    });
    expect(res.step).toBe(3);
    const final = loadCheckpoint(latestCheckpoint(config.out) as string, enc.params).lora;
    await enc.dispose?.();
    // Eval-mode embeddings from the training encoder (dropout off).
    const evalEnc = await loadEncoder({ ...config, loraDropout: 0 });
    const texts = rows.slice(0, 5).map((r) => r.query);
    const inTraining = await evalEnc.embed(texts, final, null);
    await evalEnc.dispose?.();
    const model = EmbeddingModel.load(MODEL, { maxLength: 32, inThread: true });
    const adapter = model.loadAdapter(path.join(config.out, 'adapter'));
    const reloaded = await model.embed(texts, { adapter });
    const base = await model.embed(texts);
    await model.dispose();
    const maxDiff = (a: Float32Array, b: Float32Array) =>
      Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
    expect(maxDiff(reloaded, inTraining)).toBeLessThan(1e-5);
    expect(maxDiff(base, inTraining)).toBeGreaterThan(1e-3);
    const out = path.join(dir, 'merged');
    expect(await main(['export', 'merged', config.out, '--out', out, '--home', dir])).toBe(0);
    const merged = EmbeddingModel.load(out, { maxLength: 32, inThread: true });
    const viaMerged = await merged.embed(texts);
    await merged.dispose();
    expect(maxDiff(viaMerged, inTraining)).toBeLessThan(1e-4);
  });

  /** A workspace with a synthetic dataset, and `train` run on `model` for 2 steps (cwd as given). */
  async function trainRun(home: string, model: string, out: string) {
    const store = Store.open(path.join(home, 'embedsmith.db'));
    const ds = store.datasets.create('syn');
    store.examples.insertMany(ds.id, syntheticTask(24, 3));
    store.close();
    const args = ['train', '--home', home, '--dataset', 'syn', '--model', model, '--out', out];
    const opts = [
      '--batch-size',
      '8',
      '--chunk-size',
      '8',
      '--max-steps',
      '2',
      '--warmup',
      '0',
      '--max-length',
      '24',
    ];
    expect(await main([...args, ...opts, '--device', 'cpu', '--json']), stderr).toBe(0);
  }

  it('adapter_config: all-linear resolved to module names (as PEFT saves it), base model as an absolute path; export merged from another cwd', async () => {
    const root = tmpDir();
    fs.cpSync(MODEL, path.join(root, 'fx', 'mistral'), { recursive: true });
    const cwd = process.cwd();
    try {
      process.chdir(root);
      await trainRun(path.join(root, 'home'), 'fx/mistral', 'run');
      const cfg = JSON.parse(
        fs.readFileSync(path.join(root, 'run', 'adapter', 'adapter_config.json'), 'utf8'),
      );
      // PEFT's _maybe_include_all_linear_layers keeps each linear's last name component; the fixture adapter
      // (written by PEFT for the same 7 modules) carries the same set.
      const peft = JSON.parse(fs.readFileSync(path.join(MODEL, 'adapter', 'adapter_config.json'), 'utf8'));
      expect([...cfg.target_modules].sort()).toEqual([...peft.target_modules].sort());
      expect(cfg.base_model_name_or_path).toBe(path.join(root, 'fx', 'mistral'));
      const ck = latestCheckpoint(path.join(root, 'run')) as string;
      const ckCfg = JSON.parse(fs.readFileSync(path.join(ck, 'adapter', 'adapter_config.json'), 'utf8'));
      expect(ckCfg.base_model_name_or_path).toBe(path.join(root, 'fx', 'mistral'));
      process.chdir(tmpDir());
      const out = path.join(root, 'merged');
      expect(await main(['export', 'merged', path.join(root, 'run'), '--out', out, '--home', tmpDir()])).toBe(
        0,
      );
      expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('adapter_config of a pulled model records its hub id and revision', async () => {
    const hub = await hubServer();
    const home = tmpDir();
    try {
      await pullModel(path.join(home, 'models'), 'acme/tiny-bert', { endpoint: hub.url });
    } finally {
      await hub.close();
    }
    await trainRun(home, path.join(home, 'models', 'acme--tiny-bert'), path.join(home, 'run'));
    const cfg = JSON.parse(fs.readFileSync(path.join(home, 'run', 'adapter', 'adapter_config.json'), 'utf8'));
    expect(cfg.base_model_name_or_path).toBe('acme/tiny-bert');
    expect(cfg.revision).toBe(SHA);
    expect([...cfg.target_modules].sort()).toEqual(['dense', 'key', 'query', 'value']);
    // run.json keeps the folder to load (absolute) and names the hub model too.
    const run = readRunJson(path.join(home, 'run'));
    expect(run.config.model).toBe(path.join(home, 'models', 'acme--tiny-bert'));
    expect(run.baseModel).toEqual({ name: 'acme/tiny-bert', revision: SHA });
  });

  it('merged: every tensor it does not merge is copied byte for byte in its own dtype (I64, I32, U8, BOOL, F16)', async () => {
    // The base gains buffers of the dtypes real checkpoints carry (position_ids I64, masks U8/BOOL, …).
    const base = path.join(tmpDir(), 'base');
    fs.cpSync(MODEL, base, { recursive: true });
    const file = path.join(base, 'model.safetensors');
    const h = parseSafetensorsHeader(file);
    const tensors = new Map<string, SafetensorsTensorIn>(
      [...h.tensors].map(([k, e]) => [
        k,
        { dtype: e.dtype as string, shape: e.shape, data: readTensorBytes(file, e) },
      ]),
    );
    // 2^53 + 1 and −3 do not survive a trip through float32.
    const big = BigInt64Array.from([0n, 1n, 2n ** 53n + 1n, -3n]);
    tensors.set('extra.position_ids', { dtype: 'I64', shape: [1, 4], data: big });
    tensors.set('extra.i32', { dtype: 'I32', shape: [3], data: Int32Array.from([16777217, -5, 7]) });
    tensors.set('extra.u8', { dtype: 'U8', shape: [4], data: Uint8Array.from([0, 1, 200, 255]) });
    tensors.set('extra.bool', { dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) });
    tensors.set('extra.f16', { dtype: 'F16', shape: [2], data: Uint16Array.from([0x3c00, 0x7bff]) });
    writeSafetensors(file, tensors, { metadata: { format: 'pt' }, sortKeys: true });
    const out = path.join(tmpDir(), 'merged');
    expect(
      await main(['export', 'merged', fixtureRun(base), '--out', out, '--json', '--home', tmpDir()]),
    ).toBe(0);
    const got = parseSafetensorsHeader(path.join(out, 'model.safetensors'));
    const src = parseSafetensorsHeader(file);
    expect([...got.tensors.keys()].sort()).toEqual([...src.tensors.keys()].sort());
    const merged = JSON.parse(stdout).merged;
    let copied = 0;
    for (const [k, e] of src.tensors) {
      const g = got.tensors.get(k)!;
      expect(g.dtype, k).toBe(e.dtype);
      expect(g.shape, k).toEqual(e.shape);
      if (/_proj\.weight$/.test(k)) continue; // merged ones are compared to PEFT's merge above
      expect(Buffer.compare(readTensorBytes(got.file, g), readTensorBytes(file, e)), k).toBe(0);
      copied++;
    }
    expect(copied).toBe(src.tensors.size - merged);
  });

  it.each(['mistral', 'bert'])(
    '%s merged: sentence-transformers files in the layout the fixtures carry, with the query prompt; our loader agrees',
    async (name) => {
      const fixture = path.join(FIXTURES, 'parity', name);
      // A base without sentence-transformers files: the export writes them (nothing to copy).
      const base = path.join(tmpDir(), name);
      fs.cpSync(fixture, base, { recursive: true });
      for (const f of ['modules.json', 'config_sentence_transformers.json', 'sentence_bert_config.json'])
        fs.rmSync(path.join(base, f));
      fs.rmSync(path.join(base, '1_Pooling'), { recursive: true });
      const out = path.join(tmpDir(), 'merged');
      const ins = 'Given a question, retrieve passages that answer it';
      const args = ['export', 'merged', fixtureRun(base), '--out', out, '--instruction', ins];
      expect(await main([...args, '--home', tmpDir()]), stderr).toBe(0);
      const json = (d: string, f: string) => JSON.parse(fs.readFileSync(path.join(d, f), 'utf8'));
      for (const f of ['modules.json', '1_Pooling/config.json', 'sentence_bert_config.json'])
        expect(json(out, f), f).toEqual(json(fixture, f));
      const cst = json(out, 'config_sentence_transformers.json');
      expect(cst).toEqual({
        ...json(fixture, 'config_sentence_transformers.json'),
        prompts: { query: `Instruct: ${ins}\nQuery: ` },
      });
      // Our own loader reads the merged folder (its prompt, its tokenizer) to base + adapter's embeddings.
      const texts = ['the cat sat on the mat', 'hello world', 'a b c d e f and more words here'];
      const m0 = EmbeddingModel.load(fixture, { inThread: true });
      const adapter = m0.loadAdapter(path.join(fixture, 'adapter'));
      const wantQ = await m0.embed(texts, { role: 'query', instruction: ins, adapter });
      const wantD = await m0.embed(texts, { adapter });
      await m0.dispose();
      const m1 = EmbeddingModel.load(out, { inThread: true });
      const gotQ = await m1.embed(texts, { role: 'query' });
      const gotD = await m1.embed(texts);
      await m1.dispose();
      const maxDiff = (a: Float32Array, b: Float32Array) =>
        Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
      expect(maxDiff(gotQ, wantQ)).toBeLessThan(1e-5);
      expect(maxDiff(gotD, wantD)).toBeLessThan(1e-5);
      // A stock tokenizer on the merged folder ends decoder inputs with EOS (what lasttoken pools), pads left.
      const tok = new Tokenizer(json(out, 'tokenizer.json'), json(out, 'tokenizer_config.json'));
      const ids = tok.encode('hello world').ids;
      if (name === 'mistral') {
        expect(ids.at(-1)).toBe(2);
        expect(json(out, 'tokenizer_config.json').padding_side).toBe('left');
      } else expect(ids.at(-1)).toBe(102);
    },
  );

  it('adapter: PEFT files plus tokenizer and sentence-transformers files; reloads to the same embeddings', async () => {
    const run = fixtureRun();
    const out = path.join(tmpDir(), 'adapter');
    expect(await main(['export', 'adapter', run, '--out', out, '--home', tmpDir()]), stderr).toBe(0);
    const json = (d: string, f: string) => JSON.parse(fs.readFileSync(path.join(d, f), 'utf8'));
    for (const f of ['modules.json', '1_Pooling/config.json', 'sentence_bert_config.json'])
      expect(json(out, f), f).toEqual(json(MODEL, f));
    expect(json(out, 'config_sentence_transformers.json').prompts.query).toMatch(/^Instruct: .+\nQuery: $/);
    // PEFT wrote "" there; the export names the base the run used (absolute, so from_pretrained finds it).
    expect(json(out, 'adapter_config.json')).toEqual({
      ...json(path.join(run, 'adapter'), 'adapter_config.json'),
      base_model_name_or_path: MODEL,
    });
    const m = EmbeddingModel.load(MODEL, { inThread: true });
    const texts = ['hello world', 'the cat sat on the mat'];
    const a = await m.embed(texts, { adapter: m.loadAdapter(out) });
    const b = await m.embed(texts, { adapter: m.loadAdapter(path.join(run, 'adapter')) });
    await m.dispose();
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('a run.json written before models were recorded absolute (relative path) still exports from another cwd', async () => {
    const root = tmpDir();
    fs.cpSync(MODEL, path.join(root, 'fx', 'mistral'), { recursive: true });
    const run = path.join(root, 'run');
    fs.mkdirSync(run);
    fs.writeFileSync(
      path.join(run, 'run.json'),
      JSON.stringify({ version: 1, config: { model: 'fx/mistral' } }),
    );
    fs.cpSync(path.join(MODEL, 'adapter'), path.join(run, 'adapter'), { recursive: true });
    const out = path.join(tmpDir(), 'merged');
    expect(await main(['export', 'merged', run, '--out', out, '--home', tmpDir()]), stderr).toBe(0);
    // Nothing to find: the message names the recorded path.
    fs.rmSync(path.join(root, 'fx'), { recursive: true });
    expect(
      await main(['export', 'merged', run, '--out', path.join(tmpDir(), 'm2'), '--home', tmpDir()]),
    ).toBe(1);
    expect(stderr).toContain('its base model fx/mistral is gone');
  });
});
