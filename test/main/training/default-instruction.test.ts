import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KIND_DEFAULT_INSTRUCTIONS, type NewExample } from '../../../src/shared/domain';
import { importDataset } from '../../../src/main/import';
import { Store } from '../../../src/main/store';
import { loadTrainRows } from '../../../src/main/training/data';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

const fmt = (ins: string, q: string) => `Instruct: ${ins}\nQuery: ${q}`;
const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');

/** sentence-transformers triplets: a layout with no instruction column at all. */
function writeTriplets(file: string, n: number) {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ anchor: `query ${i}`, positive: `document ${i}`, negative: `other ${i}` }),
  );
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

const acceptAll = (store: Store, name: string) =>
  store.db
    .prepare(
      "UPDATE examples SET status = 'accepted', split = 'train' WHERE dataset_id = (SELECT id FROM datasets WHERE name = ?)",
    )
    .run(name);

describe('default instruction of rows that have none', () => {
  it('rows imported without an instruction train with the dataset default set on import', async () => {
    const dir = tmpDir();
    const store = Store.open(path.join(dir, 'db.sqlite'));
    const file = path.join(dir, 'st.jsonl');
    writeTriplets(file, 5);
    await importDataset(store, 'msm', file, {
      create: true,
      rejectedDir: dir,
      instruction: 'Given a web search query, retrieve relevant passages',
    });
    expect(store.datasets.get('msm').instruction).toBe(
      'Given a web search query, retrieve relevant passages',
    );
    acceptAll(store, 'msm');
    const rows = loadTrainRows(store, ['msm'], fmt);
    expect(rows).toHaveLength(5);
    expect(rows[0].query).toBe(
      'Instruct: Given a web search query, retrieve relevant passages\nQuery: query 0',
    );
    // A row's own instruction still wins over the dataset's.
    const d = store.datasets.get('msm');
    store.examples.insertMany(d.id, [
      {
        kind: 'short-long',
        instruction: 'Own instruction',
        query: 'q own',
        positive: 'p own',
        status: 'accepted',
        split: 'train',
      },
    ]);
    expect(loadTrainRows(store, ['msm'], fmt).find((r) => r.positive === 'p own')?.instruction).toBe(
      'Own instruction',
    );
    store.close();
  });

  it('without a dataset default, each kind gets the method default (never a refusal)', () => {
    const store = Store.open(path.join(tmpDir(), 'db.sqlite'));
    const d = store.datasets.create('bare');
    const kinds = ['short-long', 'long-short', 'short-short', 'long-long', 'sts', 'bitext'] as const;
    const rows: NewExample[] = kinds.map((kind, i) => ({
      kind,
      query: `q${i}`,
      positive: `p${i}`,
      status: 'accepted',
      split: 'train',
    }));
    store.examples.insertMany(d.id, rows);
    const got = loadTrainRows(store, ['bare'], fmt);
    expect(got.map((r) => r.kind)).toEqual([...kinds]);
    for (const r of got) expect(r.instruction).toBe(KIND_DEFAULT_INSTRUCTIONS[r.kind]);
    // The method fixes sts and bitext (METHOD.md §7).
    expect(got[4].instruction).toBe('Retrieve semantically similar text.');
    expect(got[5].instruction).toBe('Retrieve parallel sentences.');
    // Changing the dataset setting afterwards applies to the rows that have none; clearing it restores the method's.
    store.datasets.setInstruction('bare', 'Custom');
    expect(loadTrainRows(store, ['bare'], fmt).every((r) => r.instruction === 'Custom')).toBe(true);
    store.datasets.setInstruction('bare', null);
    expect(store.datasets.get('bare').instruction).toBeNull();
    expect(loadTrainRows(store, ['bare'], fmt)[0].instruction).toBe(KIND_DEFAULT_INSTRUCTIONS['short-long']);
    store.close();
  });

  it('CLI: `datasets import --instruction` stores it, `datasets instruction` changes and shows it', () => {
    const home = tmpDir();
    const file = path.join(home, 'st.jsonl');
    writeTriplets(file, 3);
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, [BIN, ...args, '--home', home], {
        encoding: 'utf8',
        cwd: REPO_ROOT,
      });
      return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const imp = cli(
      'datasets',
      'import',
      'x',
      file,
      '--create',
      '--instruction',
      'Find the answer',
      '--json',
    );
    expect(imp.stderr).not.toMatch(/error/);
    expect(imp.code).toBe(0);
    const list = JSON.parse(cli('datasets', 'list', '--json').stdout);
    expect(list.datasets[0]).toMatchObject({ name: 'x', instruction: 'Find the answer' });
    const set = cli('datasets', 'instruction', 'x', 'Another one');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('Another one');
    const shown = JSON.parse(cli('datasets', 'instruction', 'x', '--json').stdout);
    expect(shown).toMatchObject({ dataset: 'x', instruction: 'Another one' });
    const cleared = JSON.parse(cli('datasets', 'instruction', 'x', '--clear', '--json').stdout);
    expect(cleared.instruction).toBeNull();
  });
});
