// Reads over mining's tables (migration 40) that training needs too: the mined negatives of each example and
// the negatives the newest score run flagged. In store/ so that training reads them without importing mining.
import type { Store } from './index';

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
