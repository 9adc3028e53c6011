import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TrainingRunInfo } from '../../../src/shared/contract';
import { type Api, createApi } from '../../../src/main/api';
import { Store } from '../../../src/main/store';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import { FIXTURES, REPO_ROOT, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from '../training/synthetic';

// Issue #21 items 9 and 11 through the app's API: a run whose process was killed is "interrupted" on the
// next start-up, resumable and cancellable; a failed resume stays resumable; a diverging run fails clearly.
const MODEL = path.join(FIXTURES, 'parity/mistral');
const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');

let wb: Workbench | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  wb?.close();
  wb = undefined;
});

function makeHome(): string {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(200, 5));
  store.close();
  return home;
}

/** Polls until `ok` holds (a cap, not a timing assertion: the check itself decides). */
async function until<T>(get: () => T | Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 6000; i++) {
    const v = await get();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A long CLI run (the same service the app uses) SIGKILLed once its first checkpoint is complete. */
async function killedRun(home: string): Promise<string> {
  const out = path.join(home, 'runs', 'killed');
  const child = spawn(
    process.execPath,
    [
      BIN,
      'train',
      '--home',
      home,
      '--dataset',
      'syn',
      '--model',
      MODEL,
      '--encoder',
      'reference',
      '--batch-size',
      '2',
      '--chunk-size',
      '2',
      '--warmup',
      '1',
      '--epochs',
      '1000',
      '--max-length',
      '16',
      '--checkpoint-every',
      '5',
      '--out',
      out,
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  await until(
    () => fs.existsSync(path.join(out, 'checkpoints/step-000005')),
    Boolean,
    'the first checkpoint',
  );
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return out;
}

function open(home: string): Api {
  wb = openWorkbench({ home });
  return createApi(wb, { transport: 'http' });
}

const runOf = async (api: Api, id: string) =>
  (await api.caller.training.list()).find((r) => r.id === id) as TrainingRunInfo;

/** A real `serve` (test/main/serve/serve-child.ts) in its own process: {origin, token} once it listens. */
async function serveChild(home: string): Promise<{ child: ChildProcess; origin: string; token: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'test/main/serve/serve-child.ts'), home],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code})`)));
  });
  return { child, ...(JSON.parse(line) as { origin: string; token: string }) };
}

describe('training runs whose process is gone', () => {
  it('a run started through `serve` stays "running" no longer once the server is SIGKILLed and restarted', async () => {
    const home = makeHome();
    const srv = await serveChild(home);
    const res = await fetch(`${srv.origin}/trpc/training.start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        datasets: ['syn'],
        model: MODEL,
        encoder: 'reference',
        batchSize: 2,
        chunkSize: 2,
        epochs: 1000,
        maxLength: 16,
        warmup: 1,
        checkpointEvery: 5,
      }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const runId = ((await res.json()) as { result: { data: { runId: string } } }).result.data.runId;
    const out = path.join(home, 'runs', runId);
    await until(() => fs.existsSync(path.join(out, 'checkpoints/step-000005')), Boolean, 'a checkpoint');
    srv.child.kill('SIGKILL');
    await new Promise((r) => srv.child.once('exit', r));
    const api = open(home);
    const r = await runOf(api, runId);
    expect(r.state).toBe('interrupted');
    expect(r.resumable).toBe(true);
    await api.caller.training.cancel({ runId });
    expect((await runOf(api, runId)).state).toBe('cancelled');
  }, 180_000);

  it('are interrupted at start-up, then resume from the app and cancel with a checkpoint', async () => {
    const home = makeHome();
    const out = await killedRun(home);
    const before = Store.open(path.join(home, 'embedsmith.db'));
    const row = before.db.prepare('SELECT id, state FROM training_runs').get() as {
      id: string;
      state: string;
    };
    before.close();
    expect(row.state).toBe('running');

    const api = open(home);
    const r = await runOf(api, row.id);
    expect(r.state).toBe('interrupted');
    expect(r.resumable).toBe(true);
    expect(r.error).toMatch(/interrupted: the process running it is gone/);
    const job = wb?.store.db.prepare("SELECT state, error FROM jobs WHERE type = 'training'").get() as {
      state: string;
      error: string;
    };
    expect(job.state).toBe('interrupted');
    expect(job.error).toMatch(/^interrupted: the process running it \(pid \d+\) is gone/);

    await api.caller.training.resume({ runId: row.id });
    const moving = await until(
      () => runOf(api, row.id),
      (x) => x.state === 'running' && x.step > 10,
      'the resumed run to train',
    );
    expect(moving.step).toBeGreaterThan(10);
    await api.caller.training.cancel({ runId: row.id });
    const stopped = await until(
      () => runOf(api, row.id),
      (x) => x.state === 'cancelled',
      'the cancel',
    );
    expect(stopped.resumable).toBe(true);
    const steps = fs
      .readFileSync(path.join(out, 'train.log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { step: number }).step);
    // One continuous curve: the resume rewrote what came after step 5, nothing twice, nothing missing.
    expect(steps).toEqual(steps.map((_, i) => i + 1));
    expect(fs.existsSync(path.join(out, '.lock'))).toBe(false);
  }, 180_000);

  it('an interrupted run is cancelled from the app; a failed resume leaves it interrupted with its error', async () => {
    const home = makeHome();
    const out = await killedRun(home);
    // Break every checkpoint (a fast machine writes more than step 5 before the kill lands): the resume must
    // fail, and the run must stay resumable once repaired.
    const states = fs
      .readdirSync(path.join(out, 'checkpoints'))
      .filter((d) => d.startsWith('step-'))
      .map((d) => path.join(out, 'checkpoints', d, 'trainer_state.json'));
    const good = states.map((s) => fs.readFileSync(s, 'utf8'));
    for (const s of states) fs.writeFileSync(s, '{"step": 5,');
    const api = open(home);
    const [run] = await api.caller.training.list();
    expect(run.state).toBe('interrupted');
    await api.caller.training.resume({ runId: run.id });
    const failed = await until(
      () => runOf(api, run.id),
      (x) => x.state !== 'running' && x.error !== null && !x.error.startsWith('interrupted:'),
      'the resume to fail',
    );
    expect(failed.state).toBe('interrupted');
    expect(failed.error).toMatch(
      /^cannot resume .*no usable checkpoint \(newest step-\d{6}: .*not valid JSON/,
    );
    states.forEach((s, i) => {
      fs.writeFileSync(s, good[i]);
    });
    expect((await runOf(api, run.id)).resumable).toBe(true);
    await api.caller.training.cancel({ runId: run.id });
    expect((await runOf(api, run.id)).state).toBe('cancelled');
  }, 180_000);

  it('loraAlpha 1e308 through the API: the run fails at step 1 naming the value, no adapter', async () => {
    const api = open(makeHome());
    const { runId } = await api.caller.training.start({
      datasets: ['syn'],
      model: MODEL,
      encoder: 'reference',
      loraAlpha: 1e308,
      batchSize: 8,
      chunkSize: 8,
      maxSteps: 5,
      maxLength: 16,
      warmup: 1,
    });
    const r = await until(
      () => runOf(api, runId),
      (x) => x.state !== 'running',
      'the run to end',
    );
    expect(r.state).toBe('failed');
    expect(r.error).toMatch(/^training stopped at step 1: the (loss|gradient norm) is \S+ \(non-finite\)/);
    expect(r.adapterDir).toBeNull();
    expect(fs.existsSync(path.join(r.outDir, 'adapter'))).toBe(false);
  }, 60_000);
});
