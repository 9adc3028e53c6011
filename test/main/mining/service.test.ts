import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/main/errors';
import { normText } from '../../../src/main/mining/pool';
import { distribution } from '../../../src/main/mining/stats';
import { BERT, count, directScores, examples, MISTRAL, phrase, rng, setup } from './helpers';

describe('mining with the parity fixture models', () => {
  it('honours every knob; stored rows and the report agree with a direct computation', async () => {
    const rows = examples(60);
    // An exact duplicate (after normalisation) of example 1's positive, as example 2's LLM negative.
    rows[2].negative = `  ${rows[1].positive.toUpperCase()} `;
    const { store, d, svc } = setup(rows);
    const before = [...store.examples.iterate(d.id)].map((e) => [e.id, e.negative]);
    const knobs = { rangeMin: 2, rangeMax: 30, margin: 0.02, maxScore: 0.97, numNegatives: 4 };
    const r = await svc.mine({ dataset: 'ds', model: BERT, knobs, inThread: true });
    const ex = [...store.examples.iterate(d.id)];
    // The examples' own negatives are untouched.
    expect(ex.map((e) => [e.id, e.negative])).toEqual(before);
    const mined = svc.store.minedOfRun(r.runId);
    expect(mined.length).toBe(r.negatives);
    expect(r.pool.size).toBe(60 + 13 - 1); // 12 negatives + the duplicate one, folded
    expect(r.pool.duplicates).toBe(1);

    const byId = new Map(ex.map((e) => [e.id, e]));
    const docs = [...new Set(ex.flatMap((e) => [e.positive, ...(e.negative ? [e.negative] : [])]))];
    const score = await directScores(
      BERT,
      ex.map((e) => ({ text: e.query, instruction: e.instruction as string })),
      docs,
    );
    const di = new Map(docs.map((t, i) => [t, i]));
    const perEx = new Map<number, number>();
    for (const m of mined) {
      const e = byId.get(m.exampleId)!;
      const qi = ex.indexOf(e);
      expect(normText(m.text)).not.toBe(normText(e.positive));
      expect(m.text).not.toBe(e.negative);
      expect(m.score).toBeLessThanOrEqual(0.97 + 1e-6);
      expect(m.score).toBeLessThanOrEqual(m.positiveScore - 0.02 + 1e-6);
      expect(m.rank).toBeGreaterThan(2);
      expect(m.rank).toBeLessThanOrEqual(30);
      expect(m.model).toBe(path.resolve(BERT));
      expect(m.score).toBeCloseTo(score(qi, di.get(m.text)!), 4);
      expect(m.positiveScore).toBeCloseTo(score(qi, di.get(e.positive)!), 4);
      perEx.set(m.exampleId, (perEx.get(m.exampleId) ?? 0) + 1);
    }
    // Example 2's negative is example 1's positive: never mined for example 1.
    expect(
      mined
        .filter((m) => m.exampleId === ex[1].id)
        .every((m) => normText(m.text) !== normText(ex[1].positive)),
    ).toBe(true);

    // Top sampling = the eligible candidates in rank order, recomputed by brute force here.
    let checked = 0;
    let nonEmpty = 0;
    for (const e of ex) {
      const qi = ex.indexOf(e);
      const pos = score(qi, di.get(e.positive)!);
      const ranked = docs
        .map((t, j) => ({ t, s: score(qi, j) }))
        .filter((c) => normText(c.t) !== normText(e.positive))
        .sort((a, b) => b.s - a.s);
      const gaps = ranked.slice(1).map((c, j) => ranked[j].s - c.s);
      if (Math.min(...gaps) < 1e-5) continue; // near-ties: float32 vs float64 order may differ
      const want = ranked
        .map((c, j) => ({ ...c, rank: j + 1 }))
        .filter((c) => c.rank > 2 && c.rank <= 30 && c.t !== e.negative && c.s <= 0.97 && c.s <= pos - 0.02)
        .slice(0, 4)
        .map((c) => [c.t, c.rank]);
      const got = mined.filter((m) => m.exampleId === e.id).map((m) => [m.text, m.rank]);
      expect(got).toEqual(want);
      checked++;
      if (want.length) nonEmpty++;
    }
    expect(checked).toBeGreaterThan(40);
    expect(nonEmpty).toBeGreaterThan(10);
    // Margin and max-score bite on this random-weight model: some queries are short, and say why.
    expect(mined.length).toBeGreaterThan(30);

    // Report = direct computation over the stored rows.
    const hist: Record<string, number> = { 0: 0, 1: 0, 2: 0, 3: 0, 4: 0 };
    for (const e of ex) hist[perEx.get(e.id) ?? 0]++;
    expect(r.histogram).toEqual(hist);
    expect(r.queries).toBe(60);
    const negD = distribution(mined.map((m) => m.score));
    for (const key of ['count', 'mean', 'std', 'min', 'p25', 'median', 'p75', 'max'] as const)
      expect(r.scores.negative[key]).toBeCloseTo(negD[key] as number, 6);
    const posD = distribution(ex.map((e, qi) => score(qi, di.get(e.positive)!)));
    for (const key of ['mean', 'std', 'min', 'median', 'max'] as const)
      expect(r.scores.positive[key]).toBeCloseTo(posD[key] as number, 4);
    const short = ex.filter((e) => (perEx.get(e.id) ?? 0) < 4).length;
    expect(r.short.queries).toBe(short);
    expect(Object.values(r.short.byReason).reduce((a, b) => a + b, 0)).toBe(short);
    // The stored run carries the same report.
    expect(svc.store.runs(d.id)[0].report).toEqual(JSON.parse(JSON.stringify(r)));
    store.close();
  });

  it('random sampling is seeded and stays in range; a short pool is reported with the knob to loosen', async () => {
    const { store, svc } = setup(examples(24, 9));
    const k = { rangeMin: 1, rangeMax: 20, numNegatives: 3, sampling: 'random' as const, seed: 7 };
    const a = await svc.mine({ dataset: 'ds', model: MISTRAL, knobs: k, inThread: true });
    const b = await svc.mine({ dataset: 'ds', model: MISTRAL, knobs: k, inThread: true });
    const pick = (id: string) => svc.store.minedOfRun(id).map((m) => [m.exampleId, m.text, m.rank]);
    expect(pick(a.runId)).toEqual(pick(b.runId));
    for (const m of svc.store.minedOfRun(a.runId)) expect(m.rank > 1 && m.rank <= 20).toBe(true);
    const c = await svc.mine({ dataset: 'ds', model: MISTRAL, knobs: { ...k, seed: 8 }, inThread: true });
    expect(pick(c.runId)).not.toEqual(pick(a.runId));
    // Asking for more negatives than the range holds: every query is short, because of the range.
    const s = await svc.mine({
      dataset: 'ds',
      model: MISTRAL,
      knobs: { rangeMin: 0, rangeMax: 3, numNegatives: 5 },
      inThread: true,
    });
    expect(s.short.queries).toBe(24);
    expect(s.short.byReason.range).toBe(24);
    expect(s.short.hints[0]).toMatch(/--range/);
    expect(s.histogram['3'] + s.histogram['2']).toBe(24);
    store.close();
  });

  it('mines from a corpus file (JSONL and TXT) and from the dataset with --kinds', async () => {
    const rows = examples(20, 5);
    const { home, store, svc } = setup(rows);
    const r = rng(11);
    const corpus = Array.from({ length: 50 }, (_, i) => `${phrase(r, 6)} c${i}`);
    const jsonl = path.join(home, 'c.jsonl');
    fs.writeFileSync(
      jsonl,
      `${[...corpus.map((t) => JSON.stringify({ text: t })), JSON.stringify(rows[0].positive)].join('\n')}\n`,
    );
    const m = await svc.mine({
      dataset: 'ds',
      model: BERT,
      corpus: jsonl,
      knobs: { numNegatives: 2 },
      inThread: true,
    });
    expect(m.pool).toMatchObject({ source: 'corpus', size: 51 });
    const mined = svc.store.minedOfRun(m.runId);
    expect(mined.every((x) => x.source === 'corpus')).toBe(true);
    expect(mined.length).toBe(40);
    const ex0 = [...store.examples.iterate(1)][0];
    expect(mined.filter((x) => x.exampleId === ex0.id).some((x) => x.text === rows[0].positive)).toBe(false);
    // With an adapter: the run and every row record it; the scores are the adapted model's.
    const adapter = path.join(BERT, 'adapter');
    const ad = await svc.mine({
      dataset: 'ds',
      model: BERT,
      adapter,
      corpus: jsonl,
      knobs: { numNegatives: 2 },
      inThread: true,
    });
    expect(ad.adapter).toBe(path.resolve(adapter));
    expect(svc.store.minedOfRun(ad.runId).every((x) => x.adapter === path.resolve(adapter))).toBe(true);
    expect(ad.scores.positive.mean).not.toBeCloseTo(m.scores.positive.mean as number, 6);
    const txt = path.join(home, 'c.txt');
    fs.writeFileSync(txt, corpus.join('\n'));
    const t = await svc.mine({
      dataset: 'ds',
      model: BERT,
      corpus: txt,
      knobs: { numNegatives: 1 },
      inThread: true,
    });
    expect(t.pool.size).toBe(50);
    await expect(
      svc.mine({ dataset: 'ds', model: BERT, filter: { kind: ['sts'] }, inThread: true }),
    ).rejects.toThrow(/no examples matching/);
    store.close();
  });

  it('bad input: unloadable model, empty pool, range beyond the pool → UserError, nothing written', async () => {
    const { home, store, svc } = setup(examples(10));
    const bad = path.join(home, 'bad');
    fs.mkdirSync(bad);
    await expect(svc.mine({ dataset: 'ds', model: bad, inThread: true })).rejects.toThrow(UserError);
    fs.writeFileSync(path.join(bad, 'config.json'), '{"model_type":"bert","hidden_size":64}');
    await expect(svc.mine({ dataset: 'ds', model: bad, inThread: true })).rejects.toThrow(UserError);
    const empty = path.join(home, 'empty.jsonl');
    fs.writeFileSync(empty, '\n\n');
    await expect(svc.mine({ dataset: 'ds', model: BERT, corpus: empty, inThread: true })).rejects.toThrow(
      /pool is empty/,
    );
    await expect(
      svc.mine({ dataset: 'ds', model: BERT, knobs: { rangeMin: 5, rangeMax: 50 }, inThread: true }),
    ).rejects.toThrow(/reaches past the pool of 12 candidates/);
    await expect(
      svc.mine({ dataset: 'ds', model: BERT, knobs: { rangeMin: 12, rangeMax: 50 }, inThread: true }),
    ).rejects.toThrow(UserError);
    await expect(svc.mine({ dataset: 'nope', model: BERT, inThread: true })).rejects.toThrow(UserError);
    await expect(svc.score({ dataset: 'ds', model: bad, inThread: true })).rejects.toThrow(UserError);
    for (const t of ['mining_runs', 'mined_negatives', 'score_runs', 'example_scores'])
      expect(count(store, t)).toBe(0);
    store.close();
  });
});
