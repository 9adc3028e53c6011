// Version 1: every table the workbench needs at launch. Later versions live beside this file, one per
// file, listed in index.ts. Numbers are assigned per area so parallel work does not collide.
export const sql = /* sql */ `
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  settings_json TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  origin TEXT NOT NULL CHECK (origin IN ('brainstorm','import','manual')),
  generator_model TEXT,
  template_version TEXT,
  run_id TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  UNIQUE (dataset_id, kind, text)
);

CREATE TABLE examples (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('short-long','long-short','short-short','long-long','sts','bitext')),
  task_id INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
  instruction TEXT,
  language TEXT,
  src_lang TEXT,
  tgt_lang TEXT,
  query TEXT NOT NULL,
  positive TEXT NOT NULL,
  negative TEXT,
  extras_json TEXT NOT NULL DEFAULT '{}',
  attributes_json TEXT NOT NULL DEFAULT '{}',
  seed INTEGER,
  origin TEXT NOT NULL DEFAULT 'import' CHECK (origin IN ('synthetic','import','manual')),
  generator_model TEXT,
  template_version TEXT,
  run_id TEXT,
  status TEXT NOT NULL DEFAULT 'unreviewed' CHECK (status IN ('unreviewed','accepted','rejected')),
  reject_reason TEXT,
  split TEXT CHECK (split IS NULL OR split IN ('train','dev','test')),
  content_hash TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  UNIQUE (dataset_id, content_hash)
);
-- Curation pages filter by kind/language/status and page by id (keyset); stats group by them.
CREATE INDEX examples_curation ON examples (dataset_id, kind, language, status, id);
CREATE INDEX examples_status ON examples (dataset_id, status, id);
CREATE INDEX examples_split ON examples (dataset_id, split, id);
CREATE INDEX examples_run ON examples (run_id) WHERE run_id IS NOT NULL;

CREATE VIRTUAL TABLE examples_fts USING fts5 (
  query, positive, negative, content='examples', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER examples_fts_ai AFTER INSERT ON examples BEGIN
  INSERT INTO examples_fts (rowid, query, positive, negative) VALUES (new.id, new.query, new.positive, new.negative);
END;
CREATE TRIGGER examples_fts_ad AFTER DELETE ON examples BEGIN
  INSERT INTO examples_fts (examples_fts, rowid, query, positive, negative)
    VALUES ('delete', old.id, old.query, old.positive, old.negative);
END;
CREATE TRIGGER examples_fts_au AFTER UPDATE OF query, positive, negative ON examples BEGIN
  INSERT INTO examples_fts (examples_fts, rowid, query, positive, negative)
    VALUES ('delete', old.id, old.query, old.positive, old.negative);
  INSERT INTO examples_fts (rowid, query, positive, negative) VALUES (new.id, new.query, new.positive, new.negative);
END;

-- Every review decision and edit; edits keep the previous text.
CREATE TABLE review_events (
  id INTEGER PRIMARY KEY,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  action TEXT NOT NULL CHECK (action IN ('accept','reject','reset','edit')),
  field TEXT,
  old_value TEXT,
  new_value TEXT,
  reason TEXT,
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX review_events_example ON review_events (example_id, id);

-- Generation: one run per 'generate' invocation; its planned work items; every LLM request.
CREATE TABLE generation_runs (
  id TEXT PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  config_json TEXT NOT NULL,
  plan_json TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'pending',
  lease_owner TEXT,
  lease_expires_at INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE generation_items (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES generation_runs(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  kind TEXT NOT NULL,
  language TEXT,
  payload_json TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','in_flight','done','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX generation_items_state ON generation_items (run_id, state, id);

CREATE TABLE generation_requests (
  id INTEGER PRIMARY KEY,
  run_id TEXT REFERENCES generation_runs(id) ON DELETE CASCADE,
  item_id INTEGER REFERENCES generation_items(id) ON DELETE SET NULL,
  model TEXT NOT NULL,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  cost_usd REAL,
  latency_ms INTEGER,
  attempts INTEGER NOT NULL DEFAULT 1,
  status TEXT NOT NULL,
  error TEXT,
  reject_reason TEXT,
  raw_answer TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX generation_requests_run ON generation_requests (run_id, id);

-- Background jobs of every type (generation, training, evaluation, mining, export).
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  config_json TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued','running','paused','done','failed','cancelled')),
  progress_json TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  started_at TEXT,
  finished_at TEXT,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE training_runs (
  id TEXT PRIMARY KEY,
  dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
  job_id TEXT REFERENCES jobs(id) ON DELETE SET NULL,
  model_path TEXT NOT NULL,
  out_dir TEXT NOT NULL,
  config_json TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued',
  step INTEGER NOT NULL DEFAULT 0,
  total_steps INTEGER,
  last_loss REAL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  path TEXT NOT NULL,
  loss REAL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  UNIQUE (run_id, step)
);

CREATE TABLE eval_results (
  id INTEGER PRIMARY KEY,
  model TEXT NOT NULL,
  adapter TEXT,
  task_name TEXT NOT NULL,
  task_type TEXT NOT NULL,
  split TEXT NOT NULL DEFAULT 'test',
  main_score REAL NOT NULL,
  scores_json TEXT NOT NULL,
  result_path TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX eval_results_model ON eval_results (model, adapter, task_name);

CREATE TABLE exports (
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  source TEXT,
  path TEXT NOT NULL,
  filter_json TEXT NOT NULL DEFAULT '{}',
  rows INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
`;
