// Mining from the review screen (issue #18.3): one candidate pool per kind (and language for sts/bitext) by
// default, per-negative actions (drop, move to a positive), and the score distribution for the histogram.
import { describe, expect, it } from 'vitest';
import type { NewExample } from '../../../src/shared/domain';
import { poolGroupOf } from '../../../src/main/mining/service';
import { phrase, rng, setup } from './helpers';

const HASH = 'builtin:hashbow-64';

/** long-short rows whose labels share words with the short-long documents (the cross-kind trap). */
function mixed(): NewExample[] {
  const r = rng(7);
  const rows: NewExample[] = [];
  for (let i = 0; i < 12; i++)
    rows.push({
      kind: 'short-long',
      language: 'en',
      instruction: 'find bug reports',
      query: `crash report ${i} ${phrase(r, 2)}`,
      positive: `mixed crash report ${i} the app crashes on start ${phrase(r, 4)}`,
      negative: null,
    });
  for (let i = 0; i < 12; i++)
    rows.push({
      kind: 'long-short',
      language: 'en',
      instruction: 'classify the sentiment',
      query: `review ${i}: ${phrase(r, 6)} mixed crash report`,
      positive: ['mixed', 'positive', 'negative', 'neutral'][i % 4],
      negative: null,
    });
  for (const [lang, n] of [
    ['de', 6],
    ['fr', 6],
  ] as const)
    for (let i = 0; i < n; i++)
      rows.push({
        kind: 'sts',
        language: lang,
        query: `${lang} satz ${i} ${phrase(r, 3)}`,
        positive: `${lang} satz ${i} gleich ${phrase(r, 3)}`,
        negative: null,
      });
  return rows;
}

describe('mining with per-kind pools', () => {
  it('mines each kind (and sts language) from its own pool; the dataset pool would cross kinds', async () => {
    const { store, d, svc } = setup(mixed());
    const ex = [...store.examples.iterate(d.id)];
    const byId = new Map(ex.map((e) => [e.id, e]));
    const texts = new Map<string, Set<string>>();
    for (const e of ex) {
      const g = poolGroupOf(e);
      const set = texts.get(g) ?? new Set<string>();
      set.add(e.positive);
      texts.set(g, set);
    }
    const r = await svc.mineByKind({ dataset: 'ds', model: HASH, knobs: { numNegatives: 2, rangeMax: 3 } });
    expect(r.groups.map((g) => g.group)).toEqual(['long-short', 'short-long', 'sts de', 'sts fr']);
    // long-short: a pool of 4 labels; each example excludes its own, so ranks 1..3 are the other labels.
    const ls = r.groups.find((g) => g.group === 'long-short')!;
    expect(ls.pool).toBe(4);
    expect(ls.skipped).toBeNull();
    let checked = 0;
    for (const g of r.groups) {
      if (!g.runId) continue;
      for (const m of svc.store.minedOfRun(g.runId)) {
        const e = byId.get(m.exampleId)!;
        expect(texts.get(poolGroupOf(e))?.has(m.text)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(r.negatives);
    expect(r.negatives).toBeGreaterThan(20);
    // The same mining over one dataset pool gives long-short examples negatives from other kinds.
    const whole = await svc.mine({ dataset: 'ds', model: HASH, knobs: { numNegatives: 2, rangeMax: 3 } });
    const cross = svc.store
      .minedOfRun(whole.runId)
      .filter((m) => byId.get(m.exampleId)!.kind === 'long-short')
      .filter((m) => !texts.get('long-short')?.has(m.text));
    expect(cross.length).toBeGreaterThan(0);
  });

  it('a group whose pool is smaller than the range is skipped with the reason', async () => {
    const { svc } = setup(mixed());
    const r = await svc.mineByKind({ dataset: 'ds', model: HASH, knobs: { rangeMin: 5, numNegatives: 1 } });
    const ls = r.groups.find((g) => g.group === 'long-short')!;
    expect(ls.runId).toBeNull();
    expect(ls.skipped).toMatch(/range min 5 is at or beyond the pool of 4/);
    expect(r.groups.find((g) => g.group === 'short-long')?.runId).not.toBeNull();
  });
});

describe('per-negative actions and the score distribution', () => {
  it('drops a mined or an LLM negative, or moves it to a new positive example; aggregates follow', async () => {
    const rows = mixed().map((x, i) =>
      x.kind === 'short-long' ? { ...x, negative: `llm negative ${i}` } : x,
    );
    const { store, d, svc } = setup(rows);
    const mine = await svc.mine({ dataset: 'ds', model: HASH, knobs: { numNegatives: 2 } });
    expect(mine.negatives).toBeGreaterThan(0);
    await svc.score({ dataset: 'ds', model: HASH, margin: 0 });
    const runId = svc.store.latestScoreRun(d.id)!;
    const [first] = svc.store.scorePage(d.id, {
      runId,
      filter: { kind: 'short-long' },
      sort: 'id',
      limit: 1,
    });
    expect(first.negativeScores.length).toBe(3);
    const mined = first.negativeScores.find((n) => n.source === 'mined')!;

    svc.negativeAction({
      exampleId: first.example.id,
      source: 'mined',
      minedId: mined.minedId,
      action: 'drop',
    });
    let now = svc.store.scoresOf(first.example.id)!;
    expect(now.negativeScores.map((n) => n.text)).not.toContain(mined.text);
    expect(now.negatives).toBe(2);
    expect(now.maxNegativeScore).toBe(Math.max(...now.negativeScores.map((n) => n.score)));

    const before = store.examples.count(d.id);
    const r = svc.negativeAction({ exampleId: first.example.id, source: 'llm', action: 'to-positive' });
    expect(store.examples.count(d.id)).toBe(before + 1);
    const created = store.examples.get(r.created!);
    expect(created).toMatchObject({
      query: first.example.query,
      positive: first.example.negative,
      negative: null,
      kind: 'short-long',
      origin: 'manual',
    });
    expect(store.examples.get(first.example.id).negative).toBeNull();
    now = svc.store.scoresOf(first.example.id)!;
    expect(now.negativeScores.every((n) => n.source === 'mined')).toBe(true);
    expect(now.negatives).toBe(1);
    expect(() => svc.negativeAction({ exampleId: first.example.id, source: 'llm', action: 'drop' })).toThrow(
      /no LLM-written negative/,
    );

    // Distribution: one positive per scored example of the filter, every negative, margins of rows with one.
    const dist = svc.store.scoreDistribution(d.id, { runId, filter: { kind: 'short-long' } });
    const page = svc.store.scorePage(d.id, { runId, filter: { kind: 'short-long' }, limit: 1000 });
    expect(dist.positive.length).toBe(page.length);
    expect(dist.negative.length).toBe(page.reduce((a, p) => a + p.negativeScores.length, 0));
    expect(dist.margin.sort()).toEqual(
      page
        .filter((p) => p.margin !== null)
        .map((p) => p.margin)
        .sort(),
    );
  });
});
