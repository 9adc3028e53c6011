import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GenerationService } from '../../../src/main/generation';
import { Store } from '../../../src/main/store';
import {
  type ChatCall,
  type LlmServer,
  type Reply,
  autoAnswer,
  startLlmServer,
} from '../../helpers/llm-server';
import { tmpDir } from '../../helpers/tmp';

// The per-cell attempt budget: a cell the model cannot fill ends short, the run still ends done.
const servers: LlmServer[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const s of stores.splice(0)) s.close();
});

const german = (c: ChatCall) => /Write all three texts in German\./.test(c.prompt);

/** sts in English and German; the German answers come back in English while `broken` holds. */
async function setup(state: { broken: boolean }) {
  const srv = await startLlmServer({
    script: (c): Reply =>
      state.broken && german(c)
        ? {
            content: autoAnswer(
              c.prompt.replace('Write all three texts in German.', 'Write all three texts in English.'),
            ),
          }
        : 'auto',
  });
  servers.push(srv);
  const dir = tmpDir();
  const store = Store.open(path.join(dir, 'embedsmith.db'));
  stores.push(store);
  store.datasets.create('d');
  return { srv, dir, store, gen: new GenerationService(store) };
}

const opts = (url: string, maxAttemptsPerCell?: number) => ({
  dataset: 'd',
  count: 6,
  kinds: 'sts',
  languages: 'en,de',
  models: 'test-model',
  baseUrl: url,
  concurrency: 2,
  seed: 3,
  backoffBaseMs: 5,
  leaseTtlMs: 2000,
  maxAttemptsPerCell,
});

describe('per-cell attempt budget', () => {
  it('a cell the server never satisfies ends short after exactly its budget of requests; --retry-short fills it', async () => {
    const state = { broken: true };
    const { srv, gen } = await setup(state);
    const { runId } = gen.create(opts(srv.url, 4));
    const s = await gen.start(runId).done;
    expect(s.state).toBe('done');
    expect(s.accepted).toBe(3);
    expect(srv.calls.filter(german)).toHaveLength(4);
    expect(s.shortfall).toEqual([
      {
        kind: 'sts',
        language: 'de',
        accepted: 0,
        quota: 3,
        attempts: 4,
        budget: 4,
        reasons: [{ reason: 'wrong_language', n: 4 }],
      },
    ]);
    // A done run with short cells is not started again by accident, only with retryShort.
    expect(() => gen.start(runId)).toThrow(/--retry-short/);
    state.broken = false;
    const again = await gen.start(runId, { retryShort: true }).done;
    expect(again).toMatchObject({ state: 'done', accepted: 6 });
    expect(again.shortfall).toBeUndefined();
    expect(srv.calls.filter(german)).toHaveLength(4 + 3);
    expect(() => gen.start(runId, { retryShort: true })).toThrow(/no cell is short/);
  });

  it('the default budget is a few times the quota (3×, at least 5)', async () => {
    const { srv, gen } = await setup({ broken: true });
    const { runId } = gen.create(opts(srv.url));
    const s = await gen.start(runId).done;
    expect(s.state).toBe('done');
    expect(srv.calls.filter(german)).toHaveLength(9);
    expect(s.shortfall?.[0]).toMatchObject({ language: 'de', attempts: 9, budget: 9 });
  });
});
