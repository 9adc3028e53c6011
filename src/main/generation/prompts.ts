import { createHash } from 'node:crypto';
import type { Kind } from '../../shared/domain';
import { UserError } from '../errors';
import type { Attributes } from './attributes';
import { languageName } from './languages';

/** A prompt template: its text with {placeholders} and the version id stored on every row it produced. */
export interface Template {
  id: string;
  version: string;
  text: string;
}

/** Dataset-level overrides (datasets.settings_json → generation.templates[id] = { text }). */
export type TemplateOverrides = Record<string, { text: string }>;

export type AsymKind = 'short-long' | 'long-short' | 'short-short' | 'long-long';
export const ASYM_KINDS: readonly AsymKind[] = ['short-long', 'long-short', 'short-short', 'long-long'];
export const isAsym = (k: Kind): k is AsymKind => (ASYM_KINDS as readonly string[]).includes(k);

// Step 1: a Python-style list of about 20 one-sentence task definitions, nothing else.
const LIST_RULES = `Answer with a Python list of strings only, for example ["first task", "second task"], with about 20 entries. Write each task as one sentence in English. Do not number them and write nothing before or after the list.`;

const BRAINSTORM: Record<AsymKind, string> = {
  'short-long': `Think up a varied set of text retrieval tasks. Each task definition says what a user's query looks like and which documents should be found for it, for example "Given a question about a rare plant disease, find agronomy articles that explain its treatment."
Cover many domains, query styles and document types, from everyday needs to specialist research. Make the tasks different from one another.
${LIST_RULES}`,
  'long-short': `Think up a varied set of text classification tasks. Each task definition names the kind of input text and what is to be decided about it, for example "Classify a product review by the main complaint it raises."
Cover many domains (news, law, medicine, customer service, science, social media, ...) and many label schemes. Make the tasks different from one another.
${LIST_RULES}`,
  'short-short': `Think up a varied set of text matching tasks in which both the query and the matching text are very short: one sentence, a phrase or a few words. Each task definition says what the short query is and what short text should be matched to it, for example "Given a dish name, find the name of its main ingredient."
Cover many domains. Make the tasks different from one another.
${LIST_RULES}`,
  'long-long': `Think up a varied set of text matching tasks in which the query is itself a long document and the match is another long document. Each task definition says what the long query document is and what long document should be matched to it, for example "Given a scientific paper abstract, find a paper that reproduces its experiments."
Cover many domains. Make the tasks different from one another.
${LIST_RULES}`,
};

const JSON_RULES = `Reply with one JSON object and nothing else: no code fences, no notes, no explanation.`;

const EXAMPLE: Record<Kind, string> = {
  'short-long': `You are writing one training example for this retrieval task:
{task}

Write a JSON object with exactly these keys, all values strings:
- "user_query": a search query written for the task. It should be a {query_type} query of {query_length}, and its meaning should be {clarity}. It must fit the task's description of a query.
- "positive_document": a document that fully satisfies the query.
- "hard_negative_document": a document that looks relevant to the query at first sight but is clearly less useful than the positive document.

Requirements:
- Each document has at least {num_words} words.
- The documents must not copy the query word for word, and no document explains why it is or is not relevant.
- Understanding the example should need {difficulty} level education.
- Write every value in {language}.
${JSON_RULES}`,
  'long-short': `You are writing one training example for this text classification task:
{task}

Write a JSON object with exactly these keys, all values strings:
- "input_text": a text to be classified, of {num_words} words, whose meaning is {clarity}.
- "label": the correct label for input_text under the task.
- "misleading_label": a label that looks plausible for input_text but is wrong or clearly worse than "label".

Requirements:
- Neither label may appear inside input_text.
- Understanding the example should need {difficulty} level education.
- Write every value in {language}.
${JSON_RULES}`,
  'short-short': `You are writing one training example for this text matching task:
{task}

Write a JSON object with exactly these keys, all values strings:
- "input": the query, a single sentence or a short phrase.
- "positive_document": the text that matches the input, also a single sentence or a short phrase.

Requirements:
- Both texts are very short, and they share as few words as possible.
- Write every value in {language}.
${JSON_RULES}`,
  'long-long': `You are writing one training example for this text matching task:
{task}

Write a JSON object with exactly these keys, all values strings:
- "input": the query document.
- "positive_document": the document that matches it.

Requirements:
- Both documents have at least 300 words.
- The documents must not copy each other.
- Write every value in {language}.
${JSON_RULES}`,
  sts: `You are writing one example for training a semantic textual similarity model.

Write a JSON object with exactly the keys "S1", "S2" and "S3", all values strings, each one {unit} long:
- S1 and S2 would be rated {high_score} on a similarity scale from 1 (unrelated) to 5 (same meaning).
- S1 and S3 would be rated {low_score} on the same scale.
- The three texts share some words.

Requirements:
- Understanding the texts should need {difficulty} level education.
- Write all three texts in {language}.
- Do not use any other key.
${JSON_RULES}`,
  bitext: `You are writing one example for training a translation retrieval model.

Write a JSON object with exactly the keys "S1", "S2" and "S3", all values strings, each one {unit} long:
- S1 is written in {src_lang}; S2 and S3 are written in {tgt_lang}.
- S2 is a translation of S1 that would be rated {high_score} on a translation quality scale from 1 to 5.
- S3 would be rated {low_score} on that scale: it reads fluently but gets keywords or numbers wrong, leaves information out or adds information that S1 does not have.

Requirements:
- Understanding the texts should need {difficulty} level education.
- Do not use any other key.
${JSON_RULES}`,
};

