// The contract's `mining` procedures: scoring and mining run as background jobs with progress; the review
// page reads the newest score run (hardest examples first) from the mining store.
import type { Services } from '../../shared/contract';
import { UserError } from '../errors';
import type { MiningService } from '../mining';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';
import type { JobRegistry } from './jobs';

export function createMiningApi(wb: Workbench, hub: EventHub, jobs: JobRegistry): Services['mining'] {
  const svc = (): MiningService => {
    const m = (wb as unknown as { mining?: MiningService }).mining;
    if (!m) throw new UserError('this workbench has no mining service yet; update Embedsmith');
    return m;
  };
  const name = (model: string) => (model.startsWith('builtin:') ? model : model.split(/[\\/]/).pop());
  return {
    score(i) {
      const m = svc();
      wb.store.datasets.get(i.dataset);
      return jobs.start('mining', `score ${i.dataset} with ${name(i.model)}`, async (onProgress) => {
        try {
          return await m.score({
            dataset: i.dataset,
            model: i.model,
            adapter: i.adapter,
            margin: i.margin,
            onProgress: (stage, p) => onProgress({ ...p, message: stage }),
          });
        } finally {
          hub.emit({ topic: 'mining', dataset: i.dataset });
        }
      });
    },
    mine(i) {
      const m = svc();
      wb.store.datasets.get(i.dataset);
      return jobs.start(
        'mining',
        `mine negatives for ${i.dataset} with ${name(i.model)}`,
        async (onProgress) => {
          try {
            return await m.mine({
              dataset: i.dataset,
              model: i.model,
              adapter: i.adapter,
              corpus: i.corpus,
              onProgress: (stage, p) => onProgress({ ...p, message: stage }),
            });
          } finally {
            hub.emit({ topic: 'mining', dataset: i.dataset });
          }
        },
      );
    },
    page(i) {
      const m = svc();
      const d = wb.store.datasets.get(i.dataset);
      const runId = m.store.latestScoreRun(d.id);
      if (!runId) return null;
      const req = { runId, filter: i.filter, likelyFalseNegative: i.likelyFalseNegative };
      return {
        runId,
        total: m.store.scoreCount(d.id, req),
        rows: m.store.scorePage(d.id, {
          ...req,
          sort: i.sort,
          desc: i.desc,
          limit: i.limit ?? 100,
          offset: i.offset,
        }),
      };
    },
  };
}
