// What every task read from a file or folder carries besides its data: its name, split, source and MTEB
// language tags (from the path, the subset, FLORES codes or the texts' script).
import path from 'node:path';
import { nameFromPath } from './read';

export interface FileTaskOptions {
  name?: string;
  split?: string;
  languages?: string[];
  instruction?: string;
  limit?: number;
}

/** The source's own languages (FLORES codes, subset pairs), else the one a path component names. */
function inferLanguages(source: string, own?: () => string[]): string[] {
  const l = own?.() ?? [];
  return l.length ? l : languagesFromPath(source);
}

/**
 * What every task read from a file or folder carries besides its data: the name (the file's unless given),
 * split, subset, languages, the source path and the instruction.
 */
export function taskMeta(
  source: string,
  opts: Pick<FileTaskOptions, 'name' | 'split' | 'languages' | 'instruction'>,
  dflt: { nameFrom?: string; languages?: () => string[] } = {},
) {
  return {
    name: opts.name ?? nameFromPath(dflt.nameFrom ?? source),
    split: opts.split ?? 'test',
    hfSubset: 'default',
    languages: opts.languages ?? inferLanguages(source, dflt.languages),
    source: path.resolve(source),
    instruction: opts.instruction,
  };
}

// ISO 639-1 → MTEB's ISO 639-3 + script tags for the languages of the public multilingual sets (SemEval
// STS17/STS22, stsb-multi-mt, XQuAD), so their results carry "ara-Arab" style languages; others: --language.
const LANG_TAGS: Record<string, string> = {
  ar: 'ara-Arab',
  de: 'deu-Latn',
  en: 'eng-Latn',
  es: 'spa-Latn',
  fr: 'fra-Latn',
  it: 'ita-Latn',
  ko: 'kor-Hang',
  nl: 'nld-Latn',
  tr: 'tur-Latn',
  pl: 'pol-Latn',
  pt: 'por-Latn',
  ru: 'rus-Cyrl',
  zh: 'cmn-Hans',
  ja: 'jpn-Jpan',
  fa: 'fas-Arab',
  hi: 'hin-Deva',
  id: 'ind-Latn',
  sv: 'swe-Latn',
  da: 'dan-Latn',
  fi: 'fin-Latn',
  cs: 'ces-Latn',
  el: 'ell-Grek',
  he: 'heb-Hebr',
  th: 'tha-Thai',
  vi: 'vie-Latn',
  uk: 'ukr-Cyrl',
  ro: 'ron-Latn',
  hu: 'hun-Latn',
  bg: 'bul-Cyrl',
  ca: 'cat-Latn',
};

/** MTEB language tags of a subset like "en-de": ["eng-Latn", "deu-Latn"]. */
export function pairLanguages(pair: string): string[] {
  return [...new Set(pair.split('-').flatMap((c) => (LANG_TAGS[c] ? [LANG_TAGS[c]] : [])))];
}

/**
 * A language named by the path (XQuAD's `beir/en` folder, stsb-multi-mt's `stsb-de-test.csv`): the one
 * 2-letter code among the last component's tokens or the folder names; none when absent or ambiguous.
 */
export function languagesFromPath(p: string): string[] {
  const parts = path.resolve(p).split(path.sep).slice(-3);
  const tokens = parts.flatMap((x, i) => (i === parts.length - 1 ? x.split(/[-_.]/) : [x]));
  const hits = [...new Set(tokens.filter((t) => LANG_TAGS[t]))];
  return hits.length === 1 ? [LANG_TAGS[hits[0]]] : [];
}

/** "eng_Latn" → "eng-Latn" when a path component looks like a FLORES language code. */
export const floresLang = (p: string) => {
  const m = path.resolve(p).match(/([a-z]{3})_([A-Z][a-z]{3})/);
  return m ? [`${m[1]}-${m[2]}`] : [];
};

const SCRIPTS: [string, RegExp][] = [
  ['Jpan', /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ['Hang', /\p{Script=Hangul}/u],
  ['Hani', /\p{Script=Han}/u],
  ['Cyrl', /\p{Script=Cyrillic}/u],
  ['Arab', /\p{Script=Arabic}/u],
  ['Deva', /\p{Script=Devanagari}/u],
  ['Grek', /\p{Script=Greek}/u],
  ['Hebr', /\p{Script=Hebrew}/u],
  ['Thai', /\p{Script=Thai}/u],
  ['Geor', /\p{Script=Georgian}/u],
  ['Armn', /\p{Script=Armenian}/u],
  ['Beng', /\p{Script=Bengali}/u],
  ['Taml', /\p{Script=Tamil}/u],
  ['Telu', /\p{Script=Telugu}/u],
  ['Mlym', /\p{Script=Malayalam}/u],
  ['Ethi', /\p{Script=Ethiopic}/u],
  ['Khmr', /\p{Script=Khmer}/u],
  ['Tfng', /\p{Script=Tifinagh}/u],
  // Last: names like "Tom" appear in Latin inside other scripts' sentences.
  ['Latn', /\p{Script=Latin}/u],
];

/** The dominant script of some lines (ISO 15924), for MTEB's "eng-Latn" language tags; null if unsure. */
export function dominantScript(texts: string[]): string | null {
  const votes = new Map<string, number>();
  for (const t of texts.slice(0, 200)) {
    // SCRIPTS lists kana (Jpan) before Han, so Japanese lines mixing both count as Jpan.
    const hit = SCRIPTS.find(([, re]) => re.test(t));
    if (hit) votes.set(hit[0], (votes.get(hit[0]) ?? 0) + 1);
  }
  const best = [...votes.entries()].sort((x, y) => y[1] - x[1])[0];
  return best && best[1] >= Math.min(texts.length, 200) / 2 ? best[0] : null;
}
