// Review-screen mining: one candidate pool per kind (and language for the sentence kinds), and the
// per-negative actions of the hard-negative review (drop it, or move it to a new positive example).
import type { Example } from '../../shared/domain';
import { UserError } from '../errors';
import type { Store } from '../store';
import type { MineRequest, MiningService } from './service';

export interface NegativeActionRequest {
  exampleId: number;
  source: 'llm' | 'mined';
  minedId?: number | null;
  action: 'drop' | 'to-positive';
}

export interface GroupedMineReport {
  dataset: string;
  pools: 'kind';
  groups: {
    group: string;
    queries: number;
    pool: number;
    negatives: number;
    runId: string | null;
    /** Why the group got no mining (e.g. its pool is smaller than the range). */
    skipped: string | null;
  }[];
  queries: number;
  negatives: number;
  seconds: number;
}

/** The pool group of an example: its kind, plus the language (pair) for the sentence kinds. */
export function poolGroupOf(e: Pick<Example, 'kind' | 'language' | 'srcLang' | 'tgtLang'>): string {
  if (e.kind === 'bitext') return `bitext ${e.srcLang ?? '?'}-${e.tgtLang ?? '?'}`;
  if (e.kind === 'sts') return `sts ${e.language ?? '?'}`;
  return e.kind;
}

/**
 * Mines with one candidate pool per group instead of one for the whole dataset: long-short labels only
 * compete with other labels of that kind, sts/bitext sentences with sentences of the same language
 * (pair), the other kinds with their own kind. A group too small for the knobs is skipped and says why.
 * The model is opened once for all groups.
 */
export async function mineByKind(svc: MiningService, req: MineRequest): Promise<GroupedMineReport> {
  const t0 = performance.now();
  const { rows } = svc.examples(req.dataset, req.filter);
  if (!rows.length)
    throw new UserError(
      `dataset "${req.dataset}" has no examples matching the filter (rejected rows are skipped); loosen the filter`,
    );
  const groups = new Map<string, number[]>();
  for (const { e } of rows) {
    const g = poolGroupOf(e);
    const list = groups.get(g);
    if (list) list.push(e.id);
    else groups.set(g, [e.id]);
  }
  const emb = await svc.openEmbedder(req);
  const out: GroupedMineReport['groups'] = [];
  // Every group's run is written at the end in one transaction: a cancelled run writes no group.
  const writes: (() => void)[] = [];
  try {
    let i = 0;
    for (const [group, ids] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
      i++;
      const on = req.onProgress;
      try {
        const r = await svc.mine(
          {
            ...req,
            ids,
            corpus: undefined,
            onProgress: on
              ? (st, p) => on(st, { ...p, message: `${group} (${i}/${groups.size})` })
              : undefined,
          },
          emb,
          writes,
        );
        out.push({
          group,
          queries: r.queries,
          pool: r.pool.size,
          negatives: r.negatives,
          runId: r.runId,
          skipped: null,
        });
      } catch (e) {
        if (!(e instanceof UserError) || req.signal?.aborted) throw e;
        out.push({ group, queries: ids.length, pool: 0, negatives: 0, runId: null, skipped: e.message });
      }
    }
  } finally {
    await emb.close();
  }
  if (req.signal?.aborted) throw new UserError('mining cancelled; nothing was written');
  svc.store.atomically(() => {
    for (const w of writes) w();
  });
  return {
    dataset: req.dataset,
    pools: 'kind',
    groups: out,
    queries: out.reduce((a, g) => a + g.queries, 0),
    negatives: out.reduce((a, g) => a + g.negatives, 0),
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Per-negative review actions. `drop`: the negative leaves the example (an LLM negative is cleared with
 * review history; a mined one is deleted). `to-positive`: the text is a positive for the query, so it
 * becomes a new example (same query, instruction, kind and language; manual origin) and leaves the
 * negatives. Score aggregates of the example follow.
 */
export function negativeAction(
  svc: MiningService,
  core: Store,
  i: NegativeActionRequest,
): { exampleId: number; created: number | null } {
  const db = core.db;
  return db.transaction(() => {
    const e = core.examples.get(i.exampleId);
    let text: string;
    if (i.source === 'mined') {
      const m = db
        .prepare('SELECT text FROM mined_negatives WHERE id = ? AND example_id = ?')
        .get(i.minedId ?? -1, e.id) as { text: string } | undefined;
      if (!m) throw new UserError(`example ${e.id} has no mined negative ${i.minedId}; reload the list`);
      text = m.text;
      db.prepare('DELETE FROM mined_negatives WHERE id = ?').run(i.minedId);
    } else {
      if (!e.negative) throw new UserError(`example ${e.id} has no LLM-written negative; reload the list`);
      text = e.negative;
      core.examples.edit(e.id, 'negative', null);
      db.prepare("DELETE FROM example_negative_scores WHERE example_id = ? AND source = 'llm'").run(e.id);
    }
    svc.store.refreshScoreAggregates(e.id);
    let created: number | null = null;
    if (i.action === 'to-positive') {
      const r = core.examples.insertMany(e.datasetId, [
        {
          kind: e.kind,
          taskId: e.taskId,
          instruction: e.instruction,
          language: e.language,
          srcLang: e.srcLang,
          tgtLang: e.tgtLang,
          query: e.query,
          positive: text,
          negative: null,
          attributes: { ...e.attributes, moved_from_negative_of: e.id },
          origin: 'manual',
          split: e.split,
        },
      ]);
      if (!r.inserted)
        throw new UserError(`example ${e.id}: that query with this positive is already in the dataset`);
      created = r.ids[0] ?? null;
    }
    return { exampleId: e.id, created };
  })();
}
