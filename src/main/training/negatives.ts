// --negatives and --drop-false-negatives: which negatives a training row uses (LLM-written, mined, or both)
// and which of them to drop because the newest score run flagged them as likely false negatives. The values
// are the training schema's (src/shared/training.ts); the mined and flagged texts come from mining's tables.
import type { TrainSettings } from '../../shared/training';
import { UserError } from '../errors';
import type { Store } from '../store';
import { flaggedByExample, minedByExample } from '../store/mined-negatives';
import type { TrainRow } from './train-row';

export type NegativeOptions = Partial<Pick<TrainSettings, 'negatives' | 'dropFalseNegatives'>>;

/**
 * Rewrites one dataset's training rows for --negatives and --drop-false-negatives. A row's first
 * negative goes in `negative`, further ones in `extraNegatives` (every one is a batch candidate).
 */
export function applyNegativeOptions(
  store: Store,
  dataset: string,
  rows: TrainRow[],
  o: NegativeOptions,
): TrainRow[] {
  const source = o.negatives ?? 'llm';
  const drop = o.dropFalseNegatives ?? 'off';
  if (source === 'llm' && drop === 'off') return rows;
  const d = store.datasets.get(dataset);
  const mined = source === 'llm' ? null : minedByExample(store, d.id);
  if (mined && mined.size === 0)
    throw new UserError(
      `dataset "${dataset}" has no mined negatives; run \`embedsmith mine --dataset ${dataset} --model DIR\` first or use --negatives llm`,
    );
  const flagged = drop === 'off' ? null : flaggedByExample(store, d.id);
  if (drop !== 'off' && !flagged)
    throw new UserError(
      `dataset "${dataset}" has no scores; run \`embedsmith score --dataset ${dataset} --model DIR\` first or drop --drop-false-negatives`,
    );
  const out: TrainRow[] = [];
  for (const r of rows) {
    const llm = r.negative !== null ? [r.negative] : [];
    let negs =
      source === 'llm'
        ? llm
        : source === 'mined'
          ? (mined?.get(r.id) ?? [])
          : [...llm, ...(mined?.get(r.id) ?? [])];
    negs = [...new Set(negs)];
    const bad = flagged?.get(r.id);
    if (bad && negs.some((n) => bad.has(n))) {
      if (drop === 'row') continue;
      negs = negs.filter((n) => !bad.has(n));
    }
    const { extraNegatives: _, ...base } = r;
    out.push({
      ...base,
      negative: negs[0] ?? null,
      ...(negs.length > 1 ? { extraNegatives: negs.slice(1) } : {}),
    });
  }
  return out;
}
