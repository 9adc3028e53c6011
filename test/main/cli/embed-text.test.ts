// `embed` of a .txt keeps one row per line and prepares texts exactly as eval does. The demo model has a
// real sentencepiece (Llama-2) tokenizer, for which trailing spaces are tokens.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { ensureDemoModel } from '../../../src/main/demo';
import { ModelEmbedder } from '../../../src/main/eval/model-embedder';
import { loadBeir } from '../../../src/main/eval/sources';
import { readNpy } from '../../../src/main/models/io';
import { EmbeddingModel } from '../../../src/main/models/model';
import { tmpDir } from '../../helpers/tmp';

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

describe('embedsmith embed: texts as eval prepares them', () => {
  it('.txt: one row per line (empty lines embed as empty text, with a warning), documents like a BEIR corpus', async () => {
    const home = tmpDir();
    const demo = ensureDemoModel(path.join(home, 'models'));
    const lines = ['the cat sat on the mat  ', '', 'hello world ', '  rockets reach orbit', ''];
    const input = path.join(home, 'in.txt');
    // Five lines, the last one empty, then the final newline.
    fs.writeFileSync(input, `${lines.join('\n')}\n`);
    const out = path.join(home, 'out.npy');
    const args = ['embed', '--home', home, '--model', demo.dir, '--input', input, '--out', out];
    expect(await main([...args, '--device', 'cpu', '--json']), stderr).toBe(0);
    expect(JSON.parse(stdout).count).toBe(5);
    expect(stderr.match(/warning: 2 empty texts/g)?.length).toBe(1);
    const got = readNpy(out);
    expect(got.shape[0]).toBe(5);
    // Eval's path for the same documents: a BEIR corpus with those texts, embedded by the evaluator.
    const beir = tmpDir();
    fs.mkdirSync(path.join(beir, 'qrels'));
    fs.writeFileSync(
      path.join(beir, 'corpus.jsonl'),
      lines.map((t, i) => JSON.stringify({ _id: `d${i}`, text: t })).join('\n'),
    );
    fs.writeFileSync(path.join(beir, 'queries.jsonl'), '{"_id":"q","text":"x"}\n');
    fs.writeFileSync(path.join(beir, 'qrels/test.tsv'), 'q\td0\t1\n');
    const task = loadBeir(beir);
    const model = EmbeddingModel.load(demo.dir, { inThread: true });
    const emb = new ModelEmbedder(model, null, null, 16, false);
    const want = await emb.embed(
      task.corpus.map((d) => d.text),
      { role: 'document' },
    );
    const d = got.shape[1];
    let worst = 0;
    want.forEach((v, i) => {
      for (let j = 0; j < d; j++) worst = Math.max(worst, Math.abs(v[j] - got.data[i * d + j]));
    });
    expect(worst).toBeLessThan(1e-6);
    // The precondition that makes this meaningful: this tokenizer sees trailing spaces.
    expect(model.tokenize(['hello world '])[0]).not.toEqual(model.tokenize(['hello world'])[0]);
    await model.dispose();
  });
});
