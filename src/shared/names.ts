// Names the contract and the training schema both validate. No node:* and no DOM here.
import { z } from 'zod';

export const datasetName = z
  .string()
  .min(1, 'dataset name is empty')
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "use letters, digits, '.', '_' or '-', starting with a letter or digit",
  );
