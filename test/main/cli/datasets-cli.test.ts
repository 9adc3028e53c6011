import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');

function cli(args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO_ROOT, ...opts });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Rows of a dataset read straight from the database file (no Embedsmith code involved). */
function countRows(home: string, dataset: string): number {
  const db = new Database(path.join(home, 'embedsmith.db'), { readonly: true });
  try {
    return (
      db
        .prepare(
          'SELECT count(*) AS n FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.name = ?',
        )
        .get(dataset) as { n: number }
    ).n;
  } finally {
    db.close();
  }
}

/** The error lines a failed command printed (progress lines aside). */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('error:'));

const stLine = (i: number) =>
  JSON.stringify({
    anchor: `what is item ${i} about`,
    positive: `Item ${i} is a document about topic ${i % 97} with enough words to look like real text.`,
    negative: `Item ${i + 1} talks about something else entirely.`,
  });

describe('embedsmith datasets (CLI)', () => {
  it('imports a 1,000-line file with one bad line: fails naming the line and stores nothing; --skip-invalid stores 999', () => {
    const dir = tmpDir();
    const home = path.join(dir, 'home');
    const file = path.join(dir, 'data.jsonl');
    const lines = Array.from({ length: 1000 }, (_, i) => stLine(i));
    lines[499] = '{"anchor": "broken", "positive": ';
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    expect(cli(['datasets', 'create', 'd', '--home', home, '--json']).code).toBe(0);

    const bad = cli(['datasets', 'import', 'd', file, '--home', home, '--json']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    const errs = errorLines(bad.stderr);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain(`${file}:500: invalid JSON`);
    expect(errs[0]).toContain('--skip-invalid');
    expect(countRows(home, 'd')).toBe(0);

    const ok = cli(['datasets', 'import', 'd', file, '--home', home, '--json', '--skip-invalid']);
    expect(ok.code).toBe(0);
    const r = JSON.parse(ok.stdout); // exactly one JSON document
    expect(r).toMatchObject({
      read: 1000,
      inserted: 999,
      duplicates: 0,
      invalid: 1,
      layout: 'sentence-transformers',
    });
    expect(r.rejected).toEqual([{ where: `${file}:500`, reason: expect.stringMatching(/^invalid JSON/) }]);
    expect(fs.readFileSync(r.rejectedFile, 'utf8')).toBe(`${lines[499]}\n`);
    expect(countRows(home, 'd')).toBe(999);
    // Progress (rate and ETA) went to stderr.
    expect(ok.stderr).toMatch(/import d .*lines\/s ETA/);

    const stats = JSON.parse(cli(['datasets', 'stats', 'd', '--home', home, '--json']).stdout);
    expect(stats.total).toBe(999);
  });

  it('a SIGKILL in the middle of a large import leaves the whole file or nothing', async () => {
    const dir = tmpDir();
    const home = path.join(dir, 'home');
    const file = path.join(dir, 'big.jsonl');
    const N = 200_000;
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < N; i += 10_000)
      fs.writeSync(fd, `${Array.from({ length: 10_000 }, (_, j) => stLine(i + j)).join('\n')}\n`);
    fs.closeSync(fd);
    expect(cli(['datasets', 'create', 'big', '--home', home]).code).toBe(0);

    const child = spawn(
      process.execPath,
      [BIN, 'datasets', 'import', 'big', file, '--home', home, '--json'],
      {
        cwd: REPO_ROOT,
      },
    );
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (b) => {
      stdout += b;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    // Kill once the progress bar shows rows inserted (the transaction is open and has written pages).
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (b) => {
        stderr += b;
        const m = stderr.match(/import big .* (\d+)\/\d+ lines/);
        if (m && Number(m[1]) > 0) {
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 300);
        }
      });
    });
    const { signal } = await exited;
    expect(signal).toBe('SIGKILL');
    expect(stdout).toBe(''); // it never reported success
    const n = countRows(home, 'big');
    expect([0, N]).toContain(n);
    expect(n).toBe(0);
    const db = new Database(path.join(home, 'embedsmith.db'));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    // The killed import's committed chunks were invisible; the next import removes them.
    const small = path.join(dir, 'small.jsonl');
    fs.writeFileSync(small, `${stLine(1)}\n${stLine(2)}\n`);
    expect(cli(['datasets', 'import', 'big', small, '--home', home]).code).toBe(0);
    const after = new Database(path.join(home, 'embedsmith.db'), { readonly: true });
    expect(after.prepare('SELECT count(*) FROM examples').pluck().get()).toBe(2);
    expect(after.prepare('SELECT name FROM datasets').pluck().all()).toEqual(['big']);
    after.close();
  }, 60_000);

  it('gives one-line errors and the right exit codes for bad input', () => {
    const dir = tmpDir();
    const home = path.join(dir, 'home');
    const file = path.join(dir, 'x.jsonl');
    fs.writeFileSync(file, `${stLine(1)}\n${stLine(2)}\n`);
    cli(['datasets', 'create', 'd', '--home', home]);
    const one = (r: { code: number | null; stderr: string }, code: number, re: RegExp) => {
      expect(r.code).toBe(code);
      const errs = errorLines(r.stderr);
      expect(errs).toHaveLength(1);
      expect(errs[0]).toMatch(re);
    };
    one(
      cli(['datasets', 'export', 'nope', '--out', path.join(dir, 'o.jsonl'), '--home', home]),
      1,
      /unknown dataset "nope".*datasets create nope/,
    );
    one(cli(['datasets', 'import', 'nope', file, '--home', home]), 1, /unknown dataset "nope"/);
    one(
      cli(['datasets', 'export', 'd', '--out', path.join(dir, 'o.csv'), '--format', 'csv', '--home', home]),
      2,
      /--format "csv" is not known; use one of jsonl, parquet/,
    );
    one(
      cli(['datasets', 'import', 'd', file, '--layout', 'csv', '--home', home]),
      2,
      /--layout "csv" is not known/,
    );
    one(cli(['datasets', 'split', 'd', '--ratios', '0.9,0.1,0.1', '--home', home]), 2, /sum to 1.1, not 1/);
    const beir = path.join(dir, 'beir');
    fs.mkdirSync(beir);
    fs.writeFileSync(path.join(beir, 'corpus.jsonl'), '{"_id":"d1","text":"t"}\n');
    fs.writeFileSync(path.join(beir, 'queries.jsonl'), '{"_id":"q1","text":"q"}\n');
    one(cli(['datasets', 'import', 'd', beir, '--home', home]), 1, /beir: BEIR folder has no qrels\/\*\.tsv/);
    expect(countRows(home, 'd')).toBe(0);

    // Import, split and export through the CLI; --json prints exactly one document.
    expect(cli(['datasets', 'import', 'd', file, '--home', home, '--status', 'accepted']).code).toBe(0);
    const split = JSON.parse(
      cli(['datasets', 'split', 'd', '--ratios', '1,0,0', '--seed', '5', '--home', home, '--json']).stdout,
    );
    expect(split).toMatchObject({ assigned: 2, bySplit: { train: 2 } });
    const out = path.join(dir, 'o.parquet');
    const ex = JSON.parse(
      cli(['datasets', 'export', 'd', '--out', out, '--split', 'train', '--home', home, '--json']).stdout,
    );
    expect(ex).toMatchObject({ format: 'parquet', rows: 2, layout: 'paper' });
    expect(fs.statSync(out).size).toBeGreaterThan(0);
    // An existing --out is kept unless --force.
    const jsonl = path.join(dir, 'o.jsonl');
    fs.writeFileSync(jsonl, 'precious\n');
    one(
      cli(['datasets', 'export', 'd', '--out', jsonl, '--home', home]),
      1,
      /o\.jsonl already exists; pass --force to replace it/,
    );
    expect(fs.readFileSync(jsonl, 'utf8')).toBe('precious\n');
    expect(cli(['datasets', 'export', 'd', '--out', jsonl, '--force', '--home', home]).code).toBe(0);
    expect(fs.readFileSync(jsonl, 'utf8').trim().split('\n')).toHaveLength(2);
    // Ratios are checked by the same rule the API uses.
    one(cli(['datasets', 'split', 'd', '--ratios', '0,0,0', '--home', home]), 2, /sum to 0, not 1/);
    // 15 CLI processes: 20 s on a quiet machine, several times that on a shared busy one.
  }, 180_000);

  it('names a corrupt and a read-only database file in one line', () => {
    const dir = tmpDir();
    fs.chmodSync(dir, 0o755);
    const corrupt = path.join(dir, 'corrupt');
    fs.mkdirSync(corrupt);
    fs.writeFileSync(path.join(corrupt, 'embedsmith.db'), 'this is not a database\n'.repeat(200));
    const c = cli(['datasets', 'list', '--home', corrupt, '--json']);
    expect(c.code).toBe(1);
    expect(c.stdout).toBe('');
    expect(errorLines(c.stderr)).toEqual([
      expect.stringMatching(/embedsmith\.db: not a valid Embedsmith database .*move it aside/),
    ]);

    const ro = path.join(dir, 'ro');
    expect(cli(['datasets', 'create', 'd', '--home', ro]).code).toBe(0);
    fs.chmodSync(path.join(ro, 'embedsmith.db'), 0o444);
    fs.chmodSync(ro, 0o555);
    // Root ignores file modes, so run the child as an unprivileged user there.
    const asUser: SpawnSyncOptions = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const file = path.join(dir, 'x.jsonl');
    fs.writeFileSync(file, `${stLine(1)}\n`);
    fs.chmodSync(file, 0o644);
    const r = cli(['datasets', 'import', 'd', file, '--home', ro, '--json'], asUser);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(/embedsmith\.db: the database is read-only .*fix its permissions/),
    ]);
    fs.chmodSync(ro, 0o755);
    expect(countRows(ro, 'd')).toBe(0);
  }, 60_000);
});
