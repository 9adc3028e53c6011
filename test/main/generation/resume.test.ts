import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatCall,
  type LlmServer,
  type Reply,
  promptKind,
  startLlmServer,
} from '../../helpers/llm-server';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

// kill -9 and --resume through the real CLI, against a server that starves one cell.
const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');
const servers: LlmServer[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const s of servers.splice(0)) await s.close();
});

function cli(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, OPENAI_API_KEY: 'sk-test' },
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
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** Polls (25 ms apart) until a run has stored `min` kept examples; its id, or '' if the process ended. */
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

const ASSAMESE_SHORT_LONG = (c: ChatCall) =>
  promptKind(c.prompt) === 'short-long' && /Write every value in Assamese\./.test(c.prompt);

describe('generate --resume after kill -9 with a starved cell (real CLI)', () => {
  it('ends done with the starved cell short instead of waiting with nothing on the wire', async () => {
    // The server is overloaded for one cell: every call for it gets a 429 asking to come back in an hour.
    const srv = await startLlmServer({
      latencyMs: 10,
      script: (c): Reply =>
        ASSAMESE_SHORT_LONG(c) ? { status: 429, headers: { 'retry-after': '3600' } } : 'auto',
    });
    servers.push(srv);
    const home = tmpDir();
    const mk = await cli(['datasets', 'create', 'd', '--home', home]).done;
    expect(mk.code, mk.stderr).toBe(0);
    const first = cli([
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
    ]);
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
});
