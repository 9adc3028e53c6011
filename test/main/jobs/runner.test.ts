import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/main/errors';
import { JobRegistry } from '../../../src/main/jobs/registry';
import { JobRunner } from '../../../src/main/jobs/runner';
import { Store } from '../../../src/main/store';
import { tmpDir } from '../../helpers/tmp';

const moduleUrl = new URL('./sample-job.ts', import.meta.url).href;

function setup() {
  const store = Store.open(path.join(tmpDir(), 'db.sqlite'));
  const registry = JobRegistry.over(store.db);
  return { store, jobs: registry.store, runner: new JobRunner(registry) };
}

describe('job runner (worker_threads)', () => {
  it('runs a TypeScript job in a worker with events, progress, logs, and persists its state', async () => {
    const { store, jobs, runner } = setup();
    const events: { i: number; square: number }[] = [];
    const logs: string[] = [];
    const h = runner.start<{ reached: number }, { i: number; square: number }>(
      'sample',
      { n: 5 },
      { moduleUrl, input: { n: 5, delayMs: 5 }, onEvent: (e) => events.push(e), onLog: (m) => logs.push(m) },
    );
    expect(jobs.get(h.id).state).toBe('running');
    const r = await h.done;
    expect(r.reached).toBe(5);
    expect(events.map((e) => e.square)).toEqual([1, 4, 9, 16, 25]);
    expect(logs).toEqual(['finished']);
    const row = jobs.get(h.id);
    expect(row.state).toBe('done');
    expect(row.progress.done).toBe(5);
    expect(row.finishedAt).not.toBeNull();
    store.close();
  });

  it('cancel stops the job cooperatively and records cancelled', async () => {
    const { store, jobs, runner } = setup();
    let seen = 0;
    const h = runner.start<{ reached: number }>(
      'sample',
      {},
      {
        moduleUrl,
        input: { n: 1000, delayMs: 5 },
        onEvent: () => {
          seen++;
          if (seen === 3) h.cancel();
        },
      },
    );
    const r = await h.done;
    expect(r.reached).toBeLessThan(1000);
    expect(jobs.get(h.id).state).toBe('cancelled');
    store.close();
  });

  it('a UserError crosses the thread boundary as a UserError; a crash marks the job failed', async () => {
    const { store, jobs, runner } = setup();
    const a = runner.start('sample', {}, { moduleUrl, input: { n: 5, delayMs: 1, fail: 'user' } });
    await expect(a.done).rejects.toBeInstanceOf(UserError);
    await expect(a.done).rejects.toMatchObject({ exitCode: 2, message: '--thing 3 is bad; change --thing' });
    const b = runner.start('sample', {}, { moduleUrl, input: { n: 5, delayMs: 1, fail: 'crash' } });
    await expect(b.done).rejects.toThrow('boom');
    expect(jobs.get(a.id).state).toBe('failed');
    expect(jobs.get(b.id).error).toBe('boom');
    store.close();
  });
});
