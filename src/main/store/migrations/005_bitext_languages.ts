// Version 5 (core): the language pairs of bitext rows stored before imports normalised them ("English" →
// "en", "fr-FR" → "fr"), which migration 4's SQL could not do: src_lang/tgt_lang are part of the content hash,
// so each changed row gets its hash recomputed here in JS. A row whose normalised form already exists in its
// dataset (the same pair spelled two ways) is a duplicate; it keeps its spelling rather than being deleted,
// so no review history is lost.
import type { Database } from 'better-sqlite3';
import { normaliseLanguage } from '../../../shared/languages';
import { contentHash } from '../hash';

export const sql = '';

export function run(db: Database): void {
  const rows = db
    .prepare(
      `SELECT id, dataset_id AS datasetId, kind, query, positive, negative, src_lang AS srcLang, tgt_lang AS tgtLang
       FROM examples WHERE src_lang IS NOT NULL OR tgt_lang IS NOT NULL`,
    )
    .all() as {
    id: number;
    datasetId: number;
    kind: string;
    query: string;
    positive: string;
    negative: string | null;
    srcLang: string | null;
    tgtLang: string | null;
  }[];
  const taken = db.prepare('SELECT 1 FROM examples WHERE dataset_id = ? AND content_hash = ?').pluck();
  const update = db.prepare('UPDATE examples SET src_lang = ?, tgt_lang = ?, content_hash = ? WHERE id = ?');
  for (const r of rows) {
    const srcLang = normaliseLanguage(r.srcLang);
    const tgtLang = normaliseLanguage(r.tgtLang);
    if (srcLang === r.srcLang && tgtLang === r.tgtLang) continue;
    const h = contentHash({ ...r, kind: r.kind as 'bitext', srcLang, tgtLang });
    if (taken.get(r.datasetId, h)) continue;
    update.run(srcLang, tgtLang, h, r.id);
  }
}
