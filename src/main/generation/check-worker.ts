// Worker thread: checks answers off the main thread (see CheckPool).
import { parentPort } from 'node:worker_threads';
import { type CheckRequest, checkAnswer } from './check';
import { loadDetector } from './langid';

await loadDetector();
parentPort!.on('message', (batch: CheckRequest[]) => {
  // Synchronous work, so its wall time is its CPU time (an over-estimate on a busy machine).
  const t0 = performance.now();
  const results = batch.map(checkAnswer);
  parentPort!.postMessage({ results, ms: performance.now() - t0 });
});
parentPort!.postMessage('ready');
