import { describe, expect, it } from 'vitest';
import {
  DedupIndex,
  NEAR_DUP_THRESHOLD,
  nearDuplicate,
  normalizeText,
  signature,
  similarity,
  withNormalizeMemo,
} from '../../../src/main/generation/dedup';

const EMPTY = 0xffffffff;

// Signatures with a chosen number of empty, equal and different bins (in a shuffled order).
function pair(seed: number): [Uint32Array, Uint32Array] {
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
  const a = new Uint32Array(64);
  const b = new Uint32Array(64);
  const pEmpty = rnd();
  const pSame = rnd();
  for (let i = 0; i < 64; i++) {
    const r = rnd();
    if (r < pEmpty) {
      a[i] = EMPTY;
      b[i] = rnd() < 0.3 ? (rnd() * 0x3ffffff) >>> 0 : EMPTY;
    } else {
      a[i] = (rnd() * 0x3ffffff) >>> 0;
      b[i] = rnd() < pSame ? a[i] : (rnd() * 0x3ffffff) >>> 0;
    }
  }
  return [a, b];
}

describe('dedup', () => {
  it('nearDuplicate (early exit) decides as similarity >= threshold on every pair', () => {
    let near = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const [a, b] = pair(seed);
      const want = similarity(a, b) >= NEAR_DUP_THRESHOLD;
      expect(nearDuplicate(a, b)).toBe(want);
      if (want) near++;
    }
    expect(near).toBeGreaterThan(100);
    // The edges: all bins empty (estimate 1), exactly 13 of 64 different (0.797), 12 of 64 (0.8125).
    const all = new Uint32Array(64).fill(EMPTY);
    expect(nearDuplicate(all, all)).toBe(true);
    const x = Uint32Array.from({ length: 64 }, (_, i) => i);
    const differ = (n: number) => Uint32Array.from(x, (v, i) => (i >= 64 - n ? v + 100 : v));
    expect(nearDuplicate(x, differ(12))).toBe(true);
    expect(nearDuplicate(x, differ(13))).toBe(false);
  });

  it('finds duplicates and near duplicates through repeated lookups (the seen marks reset per lookup)', () => {
    const ix = new DedupIndex();
    const words = (n: number, from: number) => Array.from({ length: n }, (_, i) => `w${from + i}`).join(' ');
    for (let i = 0; i < 3000; i++) {
      const { key, sig } = signature([words(6, i * 7), words(30, i * 31), null]);
      expect(ix.lookup(key, sig)).toBe(null);
      ix.add(key, sig);
    }
    const again = signature([words(6, 7 * 1234), words(30, 31 * 1234), null]);
    expect(ix.lookup(again.key, again.sig)).toBe('duplicate');
    const near = signature([words(6, 7 * 1234), `${words(30, 31 * 1234)} w0`, null]);
    expect(ix.lookup(near.key, near.sig)).toBe('near_duplicate');
    expect(ix.check([words(6, 7 * 1234), `${words(30, 31 * 1234)} w0`, null]).reason).toBe('near_duplicate');
  });

  it('normalizeText folds punctuation, symbols and whitespace runs to one space, memoised or not', () => {
    const cases = [
      '¡¿Hola?!  —  “mundo” (x)\t\n#tag $5',
      ' .a',
      '\u00a0x\u3000',
      '...',
      '',
      'A.\tB',
      '😀 x 😀',
    ];
    const twoPass = (s: string) =>
      s
        .toLowerCase()
        .replace(/[\p{P}\p{S}]+/gu, ' ')
        .replace(/\s+/g, ' ')
        .trim();
    for (const c of cases) expect(normalizeText(c)).toBe(twoPass(c));
    expect(withNormalizeMemo(() => cases.map((c) => [normalizeText(c), normalizeText(c)]))).toEqual(
      cases.map((c) => [twoPass(c), twoPass(c)]),
    );
  });
});
