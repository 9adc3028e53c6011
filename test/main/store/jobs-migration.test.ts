import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/main/store/db';
import { MIGRATIONS } from '../../../src/main/store/migrations';
import { tmpDir } from '../../helpers/tmp';

describe('migration 21 (one job lifecycle)', () => {
  it('rebuilds jobs with interrupted, keeps every row and every training_runs.job_id', () => {
    const file = path.join(tmpDir(), 'db.sqlite');
    const old = openDatabase(file, { migrations: MIGRATIONS.filter((m) => m.version < 21) });
    const job = old.prepare('INSERT INTO jobs (id, type, state, error, pid) VALUES (?, ?, ?, ?, ?)');
    job.run('j-done', 'training', 'done', null, 1);
    job.run('j-gone', 'training', 'failed', 'interrupted: the process running it (pid 9) is gone', 9);
    job.run('j-boom', 'import', 'failed', 'boom', 2);
    job.run('j-paused', 'generation', 'paused', null, 3);
    const run = old.prepare(
      `INSERT INTO training_runs (id, job_id, model_path, out_dir, config_json) VALUES (?, ?, 'm', ?, '{}')`,
    );
    run.run('r1', 'j-done', '/tmp/r1');
    run.run('r2', 'j-gone', '/tmp/r2');
    run.run('r3', null, '/tmp/r3');
    old.close();

    const db = openDatabase(file);
    try {
      const jobs = db.prepare('SELECT id, state, error, pid, label FROM jobs ORDER BY id').all();
      expect(jobs).toEqual([
        { id: 'j-boom', state: 'failed', error: 'boom', pid: 2, label: 'import' },
        { id: 'j-done', state: 'done', error: null, pid: 1, label: 'training' },
        {
          id: 'j-gone',
          state: 'interrupted',
          error: 'interrupted: the process running it (pid 9) is gone',
          pid: 9,
          label: 'training',
        },
        { id: 'j-paused', state: 'interrupted', error: null, pid: 3, label: 'generation' },
      ]);
      expect(db.prepare('SELECT id, job_id FROM training_runs ORDER BY id').all()).toEqual([
        { id: 'r1', job_id: 'j-done' },
        { id: 'r2', job_id: 'j-gone' },
        { id: 'r3', job_id: null },
      ]);
      // The new CHECK takes interrupted and refuses what is not a lifecycle state.
      db.prepare("INSERT INTO jobs (id, type, state) VALUES ('j-new', 'x', 'interrupted')").run();
      expect(() =>
        db.prepare("INSERT INTO jobs (id, type, state) VALUES ('j-bad', 'x', 'paused')").run(),
      ).toThrow(/CHECK/);
      // The reference still points at the jobs table (deleting a job clears it, as before).
      db.prepare("DELETE FROM jobs WHERE id = 'j-done'").run();
      expect(db.prepare("SELECT job_id FROM training_runs WHERE id = 'r1'").pluck().get()).toBeNull();
      expect(db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      db.close();
    }
  });
});
