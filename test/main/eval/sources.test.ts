import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/main/errors';
import { HashBowEmbedder } from '../../../src/main/eval/embedder';
import { runTask } from '../../../src/main/eval/run';
import {
  loadBeir,
  loadBitext,
  loadClassification,
  loadClustering,
  loadDatasetTasks,
  loadPairClassification,
  loadSemEvalSts,
  loadSts,
  parseDelimited,
} from '../../../src/main/eval/sources';
import { Store } from '../../../src/main/store';
import { hasSharedDatasets, SHARED_DATASETS, tmpDir } from '../../helpers/tmp';

const D = SHARED_DATASETS;
const emb = new HashBowEmbedder(256);
const shared = describe.skipIf(!hasSharedDatasets);
if (!hasSharedDatasets) console.warn(`skipping real-dataset eval tests: ${SHARED_DATASETS} is missing`);

shared('task sources on real data (hashed bag-of-words model)', () => {
  it('BEIR: XQuAD en retrieval', async () => {
    const t = loadBeir(path.join(D, 'xquad/beir/en'), { maxQueries: 150 });
    expect(t.corpus.length).toBe(240);
    expect(t.queries.length).toBe(150);
    expect(t.name).toBe('xquad-en');
    // The language the folder names, in MTEB's form (result files no longer say []).
    expect(t.languages).toEqual(['eng-Latn']);
    const r = await runTask(t, emb);
    expect(r.taskType).toBe('Retrieval');
    expect(r.mainScore).toBe(r.scores.ndcg_at_10);
    // Lexical overlap between SQuAD questions and their paragraph is high: a bag of words finds most.
    expect(r.mainScore).toBeGreaterThan(0.5);
    expect(r.scores.recall_at_100 as number).toBeGreaterThan(r.scores.recall_at_10 as number);
    expect(r.scores.evaluated_queries).toBe(150);
  });

  it('BEIR: German queries against the English corpus share ids (cross-lingual) and score lower', async () => {
    const en = loadBeir(path.join(D, 'xquad/beir/en'), { maxQueries: 100 });
    const de = loadBeir(path.join(D, 'xquad/beir/de'), { maxQueries: 100 });
    const cross = { ...en, queries: de.queries, name: 'xquad-de-en' };
    const [a, b] = [await runTask(en, emb), await runTask(cross, emb)];
    expect(b.mainScore).toBeLessThan(a.mainScore);
  });

  it('reranking: XQuAD with top_ranked candidates (relevant paragraph + the rest of its article)', async () => {
    const dir = tmpDir();
    for (const f of ['corpus.jsonl', 'queries.jsonl', 'qrels'])
      fs.symlinkSync(path.join(D, 'xquad/beir/en', f), path.join(dir, f));
    const full = loadBeir(dir, { maxQueries: 60 });
    fs.mkdirSync(path.join(dir, 'top_ranked'));
    const rows = ['query-id\tcorpus-id'];
    for (const q of full.queries) {
      const rel = [...full.qrels.get(q.id)!.keys()][0];
      const article = rel.slice(0, 4); // "xq07p03" → "xq07"
      for (const d of full.corpus) if (d.id.startsWith(article)) rows.push(`${q.id}\t${d.id}`);
    }
    fs.writeFileSync(path.join(dir, 'top_ranked/test.tsv'), `${rows.join('\n')}\n`);
    const t = loadBeir(dir, { maxQueries: 60, rerank: true });
    expect(t.type).toBe('Reranking');
    const [rr, rt] = [await runTask(t, emb), await runTask(full, emb)];
    expect(rr.mainScore).toBe(rr.scores.map_at_1000);
    // One relevant doc per query, always among the candidates: fewer competitors can only raise its
    // rank, so AP = 1/rank can only grow.
    expect(rr.mainScore).toBeGreaterThanOrEqual(rt.scores.map_at_1000 as number);
    fs.writeFileSync(path.join(dir, 'top_ranked/test.tsv'), 'query-id\tcorpus-id\nx\tnope\n');
    expect(() => loadBeir(dir, { maxQueries: 60, rerank: true })).toThrow(/corpus id "nope"/);
  });

  it('STS Benchmark: the original TSV and the JSONL give the same pairs and score', async () => {
    const a = loadSts(path.join(D, 'stsbenchmark/original/sts-test.csv'), { limit: 400 });
    const b = loadSts(path.join(D, 'stsbenchmark/test.jsonl'), { limit: 400 });
    expect(a.pairs).toEqual(b.pairs);
    const full = loadSts(path.join(D, 'stsbenchmark/original/sts-train.csv'));
    expect(full.pairs.length).toBe(5749); // 197 rows with 9 fields parse too
    const r = await runTask(a, emb);
    expect(r.mainScore).toBe(r.scores.cosine_spearman);
    expect(r.mainScore).toBeGreaterThan(0.3);
  });

  it('STS: stsb-multi-mt comma CSV with quoting and no header', () => {
    const t = loadSts(path.join(D, 'stsb-multi-mt/stsb-de-test.csv'));
    expect(t.pairs.length).toBe(1379);
    expect(t.languages).toEqual(['deu-Latn']);
    const en = loadSts(path.join(D, 'stsbenchmark/test.jsonl'));
    expect(t.pairs.map((p) => p.score)).toEqual(en.pairs.map((p) => p.score));
  });

  it('pair classification: SICK entailment (ENTAILMENT = 1)', async () => {
    const t = loadPairClassification(path.join(D, 'sick/SICK_trial.txt'));
    expect(t.pairs.length).toBe(500);
    expect(t.pairs.filter((p) => p.label === 1).length).toBe(144);
    const r = await runTask(t, emb);
    expect(r.mainScore).toBe(r.scores.max_ap);
    // positives are 144/500: a model with any signal beats that base rate in AP
    expect(r.mainScore).toBeGreaterThan(144 / 500);
  });

  it('classification: SIB-200 (train/test TSV with quoting)', async () => {
    const t = loadClassification(path.join(D, 'sib-200/eng_Latn'));
    expect(t.train.length).toBe(701);
    expect(t.test.length).toBe(204);
    expect(new Set(t.test.map((x) => x.label)).size).toBe(7);
    expect(t.languages).toEqual(['eng-Latn']);
    const r = await runTask(t, emb);
    expect(r.mainScore).toBe(r.scores.accuracy);
    expect((r.scores.scores_per_experiment as unknown[]).length).toBe(10);
    expect(r.mainScore).toBeGreaterThan(1 / 7); // above chance with 8 examples per label
  });

  it('clustering: SIB-200 legacy and bootstrap protocols', async () => {
    const t = loadClustering(path.join(D, 'sib-200/eng_Latn/test.tsv'));
    const r = await runTask(t, emb);
    expect(r.mainScore).toBe(r.scores.v_measure);
    expect(r.mainScore).toBeGreaterThan(0);
    expect(r.mainScore).toBeLessThan(1);
    const b = await runTask({ ...t, protocol: 'bootstrap', bootstrap: { rounds: 3, size: 512 } }, emb);
    expect((b.scores.v_measures as number[]).length).toBe(3);
    expect(b.mainScore).toBeGreaterThan(0);
  });

  it('bitext: Tatoeba line-aligned files', async () => {
    const src = path.join(D, 'tatoeba/tatoeba.fra-eng.fra');
    const tgt = path.join(D, 'tatoeba/tatoeba.fra-eng.eng');
    const t = loadBitext(src, tgt, { limit: 300 });
    expect(t.sentence1.length).toBe(300);
    expect(t.hfSubset).toBe('fra-eng');
    expect(t.languages).toEqual(['fra-Latn', 'eng-Latn']);
    const cmn = loadBitext(
      path.join(D, 'tatoeba/tatoeba.cmn-eng.cmn'),
      path.join(D, 'tatoeba/tatoeba.cmn-eng.eng'),
      { limit: 50 },
    );
    const jpn = loadBitext(
      path.join(D, 'tatoeba/tatoeba.jpn-eng.jpn'),
      path.join(D, 'tatoeba/tatoeba.jpn-eng.eng'),
      { limit: 50 },
    );
    const rus = loadBitext(
      path.join(D, 'tatoeba/tatoeba.rus-eng.rus'),
      path.join(D, 'tatoeba/tatoeba.rus-eng.eng'),
      { limit: 50 },
    );
    expect([cmn.languages[0], jpn.languages[0], rus.languages[0]]).toEqual([
      'cmn-Hani',
      'jpn-Jpan',
      'rus-Cyrl',
    ]);
    const r = await runTask(t, emb);
    expect(r.mainScore).toBe(r.scores.f1);
    expect(r.mainScore).toBeGreaterThan(1 / 300); // names and cognates beat random matching
    // Same side against itself: every nearest neighbour is the line itself unless lines repeat.
    const self = await runTask(loadBitext(tgt, tgt, { limit: 300 }), emb);
    expect(self.scores.accuracy as number).toBeGreaterThan(0.95);
  });
});

