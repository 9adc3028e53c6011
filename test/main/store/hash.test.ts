import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Kind } from '../../../src/shared/domain';
import { contentHash } from '../../../src/main/store/hash';

/** The definition the store has always used; the fast path must give the same bytes. */
const reference = (e: {
  kind: Kind;
  query: string;
  positive: string;
  negative?: string | null;
  srcLang?: string | null;
  tgtLang?: string | null;
}) => {
  const norm = (s: string | null | undefined) => (s ?? '').replace(/\s+/g, ' ').trim();
  return createHash('sha256')
    .update(
      [e.kind, norm(e.query), norm(e.positive), norm(e.negative), e.srcLang ?? '', e.tgtLang ?? ''].join(
        '\u0000',
      ),
    )
    .digest('hex')
    .slice(0, 32);
};

describe('contentHash', () => {
  it('equals the reference definition on clean and messy whitespace', () => {
    const texts = [
      'plain text',
      ' leading',
      'trailing ',
      'two  spaces',
      'tab\there',
      'new\nline',
      'nbsp\u00a0here',
      'ideographic\u3000space',
      'bom\ufeff',
      '\u2028line sep',
      '',
      '   ',
      'ünïcödé テキスト',
    ];
    for (const q of texts)
      for (const p of texts.slice(0, 5)) {
        const e = {
          kind: 'bitext' as const,
          query: q,
          positive: p,
          negative: q ? null : ' x ',
          srcLang: 'en',
          tgtLang: null,
        };
        expect(contentHash(e)).toBe(reference(e));
      }
    expect(contentHash({ kind: 'sts', query: 'a  b', positive: 'c' })).toBe(
      contentHash({ kind: 'sts', query: ' a b\n', positive: 'c' }),
    );
    expect(contentHash({ kind: 'sts', query: 'a b', positive: 'c' })).not.toBe(
      contentHash({ kind: 'sts', query: 'ab', positive: 'c' }),
    );
  });

  it('equals the reference on random texts of one-byte and wide characters (both whitespace checks)', () => {
    // Every JS whitespace character, near-misses (U+0085, U+00A1, U+200B are not \s) and plain letters, in one-byte
    // strings (only characters up to U+00FF) and wide ones.
    const ws = ' \t\n\v\f\r\u00a0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
    const narrow = `ab é${'\t\n\v\f\r\u00a0'}\u0085\u00a1`;
    const wide = `ab テд${ws}\u200b`;
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 16) % n;
    };
    const text = (alphabet: string) => {
      let t = '';
      for (let i = rnd(12); i > 0; i--) t += alphabet[rnd(alphabet.length)];
      // Mostly clean texts too, so the fast answer is exercised, not only the replace.
      return rnd(3) ? t.replace(/\s/g, 'x') : t;
    };
    for (let i = 0; i < 3000; i++) {
      const alphabet = i % 2 ? narrow : wide;
      const e = {
        kind: 'sts' as const,
        query: text(alphabet),
        positive: text(alphabet),
        negative: text(narrow),
      };
      expect(contentHash(e)).toBe(reference(e));
    }
  });
});
