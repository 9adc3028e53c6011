import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { registerDatasets } from '../../../src/main/cli/datasets';
import { registerGenerate } from '../../../src/main/cli/generate';
import {
  autoAnswer,
  type ChatCall,
  gate,
  type LlmServer,
  promptKind,
  type Reply,
  startLlmServer,
} from '../../helpers/llm-server';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');
const servers: LlmServer[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const s of servers.splice(0)) await s.close();
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/**
 * Polls the workspace database (25 ms apart) until a run has stored at least `min` accepted or unreviewed
 * examples; returns its id, or '' if the process ended first. No time limit of its own: a busy machine is
 * slow, not wrong (the test's timeout still bounds it).
 */
async function runWithStored(dbFile: string, min: number, child: ChildProcess): Promise<string> {
  while (child.exitCode === null && child.signalCode === null) {
    await new Promise((r) => setTimeout(r, 25));
    try {
      const db = new Database(dbFile, { readonly: true });
      const r = db
        .prepare(`SELECT run_id, count(*) AS n FROM examples WHERE status != 'rejected' GROUP BY run_id`)
        .get() as { run_id: string; n: number } | undefined;
      db.close();
      if (r && r.n >= min) return r.run_id;
    } catch {
      // the database may not exist yet
    }
  }
  return '';
}

/** Our commands in this process (fast, and independent of other areas' commands), capturing stdout. */
async function main(args: string[]): Promise<number> {
  const program = new Command('embedsmith').exitOverride();
  registerDatasets(program);
  registerGenerate(program);
  await program.parseAsync(args, { from: 'user' });
  return 0;
}

const KEY = { OPENAI_API_KEY: 'sk-test' };
const ASSAMESE_SHORT_LONG = (c: ChatCall) =>
  promptKind(c.prompt) === 'short-long' && /Write every value in Assamese\./.test(c.prompt);

let capturedStdout = '';
async function inProcess(args: string[]) {
  let stdout = '';
  capturedStdout = '';
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    capturedStdout = stdout;
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await main(args);
    return { code, stdout };
  } finally {
    process.stdout.write = orig;
  }
}

