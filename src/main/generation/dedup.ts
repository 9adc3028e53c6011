import { createHash } from 'node:crypto';

const PERMS = 64;
const BANDS = 16;
const ROWS = PERMS / BANDS;
/** Estimated Jaccard at or above which two examples are near duplicates. */
export const NEAR_DUP_THRESHOLD = 0.8;

// Fixed odd multipliers / offsets: the same text always gets the same signature, across processes.
const A = new Uint32Array(PERMS);
const B = new Uint32Array(PERMS);
{
  let s = 0x12345678;
  const next = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s;
  };
  for (let i = 0; i < PERMS; i++) {
    A[i] = next() | 1;
    B[i] = next();
  }
}

/** Lower-case, punctuation and whitespace folded: what "the same text" means for duplicates. */
export function normalizeText(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
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

/** MinHash signature over word 3-shingles (character 4-grams for scripts written without spaces). */
export function minhash(normalized: string): Uint32Array {
  const sig = new Uint32Array(PERMS).fill(0xffffffff);
  const words = normalized.split(' ');
  const hashes: number[] = [];
  if (words.length * 8 < normalized.length || words.length < 3) {
    // Few spaces: CJK/Thai-like text, or very short; use character 4-grams.
    for (let i = 0; i + 4 <= Math.max(4, normalized.length); i++)
      hashes.push(fnv(normalized, i, Math.min(i + 4, normalized.length)));
  } else {
    let pos = 0;
    const starts: number[] = [];
    for (const w of words) {
      starts.push(pos);
      pos += w.length + 1;
    }
    starts.push(pos);
    for (let i = 0; i + 3 <= words.length; i++) hashes.push(fnv(normalized, starts[i], starts[i + 3] - 1));
  }
  for (const h of hashes)
    for (let p = 0; p < PERMS; p++) {
      const v = (Math.imul(A[p], h) + B[p]) >>> 0;
      if (v < sig[p]) sig[p] = v;
    }
  return sig;
}

function similarity(a: Uint32Array, b: Uint32Array): number {
  let eq = 0;
  for (let i = 0; i < PERMS; i++) if (a[i] === b[i]) eq++;
  return eq / PERMS;
}

/**
 * Exact and near-duplicate detection within one dataset: a set of normalised content keys, and MinHash
 * signatures in an LSH index (16 bands × 4 rows: pairs above ~0.5 Jaccard become candidates, then the
 * signature estimate decides against NEAR_DUP_THRESHOLD).
 */
export class DedupIndex {
  private readonly exact = new Set<string>();
  private readonly sigs: Uint32Array[] = [];
  private readonly bands = new Map<string, number[]>();

  get size(): number {
    return this.sigs.length;
  }

  /** 'duplicate', 'near_duplicate' or null for the example text (parts: query, positive, negative). */
  check(parts: readonly (string | null | undefined)[]): {
    reason: 'duplicate' | 'near_duplicate' | null;
    key: string;
    sig: Uint32Array;
  } {
    const key = exactKey(parts);
    const sig = minhash(normalizeText(parts.filter(Boolean).join(' ')));
    if (this.exact.has(key)) return { reason: 'duplicate', key, sig };
    const seen = new Set<number>();
    for (let b = 0; b < BANDS; b++) {
      const list = this.bands.get(bandKey(sig, b));
      if (!list) continue;
      for (const i of list) {
        if (seen.has(i)) continue;
        seen.add(i);
        if (similarity(sig, this.sigs[i]) >= NEAR_DUP_THRESHOLD)
          return { reason: 'near_duplicate', key, sig };
      }
    }
    return { reason: null, key, sig };
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

function bandKey(sig: Uint32Array, b: number): string {
  let s = `${b}`;
  for (let r = 0; r < ROWS; r++) s += `:${sig[b * ROWS + r].toString(36)}`;
  return s;
}
