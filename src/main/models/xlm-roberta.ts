// XLMRobertaModel = bert whose positions start at padding_idx + 1 and count only non-pad tokens
// (create_position_ids_from_input_ids: cumsum(ids ≠ pad) + pad), usually with one token type.
import type { HfConfig } from './model-folder';
import { bertConfig } from './configs';

export const xlmRobertaConfig = (c: HfConfig) => bertConfig(c, { positionOffsetFromPad: true });
