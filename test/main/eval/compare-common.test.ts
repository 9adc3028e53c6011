// The comparison table's averages and deltas over the tasks both rows have (issue #18.1), and tasks that
// cannot be scored showing why instead of a 0.
import { describe, expect, it } from 'vitest';
import { HashBowEmbedder } from '../../../src/main/eval/embedder';
import { compareEntries, formatComparison, type ScoreEntry } from '../../../src/main/eval/results';
import { EvalService } from '../../../src/main/eval/service';
import type { ClassificationTask, StsTask } from '../../../src/main/eval/tasks';
import { openWorkbench } from '../../../src/main/workbench';
import { tmpDir } from '../../helpers/tmp';

const e = (revision: string, task: string, taskType: ScoreEntry['taskType'], mainScore: number) => ({
  model: 'm',
  revision,
  task,
  taskType,
  mainScore,
});

describe('comparison over common tasks', () => {
  it('averages and deltas only over the tasks both rows have (disjoint task sets, by hand)', () => {
    const base = 'no_revision_available';
    // Base: R1, S1, S2. Adapter: R1, S2, R2 — common: R1 (Retrieval) and S2 (STS).
    const t = compareEntries([
      e(base, 'R1', 'Retrieval', 0.5),
      e(base, 'S1', 'STS', 0.6),
      e(base, 'S2', 'STS', 0.7),
      e('run-1', 'R1', 'Retrieval', 0.63),
      e('run-1', 'S2', 'STS', 0.75),
      e('run-1', 'R2', 'Retrieval', 0.1),
    ]);
    const [b, a] = t.rows;
    expect(b.isBase).toBe(true);
    // By hand: the adapter improved both shared tasks, +0.13 on R1 and +0.05 on S2.
    expect(a.delta?.avg).toBeCloseTo((0.63 - 0.5 + (0.75 - 0.7)) / 2, 12);
    expect(a.common?.avg).toMatchObject({ n: 2 });
    expect(a.common?.avg.value).toBeCloseTo((0.63 + 0.75) / 2, 12);
    expect(a.common?.avg.base).toBeCloseTo((0.5 + 0.7) / 2, 12);
    expect(a.delta?.['avg:Retrieval']).toBeCloseTo(0.63 - 0.5, 12);
    expect(a.common?.['avg:Retrieval'].n).toBe(1);
    expect(a.delta?.['avg:STS']).toBeCloseTo(0.75 - 0.7, 12);
    expect(a.common?.['avg:STS'].n).toBe(1);
    // Each row's own average still covers all of its tasks.
    expect(a.values.avg).toBeCloseTo((0.63 + 0.75 + 0.1) / 3, 12);
    expect(b.values.avg).toBeCloseTo((0.5 + 0.6 + 0.7) / 3, 12);
    // A task only one row has gets no delta.
    expect(a.delta?.R2).toBeNull();
    expect(a.delta?.S1).toBeNull();
  });

  it('no common task: no average delta, n = 0', () => {
    const t = compareEntries([e('no_revision_available', 'A', 'STS', 0.4), e('r', 'B', 'STS', 0.9)]);
    expect(t.rows[1].delta?.avg).toBeNull();
    expect(t.rows[1].common?.avg.n).toBe(0);
  });
});

describe('tasks that cannot be scored', () => {
  it('are stored as "not scored" with the reason and shown so, not as 0.00', async () => {
    const wb = openWorkbench({ home: tmpDir() });
    try {
      const svc = new EvalService(wb.paths, wb.store);
      // Free-text labels: no test label occurs among the train labels.
      const clf: ClassificationTask = {
        type: 'Classification',
        name: 'free-labels',
        split: 'test',
        hfSubset: 'default',
        languages: ['eng-Latn'],
        source: 'test',
        train: ['a cat', 'a dog', 'a bird', 'a fish'].map((text, i) => ({ text, label: `train label ${i}` })),
        test: ['a cow', 'a horse'].map((text, i) => ({ text, label: `test label ${i}` })),
      };
      const sts: StsTask = {
        type: 'STS',
        name: 'tiny-sts',
        split: 'test',
        hfSubset: 'default',
        languages: ['eng-Latn'],
        source: 'test',
        pairs: [
          { s1: 'a man plays guitar', s2: 'someone plays a guitar', score: 4.5 },
          { s1: 'a dog runs', s2: 'the stock market fell', score: 0.2 },
          { s1: 'rain in spring', s2: 'spring rain falls', score: 4 },
        ],
      };
      const r = await svc.evaluate({ embedder: new HashBowEmbedder(64), tasks: [clf, sts], modelName: 'h' });
      expect(r.results.map((x) => x.taskName)).toEqual(['tiny-sts']);
      const t = svc.compare();
      const row = t.rows[0];
      expect(row.values['free-labels']).toBeNull();
      expect(row.notScored?.['free-labels']).toMatch(/no test label occurs among the train labels/);
      // The average is over the scored task only.
      expect(row.values.avg).toBeCloseTo(row.values['tiny-sts']!, 12);
      expect(formatComparison(t)).toMatch(/not scored/);
    } finally {
      wb.close();
    }
  });
});
