import { parentPort, workerData } from 'node:worker_threads';
import type { JobContext, JobModule, WorkerMessage } from './runner';

/**
 * Generic worker body: imports the job module named in workerData, runs its `handler` with a context
 * whose emit/progress/log post to the parent, and aborts its signal when the parent asks to cancel.
 */
const { moduleUrl, input } = workerData as { moduleUrl: string; input: unknown };
const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread');
const post = (m: WorkerMessage) => port.postMessage(m);
const ac = new AbortController();
port.on('message', (m: { type: string }) => {
  if (m.type === 'cancel') ac.abort();
});
const ctx: JobContext = {
  signal: ac.signal,
  emit: (event) => post({ type: 'event', event }),
  progress: (progress) => post({ type: 'progress', progress }),
  log: (message) => post({ type: 'log', message }),
};
try {
  const mod = (await import(moduleUrl)) as JobModule;
  const result = await mod.handler(input, ctx);
  post({ type: 'done', result });
} catch (e) {
  const err = e as Error & { exitCode?: number };
  post({
    type: 'error',
    name: err.name ?? 'Error',
    message: err.message ?? String(e),
    stack: err.stack,
    exitCode: err.exitCode,
  });
}
