// Version 40 (mining area): mined hard negatives beside the LLM-written ones, the runs that mined them,
// and per-example scores for review (positive vs each negative, likely-false-negative flags).
export const sql = /* sql */ `
CREATE TABLE mining_runs (
  id TEXT PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  adapter TEXT,
  config_json TEXT NOT NULL,
  report_json TEXT NOT NULL DEFAULT '{}',
  queries INTEGER NOT NULL DEFAULT 0,
  pool_size INTEGER NOT NULL DEFAULT 0,
  negatives INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX mining_runs_dataset ON mining_runs (dataset_id, created_at);

-- Never touches examples.negative: mined rows live here, each with the model that mined it and its score.
CREATE TABLE mined_negatives (
  id INTEGER PRIMARY KEY,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  run_id TEXT NOT NULL REFERENCES mining_runs(id) ON DELETE CASCADE,
  text TEXT NOT NULL,
  score REAL NOT NULL,
  positive_score REAL NOT NULL,
  rank INTEGER NOT NULL,
  -- 'dataset' (positives/negatives of the dataset) or 'corpus' (an imported file or BEIR folder)
  source TEXT NOT NULL CHECK (source IN ('dataset','corpus')),
  model TEXT NOT NULL,
  adapter TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX mined_negatives_example ON mined_negatives (example_id, run_id, rank);
CREATE INDEX mined_negatives_run ON mined_negatives (run_id);

CREATE TABLE score_runs (
  id TEXT PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  adapter TEXT,
  margin REAL NOT NULL,
  summary_json TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX score_runs_dataset ON score_runs (dataset_id, created_at);

-- One row per (run, example): what the curation list filters and sorts on.
CREATE TABLE example_scores (
  run_id TEXT NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  dataset_id INTEGER NOT NULL,
  -- the example's content hash when scored: an edited example shows as stale
  content_hash TEXT NOT NULL,
  positive_score REAL NOT NULL,
  -- null when the example has no negative at all
  max_negative_score REAL,
  margin REAL,
  negatives INTEGER NOT NULL,
  flagged INTEGER NOT NULL,
  likely_false_negative INTEGER NOT NULL CHECK (likely_false_negative IN (0, 1)),
  PRIMARY KEY (run_id, example_id)
);
CREATE INDEX example_scores_flag ON example_scores (run_id, likely_false_negative, margin);
CREATE INDEX example_scores_example ON example_scores (example_id);

-- One row per (run, example, negative): LLM-written ('llm', mined_id null) or mined ('mined').
CREATE TABLE example_negative_scores (
  run_id TEXT NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  source TEXT NOT NULL CHECK (source IN ('llm','mined')),
  mined_id INTEGER REFERENCES mined_negatives(id) ON DELETE CASCADE,
  text TEXT NOT NULL,
  score REAL NOT NULL,
  margin REAL NOT NULL,
  likely_false_negative INTEGER NOT NULL CHECK (likely_false_negative IN (0, 1))
);
CREATE INDEX example_negative_scores_example ON example_negative_scores (run_id, example_id);
`;
