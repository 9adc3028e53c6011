// The contract's `mining` procedures: scoring and mining run as background jobs with progress; the review
// page reads the newest score run (hardest examples first) from the mining store.
import type { Services } from '../../shared/contract';
import type { Progress } from '../../shared/domain';
import type { MiningService } from '../mining';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';
import type { JobRegistry } from './jobs';

export function createMiningApi(wb: Workbench, hub: EventHub, jobs: JobRegistry): Services['mining'] {
  const svc = (): MiningService => wb.mining;
  const name = (model: string) => (model.startsWith('builtin:') ? model : model.split(/[\\/]/).pop());
  return {
    score(i) {
      const m = svc();
      wb.store.datasets.get(i.dataset);
      // Cancellable: scoring and mining stop between embedding slices and then write nothing.
      return jobs.start(
        'mining',
        `score ${i.dataset} with ${name(i.model)}`,
        async (onProgress, job) => {
          try {
            return await m.score({
              signal: job.signal,
              dataset: i.dataset,
              model: i.model,
              adapter: i.adapter,
              margin: i.margin,
              filter: i.filter,
              onProgress: (stage, p) => onProgress({ ...p, message: stage }),
            });
          } finally {
            hub.emit({ topic: 'mining', dataset: i.dataset });
          }
        },
        {},
        { cancellable: true },
      );
    },
    mine(i) {
      const m = svc();
      wb.store.datasets.get(i.dataset);
      return jobs.start(
        'mining',
        `mine negatives for ${i.dataset} with ${name(i.model)}`,
        async (onProgress, job) => {
          const req = {
            signal: job.signal,
            dataset: i.dataset,
            model: i.model,
            adapter: i.adapter,
            corpus: i.corpus,
            filter: i.filter,
            knobs: {
              rangeMin: i.rangeMin,
              rangeMax: i.rangeMax,
              margin: i.margin,
              numNegatives: i.numNegatives,
            },
            onProgress: (stage: string, p: Progress) => onProgress({ ...p, message: p.message ?? stage }),
          };
          try {
            // Per-kind pools unless asked otherwise (a corpus is one pool by nature): a label should not
            // get a bug report as its hardest negative.
            if ((i.pools ?? 'kind') === 'kind' && !i.corpus) return await m.mineByKind(req);
            return await m.mine(req);
          } finally {
            hub.emit({ topic: 'mining', dataset: i.dataset });
          }
        },
        {},
        { cancellable: true },
      );
    },
    page(i) {
      const m = svc();
      const d = wb.store.datasets.get(i.dataset);
      const runId = m.store.latestScoreRun(d.id);
      if (!runId) return null;
      const req = { runId, filter: i.filter, likelyFalseNegative: i.likelyFalseNegative };
      const run = m.store.scoreRunInfo(runId);
      return {
        runId,
        model: run?.model ?? '',
        adapter: run?.adapter ?? null,
        margin: run?.margin ?? 0,
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
    distribution(i) {
      const m = svc();
      const d = wb.store.datasets.get(i.dataset);
      const runId = m.store.latestScoreRun(d.id);
      if (!runId) return null;
      return m.store.scoreDistribution(d.id, {
        runId,
        filter: i.filter,
        likelyFalseNegative: i.likelyFalseNegative,
      });
    },
    negativeAction(i) {
      const m = svc();
      const r = m.negativeAction(i);
      const { datasetId } = wb.store.examples.get(i.exampleId);
      const name = wb.store.datasets.list().find((x) => x.id === datasetId)?.name;
      if (name) {
        hub.emit({ topic: 'examples', dataset: name });
        hub.emit({ topic: 'mining', dataset: name });
      }
      return r;
    },
  };
}
