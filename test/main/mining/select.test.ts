import { describe, expect, it } from 'vitest';
import { type MineKnobs, selectForQuery } from '../../../src/main/mining/select';
import { distribution, quantileSorted } from '../../../src/main/mining/stats';

const knobs = (o: Partial<MineKnobs> = {}): MineKnobs => ({
  rangeMin: 0,
  rangeMax: 10,
  maxScore: null,
  minScore: null,
  margin: null,
  relativeMargin: null,
  numNegatives: 3,
  sampling: 'top',
  seed: 1,
  ...o,
});

// Ranked candidates of one query: rows 0..9 with falling scores (sixteenths: exact in float32 and float64);
// row 3 is its positive.
const idx = Int32Array.from([3, 7, 1, 8, 0, 5, 2, 9, 4, 6]);
const sc = Float32Array.from([15, 14, 13, 12, 11, 10, 9, 8, 7, 6].map((x) => x / 16));
const POS = 15 / 16;
const none = new Set<number>();

describe('selectForQuery (hand-checked knobs)', () => {
  it('excludes the positive without giving it a rank; top sampling takes the best three', () => {
    const r = selectForQuery(idx, sc, POS, new Set([3]), none, knobs(), 1);
    expect(r.picks.map((p) => p.row)).toEqual([7, 1, 8]);
    expect(r.picks.map((p) => p.rank)).toEqual([1, 2, 3]);
    expect(r.short).toBeNull();
  });

  it('honours the rank range: skip the 2 most similar, stop at rank 4', () => {
    const r = selectForQuery(idx, sc, POS, new Set([3]), none, knobs({ rangeMin: 2, rangeMax: 4 }), 1);
    expect(r.picks.map((p) => [p.row, p.rank])).toEqual([
      [8, 3],
      [0, 4],
    ]);
    expect(r.short).toBe('range');
    expect(r.counts.range).toBe(2);
  });

  it('drops candidates above max_score and below min_score', () => {
    const r = selectForQuery(idx, sc, POS, new Set([3]), none, knobs({ maxScore: 0.8, minScore: 0.55 }), 1);
    expect(r.picks.map((p) => p.score)).toEqual([sc[3], sc[4], sc[5]]);
    const r2 = selectForQuery(idx, sc, POS, new Set([3]), none, knobs({ minScore: 0.78 }), 1);
    expect(r2.picks.map((p) => p.score)).toEqual([sc[1], sc[2]]);
    expect(r2.short).toBe('min-score');
    // Both filters bite: the first one in the chain that leaves too few is named.
    const both = selectForQuery(
      idx,
      sc,
      POS,
      new Set([3]),
      none,
      knobs({ maxScore: 0.8, minScore: 0.65 }),
      1,
    );
    expect(both.picks.length).toBe(2);
    expect(both.short).toBe('max-score');
    const r3 = selectForQuery(idx, sc, POS, new Set([3]), none, knobs({ maxScore: 0.45, rangeMax: 7 }), 1);
    expect(r3.short).toBe('max-score');
  });

  it('absolute margin: nothing above positive − margin; relative margin: nothing above positive·(1 − m)', () => {
    const a = selectForQuery(idx, sc, POS, new Set([3]), none, knobs({ margin: 0.125 }), 1);
    for (const p of a.picks) expect(p.score).toBeLessThanOrEqual(POS - 0.125);
    expect(a.picks.map((p) => p.row)).toEqual([1, 8, 0]);
    const rel = selectForQuery(idx, sc, POS, new Set([3]), none, knobs({ relativeMargin: 0.2 }), 1);
    for (const p of rel.picks) expect(p.score).toBeLessThanOrEqual(POS * 0.8);
    expect(rel.picks.map((p) => p.row)).toEqual([8, 0, 5]);
    const short = selectForQuery(idx, sc, POS, new Set([3]), none, knobs({ margin: 0.5, rangeMax: 6 }), 1);
    expect(short.picks.length).toBe(0);
    expect(short.short).toBe('margin');
  });

  it("skips the example's own negative but keeps ranks", () => {
    const r = selectForQuery(idx, sc, POS, new Set([3]), new Set([1]), knobs(), 1);
    expect(r.picks.map((p) => [p.row, p.rank])).toEqual([
      [7, 1],
      [8, 3],
      [0, 4],
    ]);
    expect(r.skipped).toBe(1);
  });

  it('random sampling: seeded, within the eligible set, sorted by rank, differs by seed', () => {
    const k = knobs({ sampling: 'random', rangeMin: 1, rangeMax: 8, numNegatives: 3 });
    const a = selectForQuery(idx, sc, POS, new Set([3]), none, k, 17);
    const b = selectForQuery(idx, sc, POS, new Set([3]), none, k, 17);
    expect(a.picks).toEqual(b.picks);
    for (const p of a.picks) expect(p.rank > 1 && p.rank <= 8).toBe(true);
    expect(a.picks.map((p) => p.rank)).toEqual([...a.picks.map((p) => p.rank)].sort((x, y) => x - y));
    const seen = new Set<string>();
    for (let s = 0; s < 20; s++)
      seen.add(
        JSON.stringify(
          selectForQuery(idx, sc, POS, new Set([3]), none, { ...k, seed: s }, 17).picks.map((p) => p.row),
        ),
      );
    expect(seen.size).toBeGreaterThan(3);
  });
});

describe('distribution', () => {
  it('matches numpy-style quantiles and population std', () => {
    const d = distribution([4, 1, 3, 2]);
    expect(d).toMatchObject({ count: 4, mean: 2.5, min: 1, max: 4, median: 2.5, p25: 1.75, p75: 3.25 });
    expect(d.std).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(quantileSorted([5], 0.3)).toBe(5);
    expect(distribution([]).mean).toBeNull();
  });
});
