import { createHash } from 'node:crypto';

const BINS = 64;
const BANDS = 16;
const ROWS = BINS / BANDS;
const EMPTY = 0xffffffff;
const MAX_CANDIDATES_PER_BAND = 32;
/** Estimated Jaccard at or above which two examples are near duplicates. */
export const NEAR_DUP_THRESHOLD = 0.8;

let memo: Map<string, string> | null = null;

/**
 * Runs `f` with normalizeText remembering its results: checking one answer normalises the same fields in
 * validate (query-in-positive, label checks) and again for its duplicate signature.
 */
export function withNormalizeMemo<T>(f: () => T): T {
  const outer = memo;
  memo = outer ?? new Map();
  try {
    return f();
  } finally {
    memo = outer;
  }
}

/** Lower-case, punctuation and whitespace folded: what "the same text" means for duplicates. */
export function normalizeText(s: string): string {
  const known = memo?.get(s);
  if (known !== undefined) return known;
  // One pass over runs of punctuation, symbols and whitespace: the same result as folding punctuation and
  // symbols to spaces, then runs of whitespace to one space.
  const out = s
    .toLowerCase()
    .replace(/[\p{P}\p{S}\s]+/gu, ' ')
    .trim();
  memo?.set(s, out);
  return out;
}

export function exactKey(parts: readonly (string | null | undefined)[]): string {
  return createHash('sha1')
    .update(parts.map((p) => normalizeText(p ?? '')).join('\u0001'))
    .digest('base64');
}

