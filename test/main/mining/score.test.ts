import { describe, expect, it } from 'vitest';
import { isLikelyFalseNegative } from '../../../src/main/mining/store';
import { BERT, directScores, examples, setup } from './helpers';

describe('scoring for review (parity bert fixture)', () => {
  it('scores positive and every negative, flags likely false negatives, filters and sorts', async () => {
    const rows = examples(30, 21);
    // A certain false negative: the negative is the positive itself (same score, flagged at margin 0).
    rows[3].negative = rows[3].positive;
    const { store, d, svc } = setup(rows);
    const m = await svc.mine({ dataset: 'ds', model: BERT, knobs: { numNegatives: 2 }, inThread: true });
    const s = await svc.score({ dataset: 'ds', model: BERT, margin: 0.01, inThread: true });
    expect(s.examples).toBe(30);
    const ex = [...store.examples.iterate(d.id)];
    const docs = [...new Set(ex.flatMap((e) => [e.positive, ...(e.negative ? [e.negative] : [])]))];
    const score = await directScores(
      BERT,
      ex.map((e) => ({ text: e.query, instruction: e.instruction as string })),
      docs,
    );
    const di = new Map(docs.map((t, i) => [t, i]));
    let flaggedExamples = 0;
    let mined = 0;
    for (const [qi, e] of ex.entries()) {
      const sc = svc.store.scoresOf(e.id);
      expect(sc).not.toBeNull();
      if (!sc) continue;
      expect(sc.stale).toBe(false);
      expect(sc.positiveScore).toBeCloseTo(score(qi, di.get(e.positive)!), 4);
      const minedTexts = svc.store.minedFor(e.id).map((x) => x.text);
      // LLM negative + every mined one, side by side.
      expect(sc.negativeScores.length).toBe((e.negative ? 1 : 0) + minedTexts.length);
      mined += sc.negativeScores.filter((n) => n.source === 'mined').length;
      for (const n of sc.negativeScores) {
        expect(n.margin).toBeCloseTo(sc.positiveScore - n.score, 6);
        expect(n.likelyFalseNegative).toBe(isLikelyFalseNegative(sc.positiveScore, n.score, 0.01));
        if (n.source === 'llm') expect(n.text).toBe(e.negative);
        if (di.has(n.text)) expect(n.score).toBeCloseTo(score(qi, di.get(n.text)!), 4);
      }
      expect(sc.likelyFalseNegative).toBe(sc.negativeScores.some((n) => n.likelyFalseNegative));
      if (sc.likelyFalseNegative) flaggedExamples++;
    }
    expect(mined).toBe(m.negatives);
    expect(s.likelyFalseNegatives).toBe(flaggedExamples);
    const own = svc.store.scoresOf(ex[3].id);
    expect(own?.likelyFalseNegative).toBe(true);

    // The review screen's list: only likely false negatives, hardest (smallest margin) first.
    const flagged = svc.store.scorePage(d.id, { likelyFalseNegative: true });
    expect(flagged.length).toBe(flaggedExamples);
    expect(svc.store.scoreCount(d.id, { likelyFalseNegative: true })).toBe(flaggedExamples);
    expect(flagged.every((r) => r.likelyFalseNegative)).toBe(true);
    const all = svc.store.scorePage(d.id, { sort: 'margin', limit: 1000 });
    const margins = all.filter((r) => r.margin !== null).map((r) => r.margin as number);
    expect(margins).toEqual([...margins].sort((a, b) => a - b));
    const byPos = svc.store.scorePage(d.id, { sort: 'positive_score', desc: true, limit: 5 });
    expect(byPos.map((r) => r.positiveScore)).toEqual(
      all
        .map((r) => r.positiveScore)
        .sort((a, b) => b - a)
        .slice(0, 5),
    );
    // Curation filters combine with the score filter.
    expect(svc.store.scoreCount(d.id, { filter: { kind: 'sts' } })).toBe(0);

    // Deleting the mining run takes its negatives and their scores along; the LLM ones stay.
    expect(svc.store.deleteRun(m.runId)).toBe(true);
    expect(svc.store.minedOfRun(m.runId)).toEqual([]);
    for (const e of ex) {
      const after = svc.store.scoresOf(e.id);
      expect(after?.negativeScores.every((n) => n.source === 'llm')).toBe(true);
      expect(after?.negatives).toBe(e.negative ? 1 : 0);
      expect(after?.likelyFalseNegative).toBe(after?.negativeScores.some((n) => n.likelyFalseNegative));
      expect(after?.margin ?? null).toBe(
        e.negative ? (after?.positiveScore ?? 0) - after!.negativeScores[0].score : null,
      );
    }
    expect(svc.store.deleteRun(m.runId)).toBe(false);
    // Editing an example marks its scores stale until rescored.
    store.examples.edit(ex[0].id, 'positive', `${ex[0].positive} again`);
    expect(svc.store.scoresOf(ex[0].id)?.stale).toBe(true);
    store.close();
  });
});
