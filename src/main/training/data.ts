import type { Example } from '../../shared/domain';
import { FIXED_INSTRUCTIONS, KIND_DEFAULT_INSTRUCTIONS } from '../../shared/domain';
import { UserError } from '../errors';
import { applyNegativeOptions, type NegativeOptions } from './negatives';
import type { TrainRow } from './train-row';
import type { Store } from '../store';
import { mulberry32, shuffled } from './rng';

/** One training row: the query already carries its instruction through the model's query template. */
export type { TrainRow };

export type BatchGrouping = 'none' | 'kind' | 'dataset';

/**
 * The instruction of an example (METHOD.md §7): its own instruction column; else for asymmetric synthetic
 * kinds its brainstormed task's text; else the dataset's default instruction; else the method's default for
 * its kind (sts / bitext: the fixed ones). Never null, so rows imported without one train instead of
 * refusing the run.
 */
export function instructionOf(
  e: Example,
  taskText: (id: number) => string | undefined,
  datasetDefault: string | null = null,
): string {
  if (e.instruction?.trim()) return e.instruction;
  if (!FIXED_INSTRUCTIONS[e.kind] && e.taskId !== null) {
    const t = taskText(e.taskId);
    if (t?.trim()) return t;
  }
  if (datasetDefault?.trim()) return datasetDefault;
  return KIND_DEFAULT_INSTRUCTIONS[e.kind];
}

/**
 * The train split of the named datasets: accepted examples with split = 'train'. An empty selection is a
 * UserError that says which command fixes it.
 */
export function loadTrainRows(
  store: Store,
  datasets: string[],
  formatQuery: (instruction: string, query: string) => string,
  negatives: NegativeOptions = {},
): TrainRow[] {
  const rows: TrainRow[] = [];
  const taskStmt = store.db.prepare('SELECT text FROM tasks WHERE id = ?');
  const taskText = (id: number) => (taskStmt.get(id) as { text: string } | undefined)?.text;
  for (const name of datasets) {
    const d = store.datasets.get(name);
    const accepted = store.examples.count(d.id, { status: 'accepted' });
    const train = store.examples.count(d.id, { status: 'accepted', split: 'train' });
    if (train === 0) {
      if (accepted === 0)
        throw new UserError(
          `dataset "${name}" has no accepted examples; review it first (accept examples) and assign splits with \`embedsmith datasets split ${name}\``,
        );
      throw new UserError(
        `dataset "${name}" has ${accepted} accepted examples but none in the train split; run \`embedsmith datasets split ${name}\` first`,
      );
    }
    for (const e of store.examples.iterate(d.id, { status: 'accepted', split: 'train' })) {
      const ins = instructionOf(e, taskText, d.instruction);
      rows.push({
        id: e.id,
        kind: e.kind,
        dataset: name,
        instruction: ins,
        query: formatQuery(ins, e.query),
        positive: e.positive,
        negative: e.negative?.trim() ? e.negative : null,
      });
    }
  }
  // --negatives / --drop-false-negatives (negatives.ts): a no-op with the defaults.
  if ((negatives.negatives ?? 'llm') === 'llm' && (negatives.dropFalseNegatives ?? 'off') === 'off')
    return rows;
  return datasets.flatMap((name) =>
    applyNegativeOptions(
      store,
      name,
      rows.filter((r) => r.dataset === name),
      negatives,
    ),
  );
}

/** The order of one epoch: batches of row indices (into the row list sorted by id). */
export interface EpochPlan {
  epoch: number;
  batches: number[][];
}

/**
 * Shuffles rows with seed+epoch and cuts them into full batches (the last partial batch is dropped: a
 * smaller contrastive batch is a different loss). With grouping, each batch is drawn from one group
 * (kind or dataset) and the batch order is shuffled across groups.
 */
export function planEpoch(
  rows: TrainRow[],
  batchSize: number,
  seed: number,
  epoch: number,
  grouping: BatchGrouping,
): EpochPlan {
  const rand = mulberry32((seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  const idx = rows.map((_, i) => i);
  if (grouping === 'none') {
    const perm = shuffled(idx, rand);
    const batches: number[][] = [];
    for (let i = 0; i + batchSize <= perm.length; i += batchSize) batches.push(perm.slice(i, i + batchSize));
    return { epoch, batches };
  }
  const groups = new Map<string, number[]>();
  for (const i of idx) {
    const key = grouping === 'kind' ? `${rows[i].dataset}:${rows[i].kind}` : rows[i].dataset;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  const batches: number[][] = [];
  for (const key of [...groups.keys()].sort()) {
    const perm = shuffled(groups.get(key) as number[], rand);
    for (let i = 0; i + batchSize <= perm.length; i += batchSize) batches.push(perm.slice(i, i + batchSize));
  }
  return { epoch, batches: shuffled(batches, rand) };
}

/** Steps per epoch for a grouping (without building the plan twice). */
export function stepsPerEpoch(rows: TrainRow[], batchSize: number, grouping: BatchGrouping): number {
  if (grouping === 'none') return Math.floor(rows.length / batchSize);
  const counts = new Map<string, number>();
  for (const r of rows) {
    const key = grouping === 'kind' ? `${r.dataset}:${r.kind}` : r.dataset;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let n = 0;
  for (const c of counts.values()) n += Math.floor(c / batchSize);
  return n;
}
