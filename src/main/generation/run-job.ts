import { redactSecrets } from '../../shared/redact';
import type { JobEnd, JobRegistry } from '../jobs/registry';
import type { GenerationProgress, RunSummary } from './config';

/**
 * A generation run as a job of the one registry: the engine keeps its own loop and the run's domain state
 * (generation_runs, its queue), the registry gets the lifecycle and a progress bar, for the app's Jobs panel
 * and `jobs` rows of CLI runs alike. A paused run's job ends interrupted (it resumes as a new job).
 */
export function trackRun(
  jobs: JobRegistry,
  run: { runId: string; dataset: string; resumed: boolean },
  engine: { done: Promise<RunSummary>; cancel(): void; on(fn: (p: GenerationProgress) => void): void },
  secrets: (string | undefined)[],
): string | null {
  let job: ReturnType<JobRegistry['open']>;
  try {
    job = jobs.open(
      'generation',
      `${run.resumed ? 'resume' : 'generate'} ${run.runId} into ${run.dataset}`,
      { runId: run.runId, dataset: run.dataset },
      { onCancel: () => engine.cancel(), running: true },
    );
  } catch {
    // The engine already runs (and records its own state); a full or busy database costs only the bar.
    return null;
  }
  engine.on((p) =>
    job.progress({
      done: p.accepted,
      total: p.planned,
      unit: 'examples',
      ratePerS: p.ratePerS,
      etaS: p.etaS,
    }),
  );
  const clean = (m: string) => redactSecrets(m, secrets);
  engine.done.then(
    (s) => job.end(endOf(s, clean)),
    (e) => job.end({ state: 'failed', error: clean((e as Error).message ?? String(e)) }),
  );
  return job.id;
}

function endOf(s: RunSummary, clean: (m: string) => string): JobEnd {
  switch (s.state) {
    case 'done':
    case 'budget':
      return {
        state: 'done',
        result: {
          examples: s.accepted,
          requests: s.requests,
          costUsd: s.cost_usd,
          stopped: s.state,
          short: s.shortfall?.length ?? 0,
        },
      };
    case 'cancelled':
      return { state: 'cancelled' };
    case 'failed':
      return { state: 'failed', error: clean(s.error ?? `run ${s.run} failed`) };
    default:
      return {
        state: 'interrupted',
        error: `paused; resume run ${s.run} on Generate or with --resume ${s.run}`,
      };
  }
}
