// MistralModel = llama with GQA and no biases (sliding window is not used for embedding lengths).
import { UserError } from '../errors';
import type { HfConfig } from './checkpoint';
import { llamaConfig } from './configs';

export const mistralConfig = (c: HfConfig) => {
  const cfg = llamaConfig(c, { qkvBias: false, oBias: false, mlpBias: false });
  if (typeof c.sliding_window === 'number' && c.sliding_window < cfg.maxPositions && c.sliding_window < 32768)
    throw new UserError(`config.json: sliding_window ${c.sliding_window} is not supported (set it to null)`);
  return cfg;
};
