// The contract's `evaluation` procedures: a run is a background job (embedding runs on ONNX Runtime's own
// threads), the comparison reads stored results.
import path from 'node:path';
import type { ComparisonInfo, Services } from '../../shared/contract';
import type { EvalService } from '../eval/service';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';
import type { JobRegistry } from './jobs';

export function createEvaluationApi(wb: Workbench, hub: EventHub, jobs: JobRegistry): Services['evaluation'] {
  const svc = (): EvalService => wb.evaluation;
  return {
    run(i) {
      const s = svc();
      const tasks = s.tasks(i.tasks, { limit: i.limit });
      const { targets, close } = s.openTargets(i.model, i.adapters ?? [], { base: i.base });
      const label = `evaluate ${i.model.startsWith('builtin:') ? i.model : path.basename(i.model)} on ${tasks.length} task${tasks.length === 1 ? '' : 's'}`;
      // Cancellable: the run checks the job's signal between embedding batches.
      return jobs.start(
        'eval',
        label,
        async (onProgress, job) => {
          try {
            const out = [];
            for (const t of targets) {
              const r = await s.evaluate({
                embedder: t.embedder,
                tasks,
                modelName: t.modelName,
                revision: t.revision,
                modelPath: t.modelPath,
                adapterPaths: t.adapterPaths,
                onProgress: (task, p) => onProgress({ ...p, message: `${t.revision ?? 'base'} · ${task}` }),
                signal: job.signal,
              });
              // What the run noticed about its data (empty texts, missing qrels docs, duplicates), per task.
              const warnings = r.results.flatMap((x) => x.warnings ?? []);
              out.push({ model: r.model, revision: r.revision, tasks: r.results.length, warnings });
            }
            return { evaluated: out.length, results: out };
          } finally {
            await close();
            hub.emit({ topic: 'evaluation' });
          }
        },
        {},
        { cancellable: true },
      );
    },
    compare(i): ComparisonInfo | null {
      const s = svc();
      if (!s.results(i.model ? { model: i.model } : {}).length) return null;
      return s.compare([], { model: i.model, baseRevision: i.baseRevision });
    },
  };
}
