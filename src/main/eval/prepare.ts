// How evaluation turns source text into model input, the one definition `embed` shares, so a document
// embeds the same whether it comes from a BEIR corpus or an `embed --input` file.
import type { EmbedRole } from './embedder';

/** A BEIR / MTEB corpus document: `(title + " " + text).strip()` with a title, else `text.strip()`. */
export function documentText(title: string | null | undefined, text: string): string {
  return title ? `${title} ${text}`.trim() : text.trim();
}

/** Documents are stripped as the corpus loader strips them; queries (and STS sides) go in as written. */
export function prepareText(text: string, role: EmbedRole): string {
  return role === 'document' ? documentText(null, text) : text;
}
