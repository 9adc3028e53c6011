import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobInfo } from '../../../src/shared/contract';
import { UserError } from '../../../src/main/errors';
import { JobRegistry } from '../../../src/main/jobs/registry';
import { Store } from '../../../src/main/store';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

function setup() {
  const file = path.join(tmpDir(), 'db.sqlite');
  const store = Store.open(file);
  const jobs = JobRegistry.over(store.db);
  const seen: JobInfo[] = [];
  jobs.subscribe((j) => seen.push(j));
  return { file, store, jobs, seen };
}

const p = (done: number, total: number) => ({ done, total, unit: 'rows', ratePerS: null, etaS: null });

/** A job in another process (registry-child.ts): its id, and the kill that ends that process. */
async function otherProcessJob(file: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'test/main/jobs/registry-child.ts'), file],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const id = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before starting its job`)));
  });
  return {
    id,
    pid: child.pid as number,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('job registry (one lifecycle, persisted)', () => {
  it('an in-process job runs, reports progress and ends done with its result in the jobs table', async () => {
    const { store, jobs, seen } = setup();
    const j = jobs.start('import', 'import a.jsonl into d', async (onProgress) => {
      for (let i = 1; i <= 4; i++) {
        onProgress(p(i, 4));
        await new Promise((r) => setImmediate(r));
      }
      return { inserted: 4 };
    });
    expect(j.state).toBe('running');
    const end = await jobs.settled(j.id);
    expect(end).toMatchObject({ state: 'done', result: { inserted: 4 }, label: 'import a.jsonl into d' });
    const mine = seen.filter((e) => e.id === j.id);
    // Its work starts at once: no queued step.
    expect(mine.map((e) => e.state).filter((s, i, a) => s !== a[i - 1])).toEqual(['running', 'done']);
    // Updates are thinned for the screen, but the last one always gets through.
    expect(mine.filter((e) => e.state === 'running').at(-1)?.progress).toMatchObject({ done: 4, total: 4 });
    const row = jobs.store.get(j.id);
    expect(row).toMatchObject({ state: 'done', result: { inserted: 4 }, progress: { done: 4, total: 4 } });
    expect(row.startedAt).not.toBeNull();
    expect(row.finishedAt).not.toBeNull();
    // Another process (the app after a restart) reads the same job from the table.
    const again = JobRegistry.over(store.db).list();
    expect(again.find((x) => x.id === j.id)).toMatchObject({ state: 'done', result: { inserted: 4 } });
    store.close();
  });

  it('a throwing job ends failed with its one line; listeners and the table agree', async () => {
    const { store, jobs } = setup();
    const j = jobs.start('export', 'export d', () => {
      throw new UserError('--out /x: the folder is read-only; pick another --out');
    });
    const end = await jobs.settled(j.id);
    expect(end.state).toBe('failed');
    expect(end.error).toBe('--out /x: the folder is read-only; pick another --out');
    expect(jobs.store.get(j.id)).toMatchObject({ state: 'failed', error: end.error });
    expect(jobs.list()[0]).toMatchObject({ id: j.id, state: 'failed' });
    store.close();
  });

  it('cancel aborts a running job and records cancelled, whatever its body returns', async () => {
    const { store, jobs } = setup();
    let aborted = false;
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const j = jobs.start('mining', 'mine d', async (_onProgress, job) => {
      started();
      await new Promise<void>((r) => job.signal.addEventListener('abort', () => r()));
      aborted = job.signal.aborted;
      return { partial: true };
    });
    await running;
    expect(jobs.cancel(j.id)).toBe(true);
    const end = await jobs.settled(j.id);
    expect(aborted).toBe(true);
    expect(end.state).toBe('cancelled');
    expect(jobs.store.get(j.id).state).toBe('cancelled');
    expect(jobs.store.get(j.id).finishedAt).not.toBeNull();
    // A job that ended is no longer cancellable.
    expect(jobs.cancel(j.id)).toBe(false);
    store.close();
  });

  it('a queued job cancelled before it begins ends cancelled at once; its owner can no longer move it', async () => {
    const { store, jobs } = setup();
    let stopped = 0;
    const c = jobs.open('training', 'train run-1', {}, { onCancel: () => stopped++ });
    expect(jobs.get(c.id).state).toBe('queued');
    expect(jobs.cancel(c.id)).toBe(true);
    expect(stopped).toBe(1);
    expect(c.signal.aborted).toBe(true);
    expect(jobs.store.get(c.id).state).toBe('cancelled');
    c.begin();
    c.progress(p(1, 2));
    c.end({ state: 'done', result: { late: true } });
    expect(jobs.store.get(c.id)).toMatchObject({ state: 'cancelled', result: undefined });
    expect((await jobs.settled(c.id)).state).toBe('cancelled');
    store.close();
  });

  it('an owner-driven job ends interrupted or failed as its owner says', async () => {
    const { store, jobs } = setup();
    const a = jobs.open('generation', 'generate into d');
    a.begin();
    a.end({ state: 'interrupted', error: 'paused; resume it from the Generate screen' });
    expect(jobs.store.get(a.id)).toMatchObject({
      state: 'interrupted',
      error: 'paused; resume it from the Generate screen',
    });
    const b = jobs.open('generation', 'generate into d');
    b.begin();
    b.end({ state: 'failed', error: '401 from the provider' });
    expect((await jobs.settled(b.id)).state).toBe('failed');
    store.close();
  });

  it('a job whose process was killed ends interrupted at the next start-up; this process’s jobs are left alone', async () => {
    const { file, store, jobs } = setup();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'test/main/jobs/registry-child.ts'), file],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((r) => child.once('exit', r));
    const id = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before starting its job`)));
    });
    const mine = jobs.open('export', 'export d');
    mine.begin();
    expect(jobs.store.get(id)).toMatchObject({ state: 'running', progress: { done: 3 } });
    // While the other process lives its job is not touched.
    expect(jobs.store.reconcile()).toEqual([]);
    child.kill('SIGKILL');
    await exited;
    expect(jobs.store.reconcile()).toEqual([id]);
    const j = jobs.list().find((x) => x.id === id);
    expect(j).toMatchObject({ state: 'interrupted', label: 'import big.jsonl into d' });
    expect(j?.error).toMatch(/^interrupted: the process running it \(pid \d+\) is gone/);
    expect(j?.finishedAt).toBeDefined();
    expect(jobs.get(mine.id).state).toBe('running');
    mine.end({ state: 'done' });
    store.close();
  }, 60_000);
});

