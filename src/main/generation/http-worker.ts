// Worker thread: the generation queue's HTTP client (see HttpPool). Keeps `concurrency` chat calls on the
// wire and starts the next queued one the moment an answer arrives, before handing the answer back.
import { parentPort, workerData } from 'node:worker_threads';
import type { HttpMessage, HttpReply, HttpRequest } from './http-pool';
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

// Replies go up as one array per event-loop turn (the answers that arrived together), not one message each.
let replies: HttpReply[] = [];
function reply(r: HttpReply) {
  replies.push(r);
  if (replies.length === 1)
    setImmediate(() => {
      const batch = replies;
      replies = [];
      parentPort!.postMessage(batch);
    });
}

function settle(id: number, r: HttpReply) {
  active.delete(id);
  pump();
  reply(r);
}

function take(m: HttpMessage) {
  if ('cancel' in m) {
    const i = queue.findIndex((q) => q.id === m.cancel);
    if (i >= 0) {
      queue.splice(i, 1);
      reply({ id: m.cancel, error: { message: 'aborted', cls: 'aborted' } });
    } else active.get(m.cancel)?.abort();
    return;
  }
  queue.push(m);
}

parentPort!.on('message', (batch: HttpMessage[]) => {
  for (const m of batch) take(m);
  pump();
});
parentPort!.postMessage('ready');
