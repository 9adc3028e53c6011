// Version 21 (it must follow 20, which added jobs.pid): one job lifecycle, queued → running → done | failed |
// interrupted | cancelled (src/main/jobs/registry.ts). SQLite cannot change a CHECK in place, so the table
// is rebuilt: new table, copy, drop, rename. Migrations run inside a transaction with foreign keys on, where
// DROP TABLE deletes the rows first and so fires training_runs.job_id's ON DELETE SET NULL (PRAGMA
// foreign_keys cannot change inside a transaction); the references are saved beforehand and written back
// once the new table holds the same ids. Rows the old code marked failed with an "interrupted" error, and
// old 'paused' rows, become interrupted. New columns: the label the Jobs panel shows, the job's result.
export const sql = /* sql */ `
CREATE TEMP TABLE run_job_refs AS SELECT id, job_id FROM training_runs WHERE job_id IS NOT NULL;

CREATE TABLE jobs_v5 (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  config_json TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued','running','done','failed','interrupted','cancelled')),
  progress_json TEXT NOT NULL DEFAULT '{}',
  result_json TEXT,
  error TEXT,
  pid INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  started_at TEXT,
  finished_at TEXT,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

INSERT INTO jobs_v5 (id, type, label, config_json, state, progress_json, error, pid, created_at, started_at,
                     finished_at, updated_at)
SELECT id, type, type, config_json,
       CASE WHEN state = 'paused' THEN 'interrupted'
            WHEN state = 'failed' AND error LIKE 'interrupted%' THEN 'interrupted'
            ELSE state END,
       progress_json, error, pid, created_at, started_at, finished_at, updated_at
FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_v5 RENAME TO jobs;
CREATE INDEX jobs_created ON jobs (created_at);

UPDATE training_runs SET job_id = (SELECT r.job_id FROM run_job_refs r WHERE r.id = training_runs.id)
  WHERE id IN (SELECT r.id FROM run_job_refs r JOIN jobs j ON j.id = r.job_id);
DROP TABLE run_job_refs;
`;
