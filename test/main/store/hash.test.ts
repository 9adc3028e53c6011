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
});
