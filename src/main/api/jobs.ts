import { randomUUID } from 'node:crypto';
import type { JobInfo } from '../../shared/contract';
import type { Progress } from '../../shared/domain';
import type { EventHub } from './events';

/**
 * Background operations started from the app. Each runs off the request (the call returns the job at once)
 * and reports progress and its end on the event hub, so every window and browser sees the same bar.
 */
export class JobRegistry {
  private readonly jobs = new Map<string, JobInfo>();

  constructor(private readonly hub: EventHub) {}

  list(): JobInfo[] {
    return [...this.jobs.values()].reverse();
  }

  start<T>(type: string, label: string, run: (onProgress: (p: Progress) => void) => Promise<T> | T): JobInfo {
    const job: JobInfo = {
      id: randomUUID(),
      type,
      label,
      state: 'running',
      progress: null,
      startedAt: new Date().toISOString(),
    };
    this.jobs.set(job.id, job);
    // Keep the list short: the store keeps the durable record of each operation.
    for (const id of [...this.jobs.keys()].slice(0, Math.max(0, this.jobs.size - 50))) this.jobs.delete(id);
    const emit = () => this.hub.emit({ topic: 'job', job: { ...job } });
    emit();
    setImmediate(async () => {
      try {
        job.result = await run((p) => {
          job.progress = p;
          emit();
        });
        job.state = 'done';
      } catch (e) {
        job.state = 'failed';
        job.error = (e as Error).message;
      }
      job.finishedAt = new Date().toISOString();
      emit();
    });
    return { ...job };
  }
}
