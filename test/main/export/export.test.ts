import fs from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { exportDataset } from '../../../src/main/export';
import { importDataset } from '../../../src/main/import';
import { assignSplits } from '../../../src/main/store/splits';
import { freshStore, PAPER, readJsonl, writeJsonl } from '../import/helpers';

async function withPaper() {
  const s = freshStore();
  const file = path.join(s.dir, 'paper.jsonl');
  writeJsonl(file, PAPER);
  await importDataset(s.store, 'p', file, { create: true, rejectedDir: s.rejectedDir });
  return s;
}

describe('export', () => {
  it('filters by status (default accepted), kind, language and split, and records each export', async () => {
    const { dir, store } = await withPaper();
    const out = path.join(dir, 'o.jsonl');
    const run = (opts: Parameters<typeof exportDataset>[2]) => {
      // One output file rewritten per filter: replacing it is the point here.
      exportDataset(store, 'p', { ...opts, out, overwrite: true });
      return readJsonl(out);
    };
    const accepted = PAPER.filter((o) => o.status === 'accepted');
    expect(run({ out })).toEqual(accepted);
    expect(run({ out, status: 'rejected' })).toEqual(PAPER.filter((o) => o.status === 'rejected'));
    expect(run({ out, status: 'unreviewed' })).toEqual(PAPER.filter((o) => o.status === 'unreviewed'));
    expect(run({ out, status: 'all', language: 'en' })).toEqual(PAPER.filter((o) => o.language === 'en'));
    expect(run({ out, kind: 'sts' })).toEqual(PAPER.filter((o) => o.kind === 'sts'));
    expect(run({ out, status: 'all', split: 'dev' })).toEqual(PAPER.filter((o) => o.split === 'dev'));
    expect(run({ out, kind: 'short-short' })).toEqual([]);
    const recs = store.db
      .prepare('SELECT type, source, path, rows, filter_json FROM exports ORDER BY id')
      .all() as {
      type: string;
      rows: number;
      path: string;
      filter_json: string;
    }[];
    expect(recs).toHaveLength(7);
    expect(recs[0]).toMatchObject({ type: 'dataset-jsonl', source: 'p', path: out, rows: accepted.length });
    expect(JSON.parse(recs[4].filter_json)).toMatchObject({
      kind: 'sts',
      status: 'accepted',
      layout: 'paper',
    });
    // Written via a temp file that is renamed away.
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    store.close();
  });

  it('writes Parquet that reads back to the JSONL objects in every layout', async () => {
    const { dir, store } = await withPaper();
    assignSplits(
      store.db,
      store.datasets.get('p').id,
      { ratios: [0.5, 0.25, 0.25], seed: 1 },
      { reassign: true },
    );
    for (const layout of ['paper', 'sentence-transformers', 'flagembedding'] as const) {
      const pq = path.join(dir, `o-${layout}.parquet`);
      const js = path.join(dir, `o-${layout}.jsonl`);
      const r = exportDataset(store, 'p', { out: pq, layout, status: 'all' });
      expect(r).toMatchObject({ format: 'parquet', rows: PAPER.length });
      exportDataset(store, 'p', { out: js, layout, status: 'all' });
      const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(pq) })) as Record<
        string,
        unknown
      >[];
      const objs = readJsonl(js);
      expect(rows).toHaveLength(objs.length);
      // Parquet has one schema: keys a line lacks come back as null.
      const cols = Object.keys(rows[0]);
      for (const o of objs) for (const k of Object.keys(o)) expect(cols).toContain(k);
      rows.forEach((row, i) => {
        const want = Object.fromEntries(cols.map((c) => [c, objs[i][c] ?? null]));
        expect(row).toEqual(want);
      });
    }
    store.close();
  });

  it('refuses an unknown format or layout and a missing folder without writing anything', async () => {
    const { dir, store } = await withPaper();
    const out = path.join(dir, 'o.csv');
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => exportDataset(store, 'p', { out, format: 'csv' as any })).toThrow(
      /unknown format "csv"; use jsonl or parquet/,
    );
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => exportDataset(store, 'p', { out, layout: 'beir' as any })).toThrow(/unknown layout "beir"/);
    expect(() => exportDataset(store, 'p', { out: path.join(dir, 'no/such/o.jsonl') })).toThrow(
      /output folder does not exist/,
    );
    expect(() => exportDataset(store, 'nope', { out })).toThrow(/unknown dataset "nope"/);
    expect(fs.existsSync(out)).toBe(false);
    expect(store.db.prepare('SELECT count(*) AS n FROM exports').get()).toEqual({ n: 0 });
    store.close();
  });
});
