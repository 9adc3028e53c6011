import fs from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { KIND_DEFAULT_INSTRUCTIONS } from '../../shared/domain';
import { toOnnx } from '../engine';
import { UserError } from '../errors';
import { buildForward } from './graphs';
import { type LoraWeights, loraKeyA, loraKeyB, loraScaling, mergeInto } from './lora';
import type { EmbeddingModel } from './model';
import { EmbedTokenizer } from './tokenizer';

const { onnx } = onnxProto;

/** LoRA folded into the base weights: W + scaling · B @ A for every adapted linear (PEFT merge_and_unload). */
export function mergedWeights(model: EmbeddingModel, w: LoraWeights): Map<string, Float32Array> {
  const s = loraScaling(w.config);
  const out = new Map<string, Float32Array>();
  for (const m of w.modules) {
    const W = model.ck.read(`${m.path}.weight`, [m.outFeatures, m.inFeatures]);
    const A = w.tensors.get(loraKeyA(m.path))!.data;
    const B = w.tensors.get(loraKeyB(m.path))!.data;
    out.set(`${m.path}.weight`, mergeInto(W, A, B, m.outFeatures, m.inFeatures, w.config.r, s));
  }
  return out;
}

/** The non-weight files of a model folder that every export carries along. */
export const MODEL_FOLDER_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'modules.json',
  'config_sentence_transformers.json',
  'sentence_bert_config.json',
];

type Json = Record<string, unknown>;
const readJson = (f: string): Json => JSON.parse(fs.readFileSync(f, 'utf8'));

/**
 * tokenizer.json + tokenizer_config.json rewritten so that a stock tokenizer produces exactly the ids our
 * embed() feeds, and a stock last-token pooler (transformers.js `pooling: 'last_token'` takes position −1;
 * sentence-transformers' lasttoken takes the last masked-in position) lands on the token we pool:
 * - last-token models whose tokenizer adds no EOS (e5-mistral's adds BOS only) get EOS appended by the
 *   post-processor (and `add_eos_token: true`, which transformers' Llama tokenizer rebuilds the same way);
 * - last-token models pad on the left, so position −1 of every row of a batch is that EOS.
 * Mean / CLS models are copied as they are.
 */
export function embeddingTokenizerFiles(model: EmbeddingModel): { tokenizer: Json; config: Json } {
  const dir = model.ck.dir;
  const tokenizer = readJson(path.join(dir, 'tokenizer.json'));
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(cfgFile) ? readJson(cfgFile) : {};
  if (model.pooling !== 'last_token') return { tokenizer, config };
  config.padding_side = 'left';
  const tok = model.tokenizer;
  if (!tok.appendsEos) {
    if (tok.eosId === null) throw new UserError('tokenizer_config.json: no eos_token for last-token pooling');
    const eos = tok.idToToken(tok.eosId) as string;
    const special = (type_id: number) => ({ SpecialToken: { id: eos, type_id } });
    const seq = (id: 'A' | 'B', type_id: number) => ({ Sequence: { id, type_id } });
    const pp = tokenizer.post_processor as Json | null | undefined;
    const eosSpec = { id: eos, ids: [tok.eosId], tokens: [eos] };
    if (pp?.type === 'TemplateProcessing') {
      tokenizer.post_processor = {
        ...pp,
        single: [...(pp.single as unknown[]), special(0)],
        pair: [...(pp.pair as unknown[]), special(1)],
        special_tokens: { ...(pp.special_tokens as Json), [eos]: eosSpec },
      };
    } else {
      const template = {
        type: 'TemplateProcessing',
        single: [seq('A', 0), special(0)],
        pair: [seq('A', 0), seq('B', 1), special(1)],
        special_tokens: { [eos]: eosSpec },
      };
      // A ByteLevel (or other) processor keeps its job; the template runs after it.
      tokenizer.post_processor = pp ? { type: 'Sequence', processors: [pp, template] } : template;
    }
    config.add_eos_token = true;
  }
  return { tokenizer, config };
}

