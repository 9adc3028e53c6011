import { z } from 'zod';
import { KIND_KEYS, type Kind } from '../../shared/domain';
import type { Attributes } from './attributes';
import { normalizeText } from './dedup';
import { isInLanguage } from './langid';
import { valueIsRefusal } from './parse';
import { PLACEHOLDERS } from './prompts';
import type { RejectReason } from './reasons';

export interface ValidationOptions {
  /** A document must have at least this share of the words the prompt asked for (LLMs undershoot). */
  minWordsRatio: number;
  /** Run the wrong_language check. */
  languageCheck: boolean;
}
export const DEFAULT_VALIDATION: ValidationOptions = { minWordsRatio: 0.5, languageCheck: true };

// Strict objects for sts/bitext (METHOD §2: no other keys); asymmetric kinds tolerate extra keys,
// which are kept in extras.extra_keys rather than thrown away.
const SCHEMAS = Object.fromEntries(
  (Object.keys(KIND_KEYS) as Kind[]).map((k) => {
    const shape = Object.fromEntries(KIND_KEYS[k].keys.map((key) => [key, z.string()]));
    return [k, k === 'sts' || k === 'bitext' ? z.strictObject(shape) : z.object(shape)];
  }),
) as unknown as Record<Kind, z.ZodType<Record<string, string>>>;

export type Validated =
  | { ok: true; fields: Record<string, string>; extraKeys: Record<string, unknown> }
  | { ok: false; reason: RejectReason; detail?: string; fields?: Record<string, string> };

const PLACEHOLDER_RE = new RegExp(
  `\\{(?:${PLACEHOLDERS.join('|')})\\}|\\{\\{[^}]{1,40}\\}\\}|\\[(?:insert|your|placeholder)[^\\]]{0,60}\\]|<(?:insert|placeholder)[^>]{0,60}>`,
  'i',
);
const NO_SPACE_LANGS = new Set(['zh', 'zh-Hant', 'ja', 'th', 'lo', 'km', 'my']);

