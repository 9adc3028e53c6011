import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApi } from '../../../src/main/api';
import { openWorkbench } from '../../../src/main/workbench';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');
const cli = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO_ROOT });

describe('CLI operations are jobs of the one registry', () => {
  it('a CLI import and export show in the app’s Jobs list with their end state, counts and error', async () => {
    const home = tmpDir();
    const file = path.join(home, 'in.jsonl');
    fs.writeFileSync(
      file,
      Array.from({ length: 12 }, (_, i) =>
        JSON.stringify({
          anchor: `what is item ${i}`,
          positive: `Item ${i} is a document about topic ${i}.`,
        }),
      ).join('\n'),
    );
    expect(
      cli(['datasets', 'import', 'd', file, '--create', '--kind', 'short-long', '--home', home]).status,
    ).toBe(0);
    const out = path.join(home, 'out.jsonl');
    expect(cli(['datasets', 'export', 'd', '--out', out, '--status', 'all', '--home', home]).status).toBe(0);
    expect(cli(['datasets', 'import', 'd', path.join(home, 'nope.jsonl'), '--home', home]).status).toBe(1);

    const wb = openWorkbench({ home });
    try {
      const jobs = await createApi(wb, { transport: 'http' }).caller.jobs.list();
      expect(jobs.map((j) => [j.type, j.state])).toEqual([
        ['import', 'failed'],
        ['export', 'done'],
        ['import', 'done'],
      ]);
      expect(jobs[2]).toMatchObject({ label: 'import in.jsonl into d', result: { inserted: 12 } });
      expect(jobs[2].progress).toMatchObject({ done: expect.any(Number) });
      expect(jobs[1]).toMatchObject({ label: 'export d → out.jsonl', result: { rows: 12 } });
      expect(jobs[0].error).toMatch(/nope\.jsonl/);
      expect(jobs.every((j) => j.finishedAt)).toBe(true);
    } finally {
      wb.close();
    }
  }, 60_000);
});
