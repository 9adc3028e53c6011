// Version 20 (training): what start-up reconciliation needs. jobs.pid is the process that runs a job, so a
// later process can tell a job whose process is gone (server killed) from one another process still runs;
// training_runs.error keeps why a run stopped across restarts (the app shows it beside Resume).
export const sql = /* sql */ `
ALTER TABLE jobs ADD COLUMN pid INTEGER;
ALTER TABLE training_runs ADD COLUMN error TEXT;
`;
