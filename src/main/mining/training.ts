// What the trainer needs from mining: which negatives a training row uses (LLM-written, mined, or both)
// and which of them the latest score run flagged as likely false negatives.
import { UserError } from '../errors';
import type { Store } from '../store';
import type { TrainRow } from '../training/train-row';

export const NEGATIVE_SOURCES = ['llm', 'mined', 'both'] as const;
export type NegativeSource = (typeof NEGATIVE_SOURCES)[number];
export const DROP_MODES = ['off', 'negative', 'row'] as const;
/** off: keep; negative: drop the flagged negatives, keep the pair; row: drop rows with a flagged negative. */
export type DropMode = (typeof DROP_MODES)[number];

export interface NegativeOptions {
  negatives?: NegativeSource;
  dropFalseNegatives?: DropMode;
}

/** Each example's mined negatives from the newest mining run that has any for it, best rank first. */
export function minedByExample(store: Store, datasetId: number): Map<number, string[]> {
  const rows = store.db
    .prepare(
      `SELECT mn.example_id AS id, mn.text, mn.run_id AS run FROM mined_negatives mn
       JOIN mining_runs mr ON mr.id = mn.run_id
       WHERE mr.dataset_id = ? ORDER BY mn.example_id, mr.created_at DESC, mr.rowid DESC, mn.rank`,
    )
    .all(datasetId) as { id: number; text: string; run: string }[];
  const out = new Map<number, string[]>();
  const runOf = new Map<number, string>();
  for (const r of rows) {
    const run = runOf.get(r.id);
    if (run === undefined) {
      runOf.set(r.id, r.run);
      out.set(r.id, [r.text]);
    } else if (run === r.run) out.get(r.id)?.push(r.text);
  }
  return out;
}

/** Negative texts the dataset's newest score run flagged, per example. */
export function flaggedByExample(store: Store, datasetId: number): Map<number, Set<string>> | null {
  const run = store.db
    .prepare('SELECT id FROM score_runs WHERE dataset_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1')
    .get(datasetId) as { id: string } | undefined;
  if (!run) return null;
  const out = new Map<number, Set<string>>();
  for (const r of store.db
    .prepare(
      'SELECT example_id AS id, text FROM example_negative_scores WHERE run_id = ? AND likely_false_negative = 1',
    )
    .all(run.id) as { id: number; text: string }[]) {
    const s = out.get(r.id) ?? new Set<string>();
    s.add(r.text);
    out.set(r.id, s);
  }
  return out;
}

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
