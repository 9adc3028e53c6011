import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelFolder } from '../../../src/main/models/model-folder';
import { EmbeddingModel } from '../../../src/main/models/model';
import {
  DEFAULT_QUERY_TEMPLATE,
  padBatch,
  promptFor,
  readSentenceTransformers,
} from '../../../src/main/models/pooling';
import { architectureFor, SUPPORTED_MODEL_TYPES } from '../../../src/main/models/registry';
import {
  readF32,
  readStHeader,
  type StTensorOut,
  writeSafetensors,
} from '../../../src/main/models/safetensors';
import { EmbedTokenizer } from '../../../src/main/models/tokenizer';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

const PARITY = path.join(FIXTURES, 'parity');
const SIDE_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'modules.json',
  '1_Pooling',
  'config_sentence_transformers.json',
  'sentence_bert_config.json',
];

/** A copy of a fixture folder whose weights are rewritten by `edit` (names, dtypes, shards). */
function variant(
  name: string,
  write: (tensors: Map<string, StTensorOut>, dir: string) => void,
  cfg: (c: Record<string, unknown>) => void = () => {},
): string {
  const src = path.join(PARITY, name);
  const dir = tmpDir();
  for (const f of SIDE_FILES) fs.cpSync(path.join(src, f), path.join(dir, f), { recursive: true });
  const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  cfg(c);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c));
  const h = readStHeader(path.join(src, 'model.safetensors'));
  const tensors = new Map<string, StTensorOut>(
    [...h.tensors].map(([k, e]) => [k, { shape: e.shape, data: readF32(h, k) }]),
  );
  write(tensors, dir);
  return dir;
}

/** Writes F16 or BF16 safetensors by hand (our writer only writes F32). */
function writeHalf(file: string, tensors: Map<string, StTensorOut>, dtype: 'F16' | 'BF16') {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const half = (v: number) => {
    f32[0] = v;
    const x = u32[0];
    if (dtype === 'BF16') return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    const sign = (x >>> 16) & 0x8000;
    const e = ((x >>> 23) & 0xff) - 112;
    if (e <= 0) return sign;
    return sign | ((e << 10) + Math.round((x & 0x7fffff) / 8192)); // + so a rounding carry reaches the exponent
  };
  const header: Record<string, unknown> = {};
  let off = 0;
  const bufs: Buffer[] = [];
  for (const [k, t] of tensors) {
    const b = Buffer.alloc(t.data.length * 2);
    for (let i = 0; i < t.data.length; i++) b.writeUInt16LE(half(t.data[i]) & 0xffff, i * 2);
    header[k] = { dtype, shape: t.shape, data_offsets: [off, off + b.length] };
    off += b.length;
    bufs.push(b);
  }
  const hs = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hs.length));
  fs.writeFileSync(file, Buffer.concat([len, hs, ...bufs]));
}

async function embedOnce(dir: string) {
  const m = EmbeddingModel.load(dir, { inThread: true });
  try {
    return await m.embed(['the cat sat', 'hello world of dogs and cats'], { role: 'document' });
  } finally {
    await m.dispose();
  }
}
const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0);

