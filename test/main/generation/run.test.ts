import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type GenerateOptions, GenerationService } from '../../../src/main/generation';
import { httpStats } from '../../../src/main/generation/http-pool';
import { poolStats } from '../../../src/main/generation/pool';
import { Store } from '../../../src/main/store';
import {
  type ChatCall,
  type LlmServer,
  type Reply,
  autoAnswer,
  gate,
  promptKind,
  startLlmServer,
  textInLanguage,
} from '../../helpers/llm-server';
import { tmpDir } from '../../helpers/tmp';

const servers: LlmServer[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const s of stores.splice(0)) s.close();
});

function setup(dir = tmpDir()) {
  const store = Store.open(path.join(dir, 'embedsmith.db'));
  stores.push(store);
  if (!store.datasets.find('d')) store.datasets.create('d');
  return { store, gen: new GenerationService(store), dir };
}

async function server(opts: Parameters<typeof startLlmServer>[0] = {}) {
  const s = await startLlmServer(opts);
  servers.push(s);
  return s;
}

/** Fast settings for tests: tiny timeouts and backoffs. */
const fast = (url: string, o: Partial<GenerateOptions>): GenerateOptions => ({
  dataset: 'd',
  count: 9,
  models: 'test-model',
  baseUrl: url,
  concurrency: 1,
  seed: 11,
  timeoutMs: 10_000,
  backoffBaseMs: 5,
  backoffMaxMs: 50,
  leaseTtlMs: 2000,
  batchPollMs: 10,
  ...o,
});

/** Per-kind scripted answers: the k-th example call of a kind gets faults[kind][k] (1-based), else auto. */
function perKind(
  faults: Record<string, Record<number, (call: ChatCall, auto: Record<string, unknown>) => string>>,
) {
  const seen: Record<string, number> = {};
  return (call: ChatCall): Reply => {
    const kind = promptKind(call.prompt);
    seen[kind] = (seen[kind] ?? 0) + 1;
    const k = seen[kind];
    const f = faults[kind]?.[k];
    if (!f) return 'auto';
    return { content: f(call, JSON.parse(autoAnswer(call.prompt)) as Record<string, unknown>) };
  };
}