describe('cancel from the Jobs panel (requestCancel)', () => {
  it('a job whose owner can stop it says so while it runs; Cancel stops it and it ends cancelled', async () => {
    const { store, jobs, seen } = setup();
    let stops = 0;
    const c = jobs.open('training', 'train run-1', {}, { onCancel: () => stops++, running: true });
    expect(jobs.get(c.id)).toMatchObject({ state: 'running', cancellable: true });
    expect(seen.at(-1)).toMatchObject({ id: c.id, cancellable: true });
    const asked = jobs.requestCancel(c.id);
    // The owner stops at its next safe point (a checkpoint): running until it reports back.
    expect(asked.state).toBe('running');
    expect(stops).toBe(1);
    expect(c.signal.aborted).toBe(true);
    // Asking twice changes nothing.
    expect(jobs.requestCancel(c.id).state).toBe('running');
    expect(stops).toBe(1);
    c.end({ state: 'done', result: { step: 7 } });
    const end = await jobs.settled(c.id);
    expect(end.state).toBe('cancelled');
    expect(end.cancellable).toBeUndefined();
    expect(jobs.store.get(c.id).state).toBe('cancelled');
    store.close();
  });

  it('an in-process body that declares it honours its signal is cancellable; one that does not is refused', async () => {
    const { store, jobs } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const stoppable = jobs.start(
      'eval',
      'evaluate m',
      async (_p, job) => {
        await new Promise<void>((r) => job.signal.addEventListener('abort', () => r()));
        return { partial: true };
      },
      {},
      { cancellable: true },
    );
    const plain = jobs.start('import', 'import a.jsonl into d', async () => {
      await gate;
      return { inserted: 1 };
    });
    expect(stoppable.cancellable).toBe(true);
    expect(plain.cancellable).toBeUndefined();
    expect(() => jobs.requestCancel(plain.id)).toThrow(UserError);
    expect(() => jobs.requestCancel(plain.id)).toThrow(
      `job ${plain.id} (import) cannot be cancelled: it stops on its own when its work is done`,
    );
    jobs.requestCancel(stoppable.id);
    expect((await jobs.settled(stoppable.id)).state).toBe('cancelled');
    release();
    expect((await jobs.settled(plain.id)).state).toBe('done');
    store.close();
  });

  it('commit() is the point of no return: Cancel is refused after it, and a cancel before it wins', async () => {
    const { store, jobs, seen } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let committed: boolean | undefined;
    const late = jobs.start(
      'import',
      'import a.jsonl into d',
      async (_p, job) => {
        committed = job.commit();
        await gate;
        return { inserted: 1 };
      },
      {},
      { cancellable: true },
    );
    expect(late.cancellable).toBe(true);
    await new Promise<void>((r) => setImmediate(r));
    expect(committed).toBe(true);
    // The panel sees the Cancel go away while the job still runs.
    expect(seen.filter((j) => j.id === late.id).at(-1)).toMatchObject({ state: 'running' });
    expect(seen.filter((j) => j.id === late.id).at(-1)?.cancellable).toBeUndefined();
    expect(() => jobs.requestCancel(late.id)).toThrow(
      `job ${late.id} (import) is publishing its result; it can no longer be cancelled`,
    );
    // Even a direct cancel (Ctrl-C path) no longer turns a published result into "cancelled".
    jobs.cancel(late.id);
    release();
    expect((await jobs.settled(late.id)).state).toBe('done');

    let second: boolean | undefined;
    const early = jobs.start(
      'import',
      'import b.jsonl into d',
      async (_p, job) => {
        await new Promise<void>((r) => job.signal.addEventListener('abort', () => r()));
        second = job.commit();
        if (!second) throw new Error('cancelled before publishing');
      },
      {},
      { cancellable: true },
    );
    await new Promise<void>((r) => setImmediate(r)); // the body runs and waits for its signal
    jobs.requestCancel(early.id);
    expect((await jobs.settled(early.id)).state).toBe('cancelled');
    expect(second).toBe(false);
    store.close();
  });

  it('a finished job, an unknown id and another process’s job each answer one line naming why', async () => {
    const { file, store, jobs } = setup();
    const done = jobs.start('export', 'export d', () => ({ rows: 1 }));
    await jobs.settled(done.id);
    expect(() => jobs.requestCancel(done.id)).toThrow(UserError);
    expect(() => jobs.requestCancel(done.id)).toThrow(
      `job ${done.id} already ended (done); there is nothing to cancel`,
    );
    expect(() => jobs.requestCancel('import-nope')).toThrow(
      'job "import-nope" does not exist; pick one from the Jobs list',
    );
    const other = await otherProcessJob(file);
    try {
      expect(() => jobs.requestCancel(other.id)).toThrow(
        `job ${other.id} runs in another process (pid ${other.pid}); stop it there (Ctrl-C in its terminal)`,
      );
      expect(jobs.store.get(other.id).state).toBe('running');
    } finally {
      await other.kill();
    }
    store.close();
  }, 60_000);
});