describe('checkpoint folders', () => {
  it('reads sharded checkpoints with model.-prefixed names (as *ForCausalLM saves them) identically', async () => {
    const ref = await embedOnce(path.join(PARITY, 'mistral'));
    const dir = variant('mistral', (t, d) => {
      const names = [...t.keys()];
      const half = Math.ceil(names.length / 2);
      const weightMap: Record<string, string> = {};
      names.forEach((n, i) => {
        weightMap[`model.${n}`] =
          i < half ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors';
      });
      const shard = (lo: number, hi: number) =>
        new Map(names.slice(lo, hi).map((n) => [`model.${n}`, t.get(n)!]));
      writeSafetensors(path.join(d, 'model-00001-of-00002.safetensors'), shard(0, half));
      writeSafetensors(path.join(d, 'model-00002-of-00002.safetensors'), shard(half, names.length));
      fs.writeFileSync(
        path.join(d, 'model.safetensors.index.json'),
        JSON.stringify({ metadata: {}, weight_map: weightMap }),
      );
    });
    expect(ModelFolder.open(dir).files).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    expect(maxDiff(await embedOnce(dir), ref)).toBe(0);
  });

  it.each(['F16', 'BF16'] as const)('runs %s weights (cast to float32 in the graph)', async (dtype) => {
    const ref = await embedOnce(path.join(PARITY, 'qwen2'));
    const dir = variant('qwen2', (t, d) => writeHalf(path.join(d, 'model.safetensors'), t, dtype));
    const ck = ModelFolder.open(dir);
    expect(ck.ref('norm.weight').dtype).toBe(dtype);
    // Decoding: within half a unit in the last place of the format.
    const orig = ModelFolder.open(path.join(PARITY, 'qwen2')).read('layers.0.mlp.up_proj.weight');
    const got = ck.read('layers.0.mlp.up_proj.weight');
    const ulp = dtype === 'F16' ? 2 ** -11 : 2 ** -8;
    // (the test writer flushes F16 subnormals, below 2^-14, to zero)
    expect(orig.every((v, i) => Math.abs(got[i] - v) <= Math.abs(v) * ulp + 2 ** -14)).toBe(true);
    const d = maxDiff(await embedOnce(dir), ref);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(5e-2);
  });

  it('computes in float16 with norms in float32 (dtype option), close to float32', async () => {
    for (const name of ['mistral', 'bert']) {
      const ref = await embedOnce(path.join(PARITY, name));
      const m = EmbeddingModel.load(path.join(PARITY, name), { inThread: true, dtype: 'float16' });
      const e = await m.embed(['the cat sat', 'hello world of dogs and cats'], { role: 'document' });
      await m.dispose();
      const d = maxDiff(e, ref);
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThan(5e-3);
    }
  });

  it('names the file and the key when a weight is missing or mis-shaped', async () => {
    const dir = variant('mistral', (t, d) => {
      t.delete('layers.1.mlp.up_proj.weight');
      writeSafetensors(path.join(d, 'model.safetensors'), t);
    });
    await expect(embedOnce(dir)).rejects.toThrow('model.safetensors: missing layers.1.mlp.up_proj.weight');
    const bad = variant(
      'bert',
      (t, d) => writeSafetensors(path.join(d, 'model.safetensors'), t),
      (c) => {
        c.intermediate_size = 96;
      },
    );
    await expect(embedOnce(bad)).rejects.toThrow(
      /intermediate\.dense\.weight has shape \[128,64\], config\.json implies \[96,64\]/,
    );
  });

  it('lists what is supported for an unknown model_type', () => {
    expect(() => architectureFor({ model_type: 'gpt2' })).toThrow(
      /"gpt2" is not supported \(supported: llama, mistral, qwen2, qwen3, bert, xlm-roberta\)/,
    );
    expect(SUPPORTED_MODEL_TYPES).toEqual(['llama', 'mistral', 'qwen2', 'qwen3', 'bert', 'xlm-roberta']);
    // Mistral's sliding window (e5-mistral: 4096 of 32768) caps the embedding length instead of masking.
    const mc = JSON.parse(fs.readFileSync(path.join(PARITY, 'mistral', 'config.json'), 'utf8'));
    expect(architectureFor(mc).maxPositions).toBe(256);
    expect(architectureFor({ ...mc, sliding_window: 64 }).maxPositions).toBe(64);
  });

  it('builds qwen3 (q/k norms), llama and xlm-roberta folders from the same weights', async () => {
    const qwen3 = variant(
      'qwen2',
      (t, d) => {
        for (const i of [0, 1])
          for (const n of ['q_norm', 'k_norm'])
            t.set(`layers.${i}.self_attn.${n}.weight`, {
              shape: [16],
              data: new Float32Array(16).map((_, j) => 1 + 0.1 * Math.sin(j + i)),
            });
        writeSafetensors(path.join(d, 'model.safetensors'), t);
      },
      (c) => {
        c.model_type = 'qwen3';
        c.head_dim = 16;
        c.attention_bias = false; // as released Qwen3 checkpoints: the q/k/v biases in the file go unused
      },
    );
    const ref = await embedOnce(path.join(PARITY, 'qwen2'));
    const e3 = await embedOnce(qwen3);
    expect(maxDiff(e3, ref)).toBeGreaterThan(1e-3); // the norms act
    const llama = variant(
      'mistral',
      (t, d) => writeSafetensors(path.join(d, 'model.safetensors'), t),
      (c) => {
        c.model_type = 'llama';
      },
    );
    expect(maxDiff(await embedOnce(llama), await embedOnce(path.join(PARITY, 'mistral')))).toBe(0);
    const xlmr = variant(
      'bert',
      (t, d) => writeSafetensors(path.join(d, 'model.safetensors'), t),
      (c) => {
        c.model_type = 'xlm-roberta';
      },
    );
    const arch = architectureFor(JSON.parse(fs.readFileSync(path.join(xlmr, 'config.json'), 'utf8')));
    expect(arch.positions).toEqual({ offsetFromPad: 0 });
    expect(arch.maxPositions).toBe(127);
    expect((await embedOnce(xlmr)).length).toBe(128);
  });
});

