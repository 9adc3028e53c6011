// `export dataset`, `export trainer` and `demo` are jobs of the one registry (issue #16 item 3): each leaves a
// `jobs` row the app's Jobs panel lists, done with its summary, or failed with the one line the user saw.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobInfo } from '../../../src/shared/contract';
import { main } from '../../../src/main/cli/index';
import { JobRegistry } from '../../../src/main/jobs/registry';
import { Store } from '../../../src/main/store';
import { captureOutput } from '../../helpers/capture';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from '../training/synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');
const io = captureOutput();

function makeHome(): string {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(60, 3));
  store.close();
  return home;
}

/** The workspace's jobs as the app lists them, newest first. */
function jobsOf(home: string): JobInfo[] {
  const store = Store.open(path.join(home, 'embedsmith.db'));
  try {
    return JobRegistry.over(store.db).list();
  } finally {
    store.close();
  }
}

describe('CLI exports and the demo are jobs of the registry', () => {
  it('export dataset: a job that ends done with its files and rows; an unknown dataset ends failed', async () => {
    const home = makeHome();
    const out = path.join(home, 'st');
    const args = ['--layout', 'sentence-transformers', '--out', out, '--home', home];
    expect(await main(['export', 'dataset', 'syn', ...args]), io.stderr).toBe(0);
    const [done] = jobsOf(home);
    expect(done).toMatchObject({
      type: 'export',
      state: 'done',
      label: `export syn (sentence-transformers) → ${out}`,
    });
    const files = fs.readdirSync(out);
    expect(files).toEqual(['train.jsonl']);
    const lines = fs.readFileSync(path.join(out, 'train.jsonl'), 'utf8').trim().split('\n').length;
    expect(done.result).toMatchObject({ dataset: 'syn', files: 1, rows: lines, out });
    expect(done.finishedAt).toBeDefined();

    expect(await main(['export', 'dataset', 'nope', ...args])).toBe(1);
    const [failed] = jobsOf(home);
    expect(failed).toMatchObject({ type: 'export', state: 'failed' });
    expect(failed.error).toMatch(/"nope"/);
    expect(io.stderr).toContain(failed.error);
  });

  it('export trainer: a job that ends done with the rows it wrote; a source that is neither run nor dataset fails', async () => {
    const home = makeHome();
    const out = path.join(home, 'job');
    const flags = ['--model', MODEL, '--batch-size', '16', '--chunk-size', '4', '--home', home];
    expect(await main(['export', 'trainer', 'syn', '--out', out, ...flags]), io.stderr).toBe(0);
    const [done] = jobsOf(home);
    expect(done).toMatchObject({ type: 'export', state: 'done', label: `export trainer syn → ${out}` });
    expect(done.result).toMatchObject({ out, rows: 60 });
    expect(fs.existsSync(path.join(out, 'launch.sh'))).toBe(true);

    expect(
      await main(['export', 'trainer', 'no-such-thing', '--out', path.join(home, 'b'), ...flags]),
    ).not.toBe(0);
    const [failed] = jobsOf(home);
    expect(failed).toMatchObject({
      type: 'export',
      state: 'failed',
      label: expect.stringContaining('no-such-thing'),
    });
    expect(failed.error).toMatch(/no-such-thing/);
  });

  it('demo: an --eval set that does not exist ends the demo job failed naming the path', async () => {
    const home = tmpDir();
    const missing = path.join(home, 'nope', 'sts-test.csv');
    expect(await main(['demo', '--home', home, '--eval', `sts:${missing}`])).toBe(1);
    const jobs = jobsOf(home);
    expect(jobs.map((j) => [j.type, j.state])).toEqual([['demo', 'failed']]);
    expect(jobs[0].error).toContain(missing);
    expect(io.stderr).toContain(jobs[0].error);
  });
});
