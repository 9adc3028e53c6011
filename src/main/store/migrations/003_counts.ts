// Version 3 (core): what the stats query and deep curation pages need at 500k rows.
// - example_counts: counts per dataset × kind × language × src/tgt × status × split, so `stats` reads a few
//   hundred rows instead of grouping the whole table. Like the full-text index (migration 2) it covers the
//   rows up to a watermark: inserts run no trigger (a per-row trigger halved bulk insert speed), and
//   ExampleStore.foldCounts() adds the rows above the watermark in one GROUP BY before stats read it.
//   Updates and deletes of counted rows adjust the counts in triggers; deleting the highest rows lowers the
//   watermark so reused ids count as new rows. NULL keys are stored as '' (NULLs never conflict in a key).
// - examples_scan: id order with the filter and count columns, so an OFFSET page over a multi-value filter and
//   the count fold walk one narrow covering index instead of sorting every match or reading whole rows.
export const sql = /* sql */ `
CREATE TABLE example_counts (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  language TEXT NOT NULL,
  src_lang TEXT NOT NULL,
  tgt_lang TEXT NOT NULL,
  status TEXT NOT NULL,
  split TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (dataset_id, kind, language, src_lang, tgt_lang, status, split)
) WITHOUT ROWID;
CREATE TABLE counts_state (one INTEGER PRIMARY KEY CHECK (one = 1), upto INTEGER NOT NULL);
INSERT INTO counts_state (one, upto) VALUES (1, 0);

CREATE TRIGGER examples_counts_ad AFTER DELETE ON examples BEGIN
  UPDATE example_counts SET n = n - 1
    WHERE old.id <= (SELECT upto FROM counts_state)
      AND dataset_id = old.dataset_id AND kind = old.kind AND language = coalesce(old.language, '')
      AND src_lang = coalesce(old.src_lang, '') AND tgt_lang = coalesce(old.tgt_lang, '')
      AND status = old.status AND split = coalesce(old.split, '');
  UPDATE counts_state SET upto = (SELECT coalesce(max(id), 0) FROM examples)
    WHERE upto > (SELECT coalesce(max(id), 0) FROM examples);
END;
CREATE TRIGGER examples_counts_au
  AFTER UPDATE OF dataset_id, kind, language, src_lang, tgt_lang, status, split ON examples
  WHEN old.id <= (SELECT upto FROM counts_state) BEGIN
  UPDATE example_counts SET n = n - 1
    WHERE dataset_id = old.dataset_id AND kind = old.kind AND language = coalesce(old.language, '')
      AND src_lang = coalesce(old.src_lang, '') AND tgt_lang = coalesce(old.tgt_lang, '')
      AND status = old.status AND split = coalesce(old.split, '');
  INSERT INTO example_counts (dataset_id, kind, language, src_lang, tgt_lang, status, split, n)
    VALUES (new.dataset_id, new.kind, coalesce(new.language, ''), coalesce(new.src_lang, ''),
      coalesce(new.tgt_lang, ''), new.status, coalesce(new.split, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE INDEX examples_scan ON examples (id, dataset_id, kind, language, status, split, src_lang, tgt_lang);
`;
