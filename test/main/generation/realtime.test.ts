import { afterEach, describe, expect, it } from 'vitest';
import { outcomeOf } from '../../../src/main/generation/batch';
import type { RunState } from '../../../src/main/generation/config';
import { HttpPool } from '../../../src/main/generation/http-pool';
import type { Outcome } from '../../../src/main/generation/ingest';
import { Provider } from '../../../src/main/generation/provider';
import { type Item, WorkQueue } from '../../../src/main/generation/queue';
import { RateLimiter } from '../../../src/main/generation/ratelimit';
import { RealtimeSender, type SendHost } from '../../../src/main/generation/realtime';
import { Rng } from '../../../src/main/generation/rng';
import { getRun, runConfig, runPlan } from '../../../src/main/generation/runs';
import { type LlmServer, type Reply, startLlmServer } from '../../helpers/llm-server';
import { storedRun } from '../../helpers/generation-run';

// The realtime sender with a small host over a real queue, a real HTTP client and a local server.
const servers: LlmServer[] = [];
const pools: HttpPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.close();
});

async function setup(
  script: (n: number) => Reply,
  deliver: (o: Outcome, n: number) => Promise<void> | 'store',
) {
  let calls = 0;
  const srv = await startLlmServer({ script: () => script(calls++) });
  servers.push(srv);
  const { store, runId } = storedRun({
    count: 3,
    kinds: 'sts',
    languages: 'en',
    baseUrl: srv.url,
    concurrency: 1,
    backoffBaseMs: 5,
    stallMs: 1000,
  });
  const config = runConfig(getRun(store.db, runId));
  const queue = new WorkQueue(store.db, runId, config, runPlan(getRun(store.db, runId)), new Rng(1));
  store.db.transaction(() => queue.topUp())();
  const options = { baseUrl: srv.url, apiKey: 'k', timeoutMs: 5000 };
  const http = new HttpPool(new Provider(options), options, 1, false);
  pools.push(http);
  const abort = new AbortController();
  let delivered = 0;
  const host: { -readonly [K in keyof SendHost]: SendHost[K] } & { error?: string } = {
    runId,
    config,
    queue,
    limiter: new RateLimiter(),
    abort: abort.signal,
    stopReason: null as RunState | null,
    inflight: 0,
    storing: false,
    stop(reason, error) {
      this.stopReason = reason;
      this.error = error;
      abort.abort();
    },
    prepare: () => ({ prompt: 'Write all three texts in English.\n"S1"', est: { usd: 0, tokens: 10 } }),
    overBudget: () => false,
    claim(item: Item) {
      this.inflight++;
      queue.markSent(item);
    },
    async deliver(o) {
      const d = deliver(o, delivered++);
      if (d !== 'store') return d;
      this.inflight--;
      queue.markBack(o.item, true);
      queue.cell(o.item).accepted++;
    },
    topUp: () => queue.topUp(),
    waitSignal: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
    signal() {},
  };
  return { host, http, srv };
}

describe('RealtimeSender', () => {
  it('fails the run loudly when work is pending and nothing is on the wire (an answer stuck in its check)', async () => {
    // The first answer's check never returns: its cell stays reserved, nothing more is sent.
    const { host, http, srv } = await setup(
      () => 'auto',
      (_o, n) => (n === 0 ? new Promise<void>(() => {}) : 'store'),
    );
    const t0 = Date.now();
    await new RealtimeSender(host, http).run().catch(() => undefined);
    expect(host.stopReason).toBe('failed');
    expect(host.error).toMatch(
      /^stalled: nothing sent or answered for \d+ s with \d+ items queued and 1 answers unstored; this is a bug/,
    );
    // The other two items were sent and stored; the stuck answer keeps the last place of the quota.
    expect(srv.counts.chat).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  it('a retry waiting out a Retry-After longer than the stall limit is not a stall', async () => {
    const { host, http } = await setup(
      (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1.5' } } : 'auto'),
      () => 'store',
    );
    host.config.backoffMaxMs = 2000;
    await new RealtimeSender(host, http).run();
    expect(host.stopReason).toBeNull();
    expect(host.queue.complete()).toBe(true);
  });
});

describe('Batch API output lines', () => {
  const it0 = (): Item => ({
    id: 5,
    type: 'example',
    kind: 'sts',
    language: 'en',
    seed: 1,
    model: 'm',
    attrs: {},
    index: 0,
    attempts: 0,
    taskId: null,
  });
  const cfg = { prices: { models: {} } } as never;
  it('an answer, or a failure classified by its status', () => {
    const ok = outcomeOf(cfg, it0(), {
      custom_id: '5',
      response: {
        status_code: 200,
        body: {
          choices: [{ message: { content: '{}' } }],
          usage: { prompt_tokens: 3, completion_tokens: 4 },
        },
      },
    });
    expect(ok).toMatchObject({
      answer: { text: '{}', promptTokens: 3, completionTokens: 4 },
      attempts: [{ status: 'ok', attempt: 1 }],
    });
    const cls = (status: number, content?: string) =>
      outcomeOf(cfg, it0(), {
        custom_id: '5',
        response: { status_code: status, body: { choices: [{ message: { content } }] } },
      }).failure?.cls;
    expect([cls(429), cls(503), cls(400), cls(200)]).toEqual([
      'rate_limit',
      'server',
      'bad_request',
      'empty',
    ]);
  });
});