describe('embedsmith generate / runs (real CLI)', () => {
  it('--dry-run prints the coverage matrix, calls, tokens and cost without sending anything', async () => {
    const home = tmpDir();
    expect((await inProcess(['datasets', 'create', 'd', '--home', home])).code).toBe(0);
    const r = await inProcess([
      'generate',
      '--home',
      home,
      '--dataset',
      'd',
      '--count',
      '1000',
      '--models',
      'gpt-4o=0.75,gpt-4o-mini=0.25',
      '--dry-run',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const plan = out.plan;
    expect(plan.count).toBe(1000);
    expect(plan.cells.reduce((s: number, c: { quota: number }) => s + c.quota, 0)).toBe(1000);
    // Largest remainder over the paper mix 167:122:13:17:99:89.
    expect(plan.byKind).toEqual({
      'short-long': 329,
      'long-short': 241,
      'short-short': 26,
      'long-long': 33,
      sts: 195,
      bitext: 176,
    });
    expect(plan.byLanguage.en).toBe(433);
    expect(plan.brainstormCalls).toEqual({
      'short-long': 5,
      'long-short': 4,
      'short-short': 1,
      'long-long': 1,
    });
    expect(plan.calls.min).toBe(1011);
    expect(plan.costUsd).toBeGreaterThan(0);
    expect(plan.unpricedModels).toEqual([]);
    expect(out.config.apiKeyEnv).toBe('OPENAI_API_KEY');
    const human = await inProcess([
      'generate',
      '--home',
      home,
      '--dataset',
      'd',
      '--count',
      '50',
      '--models',
      'gpt-4o',
      '--dry-run',
    ]);
    expect(human.stdout).toMatch(/cost \(expected\): \$\d/);
    expect(human.stdout).toMatch(/brainstorm calls: short-long 1/);
    const db = new Database(path.join(home, 'embedsmith.db'), { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM generation_runs').get() as { n: number }).n).toBe(0);
    db.close();
  });

  it('a refused API key fails the run with exit status 1 and a summary; a missing key variable stores nothing', async () => {
    const srv = await startLlmServer({ script: () => ({ status: 401, message: 'invalid api key' }) });
    servers.push(srv);
    const home = tmpDir();
    await inProcess(['datasets', 'create', 'd', '--home', home]);
    const args = [
      'generate',
      '--home',
      home,
      '--dataset',
      'd',
      '--kinds',
      'sts',
      '--languages',
      'en',
      '--count',
      '3',
      '--models',
      'm',
    ];
    let out = '';
    await expect(
      inProcess([...args, '--base-url', srv.url, '--json']).catch((e) => {
        out = capturedStdout;
        throw e;
      }),
    ).rejects.toThrow(/failed: the server refused the API key/);
    expect(JSON.parse(out)).toMatchObject({ state: 'failed', accepted: 0, failed_requests: { auth: 1 } });
    await expect(inProcess([...args, '--api-key-env', 'EMBEDSMITH_TEST_UNSET_KEY'])).rejects.toThrow(
      /\$EMBEDSMITH_TEST_UNSET_KEY is not set/,
    );
    const db = new Database(path.join(home, 'embedsmith.db'), { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM generation_runs').get() as { n: number }).n).toBe(1);
    db.close();
  });

  it('a run of 1,000+ (check and HTTP worker threads) survives kill -9 and --resume finishes it, exit 0', async () => {
    // Calls after the 300th wait until the first process is killed, so it cannot finish first.
    const later = gate();
    const srv = await startLlmServer({ latencyMs: 20, hold: (c) => (c.n >= 300 ? later.wait() : undefined) });
    servers.push(srv);
    const home = tmpDir();
    expect((await inProcess(['datasets', 'create', 'd', '--home', home])).code).toBe(0);
    const count = 1000;
    const args = ['--kinds', 'sts', '--languages', 'en', '--count', String(count), '--models', 'm'];
    const first = cli(
      [
        'generate',
        '--home',
        home,
        '--dataset',
        'd',
        ...args,
        '--base-url',
        srv.url,
        '--concurrency',
        '32',
        '--json',
      ],
      { OPENAI_API_KEY: 'sk-test' },
    );
    const dbFile = path.join(home, 'embedsmith.db');
    const runId = await runWithStored(dbFile, 100, first.child);
    expect(runId).not.toBe('');
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    later.open();
    const resumed = await cli(['generate', '--home', home, '--resume', runId, '--json'], {
      OPENAI_API_KEY: 'sk-test',
    }).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ run: runId, state: 'done', accepted: count });
    const db = new Database(dbFile, { readonly: true });
    const rows = db
      .prepare(
        `SELECT count(*) AS n, count(DISTINCT content_hash) AS u FROM examples WHERE run_id = ? AND status != 'rejected' AND surplus = 0`,
      )
      .get(runId) as { n: number; u: number };
    db.close();
    expect(rows).toEqual({ n: count, u: count });
  });

  it('survives kill -9 mid-run: --resume reaches the exact count with no duplicates', async () => {
    // Calls after the 30th wait until the first process is killed: it is always killed mid-run.
    const later = gate();
    const srv = await startLlmServer({ latencyMs: 40, hold: (c) => (c.n >= 30 ? later.wait() : undefined) });
    servers.push(srv);
    const home = tmpDir();
    expect((await inProcess(['datasets', 'create', 'd', '--home', home])).code).toBe(0);
    const count = 60;
    const first = cli(
      [
        'generate',
        '--home',
        home,
        '--dataset',
        'd',
        '--kinds',
        'sts,short-short,bitext',
        '--languages',
        'en,de,fr',
        '--count',
        String(count),
        '--models',
        'm1=0.5,m2=0.5',
        '--base-url',
        srv.url,
        '--api-key-env',
        'TEST_LLM_KEY',
        '--concurrency',
        '4',
        '--seed',
        '7',
        '--json',
      ],
      { TEST_LLM_KEY: 'sk-test-secret-123' },
    );
    const dbFile = path.join(home, 'embedsmith.db');
    // Wait until some but not all examples are stored, then SIGKILL the process.
    const runId = await runWithStored(dbFile, 15, first.child);
    expect(runId).not.toBe('');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    later.open();
    const before = new Database(dbFile, { readonly: true });
    const mid = (
      before
        .prepare(`SELECT count(*) AS n FROM examples WHERE run_id = ? AND status != 'rejected'`)
        .get(runId) as { n: number }
    ).n;
    before.close();
    expect(mid).toBeLessThan(count);

    const resumed = await cli(['generate', '--home', home, '--resume', runId, '--json'], {
      TEST_LLM_KEY: 'sk-test-secret-123',
    }).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    const s = JSON.parse(resumed.stdout);
    expect(s).toMatchObject({ run: runId, state: 'done', accepted: count });
    expect(Object.keys(s)).toEqual(
      expect.arrayContaining([
        'run',
        'state',
        'accepted',
        'rejected',
        'requests',
        'retries',
        'failed_requests',
        'tokens',
        'cost_usd',
        'by_kind',
        'by_language',
      ]),
    );
    const db = new Database(dbFile, { readonly: true });
    const rows = db
      .prepare(
        `SELECT kind, query, positive, coalesce(language, src_lang) AS lang, src_lang, tgt_lang, surplus FROM examples WHERE run_id = ? AND status != 'rejected'`,
      )
      .all(runId) as {
      kind: string;
      query: string;
      positive: string;
      lang: string;
      src_lang: string | null;
      tgt_lang: string | null;
      surplus: number;
    }[];
    expect(rows.filter((r) => !r.surplus)).toHaveLength(count);
    expect(new Set(rows.map((r) => `${r.query}\u0000${r.positive}`)).size).toBe(rows.length);
    for (const r of rows.filter((x) => x.kind === 'bitext')) expect(r.src_lang).not.toBe(r.tgt_lang);
    // Every cell met its quota exactly.
    const plan = JSON.parse(
      (db.prepare('SELECT plan_json FROM generation_runs WHERE id = ?').get(runId) as { plan_json: string })
        .plan_json,
    );
    for (const c of plan.cells as { kind: string; language: string; quota: number }[])
      expect(rows.filter((r) => !r.surplus && r.kind === c.kind && r.lang === c.language)).toHaveLength(
        c.quota,
      );
    // The key is never stored; the variable name is.
    const run = db.prepare('SELECT * FROM generation_runs WHERE id = ?').get(runId) as {
      config_json: string;
      lease_owner: string | null;
    };
    expect(run.config_json).not.toContain('sk-test-secret-123');
    expect(JSON.parse(run.config_json).apiKeyEnv).toBe('TEST_LLM_KEY');
    expect(run.lease_owner).toBeNull();
    const dump = db
      .prepare(
        "SELECT group_concat(coalesce(raw_answer, '') || coalesce(error, '')) AS t FROM generation_requests",
      )
      .get() as { t: string | null };
    expect(dump.t ?? '').not.toContain('sk-test-secret-123');
    db.close();

    const list = await inProcess(['runs', 'list', '--home', home, '--json']);
    expect(JSON.parse(list.stdout).runs[0]).toMatchObject({ id: runId, state: 'done', accepted: count });
    const show = await inProcess(['runs', 'show', runId, '--home', home]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`run ${runId}: done`));
    expect(show.stdout).toMatch(/key from \$TEST_LLM_KEY/);
  });

  it('--resume after kill -9 with a cell starved by the server ends done with that cell short, never waits with nothing on the wire', async () => {
    // The server is overloaded for one cell: every call for it gets a 429 asking to come back in an hour.
    const srv = await startLlmServer({
      latencyMs: 10,
      script: (c): Reply =>
        ASSAMESE_SHORT_LONG(c) ? { status: 429, headers: { 'retry-after': '3600' } } : 'auto',
    });
    servers.push(srv);
    const home = tmpDir();
    expect((await inProcess(['datasets', 'create', 'd', '--home', home])).code).toBe(0);
    const first = cli(
      [
        'generate',
        '--home',
        home,
        '--dataset',
        'd',
        '--kinds',
        'short-long,sts',
        '--languages',
        'en=0.85,as=0.15',
        '--count',
        '40',
        '--models',
        'm',
        '--base-url',
        srv.url,
        '--concurrency',
        '4',
        '--seed',
        '5',
        '--json',
      ],
      KEY,
    );
    const dbFile = path.join(home, 'embedsmith.db');
    const runId = await runWithStored(dbFile, 8, first.child);
    expect(runId).not.toBe('');
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const starvedBefore = srv.calls.filter(ASSAMESE_SHORT_LONG).length;

    // Retries wait at most --backoff-max-ms, whatever Retry-After says; the cell then uses its budget.
    const resumed = cli([
      'generate',
      '--home',
      home,
      '--resume',
      runId,
      '--max-retries',
      '1',
      '--backoff-max-ms',
      '30',
      '--json',
    ]);
    const r = await Promise.race([
      resumed.done,
      new Promise<null>((res) => setTimeout(() => res(null), 60_000)),
    ]);
    if (r === null) {
      const db = new Database(dbFile, { readonly: true });
      const open = db
        .prepare(
          `SELECT kind, language, state, attempts, task_id FROM generation_items WHERE run_id = ? AND state IN ('pending','in_flight')`,
        )
        .all(runId);
      db.close();
      expect.fail(`the resumed run is still waiting after 60 s; open items: ${JSON.stringify(open)}`);
    }
    expect(r!.code, r!.stderr).toBe(0);
    const s = JSON.parse(r!.stdout);
    expect(s.state).toBe('done');
    const db = new Database(dbFile, { readonly: true });
    const plan = JSON.parse(
      (db.prepare('SELECT plan_json FROM generation_runs WHERE id = ?').get(runId) as { plan_json: string })
        .plan_json,
    ) as { cells: { kind: string; language: string; quota: number }[] };
    db.close();
    const starved = plan.cells.find((c) => c.kind === 'short-long' && c.language === 'as')!;
    // Every other cell is full; the starved one is the only short cell, its budget used by rate-limit failures.
    expect(s.accepted).toBe(40 - starved.quota);
    const budget = Math.max(5, 3 * starved.quota);
    expect(s.shortfall).toEqual([
      {
        kind: 'short-long',
        language: 'as',
        accepted: 0,
        quota: starved.quota,
        attempts: budget,
        budget,
        reasons: [{ reason: 'rate_limit', n: budget }],
      },
    ]);
    // Each of its items was asked twice (one retry) over both processes; the killed one may have left one
    // item's requests unstored.
    const starvedCalls = srv.calls.filter(ASSAMESE_SHORT_LONG).length;
    expect(starvedCalls - starvedBefore).toBeGreaterThan(0);
    expect(s.failed_requests).toEqual({ rate_limit: budget });
  }, 120_000);

  it('prints the short cells with --retry-short; --dry-run warns about a language the model wrote badly before', async () => {
    // German sts answers come back in English: the German cell uses its budget of 10 and ends short.
    const srv = await startLlmServer({
      script: (c): Reply =>
        /Write all three texts in German\./.test(c.prompt)
          ? { content: autoAnswer(c.prompt.replace('in German.', 'in English.')) }
          : 'auto',
    });
    servers.push(srv);
    const home = tmpDir();
    await inProcess(['datasets', 'create', 'd', '--home', home]);
    const common = ['--home', home, '--dataset', 'd', '--models', 'test-model'];
    const run = await inProcess([
      'generate',
      ...common,
      '--kinds',
      'sts',
      '--languages',
      'en,de',
      '--count',
      '6',
      '--base-url',
      srv.url,
      '--max-attempts-per-cell',
      '10',
      '--backoff-ms',
      '5',
    ]);
    expect(run.stdout).toMatch(/: done/);
    expect(run.stdout).toMatch(/accepted 3, 3 short/);
    expect(run.stdout).toMatch(/short cells \(attempt budget used, quota not met\): 1/);
    expect(run.stdout).toMatch(/sts\s+│?\s*de\s+│?\s*0\/3\s+│?\s*10\/10\s+│?\s*wrong_language 10/);
    expect(run.stdout).toMatch(/--resume gen-\S+ --retry-short/);
    const warnings = async (models: string) =>
      JSON.parse(
        (
          await inProcess([
            'generate',
            ...common,
            '--models',
            models,
            '--count',
            '50',
            '--languages',
            'en,de,fr',
            '--dry-run',
            '--json',
          ])
        ).stdout,
      ).warnings;
    expect(await warnings('test-model')).toEqual([
      'test-model in de: 100% of 10 earlier answers rejected (mostly wrong_language); expect short cells, or drop it from --languages',
    ]);
    // A model without history here gets no warning.
    expect(await warnings('gpt-4o')).toEqual([]);
  });
});
