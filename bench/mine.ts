// Hard-negative mining throughput on CPU: 1,000 queries against a 50,000-candidate corpus (short texts from
// the parity fixture's vocabulary) with the tiny parity BERT (2 layers, hidden 64), end to end: corpus read,
// embedding (engine worker, ORT CPU), ORT MatMul+TopK search, selection, SQLite writes. A second run with
// other knobs reuses the on-disk embedding cache. Usage: npm run bench -- mine [--candidates N] [--queries N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { progressBar } from '../src/main/cli/progress-bar';
import { openWorkbench } from '../src/main/workbench';
import type { Progress } from '../src/shared/domain';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('candidates', 50_000);
const NQ = arg('queries', 1000);
const MODEL = path.resolve(import.meta.dirname, '../test/fixtures/parity/bert');
const log = (s: string) => process.stderr.write(`${s}\n`);

const vocab = Object.keys(
  JSON.parse(fs.readFileSync(path.join(MODEL, 'tokenizer.json'), 'utf8')).model.vocab as Record<
    string,
    number
  >,
).filter((w) => /^[a-z]+$/.test(w));
let seed = 12345;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const phrase = (n: number) =>
  Array.from({ length: n }, () => vocab[Math.floor(rand() * vocab.length)]).join(' ');

async function main() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-bench-mine-'));
  const wb = openWorkbench({ home });
  try {
    const d = wb.store.datasets.create('bench');
    const rows = Array.from({ length: NQ }, (_, i) => ({
      kind: 'short-long' as const,
      instruction: 'retrieve passages that answer the question',
      query: `${phrase(4)} q${i}`,
      positive: `${phrase(8)} p${i}`,
    }));
    wb.store.examples.insertMany(d.id, rows);
    const corpus = path.join(home, 'corpus.jsonl');
    const lines = rows.map((r) => JSON.stringify({ text: r.positive }));
    for (let i = lines.length; i < N; i++)
      lines.push(JSON.stringify({ text: `${phrase(6 + (i % 5))} c${i}` }));
    fs.writeFileSync(corpus, `${lines.join('\n')}\n`);
    log(
      `mining ${NQ} queries against ${N} candidates with ${path.basename(MODEL)} (hidden 64) on CPU; ${os.cpus().length} cores`,
    );
    const run = async (label: string, knobs: Record<string, number | string>) => {
      let bar: ReturnType<typeof progressBar> | null = null;
      let stage = '';
      const r = await wb.mining.mine({
        dataset: 'bench',
        model: MODEL,
        device: 'cpu',
        batchSize: 64,
        corpus,
        knobs,
        onProgress: (s: string, p: Progress) => {
          if (s !== stage) {
            bar?.done();
            bar = progressBar(`${label} ${s}`);
            stage = s;
          }
          bar?.update(p);
        },
      });
      (bar as ReturnType<typeof progressBar> | null)?.done();
      log(
        `${label}: pool ${r.pool.size}, ${r.negatives} negatives; embed ${r.seconds.embed.toFixed(1)} s, search ${r.seconds.search.toFixed(2)} s, total ${r.seconds.total.toFixed(1)} s → ${Math.round(r.candidatesPerS)} candidates/s`,
      );
      return r;
    };
    const first = await run('mine', { rangeMin: 5, rangeMax: 50, numNegatives: 3 });
    const again = await run('mine (cached embeddings)', {
      rangeMin: 10,
      rangeMax: 100,
      numNegatives: 5,
      sampling: 'random',
    });
    console.log(
      JSON.stringify({
        bench: 'mine',
        candidates_per_s: Math.round(first.candidatesPerS),
        candidates: first.pool.size,
        queries: first.queries,
        embed_s: Number(first.seconds.embed.toFixed(2)),
        search_s: Number(first.seconds.search.toFixed(3)),
        total_s: Number(first.seconds.total.toFixed(2)),
        cached_rerun_candidates_per_s: Math.round(again.candidatesPerS),
        cached_rerun_total_s: Number(again.seconds.total.toFixed(2)),
      }),
    );
  } finally {
    wb.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