/** Placeholders each template must carry (METHOD §3). */
export const REQUIRED_PLACEHOLDERS: Record<string, readonly string[]> = {
  'example.short-long': [
    'task',
    'query_type',
    'query_length',
    'clarity',
    'num_words',
    'difficulty',
    'language',
  ],
  'example.long-short': ['task', 'num_words', 'clarity', 'difficulty', 'language'],
  'example.short-short': ['task', 'language'],
  'example.long-long': ['task', 'language'],
  'example.sts': ['unit', 'high_score', 'low_score', 'difficulty', 'language'],
  'example.bitext': ['unit', 'high_score', 'low_score', 'difficulty', 'src_lang', 'tgt_lang'],
  'brainstorm.short-long': [],
  'brainstorm.long-short': [],
  'brainstorm.short-short': [],
  'brainstorm.long-long': [],
};

/** Every placeholder name any template may use. */
export const PLACEHOLDERS = [
  'task',
  'query_type',
  'query_length',
  'clarity',
  'num_words',
  'difficulty',
  'language',
  'unit',
  'high_score',
  'low_score',
  'src_lang',
  'tgt_lang',
] as const;

const BUILTIN_VERSION = 1;

export const brainstormTemplateId = (k: AsymKind) => `brainstorm.${k}`;
export const exampleTemplateId = (k: Kind) => `example.${k}`;

/** The built-in templates keyed by id (`brainstorm.<kind>`, `example.<kind>`). */
export function builtinTemplates(): Record<string, Template> {
  const out: Record<string, Template> = {};
  for (const k of ASYM_KINDS)
    out[brainstormTemplateId(k)] = {
      id: brainstormTemplateId(k),
      version: `${brainstormTemplateId(k)}@${BUILTIN_VERSION}`,
      text: BRAINSTORM[k],
    };
  for (const k of Object.keys(EXAMPLE) as Kind[])
    out[exampleTemplateId(k)] = {
      id: exampleTemplateId(k),
      version: `${exampleTemplateId(k)}@${BUILTIN_VERSION}`,
      text: EXAMPLE[k],
    };
  return out;
}

/**
 * Built-ins with a dataset's overrides applied. An override's version is `<id>@custom-<hash>` so rows
 * show which text made them; an override missing a required placeholder is refused.
 */
export function resolveTemplates(overrides: TemplateOverrides = {}): Record<string, Template> {
  const t = builtinTemplates();
  for (const [id, o] of Object.entries(overrides)) {
    if (!t[id])
      throw new UserError(`template override "${id}" is unknown; ids are ${Object.keys(t).join(', ')}`);
    const missing = REQUIRED_PLACEHOLDERS[id].filter((p) => !o.text.includes(`{${p}}`));
    if (missing.length)
      throw new UserError(
        `template override "${id}" lacks ${missing.map((m) => `{${m}}`).join(', ')}; add them or remove the override`,
      );
    const h = createHash('sha256').update(o.text).digest('hex').slice(0, 8);
    t[id] = { id, version: `${id}@custom-${h}`, text: o.text };
  }
  return t;
}

const LANG_KEYS = new Set(['language', 'src_lang', 'tgt_lang']);

/** Fills a template: language codes become names; a placeholder without a value is an error. */
export function render(template: Template, vars: Attributes & { task?: string }): string {
  return template.text.replace(/\{([a-z_]+)\}/g, (m, name: string) => {
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) return m;
    const v = vars[name];
    if (v === undefined) throw new Error(`template ${template.id} needs {${name}} but no value was sampled`);
    return LANG_KEYS.has(name) ? languageName(v) : v;
  });
}
