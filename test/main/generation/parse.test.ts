import { beforeAll, describe, expect, it } from 'vitest';
import { DedupIndex } from '../../../src/main/generation/dedup';
import { loadDetector } from '../../../src/main/generation/langid';
import { parseExampleAnswer, parseTaskList } from '../../../src/main/generation/parse';
import { REJECT_REASONS } from '../../../src/main/generation/reasons';
import { countWords, validateExample } from '../../../src/main/generation/validate';
import { textInLanguage } from '../../helpers/llm-server';

beforeAll(() => loadDetector());

describe('brainstorm answers', () => {
  it('reads a JSON list, a Python list with single quotes, and bullet or numbered lines; de-duplicates', () => {
    const a = parseTaskList(
      '["Find recipes for a dish.", "Find recipes for a dish!", "Classify a tweet by mood."]',
    );
    expect(a).toEqual({ ok: true, tasks: ['Find recipes for a dish.', 'Classify a tweet by mood.'] });
    const b = parseTaskList(
      'Here you go:\n[\'Retrieve the court ruling for a case summary.\', "Find the patent that a claim cites.", ]',
    );
    expect(b).toEqual({
      ok: true,
      tasks: ['Retrieve the court ruling for a case summary.', 'Find the patent that a claim cites.'],
    });
    const c = parseTaskList(
      '1. Given a symptom, find articles.\n2) Given a bug, find the fix.\n- Given a song, find its lyrics.\n* Given a city, find hotels.',
    );
    expect(c.ok && c.tasks).toHaveLength(4);
    expect(parseTaskList("I'm sorry, I can't help with that.")).toEqual({ ok: false, reason: 'refusal' });
    expect(parseTaskList('no list at all')).toEqual({ ok: false, reason: 'malformed_json' });
    expect(parseTaskList('[1, 2, ""]')).toEqual({ ok: false, reason: 'empty_task_list' });
  });
});