/** Words of a text; for scripts without spaces, characters / 1.5 (about one word per 1.5 characters). */
export function countWords(text: string, language: string | undefined): number {
  if (language && NO_SPACE_LANGS.has(language)) return Math.round(text.replace(/\s+/g, '').length / 1.5);
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 10 || c === 9 || c === 13 || c === 0xa0;
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

/** The minimum word count a num_words value asks for ('50' → 50, 'at least 100' → 100, 'less than 10' → 0). */
export function minWordsOf(numWords: string | undefined): number {
  if (!numWords || /less than/.test(numWords)) return 0;
  const m = /(\d+)/.exec(numWords);
  return m ? Number(m[1]) : 0;
}

/** The first ~120 characters, cut at a space. */
function sample(t: string): string {
  if (t.length <= 140) return t;
  const cut = t.lastIndexOf(' ', 120);
  return t.slice(0, cut > 60 ? cut : 120);
}

const contains = (hay: string, needle: string) => ` ${hay} `.includes(` ${needle} `);

// Sentence ends: Latin-style marks before a space, marks of scripts written without a space after them
// (danda, CJK, Arabic), and line breaks.
const SENTENCE_END = /(?<=[.!?…])\s+|(?<=[।॥。！？؟۔])\s*|\n+/u;

/**
 * Whether the normalised query `q` is a whole sentence of `doc`: a short query may well occur inside a
 * document, but one that is a sentence of it on its own was copied (e.g. a Bengali query "আমি লড়বো।"
 * opening the positive word for word).
 */
export function isWholeSentenceOf(doc: string, q: string, nrmDoc = normalizeText(doc)): boolean {
  // A sentence that normalises to q puts q between word boundaries of the normalised document, so
  // splitting and normalising every sentence (~0.02 CPU ms per answer, the bench's 3% after #14) is
  // needed only when that cheap test passes.
  if (!q || !contains(nrmDoc, q)) return false;
  for (const s of doc.split(SENTENCE_END)) if (normalizeText(s) === q) return true;
  return false;
}

/**
 * Checks one parsed step-2 answer against its kind and sampled attributes (METHOD §5). Returns the
 * first failing reason; the language check runs last because it is the slowest.
 */
export function validateExample(
  kind: Kind,
  value: Record<string, unknown>,
  attrs: Attributes,
  opts: ValidationOptions = DEFAULT_VALIDATION,
): Validated {
  const keys = KIND_KEYS[kind].keys;
  const missing = keys.filter((k) => !(k in value) || value[k] === null || value[k] === undefined);
  if (missing.length) return { ok: false, reason: 'missing_keys', detail: missing.join(',') };
  const parsed = SCHEMAS[kind].safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === 'unrecognized_keys')
      return { ok: false, reason: 'extra_keys', detail: issue.keys.join(',') };
    return { ok: false, reason: 'wrong_type', detail: issue.path.join('.') };
  }
  const fields: Record<string, string> = {};
  for (const k of keys) fields[k] = (value[k] as string).trim();
  const extraKeys: Record<string, unknown> = {};
  for (const k of Object.keys(value)) if (!keys.includes(k)) extraKeys[k] = value[k];
  const reject = (reason: RejectReason, detail?: string): Validated => ({
    ok: false,
    reason,
    detail,
    fields,
  });

  for (const k of keys) {
    if (!fields[k]) return reject('too_short', `${k} is empty`);
    if (valueIsRefusal(fields[k])) return reject('refusal', k);
    if (PLACEHOLDER_RE.test(fields[k])) return reject('unfilled_placeholder', k);
  }
  const lang = attrs.language;
  const ratio = opts.minWordsRatio;
  const atLeast = (k: string, n: number, l = lang) => {
    const need = Math.ceil(n * ratio);
    const got = countWords(fields[k], l);
    return got >= need ? null : reject('too_short', `${k} has ${got} words, needs ${need}`);
  };

  switch (kind) {
    case 'short-long': {
      const q = normalizeText(fields.user_query);
      const long = q.split(' ').length >= 4 || q.length >= 24;
      for (const d of ['positive_document', 'hard_negative_document']) {
        const nd = normalizeText(fields[d]);
        if ((long && contains(nd, q)) || isWholeSentenceOf(fields[d], q, nd))
          return reject('query_in_positive', d);
      }
      const n = minWordsOf(attrs.num_words);
      const r = atLeast('positive_document', n) ?? atLeast('hard_negative_document', n);
      if (r) return r;
      break;
    }
    case 'long-short': {
      const label = normalizeText(fields.label);
      const mis = normalizeText(fields.misleading_label);
      if (label === mis) return reject('label_equals_misleading');
      const input = normalizeText(fields.input_text);
      if (label && contains(input, label)) return reject('label_in_input', 'label');
      if (mis && contains(input, mis)) return reject('label_in_input', 'misleading_label');
      const r = atLeast('input_text', minWordsOf(attrs.num_words));
      if (r) return r;
      break;
    }
    case 'short-short':
    case 'long-long': {
      const a = normalizeText(fields.input);
      const b = normalizeText(fields.positive_document);
      if (
        a === b ||
        (a.split(' ').length >= 4 && contains(b, a)) ||
        isWholeSentenceOf(fields.positive_document, a, b)
      )
        return reject('query_in_positive');
      if (kind === 'long-long') {
        const r = atLeast('input', 300) ?? atLeast('positive_document', 300);
        if (r) return r;
      }
      break;
    }
    case 'sts':
    case 'bitext':
      if (normalizeText(fields.S2) === normalizeText(fields.S3)) return reject('s2_equals_s3');
      break;
  }

  if (opts.languageCheck) {
    // Each field of 40+ characters on its own (a sample of its start: detection cost grows with length and
    // 120 characters are plenty: tatoeba sentences of 20–60 characters are judged at 99%), and the shorter fields of one language together, since a single short
    // sentence is hard to judge.
    const groups: [string[], string][] =
      kind === 'bitext'
        ? [
            [[fields.S1], attrs.src_lang],
            [[fields.S2, fields.S3], attrs.tgt_lang],
          ]
        : kind === 'long-short'
          ? [[[fields.input_text], lang]]
          : [[keys.map((k) => fields[k]), lang]];
    for (const [texts, l] of groups) {
      if (!l) continue;
      let short = '';
      for (const t of texts) {
        if (t.length < 40) short += `${t}\n`;
        else if (isInLanguage(sample(t), l) === false) return reject('wrong_language', l);
      }
      if (short && isInLanguage(short, l) === false) return reject('wrong_language', l);
    }
  }
  return { ok: true, fields, extraKeys };
}
