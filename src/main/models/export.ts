import fs from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { toOnnx } from '../engine';
import { UserError } from '../errors';
import { buildForward } from './graphs';
import { type LoraWeights, loraKeyA, loraKeyB, loraScaling, mergeInto } from './lora';
import type { EmbeddingModel } from './model';

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

export interface ExportOptions {
  adapter?: LoraWeights | null;
  /** 'external' (default) writes onnx/model.onnx_data next to the graph; 'inline' keeps weights in the .onnx (<2 GB). */
  weights?: 'external' | 'inline';
}

/**
 * Writes the forward graph (LoRA merged) in the layout transformers.js loads: onnx/model.onnx (+ model.onnx_data),
 * config.json, tokenizer files and sentence-transformers files. Inputs: input_ids, attention_mask and, for
 * decoders, position_ids (transformers.js derives them from the mask); encoders compute positions in-graph
 * and take token_type_ids. Output: last_hidden_state.
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
  for (const f of MODEL_FOLDER_FILES) {
    const src = path.join(model.ck.dir, f);
    if (!fs.existsSync(src)) continue;
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
  const poolDir = path.join(model.ck.dir, '1_Pooling');
  if (fs.existsSync(poolDir)) {
    fs.cpSync(poolDir, path.join(outDir, '1_Pooling'), { recursive: true });
    files.push('1_Pooling/config.json');
  }
  return { files };
}