describe('example answers', () => {
  it('finds the JSON in code fences and prose, repairs raw newlines and trailing commas', () => {
    expect(parseExampleAnswer('```json\n{"S1": "a", "S2": "b", "S3": "c"}\n```')).toMatchObject({
      ok: true,
      repaired: false,
    });
    expect(parseExampleAnswer('Sure! {"S1": "a", "S2": "b", "S3": "c"} Hope it helps.')).toMatchObject({
      ok: true,
      value: { S3: 'c' },
    });
    const nl = parseExampleAnswer('{"input": "line one\nline two", "positive_document": "x",}');
    expect(nl).toMatchObject({ ok: true, repaired: true, value: { input: 'line one\nline two' } });
    expect(parseExampleAnswer('{"input": "broken')).toEqual({ ok: false, reason: 'malformed_json' });
    expect(parseExampleAnswer('As an AI language model, I cannot do that.')).toEqual({
      ok: false,
      reason: 'refusal',
    });
  });

  const en = (n: number, seed: number) => textInLanguage('en', n, seed);
  const sts = { unit: 'sentence', high_score: '4', low_score: '2.5', difficulty: 'college', language: 'en' };

  it('checks key set and types per kind', () => {
    expect(validateExample('sts', { S1: en(12, 1), S2: en(12, 2) }, sts)).toMatchObject({
      ok: false,
      reason: 'missing_keys',
      detail: 'S3',
    });
    expect(
      validateExample('sts', { S1: en(12, 1), S2: en(12, 2), S3: en(12, 3), score: 4 }, sts),
    ).toMatchObject({ ok: false, reason: 'extra_keys' });
    expect(validateExample('sts', { S1: en(12, 1), S2: 5, S3: en(12, 3) }, sts)).toMatchObject({
      ok: false,
      reason: 'wrong_type',
    });
    // Asymmetric kinds keep extra keys aside instead of rejecting.
    const ss = validateExample(
      'short-short',
      { input: en(6, 1), positive_document: en(6, 2), note: 'x' },
      { language: 'en' },
    );
    expect(ss).toMatchObject({ ok: true, extraKeys: { note: 'x' } });
  });

  it('gives every METHOD §5 failure its reason code', () => {
    const sl = {
      query_type: 'common',
      query_length: '5 to 15 words',
      clarity: 'clear',
      num_words: '100',
      difficulty: 'college',
      language: 'en',
    };
    const q = 'which river floods the old town every spring';
    const doc = en(120, 5);
    expect(
      validateExample(
        'short-long',
        { user_query: q, positive_document: `${doc} ${q}`, hard_negative_document: en(120, 6) },
        sl,
      ),
    ).toMatchObject({
      reason: 'query_in_positive',
    });
    expect(
      validateExample(
        'short-long',
        { user_query: q, positive_document: en(30, 5), hard_negative_document: en(120, 6) },
        sl,
      ),
    ).toMatchObject({
      reason: 'too_short',
    });
    expect(
      validateExample(
        'short-long',
        { user_query: q, positive_document: doc, hard_negative_document: en(120, 6) },
        sl,
      ),
    ).toMatchObject({ ok: true });
    const ls = { num_words: 'at least 10', difficulty: 'college', clarity: 'clear', language: 'en' };
    expect(
      validateExample(
        'long-short',
        { input_text: `${en(20, 1)} sports news`, label: 'Sports news', misleading_label: 'politics' },
        ls,
      ),
    ).toMatchObject({
      reason: 'label_in_input',
    });
    expect(
      validateExample(
        'long-short',
        { input_text: en(20, 1), label: 'Sports', misleading_label: 'sports' },
        ls,
      ),
    ).toMatchObject({
      reason: 'label_equals_misleading',
    });
    expect(
      validateExample('sts', { S1: en(12, 1), S2: en(12, 2), S3: ` ${en(12, 2).toUpperCase()}` }, sts),
    ).toMatchObject({ reason: 's2_equals_s3' });
    expect(
      validateExample('sts', { S1: en(12, 1), S2: `About {language}: ${en(12, 2)}`, S3: en(12, 3) }, sts),
    ).toMatchObject({
      reason: 'unfilled_placeholder',
    });
    expect(
      validateExample('sts', { S1: en(12, 1), S2: '[insert a paraphrase here]', S3: en(12, 3) }, sts),
    ).toMatchObject({ reason: 'unfilled_placeholder' });
    expect(
      validateExample(
        'sts',
        { S1: "I'm sorry, but I can't help with that request.", S2: en(12, 2), S3: en(12, 3) },
        sts,
      ),
    ).toMatchObject({
      reason: 'refusal',
    });
    // Quoting an apology inside real content is not a refusal.
    expect(
      validateExample(
        'long-short',
        {
          input_text: `The clerk said: "I'm sorry for the delay." ${en(20, 3)}`,
          label: 'shipping',
          misleading_label: 'refund',
        },
        ls,
      ),
    ).toMatchObject({ ok: true });
    expect(
      validateExample('sts', { S1: en(12, 1), S2: en(12, 2), S3: en(12, 3) }, { ...sts, language: 'de' }),
    ).toMatchObject({ reason: 'wrong_language' });
    const bi = {
      unit: 'sentence',
      high_score: '4',
      low_score: '2',
      difficulty: 'college',
      src_lang: 'de',
      tgt_lang: 'fr',
    };
    const good = {
      S1: textInLanguage('de', 12, 1),
      S2: textInLanguage('fr', 12, 2),
      S3: textInLanguage('fr', 12, 3),
    };
    expect(validateExample('bitext', good, bi)).toMatchObject({ ok: true });
    expect(validateExample('bitext', { ...good, S2: textInLanguage('de', 12, 9) }, bi)).toMatchObject({
      reason: 'wrong_language',
      detail: 'fr',
    });
    expect(
      validateExample('long-long', { input: en(100, 1), positive_document: en(320, 2) }, { language: 'en' }),
    ).toMatchObject({ reason: 'too_short' });
    expect(
      validateExample(
        'short-short',
        { input: 'red apple pie', positive_document: 'Red apple pie!' },
        { language: 'en' },
      ),
    ).toMatchObject({
      reason: 'query_in_positive',
    });
    // Every reason used is documented.
    for (const r of [
      'malformed_json',
      'missing_keys',
      'extra_keys',
      'wrong_type',
      'wrong_language',
      'too_short',
      'query_in_positive',
      'label_in_input',
      'label_equals_misleading',
      's2_equals_s3',
      'duplicate',
      'near_duplicate',
      'unfilled_placeholder',
      'refusal',
    ])
      expect(REJECT_REASONS).toHaveProperty(r);
  });

  it('rejects a query that is a whole sentence of a document at any length; allows a short query inside one', () => {
    const bn = {
      query_type: 'common',
      query_length: 'less than 5 words',
      clarity: 'clear',
      num_words: '50',
      difficulty: 'college',
      language: 'bn',
    };
    const body = textInLanguage('bn', 60, 7);
    const other = textInLanguage('bn', 60, 8);
    const copied = {
      user_query: 'আমি লড়বো।',
      positive_document: `আমি লড়বো। ${body}`,
      hard_negative_document: other,
    };
    expect(validateExample('short-long', copied, bn)).toMatchObject({
      ok: false,
      reason: 'query_in_positive',
      detail: 'positive_document',
    });
    // The same sentence in the middle, with other punctuation and case, after a line break.
    expect(
      validateExample('short-long', { ...copied, positive_document: `${body}\nআমি লড়বো!\n${other}` }, bn),
    ).toMatchObject({ reason: 'query_in_positive' });
    // In the hard negative too.
    expect(
      validateExample(
        'short-long',
        { ...copied, positive_document: body, hard_negative_document: `${other} আমি লড়বো।` },
        bn,
      ),
    ).toMatchObject({ reason: 'query_in_positive', detail: 'hard_negative_document' });
    // A short query whose words occur inside a longer sentence is normal.
    expect(
      validateExample(
        'short-long',
        { ...copied, positive_document: `${body.slice(0, -1)} আমি লড়বো এবং জিতব। ${other}` },
        bn,
      ),
    ).toMatchObject({ ok: true });
    const en3 = { ...bn, language: 'en' };
    const doc = en(80, 3);
    expect(
      validateExample(
        'short-long',
        {
          user_query: 'River floods',
          positive_document: `${doc} The river floods every spring.`,
          hard_negative_document: en(80, 4),
        },
        en3,
      ),
    ).toMatchObject({ ok: true });
    expect(
      validateExample(
        'short-long',
        {
          user_query: 'river floods?',
          positive_document: `${doc} River floods. ${en(20, 9)}`,
          hard_negative_document: en(80, 4),
        },
        en3,
      ),
    ).toMatchObject({ reason: 'query_in_positive' });
    // short-short: the input as one sentence of a two-sentence positive.
    expect(
      validateExample(
        'short-short',
        { input: 'Red apple pie', positive_document: 'Red apple pie. A dessert from Ohio.' },
        { language: 'en' },
      ),
    ).toMatchObject({ reason: 'query_in_positive' });
  });

  it('counts words, and characters / 1.5 for scripts without spaces', () => {
    expect(countWords(' one  two\nthree ', 'en')).toBe(3);
    expect(countWords('我们的城市非常', 'zh')).toBe(5);
  });
});