function fnv(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit mix (murmur3 finaliser) so shingle hashes spread over the bins. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * One-permutation MinHash (64 bins: the top 6 bits of a shingle's hash pick the bin, the bin keeps its
 * smallest value) over word 3-shingles, or character 4-grams for scripts written without spaces. One hash
 * per shingle instead of 64 keeps this well under a millisecond for a 1,000-word example.
 */
export function minhash(normalized: string): Uint32Array {
  const sig = new Uint32Array(BINS).fill(EMPTY);
  const put = (h: number) => {
    const m = mix(h);
    const bin = m >>> 26;
    const v = m & 0x3ffffff;
    if (v < sig[bin]) sig[bin] = v;
  };
  const n = normalized.length;
  let spaces = 0;
  for (let i = 0; i < n; i++) if (normalized.charCodeAt(i) === 32) spaces++;
  if (spaces < 2 || spaces * 8 < n) {
    for (let i = 0; i + 4 <= Math.max(4, n); i++) put(fnv(normalized, i, Math.min(i + 4, n)));
    return sig;
  }
  // Word hashes once, then each shingle combines three of them.
  let a = 0;
  let b = 0;
  let seen = 0;
  let start = 0;
  for (let i = 0; i <= n; i++) {
    if (i === n || normalized.charCodeAt(i) === 32) {
      const w = fnv(normalized, start, i);
      start = i + 1;
      if (++seen >= 3) put(Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ w);
      a = b;
      b = w;
    }
  }
  return sig;
}

/** Exact key and MinHash signature of an example's texts (pure: runs in the check worker too). */
export function signature(parts: readonly (string | null | undefined)[]): { key: string; sig: Uint32Array } {
  const norm = parts.map((p) => (p ? normalizeText(p) : ''));
  const key = createHash('sha1').update(norm.join('\u0001')).digest('base64');
  return { key, sig: minhash(norm.filter(Boolean).join(' ')) };
}

/** Estimated Jaccard: matching bins among the bins either text filled. */
export function similarity(a: Uint32Array, b: Uint32Array): number {
  let eq = 0;
  let used = 0;
  for (let i = 0; i < BINS; i++) {
    if (a[i] === EMPTY && b[i] === EMPTY) continue;
    used++;
    if (a[i] === b[i]) eq++;
  }
  return used ? eq / used : 1;
}

/**
 * similarity(a, b) >= NEAR_DUP_THRESHOLD, stopping once it cannot hold: with m bins filled but different,
 * the estimate is at most 1 - m / BINS, below the threshold once m > (1 - threshold) × BINS (13 of 64).
 * Most LSH candidates (short texts share their empty bands) differ in their first filled bins.
 */
export function nearDuplicate(a: Uint32Array, b: Uint32Array): boolean {
  let eq = 0;
  let used = 0;
  for (let i = 0; i < BINS; i++) {
    const x = a[i];
    const y = b[i];
    if (x === EMPTY && y === EMPTY) continue;
    used++;
    if (x === y) eq++;
    else if (used - eq > MAX_DIFFERENT_BINS) return false;
  }
  return (used ? eq / used : 1) >= NEAR_DUP_THRESHOLD;
}
const MAX_DIFFERENT_BINS = (1 - NEAR_DUP_THRESHOLD) * BINS;

/**
 * Exact and near-duplicate detection within one dataset: a set of normalised content keys, and MinHash
 * signatures in an LSH index (16 bands × 4 bins: pairs above ~0.5 Jaccard become candidates, then the
 * signature estimate decides against NEAR_DUP_THRESHOLD).
 */
export class DedupIndex {
  private readonly exact = new Set<string>();
  private readonly sigs: Uint32Array[] = [];
  private readonly bands = new Map<number, number[]>();
  /** seen[i] === stamp: signature i was compared in this lookup (a Set per lookup cost more than the checks). */
  private seen = new Uint32Array(1024);
  private stamp = 0;

  get size(): number {
    return this.sigs.length;
  }

  /** 'duplicate', 'near_duplicate' or null for the example text (parts: query, positive, negative). */
  check(parts: readonly (string | null | undefined)[]): {
    reason: 'duplicate' | 'near_duplicate' | null;
    key: string;
    sig: Uint32Array;
  } {
    const { key, sig } = signature(parts);
    return { reason: this.lookup(key, sig), key, sig };
  }

  /** The index part of check, for a signature computed elsewhere (the check worker). */
  lookup(key: string, sig: Uint32Array): 'duplicate' | 'near_duplicate' | null {
    if (this.exact.has(key)) return 'duplicate';
    if (this.seen.length < this.sigs.length) {
      const grown = new Uint32Array(this.seen.length * 2 + this.sigs.length);
      grown.set(this.seen);
      this.seen = grown;
    }
    const seen = this.seen;
    let mark = ++this.stamp;
    if (mark === 0xffffffff) {
      seen.fill(0);
      mark = this.stamp = 1;
    }
    for (let b = 0; b < BANDS; b++) {
      const list = this.bands.get(bandKey(sig, b));
      if (!list) continue;
      // Newest first, and a bounded number per band: near duplicates are usually recent (a model repeating
      // itself), and the bound keeps a crowded bucket from costing O(dataset) per answer.
      for (let j = list.length - 1, k = 0; j >= 0 && k < MAX_CANDIDATES_PER_BAND; j--, k++) {
        const i = list[j];
        if (seen[i] === mark) continue;
        seen[i] = mark;
        if (nearDuplicate(sig, this.sigs[i])) return 'near_duplicate';
      }
    }
    return null;
  }

  add(key: string, sig: Uint32Array): void {
    this.exact.add(key);
    const i = this.sigs.length;
    this.sigs.push(sig);
    for (let b = 0; b < BANDS; b++) {
      const k = bandKey(sig, b);
      const list = this.bands.get(k);
      if (list) list.push(i);
      else this.bands.set(k, [i]);
    }
  }
}

/** A band's bins hashed to one number (band index in the high bits): a Map key without a string. */
function bandKey(sig: Uint32Array, b: number): number {
  let h = 0x811c9dc5;
  for (let r = 0; r < ROWS; r++) h = Math.imul(h ^ sig[b * ROWS + r], 0x01000193);
  return b * 0x100000000 + (h >>> 0);
}
