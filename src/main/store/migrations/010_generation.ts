// Version 10 (generation area): what the durable generation queue needs beyond the core tables.
export const sql = /* sql */ `
ALTER TABLE generation_runs ADD COLUMN batch_id TEXT;
ALTER TABLE generation_runs ADD COLUMN error TEXT;

ALTER TABLE generation_items ADD COLUMN seed INTEGER;
ALTER TABLE generation_items ADD COLUMN model TEXT;
ALTER TABLE generation_items ADD COLUMN task_id INTEGER;
-- accepted | surplus | rejected | failed | skipped: what the item's last answer became.
ALTER TABLE generation_items ADD COLUMN outcome TEXT;
CREATE INDEX generation_items_cell ON generation_items (run_id, kind, language, state);

ALTER TABLE generation_requests ADD COLUMN kind TEXT;
ALTER TABLE generation_requests ADD COLUMN error_class TEXT;

-- 1 for valid answers that arrived after their cell's quota was met: kept, never counted.
ALTER TABLE examples ADD COLUMN surplus INTEGER NOT NULL DEFAULT 0;
`;