describe('generation run against a local OpenAI-compatible server', () => {
  it.each([
    ['inline', false],
    ['in the check worker thread, chat calls from the HTTP worker', true],
  ])(
    'accepts exactly --count valid examples and rejects every faulty answer with its reason (checks %s)',
    async (_name, checkWorker) => {
      let firstSts = '';
      let firstShort = '';
      const srv = await server({
        script: perKind({
          sts: {
            1: (_c, a) => {
              firstSts = JSON.stringify(a);
              return `\`\`\`json\n${firstSts}\n\`\`\``;
            },
            2: (_c, a) => JSON.stringify({ ...a, S4: 'one more sentence' }),
            3: (_c, a) => JSON.stringify({ ...a, S3: a.S2 }),
            4: (_c, a) => `Here is the example you asked for:\n${JSON.stringify(a)}\nI hope this helps!`,
            5: () =>
              JSON.stringify({
                S1: textInLanguage('de', 12, 1),
                S2: textInLanguage('de', 12, 2),
                S3: textInLanguage('de', 12, 3),
              }),
            6: () => {
              const a = JSON.parse(firstSts) as Record<string, string>;
              return JSON.stringify({ ...a, S3: `${a.S3.replace(/\S+\.$/, 'water.')} city` });
            },
          },
          'long-short': {
            1: (_c, a) =>
              `{"input_text": "${a.input_text}\nsecond line", "label": "${a.label}", "misleading_label": "${a.misleading_label}"}`,
            2: (_c, a) =>
              `{"input_text": "${a.input_text}", "label": "${a.label}", "misleading_label": "${a.misleading_label}",}`,
            3: (_c, a) => JSON.stringify({ input_text: a.input_text, label: a.label }),
            4: (_c, a) => JSON.stringify({ ...a, input_text: `${a.input_text} ${a.label}` }),
            5: (_c, a) => JSON.stringify({ ...a, misleading_label: a.label }),
            6: () => "I'm sorry, but I can't help with creating that content.",
          },
          'short-short': {
            1: (_c, a) => {
              firstShort = JSON.stringify(a);
              return firstShort;
            },
            2: () => firstShort,
            3: (_c, a) => JSON.stringify({ ...a, input: `{language} ${a.input}` }),
            4: (_c, a) => JSON.stringify({ ...a, positive_document: a.input }),
            5: () => 'Sure! Here is the example: {"input": "broken',
          },
        }),
      });
      const { gen, store } = setup();
      const { runId, plan } = gen.create(
        fast(srv.url, {
          kinds: 'sts,long-short,short-short',
          mix: 'sts=1,long-short=1,short-short=1',
          languages: 'en',
          count: 9,
        }),
      );
      expect(plan.cells.map((c) => c.quota)).toEqual([3, 3, 3]);
      const progress: number[] = [];
      const threadedBefore = poolStats.threaded;
      const httpBefore = httpStats.threaded;
      const s = await gen.start(runId, {
        checkWorker,
        httpWorker: checkWorker,
        onProgress: (p) => progress.push(p.accepted),
      }).done;
      // 21 example answers went through the worker (or none, inline); every call through the HTTP worker.
      expect(poolStats.threaded - threadedBefore).toBe(checkWorker ? 21 : 0);
      expect(httpStats.threaded - httpBefore).toBe(checkWorker ? s.requests : 0);
      expect(s.state).toBe('done');
      expect(s.accepted).toBe(9);
      expect(s.rejected).toEqual({
        extra_keys: 1,
        s2_equals_s3: 1,
        wrong_language: 1,
        near_duplicate: 1,
        missing_keys: 1,
        label_in_input: 1,
        label_equals_misleading: 1,
        refusal: 1,
        duplicate: 1,
        unfilled_placeholder: 1,
        query_in_positive: 1,
        malformed_json: 1,
      });
      // 7 example calls per kind + one brainstorm for each asymmetric kind.
      expect(s.requests).toBe(23);
      expect(s.retries).toBe(0);
      expect(s.by_kind).toEqual({ sts: 3, 'long-short': 3, 'short-short': 3 });
      expect(progress.at(-1)).toBe(9);
      const db = store.db;
      // Nothing silently dropped: parse failures and duplicates keep their raw answer on the request row.
      const reqRejects = db
        .prepare(
          'SELECT reject_reason AS r, raw_answer AS a FROM generation_requests WHERE run_id = ? AND reject_reason IS NOT NULL ORDER BY r',
        )
        .all(runId) as { r: string; a: string }[];
      expect(reqRejects.map((x) => x.r)).toEqual(['duplicate', 'malformed_json', 'refusal']);
      expect(reqRejects.every((x) => x.a.length > 0)).toBe(true);
      const ex = db
        .prepare(`SELECT * FROM examples WHERE run_id = ? AND status != 'rejected'`)
        .all(runId) as Record<string, unknown>[];
      expect(ex).toHaveLength(9);
      for (const e of ex) {
        expect(e.status).toBe('unreviewed');
        expect(e.origin).toBe('synthetic');
        expect(e.seed).toEqual(expect.any(Number));
        expect(String(e.template_version)).toMatch(/^example\.(sts|long-short|short-short)@1$/);
        expect(JSON.parse(String(e.attributes_json)).language).toBe('en');
        if (e.kind === 'sts') expect(e.instruction).toBe('Retrieve semantically similar text.');
        else expect(String(e.instruction)).toMatch(/^Given a request about/);
      }
      const tasks = db.prepare('SELECT count(*) AS n FROM tasks WHERE run_id = ?').get(runId) as {
        n: number;
      };
      expect(tasks.n).toBe(40);
    },
  );

  it.each([
    ['in this thread', false],
    ['from the HTTP worker', true],
  ])(
    'retries 429 (honouring Retry-After), 500 and a hung request, then finishes (calls %s)',
    async (_n, httpWorker) => {
      let n = 0;
      let at429 = 0;
      let call429: ChatCall | undefined;
      const srv = await server({
        script: (call) => {
          if (promptKind(call.prompt) !== 'sts') return 'auto';
          n++;
          if (n === 2) {
            at429 = call.at;
            call429 = call;
            return { status: 429, headers: { 'retry-after': '0.2' } };
          }
          if (n === 4) return { status: 500 };
          if (n === 6) return { hang: true };
          return 'auto';
        },
      });
      const { gen } = setup();
      const { runId } = gen.create(
        fast(srv.url, {
          kinds: 'sts',
          languages: 'en',
          count: 20,
          concurrency: 4,
          timeoutMs: 1500,
          backoffMaxMs: 1000,
        }),
      );
      const s = await gen.start(runId, { httpWorker }).done;
      expect(s).toMatchObject({ state: 'done', accepted: 20, retries: 3, requests: 23, failed_requests: {} });
      expect(srv.counts.status[429]).toBe(1);
      expect(srv.counts.status[500]).toBe(1);
      // The same prompt asked again no sooner than the Retry-After (0.2 s, within backoffMaxMs).
      const retry = srv.calls.find((c) => c.n > call429!.n && c.prompt === call429!.prompt);
      expect(retry!.at - at429).toBeGreaterThanOrEqual(195);
    },
  );

  it.each([
    ['in this thread', false],
    ['from the HTTP worker, handed twice as many', true],
  ])('keeps exactly `concurrency` requests on the wire (calls %s)', async (_n, httpWorker) => {
    // The first five answers wait until five calls are at the server, so reaching the limit does not
    // depend on how fast this machine is; any sixth call would arrive while they wait.
    const first = gate();
    first.arrived(5).then(first.open);
    const srv = await server({ latencyMs: 10, hold: (c) => (c.n < 5 ? first.wait() : undefined) });
    const { gen } = setup();
    const { runId } = gen.create(fast(srv.url, { kinds: 'sts', languages: 'en', count: 60, concurrency: 5 }));
    const s = await gen.start(runId, { httpWorker }).done;
    expect(s).toMatchObject({ state: 'done', accepted: 60 });
    // Never more than the limit at the server, and the limit is reached (slots free as answers arrive).
    expect(srv.counts.maxInFlight).toBe(5);
    expect(srv.counts.inFlight).toBe(0);
  });

  it('counts a request that fails after all retries per error class and still reaches the count', async () => {
    let n = 0;
    const srv = await server({ script: () => (++n <= 3 ? { status: 503 } : 'auto') });
    const { gen } = setup();
    const { runId } = gen.create(fast(srv.url, { kinds: 'sts', languages: 'en', count: 5, maxRetries: 2 }));
    const s = await gen.start(runId).done;
    expect(s).toMatchObject({
      state: 'done',
      accepted: 5,
      failed_requests: { server: 1 },
      retries: 2,
      requests: 8,
    });
  });

  it('falls back when the server rejects response_format', async () => {
    const srv = await server({ jsonMode: false });
    const { gen } = setup();
    const { runId } = gen.create(fast(srv.url, { kinds: 'sts', languages: 'en,de', count: 6 }));
    const s = await gen.start(runId).done;
    expect(s).toMatchObject({ state: 'done', accepted: 6 });
    expect(srv.counts.status[400]).toBe(1);
  });

  it('stops cleanly at the USD budget, then a resume with a larger budget reaches the exact count', async () => {
    const srv = await server({ latencyMs: 5 });
    const { gen, dir } = setup();
    const prices = path.join(dir, 'prices.json');
    (await import('node:fs')).writeFileSync(
      prices,
      JSON.stringify({ models: { 'test-model': { input: 1000, output: 1000 } } }),
    );
    const { runId } = gen.create(
      fast(srv.url, {
        kinds: 'sts',
        languages: 'en',
        count: 30,
        concurrency: 3,
        budgetUsd: 1.5,
        pricesFile: prices,
      }),
    );
    const s = await gen.start(runId).done;
    expect(s.state).toBe('budget');
    expect(s.accepted).toBeGreaterThan(0);
    expect(s.accepted).toBeLessThan(30);
    expect(s.cost_usd).toBeLessThanOrEqual(1.5);
    expect(s.cost_usd).toBeGreaterThan(0.5);
    const s2 = await gen.start(runId, { overrides: { budgetUsd: 100 } }).done;
    expect(s2).toMatchObject({ state: 'done', accepted: 30 });
  });

  it('stops at the token budget too', async () => {
    const srv = await server();
    const { gen } = setup();
    const { runId } = gen.create(
      fast(srv.url, { kinds: 'sts', languages: 'en', count: 30, budgetTokens: 3000 }),
    );
    const s = await gen.start(runId).done;
    expect(s.state).toBe('budget');
    expect(s.tokens.prompt + s.tokens.completion).toBeLessThanOrEqual(3000);
    expect(s.accepted).toBeGreaterThan(0);
    expect(s.accepted).toBeLessThan(30);
  });

  it('refuses a second process on a run whose lease is held', async () => {
    const srv = await server({ latencyMs: 50 });
    const a = setup();
    const { runId } = a.gen.create(fast(srv.url, { kinds: 'sts', languages: 'en', count: 10 }));
    const h = a.gen.start(runId);
    const b = new GenerationService(Store.open(path.join(a.dir, 'embedsmith.db')));
    await expect(b.start(runId).done).rejects.toThrow(/being worked on by another process/);
    const s = await h.done;
    expect(s).toMatchObject({ state: 'done', accepted: 10 });
  });

  it.each([
    ['in this thread', false],
    ['from the HTTP worker', true],
  ])(
    'pauses after the requests in flight and resumes to the exact count (calls %s)',
    async (_n, httpWorker) => {
      const srv = await server({ latencyMs: 20 });
      const { gen } = setup();
      const { runId } = gen.create(
        fast(srv.url, { kinds: 'sts', languages: 'en', count: 30, concurrency: 2 }),
      );
      const h = gen.start(runId, { httpWorker });
      h.on('progress', (p) => {
        if (p.accepted >= 4) h.pause();
      });
      const s = await h.done;
      expect(s.state).toBe('paused');
      expect(s.accepted).toBeLessThan(30);
      const c = await gen.start(runId).done;
      expect(c).toMatchObject({ state: 'done', accepted: 30 });
    },
  );

  it.each([
    ['in this thread', false],
    ['from the HTTP worker', true],
  ])('cancel stops at once and returns in-flight work to the queue (calls %s)', async (_n, httpWorker) => {
    const srv = await server({ latencyMs: 200 });
    const { gen, store } = setup();
    const { runId } = gen.create(fast(srv.url, { kinds: 'sts', languages: 'en', count: 10, concurrency: 4 }));
    const h = gen.start(runId, { httpWorker });
    setTimeout(() => h.cancel(), 50);
    const s = await h.done;
    expect(s.state).toBe('cancelled');
    const inflight = store.db
      .prepare(`SELECT count(*) AS n FROM generation_items WHERE run_id = ? AND state = 'in_flight'`)
      .get(runId) as { n: number };
    expect(inflight.n).toBe(0);
  });

  it('batch mode: uploads JSONL, polls, ingests, replaces failed lines, and resumes an open batch', async () => {
    let lines = 0;
    const srv = await server({
      batchPolls: 3,
      script: (call) =>
        call.via === 'batch' && promptKind(call.prompt) === 'sts' && ++lines === 1 ? { status: 500 } : 'auto',
    });
    const { gen, store } = setup();
    const { runId } = gen.create(
      fast(srv.url, { kinds: 'sts,long-short', languages: 'en,de', count: 12, batchApi: true }),
    );
    // Interrupt the first wait on a batch, as a restart would.
    const h = gen.start(runId);
    const timer = setInterval(() => {
      const r = store.db.prepare('SELECT batch_id FROM generation_runs WHERE id = ?').get(runId) as {
        batch_id: string | null;
      };
      if (r.batch_id) {
        clearInterval(timer);
        h.cancel();
      }
    }, 2);
    const first = await h.done;
    expect(first.state).toBe('cancelled');
    const open = store.db.prepare('SELECT batch_id FROM generation_runs WHERE id = ?').get(runId) as {
      batch_id: string | null;
    };
    expect(open.batch_id).toMatch(/^batch_/);
    const batchesBefore = srv.counts.batches;
    const s = await gen.start(runId).done;
    expect(s).toMatchObject({ state: 'done', accepted: 12, failed_requests: { server: 1 } });
    // Round 1 (brainstorm + sts) was collected, not sent again: only later rounds were created.
    expect(srv.counts.batches).toBeGreaterThan(batchesBefore);
    expect(srv.calls.filter((c) => c.via === 'chat')).toHaveLength(0);
    expect(srv.counts.files).toBe(srv.counts.batches);
    const bs = srv.calls.filter((c) => promptKind(c.prompt) === 'brainstorm');
    expect(bs).toHaveLength(1);
  });
});