describe('duplicates', () => {
  it('flags exact (normalised) and near duplicates, not different texts', () => {
    const idx = new DedupIndex();
    const a = [textInLanguage('en', 40, 1), textInLanguage('en', 40, 2), null];
    const r = idx.check(a);
    expect(r.reason).toBeNull();
    idx.add(r.key, r.sig);
    expect(idx.check([a[0]!.toUpperCase(), `  ${a[1]}`, null]).reason).toBe('duplicate');
    expect(idx.check([a[0], `${a[1]!.slice(0, -1)} water.`, null]).reason).toBe('near_duplicate');
    expect(idx.check([textInLanguage('en', 40, 3), textInLanguage('en', 40, 4), null]).reason).toBeNull();
  });
});

describe('the test server (reused by the app e2e test)', () => {
  it('auto-answers every kind in every default language with an answer that passes all checks', async () => {
    const { KINDS } = await import('../../../src/shared/domain');
    const { sampleAttributes } = await import('../../../src/main/generation/attributes');
    const { defaultLanguageWeights } = await import('../../../src/main/generation/languages');
    const { builtinTemplates, render } = await import('../../../src/main/generation/prompts');
    const { autoAnswer } = await import('../../helpers/llm-server');
    const langs = defaultLanguageWeights();
    const t = builtinTemplates();
    const bad: string[] = [];
    for (const kind of KINDS)
      for (const l of langs) {
        const attrs = sampleAttributes(kind, l.code, l.code.length * 31 + kind.length, langs);
        const prompt = render(t[`example.${kind}`], { ...attrs, task: 'Given a question, find an answer.' });
        const p = parseExampleAnswer(autoAnswer(prompt));
        const v = p.ok ? validateExample(kind, p.value, attrs) : p;
        if (!v.ok) bad.push(`${kind}/${l.code}: ${v.reason}`);
      }
    expect(bad).toEqual([]);
  });
});
