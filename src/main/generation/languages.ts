import fs from 'node:fs';
import languageFile from '../../../resources/languages.json';
import { UserError } from '../errors';

export interface Language {
  code: string;
  name: string;
}
export interface WeightedLanguage extends Language {
  weight: number;
}

/** The XLM-R language list (resources/languages.json), ISO 639-1 codes plus zh-Hant. */
export const LANGUAGES: Language[] = languageFile.languages;
const BY_CODE = new Map(LANGUAGES.map((l) => [l.code.toLowerCase(), l]));
const BY_NAME = new Map(LANGUAGES.map((l) => [l.name.toLowerCase(), l]));

export function findLanguage(codeOrName: string): Language | undefined {
  const k = codeOrName.trim().toLowerCase();
  return BY_CODE.get(k) ?? BY_NAME.get(k);
}

export const languageName = (code: string) => findLanguage(code)?.name ?? code;

/**
 * METHOD §4 default: English 0.431, the 13 named high-resource languages 0.029 each, every other language
 * of the list an equal share of what remains.
 */
export function defaultLanguageWeights(): WeightedLanguage[] {
  const high = new Set(languageFile.high_resource);
  const rest = LANGUAGES.filter((l) => l.code !== 'en' && !high.has(l.code));
  const restWeight =
    (1 - languageFile.english_weight - languageFile.high_resource_weight * high.size) / rest.length;
  return LANGUAGES.map((l) => ({
    ...l,
    weight:
      l.code === 'en'
        ? languageFile.english_weight
        : high.has(l.code)
          ? languageFile.high_resource_weight
          : restWeight,
  }));
}

/**
 * Parses `--languages`: `default`, a list `en,de,fr` (equal weights), weighted `en=0.5,de=0.3`, or a FILE
 * (JSON `[{code,weight}]` / `{code: weight}`, or text with one `code[=weight]` per line).
 * Weights are normalised to sum to 1.
 */
export function parseLanguages(spec: string | undefined): WeightedLanguage[] {
  if (!spec || spec === 'default') return defaultLanguageWeights();
  let entries: [string, number][];
  if (fs.existsSync(spec) && fs.statSync(spec).isFile()) {
    const text = fs.readFileSync(spec, 'utf8');
    try {
      const j = JSON.parse(text) as unknown;
      if (Array.isArray(j))
        entries = j.map((x) => (typeof x === 'string' ? [x, 1] : [String(x.code), Number(x.weight ?? 1)]));
      else entries = Object.entries(j as Record<string, number>).map(([k, v]) => [k, Number(v)]);
    } catch {
      entries = text
        .split(/\r?\n/)
        .map((l) => l.replace(/#.*/, '').trim())
        .filter(Boolean)
        .map(splitEntry);
    }
  } else entries = spec.split(',').map(splitEntry);
  const out: WeightedLanguage[] = [];
  const seen = new Set<string>();
  for (const [code, w] of entries) {
    const l = findLanguage(code);
    if (!l)
      throw new UserError(
        `--languages: unknown language "${code}"; use ISO codes from resources/languages.json (e.g. en, de, zh, zh-Hant)`,
        2,
      );
    if (!Number.isFinite(w) || w < 0)
      throw new UserError(`--languages: weight of ${code} must be a number ≥ 0`, 2);
    if (seen.has(l.code)) throw new UserError(`--languages: ${l.code} is listed twice`, 2);
    seen.add(l.code);
    out.push({ ...l, weight: w });
  }
  const total = out.reduce((s, l) => s + l.weight, 0);
  if (!out.length || total <= 0)
    throw new UserError('--languages: give at least one language with a weight > 0', 2);
  return out.filter((l) => l.weight > 0).map((l) => ({ ...l, weight: l.weight / total }));
}

function splitEntry(s: string): [string, number] {
  const [code, w] = s.split('=');
  return [code.trim(), w === undefined ? 1 : Number(w)];
}
