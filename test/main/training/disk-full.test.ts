import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { Store } from '../../../src/main/store';
import { listCheckpoints } from '../../../src/main/training/checkpoint';
import { openWorkbench } from '../../../src/main/workbench';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

// Issue #21 item 12: a full disk (ENOSPC) or database (SQLITE_FULL) is one line naming the path and the
// space needed, never a stack trace, and loses nothing: earlier checkpoints stay complete and the run resumes.
const MODEL = path.join(FIXTURES, 'parity/mistral');

function makeHome(): string {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(64, 5));
  store.close();
  return home;
}

const trainArgs = (home: string, out: string) => [
  'train',
  '--home',
  home,
  '--dataset',
  'syn',
  '--model',
  MODEL,
  '--encoder',
  'reference',
  '--lora-rank',
  '16',
  '--batch-size',
  '8',
  '--chunk-size',
  '8',
  '--warmup',
  '1',
  '--epochs',
  '10',
  '--max-steps',
  '40',
  '--max-length',
  '16',
  '--checkpoint-every',
  '1',
  '--out',
  out,
];

const steps = (run: string) =>
  fs
    .readFileSync(path.join(run, 'train.log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step);

describe('disk full', () => {
  let stderr = '';
  const mounts: string[] = [];
  beforeEach(() => {
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    for (const m of mounts.splice(0)) execFileSync('umount', [m]);
  });

  it('ENOSPC in the run folder (a 1 MB tmpfs): one line, checkpoints intact, resume after freeing space', async (ctx) => {
    const home = makeHome();
    const mnt = path.join(tmpDir(), 'small');
    fs.mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      // Mounting needs root (CAP_SYS_ADMIN); elsewhere this real-ENOSPC test cannot run.
      console.warn('skipping the ENOSPC test: cannot mount a tmpfs here (not root)');
      ctx.skip();
    }
    mounts.push(mnt);
    const run = path.join(mnt, 'run');
    const code = await main(trainArgs(home, run));
    expect(code).toBe(1);
    expect(stderr).not.toMatch(/\n\s+at /);
    const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors.length, stderr).toBe(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `^error: ${run}/\\S+: no space left on the device \\(ENOSPC\\); needs about [\\d.]+ [KM]B, [\\d.]+ [KM]B free there; free some space, then resume`,
      ),
    );
    // Nothing half-written stays behind and every checkpoint that exists is complete.
    const cks = listCheckpoints(run);
    expect(cks.length).toBeGreaterThan(0);
    expect(fs.readdirSync(path.join(run, 'checkpoints')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    const store = Store.open(path.join(home, 'embedsmith.db'));
    const runRow = store.db.prepare('SELECT state FROM training_runs').get() as { state: string };
    store.close();
    expect(runRow.state).toBe('failed');
    // Free space, then resume: the run completes with one contiguous log.
    execFileSync('mount', ['-o', 'remount,size=64m', mnt]);
    stderr = '';
    expect(await main(['train', '--home', home, '--resume', run]), stderr).toBe(0);
    expect(steps(run)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  }, 120_000);

  it('SQLITE_FULL while a run records its checkpoints: the run stops at a checkpoint with one line; resume completes', async () => {
    const home = makeHome();
    const wb = openWorkbench({ home });
    try {
      const db = wb.store.db;
      const out = path.join(home, 'runs', 'r');
      const p = wb.training.prepare({
        datasets: ['syn'],
        model: MODEL,
        encoder: 'reference',
        batchSize: 8,
        chunkSize: 8,
        warmup: 1,
        epochs: 100,
        maxSteps: 60,
        maxLength: 16,
        checkpointEvery: 1,
        out,
      });
      let filled = false;
      let fillCode: string | undefined;
      const h = wb.training.start(p, {
        onStep: (e) => {
          if (e.step !== 3 || filled) return;
          filled = true;
          // Cap the database at its current size, then fill the checkpoints table's free space with rows of
          // this run at negative steps: the run's next checkpoint row needs a page it cannot get.
          db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
          const ins = db.prepare('INSERT INTO checkpoints (run_id, step, path) VALUES (?, ?, ?)');
          let code: string | undefined;
          try {
            for (let i = 1; i < 100_000; i++) ins.run(p.runId, -i, 'x'.repeat(1500));
          } catch (err) {
            code = (err as { code?: string }).code;
          }
          fillCode = code;
        },
      });
      const err = await h.done.then(
        () => null,
        (e: Error) => e,
      );
      expect(fillCode).toBe('SQLITE_FULL');
      expect(err?.name).toBe('UserError');
      expect(err?.message).toMatch(
        new RegExp(
          `^${wb.paths.db}: the database is full \\(SQLITE_FULL\\); needs about 64 KB, [\\d.]+ [KM]B free there; free some space, then resume`,
        ),
      );
      expect(err?.message.includes('\n')).toBe(false);
      const last = listCheckpoints(out)[0];
      const stoppedAt = (
        JSON.parse(fs.readFileSync(path.join(last, 'trainer_state.json'), 'utf8')) as { step: number }
      ).step;
      expect(stoppedAt).toBeGreaterThan(3);
      expect(stoppedAt).toBeLessThan(60);
      // Space again (lift the cap, drop the filler), then resume: it continues from that checkpoint.
      db.pragma('max_page_count = 1073741823');
      db.prepare('DELETE FROM checkpoints WHERE step < 0').run();
      const r = await wb.training.start(
        wb.training.prepare({ datasets: [], model: '', out }, { resume: out }),
      ).done;
      expect(r.state).toBe('done');
      expect(steps(out)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    } finally {
      wb.close();
    }
  }, 180_000);
});
