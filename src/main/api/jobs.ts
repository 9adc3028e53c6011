import type { Services } from '../../shared/contract';
import type { JobRegistry } from '../jobs/registry';
import type { EventHub } from './events';

// The api's jobs are the workbench's registry (src/main/jobs/registry.ts); this file only puts its changes
// on the event hub, so every window and browser sees the same bars.
export type { JobRegistry } from '../jobs/registry';

/** Relays every job change of this process to the hub's `job` topic; returns the unsubscribe. */
export function relayJobs(jobs: JobRegistry, hub: EventHub): () => void {
  return jobs.subscribe((job) => hub.emit({ topic: 'job', job }));
}

/** The contract's `jobs` procedures: the list (this process's jobs and the CLI's) and Cancel. */
export function createJobsApi(jobs: JobRegistry): Services['jobs'] {
  return {
    list: () => jobs.list(),
    cancel: (i) => jobs.requestCancel(i.jobId),
  };
}
