// Composite layers, each written once in the engine's primitives; models call these.
export { silu, gelu } from './activations';
export { type AttentionOptions, attention } from './attention';
export { crossEntropy } from './cross-entropy';
export { dropout, hashKeepMask } from './dropout';
export { l2Normalize, layerNorm, type NormOptions, rmsNorm } from './norms';
export { rope, ropeCosSin } from './rope';
