import path from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { registerGenerate } from '../../../src/main/cli/generate';
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

  it('the CLI prints the shortfall table; --dry-run warns about a language this model wrote badly before', async () => {
    const { srv, dir } = await setup({ broken: true });
    const out = await cliText([
      'generate',
      '--home',
      dir,
      '--dataset',
      'd',
      '--kinds',
      'sts',
      '--languages',
      'en,de',
      '--count',
      '6',
      '--models',
      'test-model',
      '--base-url',
      srv.url,
      '--max-attempts-per-cell',
      '10',
      '--backoff-ms',
      '5',
    ]);
    expect(out).toMatch(/: done/);
    expect(out).toMatch(/accepted 3, 3 short/);
    expect(out).toMatch(/short cells \(attempt budget used, quota not met\): 1/);
    expect(out).toMatch(/sts\s+│?\s*de\s+│?\s*0\/3\s+│?\s*10\/10\s+│?\s*wrong_language 10/);
    expect(out).toMatch(/--resume gen-\S+ --retry-short/);
    const plan = JSON.parse(
      await cliText([
        'generate',
        '--home',
        dir,
        '--dataset',
        'd',
        '--count',
        '50',
        '--languages',
        'en,de,fr',
        '--models',
        'test-model',
        '--dry-run',
        '--json',
      ]),
    );
    expect(plan.warnings).toEqual([
      'test-model in de: 100% of 10 earlier answers rejected (mostly wrong_language); expect short cells, or drop it from --languages',
    ]);
    // Another model has no history: no warning.
    const other = JSON.parse(
      await cliText([
        'generate',
        '--home',
        dir,
        '--dataset',
        'd',
        '--count',
        '50',
        '--languages',
        'en,de',
        '--models',
        'gpt-4o',
        '--dry-run',
        '--json',
      ]),
    );
    expect(other.warnings).toEqual([]);
  });
});

/** Runs our command in this process; returns what it printed on stdout. */
async function cliText(args: string[]): Promise<string> {
  const program = new Command('embedsmith').exitOverride();
  registerGenerate(program);
  let stdout = '';
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    process.stdout.write = orig;
  }
  return stdout;
}
