import type { Kind } from '../../shared/domain';
import type { WeightedLanguage } from './languages';
import { Rng } from './rng';

/** The value sets of METHOD §3, sampled uniformly. */
export const VALUE_SETS = {
  query_type: ['extremely long-tail', 'long-tail', 'common'],
  query_length: ['less than 5 words', '5 to 15 words', 'at least 10 words'],
  clarity: ['clear', 'understandable with some effort', 'ambiguous'],
  difficulty_asym: ['high school', 'college', 'PhD'],
  difficulty_sym: ['elementary school', 'high school', 'college'],
  num_words_short_long: ['50', '100', '200', '300', '400', '500'],
  num_words_long_short: ['less than 10', 'at least 10', 'at least 50', 'at least 100', 'at least 200'],
  unit: ['sentence', 'phrase', 'passage'],
  high_score: ['4', '4.5', '5'],
  low_score_sts: ['2.5', '3', '3.5'],
  low_score_bitext: ['1.5', '2', '2.5'],
} as const;

/** Sampled placeholders of one example (codes for languages; prompts render names). */
export type Attributes = Record<string, string>;

/**
 * Draws the attributes of one example. `language` is the cell's language (bitext: the source);
 * bitext's target is drawn from the same weights, never equal to the source.
 */
export function sampleAttributes(
  kind: Kind,
  language: string,
  seed: number,
  languages: readonly WeightedLanguage[],
): Attributes {
  const r = new Rng(seed);
  const v = VALUE_SETS;
  switch (kind) {
    case 'short-long':
      return {
        query_type: r.pick(v.query_type),
        query_length: r.pick(v.query_length),
        clarity: r.pick(v.clarity),
        num_words: r.pick(v.num_words_short_long),
        difficulty: r.pick(v.difficulty_asym),
        language,
      };
    case 'long-short':
      return {
        num_words: r.pick(v.num_words_long_short),
        difficulty: r.pick(v.difficulty_asym),
        clarity: r.pick(v.clarity),
        language,
      };
    case 'short-short':
    case 'long-long':
      return { language };
    case 'sts':
      return {
        unit: r.pick(v.unit),
        high_score: r.pick(v.high_score),
        low_score: r.pick(v.low_score_sts),
        difficulty: r.pick(v.difficulty_sym),
        language,
      };
    case 'bitext': {
      const others = languages.filter((l) => l.code !== language);
      // A one-language list cannot make a pair; the plan refuses it before we get here.
      const tgt = others.length ? others[r.weighted(others.map((l) => l.weight))].code : language;
      return {
        unit: r.pick(v.unit),
        high_score: r.pick(v.high_score),
        low_score: r.pick(v.low_score_bitext),
        difficulty: r.pick(v.difficulty_sym),
        src_lang: language,
        tgt_lang: tgt,
      };
    }
  }
}

/** Picks a model from a weighted mixture with the item's seed (stable across resumes). */
export function pickModel(models: readonly { name: string; weight: number }[], seed: number): string {
  const r = new Rng(seed ^ 0x9e3779b9);
  return models[r.weighted(models.map((m) => m.weight))].name;
}
