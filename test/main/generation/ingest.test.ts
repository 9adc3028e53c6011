import { beforeAll, describe, expect, it } from 'vitest';
import { type IngestContext, ingestAnswer } from '../../../src/main/generation/ingest';
import { loadDetector } from '../../../src/main/generation/langid';
import type { Item } from '../../../src/main/generation/queue';
import { DEFAULT_VALIDATION } from '../../../src/main/generation/validate';
import { textInLanguage } from '../../helpers/llm-server';

// ingest is pure: an answer in, its example row or reject reason out; nothing is written.
beforeAll(() => loadDetector());

const item = (o: Partial<Item>): Item => ({
  id: 1,
  type: 'example',
  kind: 'sts',
  language: 'en',
  seed: 42,
  model: 'm',
  attrs: { unit: 'sentence', high_score: '4.5', low_score: '3', difficulty: 'college', language: 'en' },
  index: 0,
  attempts: 1,
  taskId: null,
  ...o,
});
const ctx = (o: Partial<IngestContext> = {}): IngestContext => ({
  validation: DEFAULT_VALIDATION,
  cellFull: false,
  task: null,
  templateVersion: 'example.sts@1',
  duplicateOf: () => null,
  ...o,
});
const sts = () =>
  JSON.stringify({
    S1: textInLanguage('en', 12, 1),
    S2: textInLanguage('en', 12, 2),
    S3: textInLanguage('en', 12, 3),
  });

describe('ingestAnswer', () => {
  it('a valid sts answer becomes a kept row with the fixed instruction, scores and a duplicate signature', () => {
    const r = ingestAnswer(item({}), sts(), undefined, ctx());
    expect(r.type).toBe('example');
    if (r.type !== 'example') return;
    expect(r.reason).toBeNull();
    expect(r.sig?.key).toEqual(expect.any(String));
    expect(r.row).toMatchObject({
      kind: 'sts',
      instruction: 'Retrieve semantically similar text.',
      language: 'en',
      srcLang: null,
      extras: { high_score: 4.5, low_score: 3 },
      rejectReason: null,
      surplus: false,
      seed: 42,
      templateVersion: 'example.sts@1',
    });
    expect(r.row.contentHash).toMatch(/^[0-9a-f]+$/);
    // The same answer once the cell is full: kept as surplus.
    const full = ingestAnswer(item({}), sts(), undefined, ctx({ cellFull: true }));
    expect(full.type === 'example' && full.row.surplus).toBe(true);
  });

  it('a rejected answer keeps its row with the reason and the raw answer; the index decides duplicates', () => {
    const bad = JSON.stringify({ S1: 'a b c d e f', S2: 'same text here', S3: 'same text here' });
    const r = ingestAnswer(item({}), bad, undefined, ctx());
    expect(r).toMatchObject({
      type: 'example',
      reason: 's2_equals_s3',
      row: { rejectReason: 's2_equals_s3', extras: { raw_answer: bad } },
    });
    const dup = ingestAnswer(item({}), sts(), undefined, ctx({ duplicateOf: () => 'near_duplicate' }));
    expect(dup).toMatchObject({ type: 'example', reason: 'near_duplicate', sig: undefined });
  });

  it('an answer without JSON is unreadable (reason kept on the request row, no example)', () => {
    expect(ingestAnswer(item({}), 'I cannot do that.', undefined, ctx())).toEqual({
      type: 'unreadable',
      reason: expect.any(String),
    });
  });

  it('a brainstorm gives its task list, or a reason', () => {
    const b = item({ type: 'brainstorm', kind: 'short-long', attrs: {} });
    expect(
      ingestAnswer(
        b,
        '["Given a tax form, find the rule.", "Given a bus stop, find its timetable."]',
        undefined,
        ctx(),
      ),
    ).toEqual({
      type: 'tasks',
      tasks: ['Given a tax form, find the rule.', 'Given a bus stop, find its timetable.'],
    });
    expect(ingestAnswer(b, 'no list here', undefined, ctx())).toMatchObject({ type: 'unreadable' });
  });

  it('bitext rows carry source and target language and no language; asymmetric rows their task as instruction', () => {
    const bi = item({
      kind: 'bitext',
      attrs: {
        unit: 'sentence',
        high_score: '4',
        low_score: '2',
        difficulty: 'college',
        src_lang: 'en',
        tgt_lang: 'de',
      },
    });
    const text = JSON.stringify({
      S1: textInLanguage('en', 12, 4),
      S2: textInLanguage('de', 12, 5),
      S3: textInLanguage('de', 12, 6),
    });
    expect(ingestAnswer(bi, text, undefined, ctx())).toMatchObject({
      type: 'example',
      reason: null,
      row: { language: null, srcLang: 'en', tgtLang: 'de' },
    });
    const ss = item({ kind: 'short-short', attrs: { language: 'en' }, taskId: 9 });
    const a = JSON.stringify({
      input: textInLanguage('en', 8, 7),
      positive_document: textInLanguage('en', 8, 8),
    });
    expect(ingestAnswer(ss, a, undefined, ctx({ task: 'Given a word, find its synonym.' }))).toMatchObject({
      row: { instruction: 'Given a word, find its synonym.', taskId: 9 },
    });
  });
});
