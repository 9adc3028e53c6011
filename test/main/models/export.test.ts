// Our ONNX export, loaded by @huggingface/transformers (transformers.js) from a local folder, must give the
// same embeddings as our own embed().
import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env, pipeline } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../../src/main/models/export';
import { EmbeddingModel } from '../../../src/main/models/model';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

const PARITY = path.join(FIXTURES, 'parity');
const TEXTS = ['the cat sat on the mat', 'hello world', 'a b c d e f unknownword and more words here'];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>) {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]));
  return w;
}

describe('ONNX export for transformers.js', () => {
  it('bert: feature-extraction pipeline (mean pooling, normalize) matches our embed, with LoRA merged', async () => {
    const model = EmbeddingModel.load(path.join(PARITY, 'bert'), { inThread: true });
    const adapter = model.loadAdapter(path.join(PARITY, 'bert', 'adapter'));
    const root = tmpDir();
    const { files } = exportOnnx(model, path.join(root, 'bert-lora'), { adapter, weights: 'inline' });
    expect(files).toContain('onnx/model.onnx');
    expect(files).not.toContain('onnx/model.onnx_data');
    env.allowRemoteModels = false;
    env.localModelPath = root;
    const pipe = await pipeline('feature-extraction', 'bert-lora', { local_files_only: true, dtype: 'fp32' });
    const theirs = await pipe(TEXTS, { pooling: 'mean', normalize: true });
    const ours = await model.embed(TEXTS, { adapter });
    const d = maxDiff(theirs.data as Float32Array, ours);
    console.log(`bert export vs embed max|diff| ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-5);
    // The adapter matters: without it the embeddings differ.
    expect(maxDiff(await model.embed(TEXTS), ours)).toBeGreaterThan(1e-2);
    await pipe.dispose();
    await model.dispose();
  });

  it('xlm-roberta: positions computed in-graph (padding_idx offset) match our fed positions', async () => {
    const root = tmpDir();
    const src = path.join(PARITY, 'bert');
    const dir = path.join(root, 'xlmr-src');
    fs.cpSync(src, dir, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ ...cfg, model_type: 'xlm-roberta', architectures: ['XLMRobertaModel'] }),
    );
    const model = EmbeddingModel.load(dir, { inThread: true });
    exportOnnx(model, path.join(root, 'xlmr'), { weights: 'inline' });
    env.allowRemoteModels = false;
    env.localModelPath = root;
    const pipe = await pipeline('feature-extraction', 'xlmr', { local_files_only: true, dtype: 'fp32' });
    const theirs = await pipe(TEXTS, { pooling: 'mean', normalize: true });
    const ours = await model.embed(TEXTS);
    const d = maxDiff(theirs.data as Float32Array, ours);
    console.log(`xlm-roberta export vs embed max|diff| ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-5);
    await pipe.dispose();
    await model.dispose();
  });

  it.each(['mistral', 'qwen2'])(
    '%s: the stock feature-extraction pipeline, batched (last_token, normalize), gives our embeddings',
    async (name) => {
      const model = EmbeddingModel.load(path.join(PARITY, name), { inThread: true });
      const adapter = model.loadAdapter(path.join(PARITY, name, 'adapter'));
      const root = tmpDir();
      const { files } = exportOnnx(model, path.join(root, name), { adapter });
      expect(files).toContain('onnx/model.onnx_data');
      expect(fs.statSync(path.join(root, name, 'onnx', 'model.onnx')).size).toBeLessThan(200_000);
      env.allowRemoteModels = false;
      env.localModelPath = root;
      const pipe = await pipeline('feature-extraction', name, { local_files_only: true, dtype: 'fp32' });
      // Several texts of different lengths in one call: padding is in play.
      const docs = await pipe(TEXTS, { pooling: 'last_token', normalize: true });
      const oursDocs = await model.embed(TEXTS, { adapter });
      const d = maxDiff(docs.data as Float32Array, oursDocs);
      // Queries: the user applies the documented prompt, nothing else.
      const prompt = model.prompt('query', 'find');
      const queries = await pipe(TEXTS.map(prompt), { pooling: 'last_token', normalize: true });
      const oursQueries = await model.embed(TEXTS, { role: 'query', instruction: 'find', adapter });
      const dq = maxDiff(queries.data as Float32Array, oursQueries);
      console.log(
        `${name} export vs embed max|diff| docs ${d.toExponential(2)} queries ${dq.toExponential(2)}`,
      );
      expect(d).toBeLessThan(1e-5);
      expect(dq).toBeLessThan(1e-5);
      // The adapter matters: without it the embeddings differ.
      expect(maxDiff(await model.embed(TEXTS), oursDocs)).toBeGreaterThan(1e-2);
      // Our own loader reads the exported tokenizer to the same ids (EOS once, not twice).
      const tok = await AutoTokenizer.from_pretrained(name, { local_files_only: true });
      const enc = tok('hello world');
      expect(Array.from(enc.input_ids.data as BigInt64Array, Number)).toEqual(
        model.tokenize(['hello world'])[0],
      );
      await pipe.dispose();
      await model.dispose();
    },
  );

  it.each([
    ['no post-processor', null],
    [
      'a ByteLevel post-processor',
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  ])('mistral with %s: the EOS template is added after it, and the pipeline still agrees', async (_, pp) => {
    const root = tmpDir();
    const src = path.join(root, 'src');
    fs.cpSync(path.join(PARITY, 'mistral'), src, { recursive: true });
    const tj = JSON.parse(fs.readFileSync(path.join(src, 'tokenizer.json'), 'utf8'));
    fs.writeFileSync(path.join(src, 'tokenizer.json'), JSON.stringify({ ...tj, post_processor: pp }));
    const model = EmbeddingModel.load(src, { inThread: true });
    exportOnnx(model, path.join(root, 'out'), { weights: 'inline' });
    env.allowRemoteModels = false;
    env.localModelPath = root;
    const pipe = await pipeline('feature-extraction', 'out', { local_files_only: true, dtype: 'fp32' });
    const theirs = await pipe(TEXTS, { pooling: 'last_token', normalize: true });
    const ours = await model.embed(TEXTS);
    expect(maxDiff(theirs.data as Float32Array, ours)).toBeLessThan(1e-5);
    await pipe.dispose();
    await model.dispose();
  });

  it('bert with CLS pooling: the pipeline batched with pooling "cls" agrees, and 1_Pooling says cls_token', async () => {
    const root = tmpDir();
    const src = path.join(root, 'src');
    fs.cpSync(path.join(PARITY, 'bert'), src, { recursive: true });
    const pc = path.join(src, '1_Pooling', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(pc, 'utf8'));
    fs.writeFileSync(
      pc,
      JSON.stringify({ ...cfg, pooling_mode_mean_tokens: false, pooling_mode_cls_token: true }),
    );
    const model = EmbeddingModel.load(src, { inThread: true });
    expect(model.pooling).toBe('cls');
    exportOnnx(model, path.join(root, 'out'), { weights: 'inline' });
    const written = JSON.parse(fs.readFileSync(path.join(root, 'out', '1_Pooling', 'config.json'), 'utf8'));
    expect([written.pooling_mode_cls_token, written.pooling_mode_mean_tokens]).toEqual([true, false]);
    env.allowRemoteModels = false;
    env.localModelPath = root;
    const pipe = await pipeline('feature-extraction', 'out', { local_files_only: true, dtype: 'fp32' });
    const theirs = await pipe(TEXTS, { pooling: 'cls', normalize: true });
    expect(maxDiff(theirs.data as Float32Array, await model.embed(TEXTS))).toBeLessThan(1e-5);
    await pipe.dispose();
    await model.dispose();
  });
});