describe('interrupt (a stale row closed by the work that takes over)', () => {
  it('closes a running row of another process as interrupted with the reason; ended and live jobs stay', async () => {
    const { file, store, jobs } = setup();
    const ended = jobs.start('training', 'train run-1', () => ({ step: 1 }));
    await jobs.settled(ended.id);
    const live = jobs.open('training', 'train run-2', {}, { running: true });
    const other = await otherProcessJob(file);
    try {
      expect(jobs.interrupt(other.id, 'interrupted (resumed by a later job)')).toBe(true);
      expect(jobs.store.get(other.id)).toMatchObject({
        state: 'interrupted',
        error: 'interrupted (resumed by a later job)',
      });
      expect(jobs.store.get(other.id).finishedAt).not.toBeNull();
      expect(jobs.interrupt(ended.id, 'x')).toBe(false);
      expect(jobs.store.get(ended.id)).toMatchObject({ state: 'done', error: null });
      expect(jobs.interrupt(live.id, 'x')).toBe(false);
      expect(jobs.get(live.id).state).toBe('running');
      live.end({ state: 'done' });
    } finally {
      await other.kill();
    }
    store.close();
  }, 60_000);
});

describe('one owner of the jobs table', () => {
  it('no file outside src/main/jobs writes the jobs table: every change goes through the registry', () => {
    const src = path.join(REPO_ROOT, 'src');
    const writes: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const f = path.join(dir, e.name);
        if (e.isDirectory()) walk(f);
        else if (/\.(ts|tsx|mjs)$/.test(e.name) && !f.startsWith(path.join(src, 'main', 'jobs') + path.sep))
          fs.readFileSync(f, 'utf8')
            .split('\n')
            .forEach((l, i) => {
              if (/\b(UPDATE|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM|REPLACE\s+INTO)\s+jobs\b/i.test(l))
                writes.push(`${path.relative(REPO_ROOT, f)}:${i + 1}`);
            });
      }
    };
    walk(src);
    expect(writes).toEqual([]);
  });
});
