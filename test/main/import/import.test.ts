import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/main/errors';
import { Store } from '../../../src/main/store';
import { exportDataset } from '../../../src/main/export';
import { importDataset } from '../../../src/main/import';
import { freshStore, PAPER, readJsonl, rowsOf, writeJsonl } from './helpers';

const ST = [
  { anchor: 'what is rust', positive: 'Rust is a systems language.', negative: 'Rust forms on iron.' },
  { anchor: 'capital of France', positive: 'Paris is the capital of France.' },
  { anchor: 'q3', positive: 'p3', negative: 'n3', source: 'web' },
];
const ST_NTUPLE = [
  { anchor: 'q1', positive: 'p1', negative_1: 'n1a', negative_2: 'n1b', negative_3: 'n1c' },
  { anchor: 'q2', positive: 'p2', negative_1: 'n2a', negative_2: 'n2b', negative_3: 'n2c' },
];
const FLAG = [
  { query: 'q1', pos: ['p1a', 'p1b'], neg: ['n1', 'n2', 'n3'], prompt: 'Represent this query' },
  { query: 'q2', pos: ['p2'], neg: [] },
  { query: 'q3', pos: ['p3'], neg: ['n'], pos_scores: [1], neg_scores: [0.2], type: 'normal' },
];

describe('import', () => {
  it('imports the paper layout of every kind and exports the same objects back', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const file = path.join(dir, 'paper.jsonl');
    writeJsonl(file, PAPER);
    const r = await importDataset(store, 'p', file, { create: true, rejectedDir });
    expect(r).toMatchObject({ layout: 'paper', read: 6, inserted: 6, duplicates: 0, invalid: 0 });
    const rows = rowsOf(store, 'p');
    expect(rows.map((e) => e.kind)).toEqual(PAPER.map((o) => o.kind));
    expect(rows[4]).toMatchObject({ query: PAPER[4].S1, positive: PAPER[4].S2, negative: PAPER[4].S3 });
    expect(rows[4].extras).toEqual({ high_score: 4.5, low_score: 2.5 });
    expect(rows[5]).toMatchObject({ srcLang: 'en', tgtLang: 'ja', language: null });
    expect(rows[1]).toMatchObject({ status: 'rejected', rejectReason: 'label_leak', negative: 'negativ' });
    const out = path.join(dir, 'out.jsonl');
    exportDataset(store, 'p', { out, status: 'all' });
    expect(readJsonl(out)).toEqual(PAPER);
    // ...and the export re-imports to identical rows.
    await importDataset(store, 'p2', out, { create: true, rejectedDir });
    expect(rowsOf(store, 'p2')).toEqual(rows);
    store.close();
  });

  it('round-trips sentence-transformers pairs, triplets and n-tuples', async () => {
    for (const input of [ST, ST_NTUPLE]) {
      const { dir, store, rejectedDir } = freshStore();
      const file = path.join(dir, 'st.jsonl');
      writeJsonl(file, input);
      const r = await importDataset(store, 'st', file, { create: true, rejectedDir });
      expect(r).toMatchObject({
        layout: 'sentence-transformers',
        read: input.length,
        inserted: input.length,
      });
      const rows = rowsOf(store, 'st');
      expect(rows[0]).toMatchObject({ kind: 'short-long', query: input[0].anchor, status: 'unreviewed' });
      const out = path.join(dir, 'st-out.jsonl');
      exportDataset(store, 'st', { out, status: 'all', layout: 'sentence-transformers' });
      expect(readJsonl(out)).toEqual(input);
      await importDataset(store, 'st2', out, { create: true, rejectedDir, layout: 'sentence-transformers' });
      expect(rowsOf(store, 'st2')).toEqual(rows);
      store.close();
    }
  });

  it('imports FlagEmbedding lines as one example per positive with the first negative, and regroups on export', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const file = path.join(dir, 'flag.jsonl');
    writeJsonl(file, FLAG);
    const r = await importDataset(store, 'f', file, { create: true, rejectedDir, kind: 'short-short' });
    expect(r).toMatchObject({ layout: 'flagembedding', read: 3, inserted: 4, duplicates: 0 });
    const rows = rowsOf(store, 'f');
    expect(rows.map((e) => [e.kind, e.query, e.positive, e.negative, e.instruction])).toEqual([
      ['short-short', 'q1', 'p1a', 'n1', 'Represent this query'],
      ['short-short', 'q1', 'p1b', 'n1', 'Represent this query'],
      ['short-short', 'q2', 'p2', null, null],
      ['short-short', 'q3', 'p3', 'n', null],
    ]);
    expect(rows[0].extras).toEqual({ negatives: ['n2', 'n3'] });
    const out = path.join(dir, 'flag-out.jsonl');
    exportDataset(store, 'f', { out, status: 'all', layout: 'flagembedding' });
    expect(readJsonl(out)).toEqual(FLAG);
    await importDataset(store, 'f2', out, { create: true, rejectedDir, kind: 'short-short' });
    expect(rowsOf(store, 'f2')).toEqual(rows);
    // The paper layout keeps everything too (other layouts' extras under "extras").
    const paper = path.join(dir, 'flag-paper.jsonl');
    exportDataset(store, 'f', { out: paper, status: 'all' });
    await importDataset(store, 'f3', paper, { create: true, rejectedDir });
    expect(rowsOf(store, 'f3')).toEqual(rows);
    store.close();
  });

  it('skips duplicates by content hash, within a file and across imports', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const file = path.join(dir, 'dup.jsonl');
    writeJsonl(file, [
      ...ST,
      { anchor: 'what is  rust ', positive: 'Rust is a systems language.', negative: 'Rust forms on iron.' },
    ]);
    const a = await importDataset(store, 'd', file, { create: true, rejectedDir });
    expect(a).toMatchObject({ read: 4, inserted: 3, duplicates: 1 });
    const b = await importDataset(store, 'd', file, { rejectedDir });
    expect(b).toMatchObject({ read: 4, inserted: 0, duplicates: 4 });
    expect(rowsOf(store, 'd')).toHaveLength(3);
    store.close();
  });

  it('fails the whole file on a bad line naming file:line, or skips it with skipInvalid', async () => {
    const { dir, store, rejectedDir } = freshStore();
    store.datasets.create('d');
    const file = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(
      file,
      [
        JSON.stringify(ST[0]),
        JSON.stringify(ST[1]),
        '{"anchor": "x", "positive": }',
        JSON.stringify({ anchor: 'y', positive: 3 }),
        JSON.stringify(ST[2]),
      ].join('\n'),
    );
    const err = await importDataset(store, 'd', file, { rejectedDir }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: invalid JSON`),
    );
    expect(rowsOf(store, 'd')).toHaveLength(0);
    const r = await importDataset(store, 'd', file, { rejectedDir, skipInvalid: true });
    expect(r).toMatchObject({ read: 5, inserted: 3, invalid: 2 });
    expect(r.rejected.map((x) => x.where)).toEqual([`${file}:3`, `${file}:4`]);
    expect(r.rejected[1].reason).toMatch(/"positive" must be a string, got number/);
    expect(fs.readFileSync(r.rejectedFile!, 'utf8').split('\n').filter(Boolean)).toEqual(
      fs.readFileSync(file, 'utf8').split('\n').slice(2, 4),
    );
    store.close();
  });

  it('a cancel stops the import: its signal mid-file, or a refused commit before publishing; nothing lands', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const file = path.join(dir, 'big.jsonl');
    writeJsonl(
      file,
      Array.from({ length: 5000 }, (_, i) => ({ anchor: `query ${i}`, positive: `passage ${i}` })),
    );
    const staged = () =>
      store.db.prepare("SELECT count(*) FROM datasets WHERE name LIKE '~import-%'").pluck().get();
    const ac = new AbortController();
    let reads = 0;
    // Aborted at the first progress report (after the first committed chunk).
    const mid = importDataset(store, 'c', file, {
      create: true,
      rejectedDir,
      signal: ac.signal,
      onProgress: (p) => {
        reads = p.done;
        ac.abort();
      },
    });
    await expect(mid).rejects.toThrow(`import of ${file} cancelled; nothing was imported`);
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(5000);
    let asked = 0;
    const late = importDataset(store, 'c', file, {
      create: true,
      rejectedDir,
      commit: () => {
        asked++;
        return false;
      },
    });
    await expect(late).rejects.toThrow(/cancelled; nothing was imported/);
    expect(asked).toBe(1);
    expect(store.datasets.find('c')).toBeUndefined();
    expect(staged()).toBe(0);
    expect(store.db.prepare('SELECT count(*) FROM examples').pluck().get()).toBe(0);
    store.close();
  });

  it('detects layouts, takes --kind for kindless lines and refuses what it cannot tell', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const f = path.join(dir, 'x.jsonl');
    writeJsonl(f, [{ input: 'a', positive_document: 'b' }]);
    await expect(importDataset(store, 'd', f, { create: true, rejectedDir })).rejects.toThrow(
      /:1: no "kind".*--kind/,
    );
    const r = await importDataset(store, 'd', f, { create: true, rejectedDir, kind: 'long-long' });
    expect(r.layout).toBe('paper');
    expect(rowsOf(store, 'd')[0].kind).toBe('long-long');
    writeJsonl(f, [{ text: 'a' }]);
    await expect(importDataset(store, 'd', f, { rejectedDir })).rejects.toThrow(
      /cannot tell the layout.*--layout/,
    );
    writeJsonl(f, [{ kind: 'weird', user_query: 'a', positive_document: 'b' }]);
    await expect(importDataset(store, 'd', f, { rejectedDir })).rejects.toThrow(/:1: unknown kind "weird"/);
    await expect(importDataset(store, 'nope', f, { rejectedDir })).rejects.toThrow(/unknown dataset "nope"/);
    store.close();
  });
});

describe('BEIR import', () => {
  const makeBeir = (dir: string, withQrels = true) => {
    fs.mkdirSync(dir, { recursive: true });
    writeJsonl(path.join(dir, 'corpus.jsonl'), [
      { _id: 'd1', title: 'Magnets', text: 'Magnets attract iron.' },
      { _id: 'd2', title: '', text: 'Iron is a metal. ' },
      { _id: 'd3', text: 'Unused document.' },
    ]);
    writeJsonl(path.join(dir, 'queries.jsonl'), [
      { _id: 'q1', text: 'how do magnets work' },
      { _id: 'q2', text: 'what is iron' },
    ]);
    if (withQrels) {
      fs.mkdirSync(path.join(dir, 'qrels'));
      fs.writeFileSync(
        path.join(dir, 'qrels/test.tsv'),
        'query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td3\t0\nq2\td2\t1\n',
      );
      fs.writeFileSync(path.join(dir, 'qrels/train.tsv'), 'query-id\tcorpus-id\tscore\nq2\td1\t1\n');
    }
  };

  it('imports one example per relevant (query, doc) with "title text" stripped, and round-trips via paper', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const beir = path.join(dir, 'scifact');
    makeBeir(beir);
    const r = await importDataset(store, 'b', beir, { create: true, rejectedDir });
    expect(r).toMatchObject({ layout: 'beir', read: 4, inserted: 3, ignored: 1, invalid: 0 });
    const rows = rowsOf(store, 'b');
    expect(rows.map((e) => [e.query, e.positive, e.split])).toEqual([
      ['how do magnets work', 'Magnets Magnets attract iron.', 'test'],
      ['what is iron', 'Iron is a metal.', 'test'],
      ['what is iron', 'Magnets Magnets attract iron.', 'train'],
    ]);
    expect(rows[0].extras).toEqual({ beir: { query_id: 'q1', corpus_id: 'd1', score: 2 } });
    const out = path.join(dir, 'b.jsonl');
    exportDataset(store, 'b', { out, status: 'all' });
    await importDataset(store, 'b2', out, { create: true, rejectedDir });
    expect(rowsOf(store, 'b2')).toEqual(rows);
    store.close();
  });

  it('refuses a BEIR folder without qrels, and a qrels line naming a missing doc', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const beir = path.join(dir, 'noqrels');
    makeBeir(beir, false);
    await expect(importDataset(store, 'b', beir, { create: true, rejectedDir })).rejects.toThrow(
      /noqrels: BEIR folder has no qrels\/\*\.tsv; add qrels\/test\.tsv/,
    );
    fs.mkdirSync(path.join(beir, 'qrels'));
    fs.writeFileSync(
      path.join(beir, 'qrels/test.tsv'),
      'query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\tmissing\t1\n',
    );
    await expect(importDataset(store, 'b', beir, { create: true, rejectedDir })).rejects.toThrow(
      /test\.tsv:3: corpus-id "missing" is not in corpus\.jsonl/,
    );
    expect(store.datasets.find('b')).toBeUndefined();
    store.close();
  });

  it('refuses a line whose bytes are not valid UTF-8, naming it; --skip-invalid keeps its bytes', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const file = path.join(dir, 'bad-utf8.jsonl');
    const good = (i: number) =>
      Buffer.from(`${JSON.stringify({ anchor: `q${i}`, positive: `p${i} \uFFFD ok` })}\n`);
    // "caf\xe9" in Latin-1, and a truncated 3-byte sequence: readline would store both as U+FFFD.
    const bad = Buffer.concat([
      Buffer.from('{"anchor": "caf'),
      Buffer.from([0xe9]),
      Buffer.from('", "positive": "x'),
      Buffer.from([0xe0, 0xa4]),
      Buffer.from('"}\n'),
    ]);
    fs.writeFileSync(file, Buffer.concat([good(1), bad, good(3)]));
    await expect(importDataset(store, 'u', file, { create: true, rejectedDir })).rejects.toThrow(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: not valid UTF-8`),
    );
    expect(store.datasets.find('u')).toBeUndefined();
    const r = await importDataset(store, 'u', file, { create: true, rejectedDir, skipInvalid: true });
    expect(r).toMatchObject({ read: 3, inserted: 2, invalid: 1 });
    expect(r.rejected).toEqual([{ where: `${file}:2`, reason: 'not valid UTF-8' }]);
    expect(fs.readFileSync(r.rejectedFile!)).toEqual(bad);
    // A genuine U+FFFD in valid UTF-8 is text like any other.
    expect(rowsOf(store, 'u').map((e) => e.positive)).toEqual(['p1 \uFFFD ok', 'p3 \uFFFD ok']);
    store.close();
  });

  it('two imports at once in one process (two app jobs) both land, each on its own connection', async () => {
    const { dir, store, rejectedDir } = freshStore();
    const other = Store.open(path.join(dir, 'embedsmith.db'));
    const mk = (name: string, n: number) => {
      const f = path.join(dir, `${name}.jsonl`);
      writeJsonl(
        f,
        Array.from({ length: n }, (_, i) => ({ anchor: `${name} query ${i}`, positive: `${name} doc ${i}` })),
      );
      return f;
    };
    const [a, b] = await Promise.all([
      importDataset(store, 'a', mk('a', 30_000), { create: true, rejectedDir }),
      importDataset(other, 'b', mk('b', 3_000), { create: true, rejectedDir }),
    ]);
    expect(a).toMatchObject({ inserted: 30_000 });
    expect(b).toMatchObject({ inserted: 3_000 });
    expect(store.datasets.list().map((d) => [d.name, d.exampleCount])).toEqual([
      ['a', 30_000],
      ['b', 3_000],
    ]);
    other.close();
    store.close();
  }, 60_000);
});
