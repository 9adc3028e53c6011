// Qwen2Model = llama with biases on q/k/v (not on o_proj or the MLP).
import type { HfConfig } from './model-folder';
import { llamaConfig } from './configs';

export const qwen2Config = (c: HfConfig) => llamaConfig(c, { qkvBias: true, oBias: false, mlpBias: false });
