// Worker thread: the generation queue's HTTP client (see HttpPool). Keeps `concurrency` chat calls on the
// wire and starts the next queued one the moment an answer arrives, before handing the answer back.
import { parentPort, workerData } from 'node:worker_threads';
import type { HttpReply, HttpRequest } from './http-pool';
import { classify, Provider, type ProviderOptions } from './provider';

const { options, concurrency } = workerData as { options: ProviderOptions; concurrency: number };
const provider = new Provider(options);
const queue: HttpRequest[] = [];
const active = new Map<number, AbortController>();

function pump() {
  while (active.size < concurrency && queue.length) {
    const req = queue.shift()!;
    const ac = new AbortController();
    active.set(req.id, ac);
    provider.chat(req.model, req.prompt, { ...req.params, signal: ac.signal }).then(
      (result) => settle(req.id, { id: req.id, result }),
      (err: unknown) => {
        const e = classify(err);
        settle(req.id, {
          id: req.id,
          error: { message: e.message, cls: e.cls, status: e.status, retryAfterMs: e.retryAfterMs },
        });
      },
    );
  }
}

function settle(id: number, reply: HttpReply) {
  active.delete(id);
  pump();
  parentPort!.postMessage(reply);
}

parentPort!.on('message', (m: HttpRequest | { cancel: number }) => {
  if ('cancel' in m) {
    const i = queue.findIndex((q) => q.id === m.cancel);
    if (i >= 0) {
      queue.splice(i, 1);
      parentPort!.postMessage({
        id: m.cancel,
        error: { message: 'aborted', cls: 'aborted' },
      } satisfies HttpReply);
    } else active.get(m.cancel)?.abort();
    return;
  }
  queue.push(m);
  pump();
});
parentPort!.postMessage('ready');
