// MistralModel = llama with GQA and no biases. Its sliding window only matters for sequences longer than
// the window, so embedding lengths are capped at the window instead of masking it.
import type { HfConfig } from './model-folder';
import { llamaConfig } from './configs';

export const mistralConfig = (c: HfConfig) => {
  const cfg = llamaConfig(c, { qkvBias: false, oBias: false, mlpBias: false });
  const w = c.sliding_window;
  if (typeof w === 'number' && w > 0) cfg.maxPositions = Math.min(cfg.maxPositions, w);
  return cfg;
};
