// `npm run bench -- curate [ROWS]`: what the Curate screen asks the API for, on a dataset of ROWS examples
// (default 500k): first page, a keyset page deep in the list, filtered and sorted pages, full-text search,
// the counts bar, facets and one review. Each call is timed twice (cold, then warm); the JSON line has the
// warm medians of the page calls and the rest.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApi } from '../src/main/api';
import { openWorkbench } from '../src/main/workbench';

const N = Number(process.argv[2] ?? 500_000);
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-bench-curate-'));
const wb = openWorkbench({ home });
const api = createApi(wb, { transport: 'http' });
try {
  const d = wb.store.datasets.create('big');
  const kinds = ['short-long', 'long-short', 'sts', 'bitext', 'short-short', 'long-long'] as const;
  const langs = ['en', 'de', 'fr', 'ja', 'zh', 'sw', 'es', 'pt', 'ru', 'ar'];
  const t0 = performance.now();
  for (let b = 0; b < N; b += 10_000) {
    const rows = Array.from({ length: Math.min(10_000, N - b) }, (_, j) => {
      const i = b + j;
      return {
        kind: kinds[i % 6],
        language: langs[i % 10],
        query: `query ${i} about topic ${i % 997}`,
        positive: `positive passage ${i} with words ${i % 331}`,
        negative: `negative ${i}`,
        status: (i % 7 === 0 ? 'accepted' : 'unreviewed') as 'accepted' | 'unreviewed',
        generatorModel: i % 3 ? 'gpt-4o' : 'gpt-4o-mini',
      };
    });
    wb.store.examples.insertMany(d.id, rows);
  }
  const insertS = (performance.now() - t0) / 1000;
  const ms: Record<string, [number, number]> = {};
  const time = async (label: string, fn: () => Promise<unknown>) => {
    const once = async () => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    ms[label] = [await once(), await once()];
    console.error(
      `${label.padEnd(28)} cold ${ms[label][0].toFixed(1)} ms, warm ${ms[label][1].toFixed(1)} ms`,
    );
  };
  const deep = Math.floor(N * 0.9);
  await time('first page', () => api.caller.examples.page({ dataset: 'big', limit: 200 }));
  await time('keyset page at 90%', () =>
    api.caller.examples.page({ dataset: 'big', limit: 200, after: { value: deep, id: deep } }),
  );
  await time('filtered page', () =>
    api.caller.examples.page({
      dataset: 'big',
      limit: 200,
      filter: { status: 'unreviewed', language: 'ja' },
    }),
  );
  await time('sorted by kind, keyset', () =>
    api.caller.examples.page({ dataset: 'big', limit: 200, sort: 'kind', after: { value: 'sts', id: deep } }),
  );
  await time('search page', () =>
    api.caller.examples.page({ dataset: 'big', limit: 200, filter: { search: 'topic 42' } }),
  );
  await time('counts (no filter)', () => api.caller.datasets.stats({ name: 'big' }));
  await time('counts (filter)', () =>
    api.caller.datasets.stats({ name: 'big', filter: { status: 'unreviewed', language: 'ja' } }),
  );
  await time('facets', () => api.caller.examples.facets({ name: 'big' }));
  await time('review one', () => api.caller.examples.review({ id: 12_345, action: 'accept' }));
  const warm = Object.fromEntries(
    Object.entries(ms).map(([k, v]) => [k.replace(/\W+/g, '_'), +v[1].toFixed(1)]),
  );
  const cold = Object.fromEntries(
    Object.entries(ms).map(([k, v]) => [k.replace(/\W+/g, '_'), +v[0].toFixed(1)]),
  );
  console.log(
    JSON.stringify({ bench: 'curate', rows: N, insert_s: +insertS.toFixed(1), warm_ms: warm, cold_ms: cold }),
  );
} finally {
  wb.close();
  fs.rmSync(home, { recursive: true, force: true });
}
