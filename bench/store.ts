// `npm run bench -- store [--rows N] [--mode chunked|single] [--batch N] [--keep DIR]`: fills a workspace database with N (default 500,000)
// examples in the paper's kind/language mix and text lengths, parsed as `datasets import` parses them, then times the
// curation queries.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Kind, NewExample, ReviewStatus } from '../src/shared/domain';
import { parseObject, parsePaper } from '../src/main/import/layouts';
import { Store } from '../src/main/store';
import { createStaging, IMPORT_WAL_AUTOCHECKPOINT, publishStaging } from '../src/main/store/staging';
import { KIND_KEYS } from '../src/shared/domain';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const ROWS = Number(arg('rows', '500000'));
const dir = arg('keep', '') || fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-bench-'));

// Deterministic PRNG so every run stores the same data.
let state = 12345;
const rnd = () => {
  state = (state * 1664525 + 1013904223) >>> 0;
  return state / 0x1_0000_0000;
};
const pickWeighted = <T>(items: [T, number][]): T => {
  let u = rnd() * items.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of items) {
    u -= w;
    if (u <= 0) return v;
  }
  return items[items.length - 1][0];
};

// METHOD §6: kinds in thousands; §4: English 0.431, 13 languages 0.029 each, 79 others share the rest.
const KIND_MIX: [Kind, number][] = [
  ['short-long', 167],
  ['long-short', 122],
  ['sts', 99],
  ['bitext', 89],
  ['long-long', 17],
  ['short-short', 13],
];
const HIGH = ['pl', 'ja', 'it', 'ru', 'id', 'de', 'fa', 'es', 'zh', 'fr', 'pt', 'nl', 'ar'];
const REST =
  'af am as az be bg bn br bs ca cs cy da el eo et eu fi fy ga gd gl gu ha he hi hr hu hy is jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne no om or pa ps ro sa sd si sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi'.split(
    ' ',
  );
const LANG_MIX: [string, number][] = [
  ['en', 0.431],
  ...HIGH.map((l): [string, number] => [l, 0.029]),
  ...REST.map((l): [string, number] => [l, (1 - 0.431 - 13 * 0.029) / REST.length]),
];
const STATUS_MIX: [ReviewStatus, number][] = [
  ['unreviewed', 0.7],
  ['accepted', 0.25],
  ['rejected', 0.05],
];

