// Several writers on one workspace database, as real processes: a CLI import while the app reviews, two imports at
// once, a writer that holds the lock too long. No timing assertions: what is checked is that every write is applied
// or refused in one retryable line, and what readers can see.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Store } from '../../../src/main/store';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');

const stLine = (i: number, tag = '') =>
  JSON.stringify({
    anchor: `what is item ${i}${tag} about`,
    positive: `Item ${i} is a document about topic ${i % 97} with enough words to look like real text.`,
    negative: `Item ${i + 1} talks about something else entirely.`,
  });

function writeFile(file: string, n: number, tag = '') {
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < n; i += 10_000)
    fs.writeSync(
      fd,
      `${Array.from({ length: Math.min(10_000, n - i) }, (_, j) => stLine(i + j, tag)).join('\n')}\n`,
    );
  fs.closeSync(fd);
}

interface Run {
  p: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}
function cli(args: string[], env: Record<string, string> = {}): Run {
  const p = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d) => {
    stdout += d;
  });
  p.stderr!.on('data', (d) => {
    stderr += d;
  });
  return { p, done: new Promise((r) => p.on('close', (code) => r({ code, stdout, stderr }))) };
}

/**
 * Another process that takes the write lock and says "locked"; it commits `ms` later, or (ms = null) when
 * release() is called.
 */
