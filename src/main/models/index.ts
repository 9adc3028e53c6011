// Public API of the models area: Hugging Face embedding-model folders run on the engine.
//
//   const model = EmbeddingModel.load(dir, { device: 'auto' });                 // config + safetensors + tokenizer
//   const adapter = model.loadAdapter(adapterDir);                             // PEFT LoRA folder (optional)
//   const q = await model.embed(texts, { role: 'query', instruction, adapter }); // Float32Array [n, dim], L2-normalised
//   exportOnnx(model, outDir, { adapter });                                    // transformers.js layout, LoRA merged
//   const enc = await createTrainableEncoder(encoderOptions);                  // trainer's TrainableEncoder (GradCache)
//   await model.dispose();
//
// Architectures (registry by model_type): llama, mistral, qwen2, qwen3 (llama.ts + deltas), bert, xlm-roberta
// (bert.ts + delta). Graph builders for other uses: buildForward, buildTrainingBackward, buildInfoNce.
export {
  type BertConfig,
  bertConfig,
  bertLinears,
  type LlamaConfig,
  llamaConfig,
  llamaLinears,
} from './configs';
export { ModelFolder, type HfConfig, type WeightRef } from './model-folder';
export { type ExportOptions, exportOnnx, mergedWeights } from './export';
export {
  type BuiltGraph,
  buildForward,
  buildInfoNce,
  buildTrainingBackward,
  type ForwardOptions,
} from './graphs';
export {
  type LocalModel,
  listModels,
  modelDirName,
  type PulledModel,
  pullModel,
  removeModel,
  resolveModelDir,
} from './hub';
export { npyBytes, readNpy, readTexts, writeEmbeddings } from './io';
export {
  defaultLora,
  initLora,
  type LinearModule,
  type LoraConfig,
  type LoraWeights,
  loadAdapter,
  loraScaling,
  matchesTarget,
  mergeInto,
  peftConfigJson,
  saveAdapter,
  selectTargets,
} from './lora';
export { type Device, type EmbedOptions, EmbeddingModel, type LoadOptions } from './model';
export {
  DEFAULT_QUERY_TEMPLATE,
  l2NormalizeRows,
  type PaddedBatch,
  padBatch,
  type Pooling,
  poolWeights,
  promptFor,
  type Role,
  readSentenceTransformers,
  type SentenceTransformersInfo,
} from './pooling';
export { type Architecture, architectureFor, REGISTRY, SUPPORTED_MODEL_TYPES } from './registry';
export { readF32, readStHeader, writeSafetensors } from './safetensors';
export { EmbedTokenizer } from './tokenizer';
export { createTrainableEncoder, fromPeftName, LoraEncoder, toPeftName } from './trainable';