/** Writes the embedding tokenizer files into outDir and checks they reproduce our ids. */
export function writeEmbeddingTokenizer(model: EmbeddingModel, outDir: string): string[] {
  const { tokenizer, config } = embeddingTokenizerFiles(model);
  fs.writeFileSync(path.join(outDir, 'tokenizer.json'), `${JSON.stringify(tokenizer, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  // Self-check: the written files, read back, give the ids embed() uses (EOS once, not twice).
  if (model.pooling !== 'last_token') return ['tokenizer.json', 'tokenizer_config.json'];
  const back = EmbedTokenizer.load(outDir, model.ck.config);
  for (const probe of ['hello world', 'a'])
    if (JSON.stringify(back.encode(probe)) !== JSON.stringify(model.tokenize([probe])[0]))
      throw new Error(`export: the written tokenizer does not reproduce the embedding ids of "${probe}"`);
  return ['tokenizer.json', 'tokenizer_config.json'];
}

/** The instruction written as the exported folder's `query` prompt when the caller names none. */
export const DEFAULT_EXPORT_INSTRUCTION = KIND_DEFAULT_INSTRUCTIONS['short-long'];

/**
 * The sentence-transformers files of an exported folder, so that `SentenceTransformer(path)` embeds as we
 * do (the layout the parity fixtures carry): modules.json (Transformer at the root, Pooling in 1_Pooling,
 * Normalize in 2_Normalize when we normalise; Normalize has no files), 1_Pooling/config.json with the one
 * pooling mode we use (lasttoken / mean_tokens / cls_token), sentence_bert_config.json with our
 * max_seq_length, config_sentence_transformers.json with the base's prompts plus `query`: our query template
 * with the instruction filled in ("Instruct: …\nQuery: "), used as `encode(queries, prompt_name="query")`.
 */
export function sentenceTransformersFiles(
  model: EmbeddingModel,
  o: { instruction?: string | null } = {},
): Record<string, Json> {
  const modules: Json[] = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
  ];
  if (model.normalize)
    modules.push({ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' });
  const pooling = {
    word_embedding_dimension: model.dim,
    pooling_mode_cls_token: model.pooling === 'cls',
    pooling_mode_mean_tokens: model.pooling === 'mean',
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
    pooling_mode_weightedmean_tokens: false,
    pooling_mode_lasttoken: model.pooling === 'last_token',
    include_prompt: true,
  };
  const cstFile = path.join(model.ck.dir, 'config_sentence_transformers.json');
  const cst = fs.existsSync(cstFile) ? readJson(cstFile) : {};
  const query = model.prompt('query', o.instruction ?? DEFAULT_EXPORT_INSTRUCTION)('');
  const prompts = { ...((cst.prompts as Json | undefined) ?? {}), ...(query ? { query } : {}) };
  return {
    'modules.json': modules as unknown as Json,
    '1_Pooling/config.json': pooling,
    'config_sentence_transformers.json': {
      ...cst,
      prompts,
      default_prompt_name: cst.default_prompt_name ?? null,
      similarity_fn_name: cst.similarity_fn_name ?? 'cosine',
    },
    'sentence_bert_config.json': { max_seq_length: model.maxLength, do_lower_case: false },
  };
}

/** Writes the sentence-transformers files and the embedding tokenizer into outDir. */
export function writeEmbeddingFolderFiles(
  model: EmbeddingModel,
  outDir: string,
  o: { instruction?: string | null } = {},
): string[] {
  const files = writeEmbeddingTokenizer(model, outDir);
  for (const [f, json] of Object.entries(sentenceTransformersFiles(model, o))) {
    fs.mkdirSync(path.dirname(path.join(outDir, f)), { recursive: true });
    fs.writeFileSync(path.join(outDir, f), `${JSON.stringify(json, null, 2)}\n`);
    files.push(f);
  }
  return files;
}

export interface ExportOptions {
  /** The instruction of the folder's `query` prompt (default DEFAULT_EXPORT_INSTRUCTION). */
  instruction?: string | null;
  adapter?: LoraWeights | null;
  /** 'external' (default) writes onnx/model.onnx_data next to the graph; 'inline' keeps weights in the .onnx (<2 GB). */
  weights?: 'external' | 'inline';
}

/**
 * Writes the forward graph (LoRA merged) in the layout transformers.js loads: onnx/model.onnx (+ model.onnx_data),
 * config.json, tokenizer files and sentence-transformers files. Inputs: input_ids, attention_mask and, for
 * decoders, position_ids (transformers.js derives them from the mask); encoders compute positions in-graph
 * and take token_type_ids. Output: last_hidden_state. The tokenizer is the embedding one (EOS appended, left
 * padding for last-token models), so `pipeline('feature-extraction')` with `pooling: 'last_token'` (or the
 * folder's mean / cls) and `normalize: true` gives embed()'s vectors, batched.
 */
export function exportOnnx(
  model: EmbeddingModel,
  outDir: string,
  o: ExportOptions = {},
): { files: string[] } {
  const overrides = o.adapter ? mergedWeights(model, o.adapter) : undefined;
  const built = buildForward(model.ck, model.arch, {
    causal: model.causal,
    overrides,
    hidden: true,
    pooled: false,
    computedPositions: model.arch.family === 'bert',
  });
  const lowered = toOnnx(built.outputs, { name: `embedsmith-${model.arch.modelType}` });
  const proto = onnx.ModelProto.decode(lowered.bytes);
  fs.mkdirSync(path.join(outDir, 'onnx'), { recursive: true });
  const external = (o.weights ?? 'external') === 'external';
  const dataName = 'model.onnx_data';
  const dataFile = path.join(outDir, 'onnx', dataName);
  const fd = external ? fs.openSync(dataFile, 'w') : null;
  let offset = 0;
  try {
    for (const init of proto.graph?.initializer ?? []) {
      let bytes: Uint8Array | null = null;
      if (init.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
        const kv = Object.fromEntries((init.externalData ?? []).map((e) => [e.key, e.value]));
        const src = path.join(lowered.externalDir!, String(kv.location));
        const len = Number(kv.length);
        bytes = Buffer.alloc(len);
        const sfd = fs.openSync(src, 'r');
        try {
          fs.readSync(sfd, bytes, 0, len, Number(kv.offset ?? 0));
        } finally {
          fs.closeSync(sfd);
        }
      } else if (external && init.rawData && init.rawData.length >= 1024) bytes = init.rawData;
      if (!bytes) continue;
      if (external) {
        // 64-byte alignment so ORT can map each tensor.
        const pad = (64 - (offset % 64)) % 64;
        if (pad) fs.writeSync(fd!, Buffer.alloc(pad));
        offset += pad;
        fs.writeSync(fd!, bytes);
        init.rawData = new Uint8Array(0);
        init.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        init.externalData = [
          { key: 'location', value: dataName },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.length) },
        ];
        offset += bytes.length;
      } else {
        init.rawData = bytes;
        init.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
        init.externalData = [];
      }
    }
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
  const bytes = onnx.ModelProto.encode(proto).finish();
  if (!external && bytes.length > 2 ** 31 - 1)
    throw new UserError('model is over 2 GB: export with external weights');
  fs.writeFileSync(path.join(outDir, 'onnx', 'model.onnx'), bytes);
  const files = ['onnx/model.onnx', ...(external ? [`onnx/${dataName}`] : [])];
  files.push(...writeEmbeddingFolderFiles(model, outDir, { instruction: o.instruction }));
  for (const f of MODEL_FOLDER_FILES) {
    const src = path.join(model.ck.dir, f);
    if (!fs.existsSync(src) || files.includes(f)) continue;
    if (f === 'config.json') {
      const cfg = JSON.parse(fs.readFileSync(src, 'utf8'));
      cfg.torch_dtype = 'float32';
      if (external)
        cfg['transformers.js_config'] = {
          ...(cfg['transformers.js_config'] ?? {}),
          use_external_data_format: true,
        };
      fs.writeFileSync(path.join(outDir, f), `${JSON.stringify(cfg, null, 2)}\n`);
    } else fs.copyFileSync(src, path.join(outDir, f));
    files.push(f);
  }
  return { files };
}
