import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';
import { BERT, examples } from './helpers';

const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
};

describe('embedsmith mine / score (CLI)', () => {
  it('mines and scores with --json (one document on stdout, bars on stderr); bad input exits 1 or 2, writes nothing', () => {
    const dir = tmpDir();
    const home = path.join(dir, 'home');
    const file = path.join(dir, 'd.jsonl');
    fs.writeFileSync(
      file,
      examples(30, 41)
        .map((e) =>
          JSON.stringify({
            anchor: e.query,
            positive: e.positive,
            ...(e.negative ? { negative: e.negative } : {}),
          }),
        )
        .join('\n'),
    );
    expect(cli(['datasets', 'import', 'd', file, '--create', '--home', home]).code).toBe(0);
    const base = ['--dataset', 'd', '--model', BERT, '--home', home];
    // Usage errors (2) and input errors (1) before any work.
    expect(cli(['mine', ...base, '--range', '10'])).toMatchObject({ code: 2 });
    const far = cli(['mine', ...base, '--range', '10-500']);
    expect(far.code).toBe(1);
    expect(far.stderr).toMatch(/^error: --range 10-500 reaches past the pool of \d+ candidates/m);
    expect(cli(['mine', '--dataset', 'd', '--model', dir, '--home', home]).code).toBe(1);
    const db = () => new Database(path.join(home, 'embedsmith.db'), { readonly: true });
    const n = (t: string) => {
      const h = db();
      try {
        return (h.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
      } finally {
        h.close();
      }
    };
    expect(n('mining_runs')).toBe(0);

    const r = cli([
      'mine',
      ...base,
      '--range',
      '1-15',
      '--num-negatives',
      '2',
      '--relative-margin',
      '0.01',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.knobs).toMatchObject({ rangeMin: 1, rangeMax: 15, numNegatives: 2, relativeMargin: 0.01 });
    expect(n('mined_negatives')).toBe(rep.negatives);
    expect(r.stderr).toMatch(/mine search .*queries\/s ETA/);
    const s = cli(['score', ...base, '--margin', '0.05', '--json']);
    expect(s.code).toBe(0);
    const sum = JSON.parse(s.stdout);
    expect(sum.examples).toBe(30);
    const h = db();
    const flagged = (
      h
        .prepare('SELECT count(*) AS n FROM example_scores WHERE run_id = ? AND likely_false_negative = 1')
        .get(sum.runId) as {
        n: number;
      }
    ).n;
    h.close();
    expect(sum.likelyFalseNegatives).toBe(flagged);
  }, 60_000);
});
