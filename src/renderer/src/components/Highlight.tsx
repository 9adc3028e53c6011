// Search-term highlighting for the curation list and detail: the words of the full-text search, marked.
import { createContext, useContext } from 'react';

/** The words (and "quoted phrases") of a search box, as the server's FTS query reads them. */
export function searchTerms(search: string | undefined): string[] {
  if (!search?.trim()) return [];
  const tokens = search.match(/"[^"]+"|\S+/g) ?? [];
  return [...new Set(tokens.map((t) => t.replace(/^"|"$/g, '').trim().toLowerCase()).filter(Boolean))];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The terms of the current search, for cells rendered far from the search box. */
export const TermsContext = createContext<string[]>([]);

/**
 * Text with every occurrence of a term in a <mark>. No `dir` of its own: the container sets `dir="auto"`
 * (a descendant with its own dir is skipped when the container works out its direction).
 */
export function Highlight({ text, terms }: { text: string; terms?: string[] }) {
  const ctx = useContext(TermsContext);
  const ts = (terms ?? ctx).filter(Boolean);
  if (!ts.length || !text) return <>{text}</>;
  const re = new RegExp(`(${ts.map(escapeRe).join('|')})`, 'giu');
  const parts = text.split(re);
  return (
    <>
      {parts.map((p, i) =>
        i % 2 ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: parts are positional
          <mark key={i} className="hit">
            {p}
          </mark>
        ) : (
          p
        ),
      )}
    </>
  );
}
