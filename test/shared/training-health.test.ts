import { describe, expect, it } from 'vitest';
import { emaSmooth, trainingHealth } from '../../src/shared/training-health';

describe('emaSmooth', () => {
  it('is the debiased EMA: first point raw, then weighted towards recent values', () => {
    // span 3 → beta = 1 − 2/4 = 0.5. By hand: s1 = 0.5·4 = 2, w1 = 0.5 → 4; s2 = 0.5·2 + 0.5·2 = 2,
    // w2 = 0.75 → 2.6667; s3 = 0.5·2 + 0.5·8 = 5, w3 = 0.875 → 5.7143.
    const out = emaSmooth([4, 2, 8], 3);
    expect(out[0]).toBeCloseTo(4, 12);
    expect(out[1]).toBeCloseTo(2 / 0.75, 12);
    expect(out[2]).toBeCloseTo(5 / 0.875, 12);
  });
});

describe('trainingHealth', () => {
  const line = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  it('says nothing about a loss that goes down, or a run too short to tell', () => {
    expect(trainingHealth(line(90, (i) => 2.5 - i * 0.015))).toEqual([]);
    expect(trainingHealth([3, 5, 9])).toEqual([]);
  });
  it('flags a loss that ends above where it started', () => {
    const h = trainingHealth(line(50, (i) => 1 + i * 0.02));
    expect(h.map((x) => x.code)).toEqual(['ends-above']);
    expect(h[0].message).toMatch(/learning rate/);
  });
  it('flags a loss near 0 as too-easy negatives', () => {
    const h = trainingHealth(line(50, (i) => (i < 10 ? 1 : 0.001)));
    expect(h.map((x) => x.code)).toEqual(['near-zero']);
    expect(h[0].message).toMatch(/negatives are too easy/);
  });
  it('flags a flat loss (lr or temperature)', () => {
    const h = trainingHealth(line(50, (i) => 2.0 + (i % 2 ? 0.01 : -0.01)));
    expect(h.map((x) => x.code)).toEqual(['flat']);
    expect(h[0].message).toMatch(/τ/);
  });
  it('counts non-finite steps', () => {
    expect(trainingHealth([1, Number.NaN, 0.5]).map((x) => x.code)).toEqual(['non-finite']);
  });
});
