import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { ModelEmbedder } from '../../../src/main/eval/model-embedder';
import { EmbeddingModel } from '../../../src/main/models/model';
import { readF32, readStHeader, writeSafetensors } from '../../../src/main/models/safetensors';
import { captureOutput } from '../../helpers/capture';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

// The exported job's train.py writes output/adapter/ with PEFT's own key layout (what the parity fixtures'
// adapter, written by PeftModel.save_pretrained, holds) and a newer PEFT's adapter_config.json, and
// output/final/, a sentence-transformers folder whose adapter files transformers' PEFT integration writes
// (keys over the bare model, no base_model.model. prefix). `eval --adapter` must read both.
const MODEL = path.join(FIXTURES, 'parity/mistral');
const PEFT_ADAPTER = path.join(MODEL, 'adapter');

/** adapter_config.json as a recent PEFT writes it (fields PEFT 0.10 did not have). */
function newerPeftConfig(): Record<string, unknown> {
  const c = JSON.parse(fs.readFileSync(path.join(PEFT_ADAPTER, 'adapter_config.json'), 'utf8'));
  return {
    ...c,
    base_model_name_or_path: MODEL,
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    lora_bias: false,
    peft_version: '0.17.1',
    qalora_group_size: 16,
    target_parameters: null,
    trainable_token_indices: null,
    use_qalora: false,
  };
}

/** Copies the fixture adapter's tensors under other key names into dir, with the given config. */
function writeAdapter(dir: string, rename: (key: string) => string, config: Record<string, unknown>) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(PEFT_ADAPTER, 'adapter_model.safetensors');
  const h = readStHeader(file);
  writeSafetensors(
    path.join(dir, 'adapter_model.safetensors'),
    new Map([...h.tensors.entries()].map(([k, e]) => [rename(k), { shape: e.shape, data: readF32(h, k) }])),
  );
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
}

function jobOutput(): { adapter: string; final: string } {
  const out = path.join(tmpDir(), 'output');
  const adapter = path.join(out, 'adapter');
  writeAdapter(adapter, (k) => k, newerPeftConfig());
  const final = path.join(out, 'final');
  writeAdapter(final, (k) => k.replace(/^base_model\.model\./, ''), newerPeftConfig());
  // the sentence-transformers files beside it in that folder
  for (const f of ['modules.json', 'sentence_bert_config.json', 'config_sentence_transformers.json'])
    fs.copyFileSync(path.join(MODEL, f), path.join(final, f));
  fs.cpSync(path.join(MODEL, '1_Pooling'), path.join(final, '1_Pooling'), { recursive: true });
  return { adapter, final };
}

const io = captureOutput();

describe('eval --adapter reads the adapter the exported job writes', () => {
  it('both layouts give the embeddings of PEFT’s own adapter (not the base model’s)', async () => {
    const { adapter, final } = jobOutput();
    const model = EmbeddingModel.load(MODEL, { device: 'cpu', inThread: true });
    try {
      const texts = ['hello world', 'the cat sat on the mat'];
      const emb = (dir: string | null) =>
        ModelEmbedder.withAdapter(model, dir).embed(texts, { role: 'query', instruction: 'Find it' });
      const want = await emb(PEFT_ADAPTER);
      const base = await emb(null);
      expect([...want[0]]).not.toEqual([...base[0]]);
      for (const dir of [adapter, final]) {
        const got = await emb(dir);
        for (let i = 0; i < texts.length; i++) expect([...got[i]], dir).toEqual([...want[i]]);
      }
    } finally {
      await model.dispose();
    }
  });

  it('embedsmith eval --adapter output/adapter --adapter output/final: the scores of PEFT’s adapter', async () => {
    const { adapter, final } = jobOutput();
    const task = path.join(tmpDir(), 'pairs.jsonl');
    const words = ['cat', 'dog', 'sun', 'rain', 'bread', 'tea', 'road', 'song'];
    fs.writeFileSync(
      task,
      words
        .map((w, i) =>
          JSON.stringify({ sentence1: `the ${w}`, sentence2: `a ${words[(i * 3) % 8]} here`, score: i % 5 }),
        )
        .join('\n'),
    );
    const code = await main([
      'eval',
      '--home',
      tmpDir(),
      '--model',
      MODEL,
      '--adapter',
      PEFT_ADAPTER,
      '--adapter',
      adapter,
      '--adapter',
      final,
      '--base',
      '--task',
      `sts:${task}`,
      '--device',
      'cpu',
      '--json',
    ]);
    expect(code, io.stderr).toBe(0);
    const runs = JSON.parse(io.stdout).runs as { revision?: string; results: { main_score: number }[] }[];
    expect(runs.length).toBe(4);
    const score = (i: number) => runs[i].results[0].main_score;
    expect(Number.isFinite(score(0))).toBe(true);
    expect(score(2)).toBe(score(1));
    expect(score(3)).toBe(score(1));
    expect(score(1)).not.toBe(score(0));
  });
});
