import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importDataset } from '../../../src/main/import';
import { MiningService } from '../../../src/main/mining/service';
import { distribution } from '../../../src/main/mining/stats';
import { workspacePaths } from '../../../src/main/paths';
import { Store } from '../../../src/main/store';
import { hasSharedDatasets, SHARED_DATASETS, tmpDir } from '../../helpers/tmp';
import { BERT } from './helpers';

const XQUAD = path.join(SHARED_DATASETS, 'xquad/beir/en');

describe.skipIf(!hasSharedDatasets)(
  `mining XQuAD en (${hasSharedDatasets ? XQUAD : 'skipped: ../shared/datasets is missing'})`,
  () => {
    it('queries sharing a passage never get it as a negative; dataset pool = BEIR corpus pool', async () => {
      const home = tmpDir();
      const store = Store.open(path.join(home, 'db.sqlite'));
      await importDataset(store, 'xq', XQUAD, {
        create: true,
        kind: 'short-long',
        language: 'en',
        rejectedDir: path.join(home, 'imports'),
      });
      const d = store.datasets.get('xq');
      const ex = [...store.examples.iterate(d.id)];
      expect(ex.length).toBeGreaterThan(1000);
      const svc = new MiningService(store, workspacePaths(home));
      const knobs = { rangeMin: 0, rangeMax: 20, numNegatives: 3, margin: 0 };
      const a = await svc.mine({ dataset: 'xq', model: BERT, knobs, inThread: true });
      const b = await svc.mine({ dataset: 'xq', model: BERT, knobs, corpus: XQUAD, inThread: true });
      expect(a.pool.size).toBe(new Set(ex.map((e) => e.positive)).size);
      expect(b.pool.size).toBe(240);
      const pos = new Map(ex.map((e) => [e.id, e.positive]));
      const ma = svc.store.minedOfRun(a.runId);
      for (const m of ma) {
        expect(m.text).not.toBe(pos.get(m.exampleId));
        expect(m.score).toBeLessThanOrEqual(m.positiveScore + 1e-6);
      }
      // Same candidates whichever way the pool was built (the dataset's passages are the corpus).
      const key = (m: { exampleId: number; text: string }) => `${m.exampleId}\u0000${m.text}`;
      const mb = svc.store.minedOfRun(b.runId);
      const overlap = mb.filter((m) => new Set(ma.map(key)).has(key(m))).length;
      expect(overlap / Math.max(1, ma.length)).toBeGreaterThan(0.99);
      // Report vs a direct computation over the stored rows.
      const per = new Map<number, number>();
      for (const m of ma) per.set(m.exampleId, (per.get(m.exampleId) ?? 0) + 1);
      const hist: Record<string, number> = { 0: 0, 1: 0, 2: 0, 3: 0 };
      for (const e of ex) hist[per.get(e.id) ?? 0]++;
      expect(a.histogram).toEqual(hist);
      const nd = distribution(ma.map((m) => m.score));
      expect(a.scores.negative.median).toBeCloseTo(nd.median as number, 6);
      expect(a.scores.negative.std).toBeCloseTo(nd.std as number, 6);
      const pd = distribution(
        ex
          .map((e) => ma.find((m) => m.exampleId === e.id)?.positiveScore ?? Number.NaN)
          .filter(Number.isFinite),
      );
      const got = a.scores.positive;
      expect(got.count).toBe(ex.length);
      expect(pd.max as number).toBeLessThanOrEqual((got.max as number) + 1e-9);
      expect(a.short.queries).toBe(ex.filter((e) => (per.get(e.id) ?? 0) < 3).length);
      store.close();
    }, 60_000);
  },
);