function holdLock(
  file: string,
  ms: number | null,
): Promise<{ released: Promise<void>; release: () => void }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(file)});
    db.exec('BEGIN IMMEDIATE');
    db.prepare("UPDATE datasets SET description = 'held' WHERE id = (SELECT min(id) FROM datasets)").run();
    process.stdout.write('locked\\n');
    const done = () => { db.exec('COMMIT'); db.close(); process.exit(0); };
    if (${ms} === null) process.stdin.on('data', done); else setTimeout(done, ${ms});`;
  const p = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT });
  const released = new Promise<void>((r) => p.on('close', () => r()));
  return new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => {
      if (String(d).includes('locked')) resolve({ released, release: () => p.stdin.write('go\n') });
    });
    p.stderr.on('data', (d) => reject(new Error(String(d))));
  });
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('error:'));

function seeded(home: string) {
  const store = Store.open(path.join(home, 'embedsmith.db'));
  const d = store.datasets.create('reviewed');
  const ids = store.examples.insertMany(
    d.id,
    Array.from({ length: 50 }, (_, i) => ({
      kind: 'short-long' as const,
      query: `q${i}`,
      positive: `p${i}`,
    })),
  ).ids;
  return { store, ids };
}

describe('concurrent writers on one workspace', () => {
  it('a review waits for another process’s write transaction instead of failing at once', async () => {
    const home = tmpDir();
    const { store, ids } = seeded(home);
    const held = await holdLock(path.join(home, 'embedsmith.db'), 300);
    // The read-then-write transaction used to get SQLITE_BUSY at once: no busy wait for a read that upgrades.
    expect(store.examples.review(ids[0], 'accept').status).toBe('accepted');
    await held.released;
    expect(store.examples.get(ids[0]).status).toBe('accepted');
    store.close();
  });

  it('a CLI import commits in chunks that stay invisible until the end, while reviews keep being applied', async () => {
    const dir = tmpDir();
    const home = path.join(dir, 'home');
    const { store, ids } = seeded(home);
    const file = path.join(dir, 'big.jsonl');
    const N = 60_000;
    writeFile(file, N);
    const imp = cli(['datasets', 'import', 'big', file, '--create', '--home', home, '--json']);
    let exited = false;
    void imp.done.then(() => {
      exited = true;
    });
    const totals = new Set<number>();
    const visible = new Set<number>();
    let reviews = 0;
    const count = store.db.prepare('SELECT count(*) FROM examples').pluck();
    const inBig = store.db
      .prepare("SELECT count(*) FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.name = 'big'")
      .pluck();
    while (!exited) {
      totals.add(Number(count.get()) - 50);
      visible.add(Number(inBig.get()));
      const id = ids[reviews % ids.length];
      const action = reviews % 2 ? 'reject' : 'accept';
      expect(store.examples.review(id, action).status).toBe(action === 'accept' ? 'accepted' : 'rejected');
      reviews++;
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await imp.done;
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ read: N, inserted: N, duplicates: 0 });
    // Staged rows were committed in several chunks (readers saw partial totals) ...
    expect([...totals].filter((n) => n > 0 && n < N).length).toBeGreaterThan(1);
    // ... but the dataset itself only ever had nothing or everything.
    expect([...visible].every((n) => n === 0 || n === N)).toBe(true);
    expect(Number(inBig.get())).toBe(N);
    expect(Number(count.get())).toBe(N + 50);
    // Every review was applied, in order: one history row each.
    expect(reviews).toBeGreaterThan(0);
    const hist = store.db.prepare('SELECT count(*) FROM review_events').pluck().get();
    expect(hist).toBe(reviews);
    store.close();
  }, 120_000);

  it('two imports at once both finish with the right counts and exit 0', async () => {
    const dir = tmpDir();
    const home = path.join(dir, 'home');
    Store.open(path.join(home, 'embedsmith.db')).close();
    const a = path.join(dir, 'a.jsonl');
    const b = path.join(dir, 'b.jsonl');
    const N = 40_000;
    writeFile(a, N);
    writeFile(b, N, 'b');
    const runs = [
      cli(['datasets', 'import', 'same', a, '--create', '--home', home, '--json']),
      cli(['datasets', 'import', 'same', a, '--create', '--home', home, '--json']),
      cli(['datasets', 'import', 'other', b, '--create', '--home', home, '--json']),
    ];
    const res = await Promise.all(runs.map((x) => x.done));
    for (const r of res) {
      expect(errorLines(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
    }
    const out = res.map((r) => JSON.parse(r.stdout));
    // The same file twice into one dataset: one import's rows, the other's all duplicates.
    expect(out[0].inserted + out[1].inserted).toBe(N);
    expect(out[0].duplicates + out[1].duplicates).toBe(N);
    expect(out[2]).toMatchObject({ inserted: N, duplicates: 0 });
    const db = new Database(path.join(home, 'embedsmith.db'), { readonly: true });
    const per = db
      .prepare(
        'SELECT d.name, count(e.id) AS n FROM datasets d LEFT JOIN examples e ON e.dataset_id = d.id GROUP BY 1 ORDER BY 1',
      )
      .all();
    expect(per).toEqual([
      { name: 'other', n: N },
      { name: 'same', n: N },
    ]);
    db.close();
  }, 180_000);

  it('a lock held past the busy timeout is one retryable line on the CLI, and nothing changes', async () => {
    const dir = tmpDir();
    const home = path.join(dir, 'home');
    Store.open(path.join(home, 'embedsmith.db')).close();
    const held = await holdLock(path.join(home, 'embedsmith.db'), null);
    const r = await cli(['datasets', 'create', 'late', '--home', home], { EMBEDSMITH_BUSY_TIMEOUT_MS: '200' })
      .done;
    held.release();
    await held.released;
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(/database is busy: .*nothing was changed, try again$/),
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const store = Store.open(path.join(home, 'embedsmith.db'));
    expect(store.datasets.find('late')).toBeUndefined();
    store.close();
  }, 30_000);

  it('the same over HTTP is a 503 with the retryable line, never a 500', async () => {
    const home = tmpDir();
    Store.open(path.join(home, 'embedsmith.db')).close();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'test/main/serve/serve-child.ts'), home],
      { cwd: REPO_ROOT, env: { ...process.env, EMBEDSMITH_BUSY_TIMEOUT_MS: '200' } },
    );
    try {
      const { origin, token } = await new Promise<{ origin: string; token: string }>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
        });
        child.on('exit', (c) => reject(new Error(`serve exited ${c}`)));
      });
      const create = (name: string) =>
        fetch(`${origin}/trpc/datasets.create`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name }),
        });
      expect((await create('first')).status).toBe(200);
      const held = await holdLock(path.join(home, 'embedsmith.db'), null);
      const r = await create('late');
      held.release();
      await held.released;
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(
        /database is busy: .*nothing was changed, try again$/,
      );
      expect((await create('after')).status).toBe(200);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