// A Zipf-distributed vocabulary of 30k pseudo-words, so FTS posting lists look like real text.
const VOCAB = Array.from({ length: 30_000 }, (_, i) => {
  const syl = [
    'ka',
    'lo',
    'mi',
    'ne',
    'ru',
    'sa',
    'to',
    'vi',
    'ze',
    'po',
    'qu',
    'de',
    'fa',
    'gi',
    'hu',
    'ja',
  ];
  let w = '';
  let n = i + 7;
  do {
    w += syl[n % 16];
    n = Math.floor(n / 16);
  } while (n > 0);
  return w;
});
const CUM: number[] = [];
{
  let s = 0;
  for (let i = 0; i < VOCAB.length; i++) {
    s += 1 / (i + 1);
    CUM.push(s);
  }
}
const word = () => {
  const u = rnd() * CUM[CUM.length - 1];
  let lo = 0;
  let hi = CUM.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CUM[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return VOCAB[lo];
};
// A stream of 2M Zipf-drawn words; texts are slices of it at random offsets (fast to build, same statistics).
const STREAM = Array.from({ length: 2_000_000 }, word);
const text = (words: number) => {
  const at = Math.floor(rnd() * (STREAM.length - words));
  return `${STREAM.slice(at, at + words).join(' ')}.`;
};
const TASKS = Array.from(
  { length: 5000 },
  () => `Given a ${word()} question, retrieve ${word()} documents that ${word()}`,
);
const around = (n: number) => Math.max(1, Math.round(n * (0.5 + rnd())));

function example(i: number): NewExample {
  const kind = pickWeighted(KIND_MIX);
  const status = pickWeighted(STATUS_MIX);
  const base = {
    kind,
    status,
    rejectReason: status === 'rejected' ? 'wrong_language' : null,
    origin: 'synthetic' as const,
    generatorModel: rnd() < 0.25 ? 'gpt-3.5-turbo' : 'gpt-4',
    attributes: { difficulty: 'college', seq: i },
  };
  // Text lengths after METHOD §3 (num_words, units) averaged: ~300 words per example.
  switch (kind) {
    case 'short-long':
      return {
        ...base,
        language: pickWeighted(LANG_MIX),
        instruction: TASKS[i % TASKS.length],
        query: `${text(around(8))} ${i}`,
        positive: text(around(150)),
        negative: text(around(150)),
      };
    case 'long-short':
      return {
        ...base,
        language: pickWeighted(LANG_MIX),
        instruction: TASKS[i % TASKS.length],
        query: `${text(around(80))} ${i}`,
        positive: text(2),
        negative: text(2),
      };
    case 'long-long':
      return {
        ...base,
        language: pickWeighted(LANG_MIX),
        instruction: TASKS[i % TASKS.length],
        query: `${text(around(300))} ${i}`,
        positive: text(around(300)),
      };
    case 'short-short':
      return {
        ...base,
        language: pickWeighted(LANG_MIX),
        instruction: TASKS[i % TASKS.length],
        query: `${text(around(5))} ${i}`,
        positive: text(around(5)),
      };
    case 'sts':
      return {
        ...base,
        language: pickWeighted(LANG_MIX),
        instruction: 'Retrieve semantically similar text.',
        query: `${text(around(20))} ${i}`,
        positive: text(around(20)),
        negative: text(around(20)),
        extras: { high_score: 4.5, low_score: 3 },
      };
    default: {
      const src = pickWeighted(LANG_MIX);
      let tgt = pickWeighted(LANG_MIX);
      while (tgt === src) tgt = pickWeighted(LANG_MIX);
      return {
        ...base,
        srcLang: src,
        tgtLang: tgt,
        instruction: 'Retrieve parallel sentences.',
        query: `${text(around(20))} ${i}`,
        positive: text(around(20)),
        negative: text(around(20)),
        extras: { high_score: 4.5, low_score: 2 },
      };
    }
  }
}

/**
 * The row as `datasets import` hands it to the store: written as a paper-layout JSON line, then read back by the
 * importer's own parser. Rows built in memory by spreads and string concatenation differ from parsed rows in
 * ways the insert pays for (lazily concatenated strings flattened on first use, several object shapes), which
 * measured the generator instead of the store.
 */
function asImported(e: NewExample): NewExample {
  const spec = KIND_KEYS[e.kind];
  const o: Record<string, unknown> = { kind: e.kind };
  if (e.language) o.language = e.language;
  if (e.srcLang) {
    o.src_lang = e.srcLang;
    o.tgt_lang = e.tgtLang;
  }
  o[spec.query] = e.query;
  o[spec.positive] = e.positive;
  if (e.negative) o[spec.negative ?? 'negative'] = e.negative;
  if (e.extras) Object.assign(o, e.extras);
  o.instruction = e.instruction;
  o.status = e.status;
  o.reject_reason = e.rejectReason;
  o.attributes = e.attributes;
  o.generator_model = e.generatorModel;
  return parsePaper(parseObject(JSON.stringify(o)), {})[0];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/**
 * Median of 5 timed runs after one warm-up (the page cache is warm, as in an app session): wall-clock ms and
 * this process's CPU ms (user + system), which stays meaningful on a machine shared with other jobs.
 */
const cpuMs: Record<string, number> = {};
function time<T>(fn: () => T, name?: string): { ms: number; result: T } {
  let result = fn();
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < 5; k++) {
    const c = process.cpuUsage();
    const t = performance.now();
    result = fn();
    ms.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  if (name) cpuMs[name] = +median(cpu).toFixed(2);
  return { ms: +median(ms).toFixed(2), result };
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const file = path.join(dir, 'embedsmith.db');
fs.rmSync(file, { force: true });
const store = Store.open(file);
const ds = store.datasets.create('bench');
process.stderr.write(`bench store: ${ROWS} rows into ${file}\n`);

// Insert as `datasets import` does (default --mode chunked): each batch in its own transaction into a staging
// dataset, published at the end (src/main/store/staging.ts). --mode single: the whole insert in one transaction
// (the importer before chunked commits), for a comparison in the same session. Rows are generated outside the
// timed region; commit time (WAL appends and the auto-checkpoints SQLite runs on commit) is timed apart.
const MODE = arg('mode', 'chunked');
// --batch N: rows per chunk transaction (default 5,000, about what the importer's ~100 ms chunks hold here).
const BATCH = Number(arg('batch', '5000'));
/**
 * Bytes this process has passed to write() so far (Linux /proc/self/io `wchar`; null elsewhere): WAL frames and
 * checkpoint copies. Unlike CPU time it does not move with the machine's load, and each commit writes every page
 * it dirtied, so it shows what smaller chunks rewrite.
 */
const writtenBytes = (): number | null => {
  try {
    return Number(/^wchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return null;
  }
};
let insertMs = 0;
let commitMs = 0;
let insertCpuUs = 0;
let textBytes = 0;
const load0 = os.loadavg()[0];
const written0 = writtenBytes();
const tWall = performance.now();
// Checkpoint interval of the insert: the importer's (chunked), --walcp N to try others.
if (MODE === 'chunked' || arg('walcp', ''))
  store.db.pragma(`wal_autocheckpoint = ${arg('walcp', String(IMPORT_WAL_AUTOCHECKPOINT))}`);
const staging = MODE === 'chunked' ? store.db.transaction(() => createStaging(store.db, 'bench'))() : null;
const timed = (fn: () => void, commit = false) => {
  const t = performance.now();
  const c = process.cpuUsage();
  fn();
  const dc = process.cpuUsage(c);
  insertCpuUs += dc.user + dc.system;
  const ms = performance.now() - t;
  insertMs += ms;
  if (commit) commitMs += ms;
};
if (!staging) store.db.exec('BEGIN IMMEDIATE');
for (let i = 0; i < ROWS; i += BATCH) {
  const rows = Array.from({ length: Math.min(BATCH, ROWS - i) }, (_, j) => asImported(example(i + j)));
  for (const r of rows) textBytes += r.query.length + r.positive.length + (r.negative?.length ?? 0);
  // Collect the generator's garbage outside the timed region, so the insert time is the store's own.
  gc();
  if (staging) {
    timed(() => {
      store.db.exec('BEGIN IMMEDIATE');
      store.examples.insertMany(staging.id, rows);
    });
    timed(() => store.db.exec('COMMIT'), true);
  } else timed(() => store.examples.insertMany(ds.id, rows));
  if ((i / BATCH) % 20 === 0) process.stderr.write(`  ${i + rows.length} rows\n`);
}
if (staging) timed(() => publishStaging(store.db, staging, 'bench', { create: true }), true);
else timed(() => store.db.exec('COMMIT'), true);
const wallS = (performance.now() - tWall) / 1000;
const written1 = writtenBytes();
const writeMb = written0 === null || written1 === null ? null : Math.round((written1 - written0) / 1e6);
const insertRate = Math.round(ROWS / (insertMs / 1000));
// Full-text indexing runs after the commit (migration 002), as `datasets import` does it.
const tIdx = performance.now();
const cIdx = process.cpuUsage();
store.examples.indexPending();
store.examples.foldCounts();
const dIdx = process.cpuUsage(cIdx);
const indexS = (performance.now() - tIdx) / 1000;
store.db.pragma('optimize');

const id = store.datasets.get('bench').id;
const wide = {
  kind: ['short-long', 'long-short', 'sts'] as Kind[],
  language: ['en', ...HIGH],
  status: ['unreviewed', 'accepted'] as ReviewStatus[],
};
const narrow = { kind: 'short-long' as Kind, language: 'en', status: 'unreviewed' as ReviewStatus };
const wideCount = store.examples.count(id, wide);
const deep = Math.min(250_000, wideCount - 100);
const q: Record<string, number> = {};
const narrowCount = store.examples.count(id, narrow);
q.page_filtered_first_ms = time(
  () => store.examples.page(id, { filter: narrow, sort: 'created_at', desc: true, limit: 100 }),
  'page_filtered_first_ms',
).ms;
q.page_filtered_deep_ms = time(
  () => store.examples.page(id, { filter: narrow, limit: 100, offset: Math.floor(narrowCount / 2) }),
  'page_filtered_deep_ms',
).ms;
const off = time(
  () => store.examples.page(id, { filter: wide, limit: 100, offset: deep }),
  'page_offset_250k_ms',
);
q.page_offset_250k_ms = off.ms;
const prev = store.examples.page(id, { filter: wide, limit: 1, offset: deep - 1 })[0];
const key = time(
  () => store.examples.page(id, { filter: wide, limit: 100, after: { value: prev.id, id: prev.id } }),
  'page_keyset_250k_ms',
);
q.page_keyset_250k_ms = key.ms;
if (key.result.map((e) => e.id).join() !== off.result.map((e) => e.id).join())
  throw new Error('keyset and offset pages differ');
// An FTS query of two mid-frequency words, first page, as the curation search box runs it.
const fts = time(
  () => store.examples.page(id, { filter: { search: `${VOCAB[200]} ${VOCAB[900]}` }, limit: 100 }),
  'fts_ms',
);
q.fts_ms = fts.ms;
q.fts_count_ms = time(
  () => store.examples.count(id, { search: `${VOCAB[200]} ${VOCAB[900]}` }),
  'fts_count_ms',
).ms;
const stats = time(() => store.examples.stats(id, 'bench'), 'stats_ms');
q.stats_ms = stats.ms;
if (stats.result.total !== ROWS) throw new Error(`stats total ${stats.result.total} != ${ROWS}`);

const dbBytes = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
store.close();
if (!arg('keep', '')) fs.rmSync(dir, { recursive: true, force: true });

const result = {
  bench: 'store',
  rows: ROWS,
  mode: MODE,
  batch: BATCH,
  insert_rows_per_s: insertRate,
  insert_commit_s: +(commitMs / 1000).toFixed(2),
  insert_cpu_rows_per_s: Math.round(ROWS / (insertCpuUs / 1e6)),
  insert_wall_s: +wallS.toFixed(1),
  insert_write_mb: writeMb,
  fts_index_cpu_rows_per_s: Math.round(ROWS / ((dIdx.user + dIdx.system) / 1e6)),
  fts_index_rows_per_s: Math.round(ROWS / indexS),
  import_with_index_rows_per_s: Math.round(ROWS / (insertMs / 1000 + indexS)),
  text_mb: +(textBytes / 1e6).toFixed(0),
  db_mb: +(dbBytes / 1e6).toFixed(0),
  wide_filter_rows: wideCount,
  narrow_filter_rows: narrowCount,
  fts_hits_page: fts.result.length,
  max_query_ms: Math.max(...Object.values(q)),
  max_query_cpu_ms: Math.max(...Object.values(cpuMs)),
  ...q,
  cpu_ms: cpuMs,
  // Other jobs share this machine: the 1-minute load average before the insert and after the queries.
  loadavg: [+load0.toFixed(1), +os.loadavg()[0].toFixed(1)],
  nproc: os.cpus().length,
};
process.stderr.write(`${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