describe('task sources: workbench dataset splits', () => {
  it('turns each kind of a held-out split into its task type', async () => {
    const store = Store.open(path.join(tmpDir(), 'wb.db'));
    try {
      const ds = store.datasets.create('demo');
      const rows = [];
      const topics = [
        'cats purr and sleep',
        'rockets launch to orbit',
        'bread needs flour and yeast',
        'rivers flow to the sea',
      ];
      for (let i = 0; i < 4; i++) {
        for (const split of ['train', 'test'] as const) {
          rows.push({
            kind: 'short-long' as const,
            split,
            query: `question about ${topics[i].split(' ')[0]} ${split}`,
            positive: `${topics[i]} (${split})`,
            negative: `${topics[(i + 1) % 4]} unrelated ${split}`,
          });
          rows.push({
            kind: 'sts' as const,
            split,
            query: `${topics[i]} today ${split}`,
            positive: `${topics[i]} now ${split}`,
            negative: `${topics[(i + 2) % 4]} ${split}`,
            extras: { high_score: 4.5, low_score: 2 },
          });
          rows.push({
            kind: 'bitext' as const,
            split,
            query: `${topics[i]} ${split}`,
            positive: `${topics[i]} ${split} en`,
          });
          rows.push({
            kind: 'long-short' as const,
            split,
            query: `${topics[i]} and more ${split}`,
            positive: `topic${i % 2}`,
          });
        }
      }
      store.examples.insertMany(ds.id, rows);
      const tasks = loadDatasetTasks(store, 'demo', 'test');
      expect(tasks.map((t) => t.type).sort()).toEqual(['BitextMining', 'Classification', 'Retrieval', 'STS']);
      const ret = tasks.find((t) => t.type === 'Retrieval')!;
      if (ret.type !== 'Retrieval') throw new Error('unreachable');
      expect(ret.queries.length).toBe(4);
      expect(ret.corpus.length).toBe(8); // 4 positives + 4 hard negatives
      for (const q of ret.queries) expect([...ret.qrels.get(q.id)!.values()].sort()).toEqual([0, 1]);
      const sts = tasks.find((t) => t.type === 'STS')!;
      if (sts.type !== 'STS') throw new Error('unreachable');
      expect(sts.pairs.length).toBe(8);
      expect(sts.pairs.filter((p) => p.score === 4.5).length).toBe(4);
      for (const t of tasks) {
        const r = await runTask(t, emb);
        expect(Number.isFinite(r.mainScore)).toBe(true);
      }
      expect(() => loadDatasetTasks(store, 'demo', 'dev')).toThrow(/no dev examples/);
    } finally {
      store.close();
    }
  });
});

