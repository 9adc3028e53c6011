import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/main/errors';
import { parseTrainConfig, queryFormatter } from '../../../src/main/training/config';
import { loadTrainRows } from '../../../src/main/training/data';
import { referenceLoss } from '../../../src/main/training/loss';
import { ReferenceEncoder } from '../../../src/main/training/reference-encoder';
import { runTraining } from '../../../src/main/training/trainer';
import { tmpDir } from '../../helpers/tmp';
import { BERT, examples, setup } from './helpers';

/** A train split with mined negatives and a score run flagging some of them. */
async function prepared() {
  const rows = examples(24, 31).map((e, i) => ({
    ...e,
    status: 'accepted' as const,
    split: 'train' as const,
    negative: i % 3 === 0 ? `${e.positive} ${i}` : e.negative,
  }));
  const s = setup(rows);
  const m = await s.svc.mine({ dataset: 'ds', model: BERT, knobs: { numNegatives: 2 }, inThread: true });
  // A margin that flags some negatives and not others.
  const probe = await s.svc.score({ dataset: 'ds', model: BERT, margin: 0, inThread: true });
  const margin = probe.scores.margin.median as number;
  await s.svc.score({ dataset: 'ds', model: BERT, margin, inThread: true });
  return { ...s, m, margin };
}

describe('training with mined negatives and false-negative flags', () => {
  it('builds rows for --negatives llm|mined|both and --drop-false-negatives negative|row', async () => {
    const { store, svc, d } = await prepared();
    const fmt = queryFormatter(BERT);
    const llm = loadTrainRows(store, ['ds'], fmt);
    const minedRows = loadTrainRows(store, ['ds'], fmt, { negatives: 'mined' });
    const both = loadTrainRows(store, ['ds'], fmt, { negatives: 'both' });
    expect(loadTrainRows(store, ['ds'], fmt, { negatives: 'llm', dropFalseNegatives: 'off' })).toEqual(llm);
    const minedOf = (id: number) => svc.store.minedFor(id).map((x) => x.text);
    for (const [i, r] of llm.entries()) {
      const ex = store.examples.get(r.id);
      expect(r.negative).toBe(ex.negative);
      expect(minedRows[i].negative).toBe(minedOf(r.id)[0] ?? null);
      expect(minedRows[i].extraNegatives ?? []).toEqual(minedOf(r.id).slice(1));
      const all = [...(ex.negative ? [ex.negative] : []), ...minedOf(r.id)];
      expect([both[i].negative, ...(both[i].extraNegatives ?? [])].filter((x) => x !== null)).toEqual(all);
    }
    // Flags of the newest score run.
    const flagged = new Map<number, Set<string>>();
    for (const r of svc.store.scorePage(d.id, { likelyFalseNegative: true, limit: 1000 }))
      flagged.set(
        r.example.id,
        new Set(r.negativeScores.filter((n) => n.likelyFalseNegative).map((n) => n.text)),
      );
    expect(flagged.size).toBeGreaterThan(0);
    expect(flagged.size).toBeLessThan(24);
    const dropNeg = loadTrainRows(store, ['ds'], fmt, { negatives: 'both', dropFalseNegatives: 'negative' });
    expect(dropNeg.length).toBe(24);
    for (const [i, r] of dropNeg.entries()) {
      const negs = [r.negative, ...(r.extraNegatives ?? [])].filter((x): x is string => x !== null);
      for (const n of negs) expect(flagged.get(r.id)?.has(n) ?? false).toBe(false);
      const kept = [both[i].negative, ...(both[i].extraNegatives ?? [])].filter(
        (x): x is string => x !== null && !(flagged.get(r.id)?.has(x) ?? false),
      );
      expect(negs).toEqual(kept);
    }
    const dropRow = loadTrainRows(store, ['ds'], fmt, { negatives: 'both', dropFalseNegatives: 'row' });
    expect(dropRow.map((r) => r.id)).toEqual(both.filter((r) => !flagged.has(r.id)).map((r) => r.id));
    store.close();
  });

  it('refuses mined negatives or flags that do not exist yet', () => {
    const { store } = setup(
      examples(8).map((e) => ({ ...e, status: 'accepted' as const, split: 'train' as const })),
    );
    const fmt = queryFormatter(BERT);
    expect(() => loadTrainRows(store, ['ds'], fmt, { negatives: 'mined' })).toThrow(UserError);
    expect(() => loadTrainRows(store, ['ds'], fmt, { dropFalseNegatives: 'negative' })).toThrow(
      /embedsmith score/,
    );
    expect(() => parseTrainConfig({ ...baseConfig('x'), negatives: 'some' })).toThrow(/--negatives/);
    store.close();
  });

  it('the trainer puts every mined negative into the batch and leaves dropped ones out', async () => {
    const { store } = await prepared();
    const fmt = queryFormatter(BERT);
    const rows = loadTrainRows(store, ['ds'], fmt, { negatives: 'both', dropFalseNegatives: 'negative' });
    // Texts no kept row uses anywhere (mined negatives are often other rows' positives).
    const used = new Set(rows.flatMap((r) => [r.query, r.positive, r.negative, ...(r.extraNegatives ?? [])]));
    const dropped = loadTrainRows(store, ['ds'], fmt, { negatives: 'both' })
      .flatMap((r) => [r.negative, ...(r.extraNegatives ?? [])])
      .filter((x): x is string => x !== null && !used.has(x));
    expect(dropped.length).toBeGreaterThan(0);
    store.close();
    const config = parseTrainConfig({
      ...baseConfig(tmpDir()),
      negatives: 'both',
      dropFalseNegatives: 'negative',
    });
    const enc = ReferenceEncoder.load({
      modelDir: BERT,
      rank: 4,
      alpha: 8,
      dropout: 0,
      targetModules: ['all-linear'],
      maxLength: 32,
      device: 'cpu',
      dtype: 'float32',
    });
    const seen = new Set<string>();
    const inner = enc.embed.bind(enc);
    enc.embed = (texts, lora, drop) => {
      for (const t of texts) seen.add(t);
      return inner(texts, lora, drop);
    };
    await runTraining({ config, rows, encoder: enc, loss: referenceLoss, runDir: config.out, resume: false });
    // One epoch of 24 rows in batches of 8 covers every row.
    for (const r of rows)
      for (const n of [r.negative, ...(r.extraNegatives ?? [])]) if (n) expect(seen.has(n)).toBe(true);
    expect(rows.some((r) => (r.extraNegatives?.length ?? 0) > 0)).toBe(true);
    for (const t of dropped) expect(seen.has(t)).toBe(false);
  });
});

function baseConfig(out: string) {
  return {
    datasets: ['ds'],
    model: BERT,
    encoder: 'reference',
    loraRank: 4,
    loraAlpha: 8,
    loraDropout: 0,
    targetModules: ['all-linear'],
    batchSize: 8,
    chunkSize: 8,
    lr: 1e-3,
    warmup: 0,
    weightDecay: 0,
    temperature: 0.05,
    epochs: 1,
    maxLength: 32,
    checkpointEvery: 0,
    out: path.join(out, 'run'),
  };
}
