import { describe, expect, it } from 'vitest';
import { HashBowEmbedder } from '../../../src/main/eval/embedder';
import { evaluateRetrieval, type Qrels, type Run } from '../../../src/main/eval/metrics/retrieval';
import { cosine, pairedCosine, spearman } from '../../../src/main/eval/metrics/stats';
import { runTask } from '../../../src/main/eval/run';
import type { RetrievalTask, StsTask } from '../../../src/main/eval/tasks';

const emb = new HashBowEmbedder(64);
const docs = [
  'the cat sleeps on the warm mat',
  'rockets launch satellites into orbit',
  'bake bread with flour water and yeast',
  'the river flows into the sea',
  'cats and dogs are common pets',
  'a satellite orbits the earth',
  'sourdough bread needs a starter',
  'the sea is salty',
];
const corpus = docs.map((text, i) => ({ id: `d${i}`, text }));
const queries = [
  { id: 'q1', text: 'where do cats sleep' },
  { id: 'q2', text: 'how are satellites launched' },
  { id: 'q3', text: 'how to bake bread' },
];
const qrels: Qrels = new Map([
  [
    'q1',
    new Map([
      ['d0', 2],
      ['d4', 1],
    ]),
  ],
  [
    'q2',
    new Map([
      ['d1', 1],
      ['d5', 1],
    ]),
  ],
  [
    'q3',
    new Map([
      ['d2', 1],
      ['d6', 1],
      ['d7', 0],
    ]),
  ],
]);

/** The reference: cosine of every (query, doc) pair in float64, scored by the metrics directly. */
async function bruteForceRun(cands?: Map<string, string[]>): Promise<Run> {
  const qv = await emb.embed(
    queries.map((q) => q.text),
    { role: 'query' },
  );
  const dv = await emb.embed(docs, { role: 'document' });
  return new Map(
    queries.map((q, qi) => [
      q.id,
      new Map(
        corpus
          .map((d, di) => [d.id, cosine(qv[qi], dv[di])] as [string, number])
          .filter(([id]) => !cands || cands.get(q.id)!.includes(id)),
      ),
    ]),
  );
}

describe('runTask', () => {
  it('retrieval through the ORT search scores like a brute-force run', async () => {
    const task: RetrievalTask = {
      type: 'Retrieval',
      name: 't',
      split: 'test',
      hfSubset: 'default',
      languages: [],
      source: 'mem',
      corpus,
      queries,
      qrels,
    };
    const r = await runTask(task, emb);
    const ref = evaluateRetrieval(qrels, await bruteForceRun()).scores;
    for (const k of ['ndcg_at_1', 'ndcg_at_3', 'ndcg_at_10', 'map_at_1000', 'recall_at_3', 'mrr_at_10'])
      expect(r.scores[k] as number).toBeCloseTo(ref[k], 5);
    expect(r.mainScore).toBe(r.scores.ndcg_at_10);
  });

  it('reranking scores only each query’s candidates; main score map_at_1000', async () => {
    const candidates = new Map([
      ['q1', ['d0', 'd3', 'd7']],
      ['q2', ['d5', 'd2']],
      ['q3', ['d6', 'd7', 'd1', 'd2']],
    ]);
    const task: RetrievalTask = {
      type: 'Reranking',
      name: 'rr',
      split: 'test',
      hfSubset: 'default',
      languages: [],
      source: 'mem',
      corpus,
      queries,
      qrels,
      candidates,
    };
    const r = await runTask(task, emb);
    const ref = evaluateRetrieval(qrels, await bruteForceRun(candidates)).scores;
    expect(r.mainScore).toBe(r.scores.map_at_1000);
    expect(r.mainScore).toBeCloseTo(ref.map_at_1000, 6);
    // q1's relevant d4 is not a candidate: R still counts it, so recall@1000 < 1
    expect(r.scores.recall_at_1000 as number).toBeLessThan(1);
  });

  it('empty texts: embedded as empty like MTEB, one warning per task with the count', async () => {
    const warned: string[] = [];
    const task: StsTask = {
      type: 'STS',
      name: 'sts-empty',
      split: 'test',
      hfSubset: 'default',
      languages: [],
      source: 'x',
      pairs: [
        { s1: '', s2: 'the cat sleeps', score: 1 },
        { s1: 'the cat sleeps', s2: 'the cat sleeps', score: 5 },
        { s1: 'rockets fly', s2: '  ', score: 0 },
        { s1: 'bread and yeast', s2: 'sourdough bread', score: 3 },
      ],
    };
    const r = await runTask(task, emb, { onWarning: (w) => warned.push(w) });
    expect(warned.length).toBe(1);
    expect(warned[0]).toContain('2 empty texts');
    expect(r.warnings).toEqual(warned);
    // The hashed model gives "" a zero vector: it scores 0.5, so pair 0 ranks above a negative cosine.
    const v = (t: string) => emb.embedOne(t);
    const cos = task.pairs.map((p) => pairedCosine(v(p.s1), v(p.s2)));
    expect(cos[0]).toBeCloseTo(0.5, 6);
    expect(r.mainScore).toBeCloseTo(spearman([1, 5, 0, 3], cos), 12);
  });
});