describe('bad input is a one-line UserError', () => {
  const beir = (corpus: string, queries: string, qrels: string) => {
    const d = tmpDir();
    fs.mkdirSync(path.join(d, 'qrels'));
    fs.writeFileSync(path.join(d, 'corpus.jsonl'), corpus);
    fs.writeFileSync(path.join(d, 'queries.jsonl'), queries);
    fs.writeFileSync(path.join(d, 'qrels/test.tsv'), qrels);
    return d;
  };

  it('qrels naming a doc missing from the corpus: counted in R as pytrec_eval / MTEB do, with a warning', async () => {
    const d = beir(
      '{"_id":"d1","text":"cats sleep on mats"}\n{"_id":"d2","text":"rockets reach orbit"}\n',
      '{"_id":"q1","text":"where do cats sleep"}\n{"_id":"q2","text":"rockets"}\n',
      'query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td9\t1\nq2\td2\t1\nq2\td8\t1\nq2\td7\t1\n',
    );
    const t = loadBeir(d);
    expect(t.warnings?.length).toBe(1);
    expect(t.warnings?.[0]).toMatch(/3 qrels .*2 queries.* not in .*corpus\.jsonl/);
    const r = await runTask(t, emb);
    expect(r.warnings).toEqual(t.warnings);
    // Both present docs are retrieved within 10 (a 2-doc corpus): recall@10 = 1/2 and 1/3, averaged.
    expect(r.scores.recall_at_10).toBeCloseTo((1 / 2 + 1 / 3) / 2, 5);
  });

  it('duplicate corpus ids: refused naming file:line before any model is loaded; exact repeats kept once with a warning', () => {
    const q = '{"_id":"q1","text":"y"}\n';
    const qrels = 'query-id\tcorpus-id\tscore\nq1\td1\t1\n';
    const d = beir(
      '{"_id":"d1","text":"x"}\n{"_id":"d2","text":"z"}\n{"_id":"d1","text":"other"}\n',
      q,
      qrels,
    );
    expect(() => loadBeir(d)).toThrow(UserError);
    expect(() => loadBeir(d)).toThrow(
      `${path.join(d, 'corpus.jsonl')}:3: corpus id "d1" repeats line 1 with a different text`,
    );
    const e = beir('{"_id":"d1","text":"x"}\n{"_id":"d2","text":"z"}\n{"_id":"d1","text":"x"}\n', q, qrels);
    const t = loadBeir(e);
    expect(t.corpus.map((c) => c.id)).toEqual(['d1', 'd2']);
    expect(t.warnings?.[0]).toContain('1 exact duplicate line');
    expect(t.warnings?.[0]).toContain(`${path.join(e, 'corpus.jsonl')}:3`);
  });

  it('BEIR corpus and queries as .jsonl.gz load like .jsonl', () => {
    const d = beir('', '', 'query-id\tcorpus-id\tscore\nq1\td1\t1\n');
    fs.rmSync(path.join(d, 'corpus.jsonl'));
    fs.rmSync(path.join(d, 'queries.jsonl'));
    fs.writeFileSync(
      path.join(d, 'corpus.jsonl.gz'),
      zlib.gzipSync('{"_id":"d1","text":"cats"}\n{"_id":"d2","text":"dogs"}\n'),
    );
    fs.writeFileSync(path.join(d, 'queries.jsonl.gz'), zlib.gzipSync('{"_id":"q1","text":"cat"}\n'));
    const t = loadBeir(d);
    expect(t.corpus.map((c) => c.text)).toEqual(['cats', 'dogs']);
    expect(t.queries.map((q) => q.text)).toEqual(['cat']);
    fs.writeFileSync(path.join(d, 'corpus.jsonl.gz'), 'not gzip');
    expect(() => loadBeir(d)).toThrow(/not a valid gzip file/);
  });

  it('SemEval STS: a folder of domain files (STS12–16) is one task of all scored pairs', () => {
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'STS.input.headlines.txt'), 'a b\tc d\ne f\tg h\n');
    fs.writeFileSync(path.join(d, 'STS.gs.headlines.txt'), '4\n\n');
    fs.writeFileSync(path.join(d, 'STS.input.plagiarism.txt'), 'x\ty\tsource info\n');
    fs.writeFileSync(path.join(d, 'STS.gs.plagiarism.txt'), '2.5\n');
    const [t, ...rest] = loadSemEvalSts(d);
    expect(rest).toEqual([]);
    expect(t.hfSubset).toBe('default');
    expect(t.pairs).toEqual([
      { s1: 'a b', s2: 'c d', score: 4 },
      { s1: 'x', s2: 'y', score: 2.5 },
    ]);
    fs.rmSync(path.join(d, 'STS.gs.plagiarism.txt'));
    expect(() => loadSemEvalSts(d)).toThrow(/no STS\.gs\.plagiarism\.txt/);
  });

  it('a folder where a file is expected is a one-line error, not EISDIR', () => {
    const d = tmpDir();
    expect(() => loadSts(d)).toThrow(UserError);
    expect(() => loadSts(d)).toThrow(/is a folder, expected the STS file/);
  });

  it('qrels naming unknown query ids', () => {
    const e = beir(
      '{"_id":"d1","text":"x"}\n',
      '{"_id":"q1","text":"y"}\n',
      'query-id\tcorpus-id\tscore\nq7\td1\t1\n',
    );
    expect(() => loadBeir(e)).toThrow(/query id "q7"/);
  });

  it('empty corpus', () => {
    const d = beir('', '{"_id":"q1","text":"y"}\n', 'query-id\tcorpus-id\tscore\n');
    expect(() => loadBeir(d)).toThrow(/corpus is empty/);
  });

  it('BEIR title + text is stripped and joined with a space', () => {
    const d = beir(
      '{"_id":"d1","title":"T","text":" body "}\n{"_id":"d2","title":"","text":" only "}\n',
      '{"_id":"q1","text":"y"}\n',
      'query-id\tcorpus-id\tscore\nq1\td1\t1\n',
    );
    expect(loadBeir(d).corpus.map((c) => c.text)).toEqual(['T  body', 'only']);
  });

  it('STS file with a non-numeric score names the line', () => {
    const f = path.join(tmpDir(), 'bad.tsv');
    fs.writeFileSync(f, 'sentence1\tsentence2\tscore\na\tb\t3.5\nc\td\thigh\n');
    expect(() => loadSts(f)).toThrow(UserError);
    expect(() => loadSts(f)).toThrow(/bad\.tsv:3: score "high" is not a number/);
  });

  it('bitext files of different lengths', () => {
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'a.fra'), 'un\ndeux\n');
    fs.writeFileSync(path.join(d, 'a.eng'), 'one\n');
    expect(() => loadBitext(path.join(d, 'a.fra'), path.join(d, 'a.eng'))).toThrow(/line-aligned/);
  });

  it('quoted TSV parsing keeps tabs and doubled quotes inside fields', () => {
    expect(parseDelimited('a\t"b\t""c"""\nd\te\n', '\t')).toEqual([
      ['a', 'b\t"c"'],
      ['d', 'e'],
    ]);
  });
});