describe('provider settings and limits', () => {
  it('talks to Azure OpenAI deployments with api-version, and sends extra headers (env: values resolved)', async () => {
    const srv = await server();
    const { gen } = setup();
    process.env.TEST_TENANT_HEADER = 'tenant-42';
    const { runId } = gen.create(
      fast(srv.url.replace(/\/v1$/, ''), {
        kinds: 'sts',
        languages: 'en',
        count: 2,
        models: 'my-deployment',
        azureApiVersion: '2024-10-21',
        headers: { 'X-Team': 'embed', 'X-Tenant': 'env:TEST_TENANT_HEADER' },
      }),
    );
    const s = await gen.start(runId, { apiKey: 'azure-key' }).done;
    expect(s).toMatchObject({ state: 'done', accepted: 2 });
    const c = srv.calls[0];
    expect(c.path).toMatch(
      /^\/openai\/deployments\/my-deployment\/chat\/completions\?api-version=2024-10-21$/,
    );
    expect(c.headers?.['api-key']).toBe('azure-key');
    expect(c.headers?.['x-team']).toBe('embed');
    expect(c.headers?.['x-tenant']).toBe('tenant-42');
    expect(c.body.temperature).toBe(1);
    expect(c.body.top_p).toBe(1);
  });

  it('keeps to the requests-per-minute limit', async () => {
    const srv = await server();
    const { gen } = setup();
    // 1200 rpm = 20/s with at most one second of burst: 40 requests need about a second or more.
    const { runId } = gen.create(
      fast(srv.url, { kinds: 'sts', languages: 'en', count: 40, concurrency: 16, rpm: 1200 }),
    );
    const t0 = Date.now();
    const s = await gen.start(runId).done;
    expect(s.accepted).toBe(40);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const first = srv.calls[0].at;
    expect(srv.calls.filter((c) => c.at - first < 500).length).toBeLessThanOrEqual(31);
  });
});

