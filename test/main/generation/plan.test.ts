import { describe, expect, it } from 'vitest';
import { KINDS } from '../../../src/shared/domain';
import { pickModel, sampleAttributes, VALUE_SETS } from '../../../src/main/generation/attributes';
import { defaultLanguageWeights, LANGUAGES, parseLanguages } from '../../../src/main/generation/languages';
import { apportion, DEFAULT_MIX, makePlan, parseModels } from '../../../src/main/generation/plan';
import { loadPrices } from '../../../src/main/generation/prices';
import {
  builtinTemplates,
  render,
  REQUIRED_PLACEHOLDERS,
  resolveTemplates,
} from '../../../src/main/generation/prompts';
import { itemSeed } from '../../../src/main/generation/rng';

describe('languages', () => {
  it('default weights follow METHOD §4 and sum to 1', () => {
    const w = defaultLanguageWeights();
    expect(w.length).toBe(LANGUAGES.length);
    expect(w.length).toBeGreaterThanOrEqual(90);
    expect(w.find((l) => l.code === 'en')!.weight).toBe(0.431);
    for (const c of ['pl', 'ja', 'it', 'ru', 'id', 'de', 'fa', 'es', 'zh', 'fr', 'pt', 'nl', 'ar'])
      expect(w.find((l) => l.code === c)!.weight).toBe(0.029);
    const rest = w.filter((l) => l.weight < 0.029);
    expect(rest.reduce((s, l) => s + l.weight, 0)).toBeCloseTo(1 - 0.431 - 13 * 0.029, 10);
    expect(new Set(rest.map((l) => l.weight.toFixed(12))).size).toBe(1);
    expect(w.reduce((s, l) => s + l.weight, 0)).toBeCloseTo(1, 10);
  });
  it('parses user lists and weights', () => {
    expect(parseLanguages('en,de').map((l) => [l.code, l.weight])).toEqual([
      ['en', 0.5],
      ['de', 0.5],
    ]);
    expect(parseLanguages('en=3,German=1').map((l) => l.weight)).toEqual([0.75, 0.25]);
    expect(() => parseLanguages('en,xx')).toThrow(/unknown language "xx"/);
  });
});

describe('attribute sampler', () => {
  const langs = defaultLanguageWeights();
  it('is reproducible: same seed → same attributes; values come from the METHOD §3 sets', () => {
    for (const kind of KINDS) {
      const a = sampleAttributes(kind, 'de', itemSeed(42, kind, 'de', 3), langs);
      expect(sampleAttributes(kind, 'de', itemSeed(42, kind, 'de', 3), langs)).toEqual(a);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++)
      seen.add(sampleAttributes('short-long', 'en', itemSeed(1, 'short-long', 'en', i), langs).num_words);
    expect([...seen].sort()).toEqual([...VALUE_SETS.num_words_short_long].sort());
  });
  it('bitext never pairs a language with itself', () => {
    for (let i = 0; i < 500; i++) {
      const a = sampleAttributes('bitext', 'en', itemSeed(9, 'bitext', 'en', i), langs);
      expect(a.tgt_lang).not.toBe('en');
      expect(VALUE_SETS.low_score_bitext).toContain(a.low_score);
    }
  });
  it('draws models by their mixture weights', () => {
    const models = parseModels('gpt-4o=0.75,gpt-4o-mini=0.25');
    let big = 0;
    for (let i = 0; i < 4000; i++) if (pickModel(models, itemSeed(3, 'sts', 'en', i)) === 'gpt-4o') big++;
    expect(big / 4000).toBeGreaterThan(0.72);
    expect(big / 4000).toBeLessThan(0.78);
  });
});

describe('plan', () => {
  it('largest remainder sums exactly', () => {
    expect(apportion(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(apportion(7, [0.5, 0.5])).toEqual([4, 3]);
    for (const n of [1, 17, 999, 12345])
      expect(apportion(n, Object.values(DEFAULT_MIX)).reduce((a, b) => a + b, 0)).toBe(n);
  });
  it('splits the count by mix and language weights into cells that sum exactly, with ~3.3 examples per task', () => {
    const plan = makePlan({
      count: 500_000,
      kinds: [...KINDS],
      mix: DEFAULT_MIX,
      languages: defaultLanguageWeights(),
      models: parseModels('gpt-4=0.75,gpt-3.5-turbo=0.25'),
      prices: loadPrices(),
      templates: builtinTemplates(),
      batch: false,
    });
    expect(plan.cells.reduce((s, c) => s + c.quota, 0)).toBe(500_000);
    expect(plan.byKind['short-long']).toBe(164_694);
    const tasks = Object.values(plan.brainstormCalls).reduce((a, b) => a + b, 0) * 20;
    const asym =
      plan.byKind['short-long']! +
      plan.byKind['long-short']! +
      plan.byKind['short-short']! +
      plan.byKind['long-long']!;
    expect(asym / tasks).toBeGreaterThan(3.2);
    expect(asym / tasks).toBeLessThan(3.4);
    // Per example ~360 tokens in the paper; our estimate is of that order.
    expect((plan.tokens.completion / 500_000) | 0).toBeGreaterThan(250);
    expect((plan.tokens.completion / 500_000) | 0).toBeLessThan(600);
    expect(plan.costUsd).toBeGreaterThan(0);
  });
});

describe('templates', () => {
  it('carry every placeholder, render language names, and dataset overrides get their own version', () => {
    const t = builtinTemplates();
    for (const [id, req] of Object.entries(REQUIRED_PLACEHOLDERS))
      for (const p of req) expect(t[id].text).toContain(`{${p}}`);
    const text = render(t['example.bitext'], {
      unit: 'sentence',
      high_score: '4',
      low_score: '2',
      difficulty: 'college',
      src_lang: 'de',
      tgt_lang: 'zh-Hant',
    });
    expect(text).toContain('S1 is written in German; S2 and S3 are written in Chinese (Traditional).');
    expect(text).not.toMatch(/\{[a-z_]+\}/);
    const o = resolveTemplates({
      'example.sts': {
        text: 'Write S1/S2/S3 as a {unit} in {language}, {high_score} vs {low_score}, {difficulty}.',
      },
    });
    expect(o['example.sts'].version).toMatch(/^example\.sts@custom-[0-9a-f]{8}$/);
    expect(() => resolveTemplates({ 'example.sts': { text: 'no placeholders' } })).toThrow(/lacks \{unit\}/);
  });
});
