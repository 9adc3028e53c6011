// Held-out splits of the workbench's own datasets as tasks, one per kind present.
import type { Example, Split } from '../../../shared/domain';
import { FIXED_INSTRUCTIONS } from '../../../shared/domain';
import { UserError } from '../../errors';
import type { Store } from '../../store';
import type { Qrels } from '../metrics/retrieval';
import type { EvalTask, StsTask, TextItem } from '../tasks';
import { safeName } from './read';

const num = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};

/**
 * A held-out split of a workbench dataset as tasks, one per kind present (rejected examples skipped):
 * short-long / short-short / long-long → retrieval (positives and hard negatives form the corpus);
 * sts → STS (S1~S2 = high_score, S1~S3 = low_score); bitext → bitext mining (S1 vs S2);
 * long-short → classification (train from the train split, scored on this split).
 */
export function loadDatasetTasks(store: Store, name: string, split: Split = 'test'): EvalTask[] {
  const ds = store.datasets.get(name);
  const all = (s: Split) => [
    ...store.examples.iterate(ds.id, { split: s, status: ['accepted', 'unreviewed'] }),
  ];
  const rows = all(split);
  if (rows.length === 0)
    throw new UserError(
      `dataset "${name}" has no ${split} examples; assign a split first (embedsmith datasets split)`,
    );
  const byKind = new Map<string, Example[]>();
  for (const e of rows) byKind.set(e.kind, [...(byKind.get(e.kind) ?? []), e]);
  const tasks: EvalTask[] = [];
  const base = (kind: string) => ({
    name: safeName(`${name}-${kind}`),
    split,
    hfSubset: 'default',
    languages: [],
    source: `dataset:${name}:${split}`,
  });
  for (const [kind, ex] of byKind) {
    if (kind === 'short-long' || kind === 'short-short' || kind === 'long-long') {
      const docId = new Map<string, string>();
      const corpus: TextItem[] = [];
      const doc = (text: string) => {
        let id = docId.get(text);
        if (!id) {
          id = `d${corpus.length}`;
          docId.set(text, id);
          corpus.push({ id, text });
        }
        return id;
      };
      const qrels: Qrels = new Map();
      const queries = ex.map((e) => {
        const qid = `q${e.id}`;
        const m = new Map<string, number>([[doc(e.positive), 1]]);
        if (e.negative) {
          const n = doc(e.negative);
          if (!m.has(n)) m.set(n, 0);
        }
        qrels.set(qid, m);
        return { id: qid, text: e.query, instruction: e.instruction ?? undefined };
      });
      tasks.push({ type: 'Retrieval', ...base(kind), corpus, queries, qrels });
    } else if (kind === 'sts') {
      const pairs: StsTask['pairs'] = [];
      for (const e of ex) {
        const hi = num(e.extras.high_score);
        const lo = num(e.extras.low_score);
        if (hi !== null) pairs.push({ s1: e.query, s2: e.positive, score: hi });
        if (lo !== null && e.negative) pairs.push({ s1: e.query, s2: e.negative, score: lo });
      }
      if (pairs.length < 2) continue;
      const scores = pairs.map((p) => p.score);
      tasks.push({
        type: 'STS',
        ...base(kind),
        instruction: FIXED_INSTRUCTIONS.sts,
        pairs,
        minScore: Math.min(...scores),
        maxScore: Math.max(...scores),
      });
    } else if (kind === 'bitext') {
      tasks.push({
        type: 'BitextMining',
        ...base(kind),
        instruction: FIXED_INSTRUCTIONS.bitext,
        sentence1: ex.map((e) => e.query),
        sentence2: ex.map((e) => e.positive),
      });
    } else if (kind === 'long-short') {
      const train = all('train')
        .filter((e) => e.kind === 'long-short')
        .map((e) => ({ text: e.query, label: e.positive }));
      if (!train.length) continue;
      tasks.push({
        type: 'Classification',
        ...base(kind),
        instruction: ex[0].instruction ?? undefined,
        train,
        test: ex.map((e) => ({ text: e.query, label: e.positive })),
      });
    }
  }
  if (!tasks.length)
    throw new UserError(
      `dataset "${name}" (${split}) yields no evaluable task; it needs retrieval, sts, bitext or labelled long-short examples`,
    );
  return tasks;
}
