import { createHash } from 'node:crypto';
import type { NewExample } from '../../shared/domain';

/**
 * Content hash of an example: kind, languages and the three texts, whitespace-normalised. Two rows with the
 * same hash in one dataset are duplicates (the UNIQUE index refuses the second).
 */
export function contentHash(
  e: Pick<NewExample, 'kind' | 'query' | 'positive' | 'negative' | 'srcLang' | 'tgtLang'>,
) {
  const norm = (s: string | null | undefined) => (s ?? '').replace(/\s+/g, ' ').trim();
  return createHash('sha256')
    .update(
      [e.kind, norm(e.query), norm(e.positive), norm(e.negative), e.srcLang ?? '', e.tgtLang ?? ''].join(
        '\u0000',
      ),
    )
    .digest('hex')
    .slice(0, 32);
}