describe('RateLimiter', () => {
  it('makes requests wait once the minute budget of requests or tokens is used', async () => {
    const { RateLimiter } = await import('../../../src/main/generation/ratelimit');
    const r = new RateLimiter(60, undefined);
    expect(r.take(0)).toBe(0);
    expect(r.take(0)).toBeGreaterThan(900);
    const t = new RateLimiter(undefined, 6000);
    expect(t.take(100)).toBe(0);
    expect(t.take(100)).toBeGreaterThan(900);
  });
});

describe('brainstorm failures', () => {
  it('a refused or unreadable brainstorm is replaced, and its examples still come', async () => {
    let b = 0;
    const srv = await server({
      script: (call) => {
        if (promptKind(call.prompt) !== 'brainstorm') return 'auto';
        b++;
        if (b === 1) return { content: "I'm sorry, but I can't help with that." };
        if (b === 2) return { content: 'Here are some ideas, in no particular order, that might work.' };
        if (b === 3)
          return {
            content:
              '1. Given a recipe title, find the full recipe.\n2. Given a symptom, find a medical article.',
          };
        return 'auto';
      },
    });
    const { gen, store } = setup();
    const { runId } = gen.create(fast(srv.url, { kinds: 'short-short', languages: 'en', count: 4 }));
    const s = await gen.start(runId).done;
    expect(s).toMatchObject({ state: 'done', accepted: 4, rejected: { refusal: 1, malformed_json: 1 } });
    const tasks = store.db.prepare('SELECT text FROM tasks WHERE run_id = ? ORDER BY id').all(runId) as {
      text: string;
    }[];
    expect(tasks.map((t) => t.text)).toEqual([
      'Given a recipe title, find the full recipe.',
      'Given a symptom, find a medical article.',
    ]);
    // Two tasks for four examples: each used twice, never twice in a row before the other.
    const used = store.db
      .prepare(`SELECT task_id FROM examples WHERE run_id = ? AND status != 'rejected' ORDER BY id`)
      .all(runId) as { task_id: number }[];
    expect(used).toHaveLength(4);
    expect(used[0].task_id).not.toBe(used[1].task_id);
  });
});

describe('control from another process', () => {
  it('`runs cancel` reaches the process working the run at its next lease renewal', async () => {
    const srv = await server({ latencyMs: 30 });
    const a = setup();
    const { runId } = a.gen.create(
      fast(srv.url, { kinds: 'sts', languages: 'en', count: 200, concurrency: 2, leaseTtlMs: 300 }),
    );
    const h = a.gen.start(runId);
    await new Promise((r) => setTimeout(r, 150));
    const other = Store.open(path.join(a.dir, 'embedsmith.db'));
    stores.push(other);
    new GenerationService(other).request(runId, 'cancelled');
    const s = await h.done;
    expect(s.state).toBe('cancelled');
    expect(s.accepted).toBeLessThan(200);
  });
});
