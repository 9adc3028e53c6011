import fs from 'node:fs';
import priceFile from '../../../resources/prices.json';
import { UserError } from '../errors';

/** USD per 1M tokens, by model name (resources/prices.json, overridable with a file). */
export interface PriceTable {
  batch_discount: number;
  models: Record<string, { input: number; output: number }>;
}

export function loadPrices(file?: string): PriceTable {
  const base: PriceTable = { batch_discount: priceFile.batch_discount, models: { ...priceFile.models } };
  if (!file) return base;
  let extra: Partial<PriceTable>;
  try {
    extra = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(
      `--prices ${file}: cannot read it as JSON (${(e as Error).message}); see resources/prices.json for the layout`,
      2,
    );
  }
  return {
    batch_discount: extra.batch_discount ?? base.batch_discount,
    models: { ...base.models, ...(extra.models ?? {}) },
  };
}

/** Price of a model: exact name, else the longest listed prefix ("gpt-4o-mini-2024-07-18" → gpt-4o-mini). */
export function priceOf(table: PriceTable, model: string): { input: number; output: number } | null {
  if (table.models[model]) return table.models[model];
  let best: string | null = null;
  for (const k of Object.keys(table.models))
    if (model.startsWith(k) && (!best || k.length > best.length)) best = k;
  return best ? table.models[best] : null;
}

export function costUsd(
  table: PriceTable,
  model: string,
  prompt: number,
  completion: number,
  batch = false,
): number {
  const p = priceOf(table, model);
  if (!p) return 0;
  const c = (prompt * p.input + completion * p.output) / 1e6;
  return batch ? c * table.batch_discount : c;
}