describe('tokenizer, prompts, padding', () => {
  it('appends EOS for last-token pooling only when the tokenizer does not, truncating to max−1', () => {
    const t = EmbedTokenizer.load(path.join(PARITY, 'mistral'));
    expect(t.appendsEos).toBe(false);
    expect(t.eosId).toBe(2);
    expect(t.padId).toBe(0);
    expect(t.encodeForEmbedding('the cat The zzz', 64, true)).toEqual([1, 5, 409, 0, 0, 2]);
    expect(t.encodeForEmbedding('the cat The zzz', 4, true)).toEqual([1, 5, 409, 2]);
    // A tokenizer whose post-processor appends EOS itself (Qwen3-Embedding style): detected by encoding.
    const dir = tmpDir();
    const tj = JSON.parse(fs.readFileSync(path.join(PARITY, 'mistral', 'tokenizer.json'), 'utf8'));
    tj.post_processor.single.push({ SpecialToken: { id: '</s>', type_id: 0 } });
    tj.post_processor.special_tokens['</s>'] = { id: '</s>', ids: [2], tokens: ['</s>'] };
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
    fs.copyFileSync(
      path.join(PARITY, 'mistral', 'tokenizer_config.json'),
      path.join(dir, 'tokenizer_config.json'),
    );
    const q = EmbedTokenizer.load(dir);
    expect(q.appendsEos).toBe(true);
    expect(q.encodeForEmbedding('the cat The zzz', 64, true)).toEqual([1, 5, 409, 0, 0, 2]);
    expect(q.encodeForEmbedding('the cat The zzz', 4, true)).toEqual([1, 5, 409, 2]);
    // Its eos_token may name another token (Qwen3-Embedding: eos <|im_end|>, appends <|endoftext|>).
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ ...cfg, eos_token: '<unk>' }));
    const q2 = EmbedTokenizer.load(dir);
    expect(q2.eosId).toBe(0);
    expect(q2.appendsEos).toBe(true);
    expect(q2.encodeForEmbedding('the cat', 64, true)).toEqual([1, 5, 409, 2]);
    // BERT keeps [SEP] when truncating.
    const b = EmbedTokenizer.load(path.join(PARITY, 'bert'));
    expect(b.encodeForEmbedding('the cat The zzz', 4, false)).toEqual([101, 1, 409, 102]);
  });

  it('pools from the attention mask even when the pooled token carries the pad id', () => {
    // e5-mistral: pad id = EOS id = 2; the last real token is EOS.
    const p = padBatch(
      [
        [1, 7, 2],
        [1, 2],
      ],
      { padId: 2, side: 'right', pooling: 'last_token', positions: 'cumsum' },
    );
    expect(Array.from(p.poolWeights)).toEqual([0, 0, 1, 0, 1, 0]);
    expect(Array.from(p.positionIds, Number)).toEqual([0, 1, 2, 0, 1, 1]);
    const l = padBatch(
      [
        [1, 7, 2],
        [1, 2],
      ],
      { padId: 2, side: 'left', pooling: 'last_token', positions: 'cumsum' },
    );
    expect(Array.from(l.poolWeights)).toEqual([0, 0, 1, 0, 0, 1]);
    expect(Array.from(l.attentionMask, Number)).toEqual([1, 1, 1, 0, 1, 1]);
    expect(Array.from(l.positionIds, Number)).toEqual([0, 1, 2, 1, 0, 1]);
    const m = padBatch([[5, 6, 7], [5]], {
      padId: 1,
      side: 'right',
      pooling: 'mean',
      positions: { offsetFromPad: 1 },
    });
    expect(Array.from(m.poolWeights)).toEqual([1 / 3, 1 / 3, 1 / 3, 1, 0, 0].map(Math.fround));
    expect(Array.from(m.positionIds, Number)).toEqual([2, 3, 4, 2, 1, 1]);
  });

  it('takes query prompts from sentence-transformers files, else the E5 template', () => {
    expect(readSentenceTransformers(path.join(PARITY, 'bert'))).toMatchObject({
      pooling: 'mean',
      normalize: true,
      prompts: {},
      maxSeqLength: 128,
    });
    expect(promptFor({ prompts: {} }, 'query', 'Find docs')('cats')).toBe('Instruct: Find docs\nQuery: cats');
    expect(DEFAULT_QUERY_TEMPLATE).toBe('Instruct: {task}\nQuery: {query}');
    expect(promptFor({ prompts: {} }, 'query')('cats')).toBe('cats');
    expect(promptFor({ prompts: {} }, 'document', 'Find docs')('cats')).toBe('cats');
    // Qwen3-Embedding's folder prompt: no space after "Query:"; the instruction is swapped in.
    const qwen3 = {
      prompts: {
        query: 'Instruct: Given a web search query, retrieve relevant passages\nQuery:',
        document: '',
      },
    };
    expect(promptFor(qwen3, 'query')('cats')).toBe(
      'Instruct: Given a web search query, retrieve relevant passages\nQuery:cats',
    );
    expect(promptFor(qwen3, 'query', 'Find docs')('cats')).toBe('Instruct: Find docs\nQuery:cats');
    expect(promptFor({ prompts: { query: 'query: ', passage: 'passage: ' } }, 'document')('cats')).toBe(
      'passage: cats',
    );
  });
});
