// Version 2 (core): full-text indexing leaves the insert path. Tokenising ~160 words per example in an
// AFTER INSERT trigger (or even queueing its id from a trigger) capped bulk imports at a few thousand
// rows/s; now inserts touch no trigger and a watermark says what is indexed: every existing row with
// id <= fts_state.upto is in examples_fts, every row above it is not. ExampleStore.indexPending() indexes
// above the watermark in chunks (imports run it after their commit; every search drains it first).
// Deletes and edits of unindexed rows must not send 'delete' to the external-content index (that corrupts
// it), hence the WHEN guards; deleting the highest rows lowers the watermark so reused ids count as new.
export const sql = /* sql */ `
CREATE TABLE fts_state (one INTEGER PRIMARY KEY CHECK (one = 1), upto INTEGER NOT NULL);
INSERT INTO fts_state (one, upto) VALUES (1, (SELECT coalesce(max(id), 0) FROM examples));

DROP TRIGGER examples_fts_ai;
DROP TRIGGER examples_fts_ad;
DROP TRIGGER examples_fts_au;

CREATE TRIGGER examples_fts_ad AFTER DELETE ON examples BEGIN
  INSERT INTO examples_fts (examples_fts, rowid, query, positive, negative)
    SELECT 'delete', old.id, old.query, old.positive, old.negative
    WHERE old.id <= (SELECT upto FROM fts_state);
  UPDATE fts_state SET upto = (SELECT coalesce(max(id), 0) FROM examples)
    WHERE upto > (SELECT coalesce(max(id), 0) FROM examples);
END;
CREATE TRIGGER examples_fts_au AFTER UPDATE OF query, positive, negative ON examples
  WHEN old.id <= (SELECT upto FROM fts_state) BEGIN
  INSERT INTO examples_fts (examples_fts, rowid, query, positive, negative)
    VALUES ('delete', old.id, old.query, old.positive, old.negative);
  INSERT INTO examples_fts (rowid, query, positive, negative) VALUES (new.id, new.query, new.positive, new.negative);
END;
`;
