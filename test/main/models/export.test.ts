// Our ONNX export, loaded by @huggingface/transformers (transformers.js) from a local folder, must give the
// same embeddings as our own embed().
import fs from 'node:fs';
import path from 'node:path';
import { AutoModel, AutoTokenizer, env, pipeline } from '@huggingface/transformers';
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
    '%s: AutoModel + AutoTokenizer last-token embeddings match (external data)',
    async (name) => {
      const model = EmbeddingModel.load(path.join(PARITY, name), { inThread: true });
      const adapter = model.loadAdapter(path.join(PARITY, name, 'adapter'));
      const root = tmpDir();
      const { files } = exportOnnx(model, path.join(root, name), { adapter });
      expect(files).toContain('onnx/model.onnx_data');
      expect(fs.statSync(path.join(root, name, 'onnx', 'model.onnx')).size).toBeLessThan(200_000);
      env.allowRemoteModels = false;
      env.localModelPath = root;
      const tok = await AutoTokenizer.from_pretrained(name, { local_files_only: true });
      const tj = await AutoModel.from_pretrained(name, { local_files_only: true, dtype: 'fp32' });
      const ours = await model.embed(TEXTS, { role: 'query', instruction: 'find' });
      const oursLora = await model.embed(TEXTS, { role: 'query', instruction: 'find', adapter });
      const H = model.dim;
      const theirs = new Float32Array(TEXTS.length * H);
      for (let t = 0; t < TEXTS.length; t++) {
        // Same prompt, and EOS appended as our last-token pooling does (this tokenizer adds BOS only).
        const enc = await tok(`${model.prompt('query', 'find')(TEXTS[t])} </s>`);
        const out = await tj(enc);
        const h = out.last_hidden_state;
        const s = h.dims[1];
        const v = (h.data as Float32Array).slice((s - 1) * H, s * H);
        const n = Math.hypot(...v);
        for (let i = 0; i < H; i++) theirs[t * H + i] = v[i] / n;
      }
      const d = maxDiff(theirs, oursLora);
      console.log(`${name} export vs embed max|diff| ${d.toExponential(2)}`);
      expect(d).toBeLessThan(1e-5);
      expect(maxDiff(theirs, ours)).toBeGreaterThan(1e-2);
      await tj.dispose();
      await model.dispose();
    },
  );
});
