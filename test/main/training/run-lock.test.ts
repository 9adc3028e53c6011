import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/main/store';
import { lockRunDir, runLockHolder } from '../../../src/main/training/run-lock';
import { FIXTURES, REPO_ROOT, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

// Issue #21 item 8: two trainers on one run folder, as real processes.
const MODEL = path.join(FIXTURES, 'parity/mistral');
const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');

function makeHome(): string {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(200, 5));
  store.close();
  return home;
}

/** A run that lasts until killed (the reference encoder, 100,000 steps, no checkpoints). */
const longRun = (home: string) => [
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
  '--max-steps',
  '1000000',
  '--max-length',
  '16',
  '--checkpoint-every',
  '0',
];

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
});

/** Starts a trainer and resolves once it has taken the run (its log file appears), or rejects if it exits. */
async function startTrainer(args: string[], runDir: string): Promise<ChildProcess> {
  const log = path.join(runDir, 'train.log.jsonl');
  fs.rmSync(log, { force: true });
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (fs.existsSync(log) && fs.statSync(log).size > 0) {
        clearInterval(t);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(t);
      reject(new Error(`trainer exited (${code}) before training: ${err}`));
    });
  });
  return child;
}

async function kill(c: ChildProcess) {
  c.kill('SIGKILL');
  if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
}

const second = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  return { code: r.status, signal: r.signal, stderr: String(r.stderr) };
};

describe('one trainer per run folder', () => {
  it('a second `train --out X` and a second `--resume X` fail in one line naming the holder pid; a dead holder is stale', async () => {
    const home = makeHome();
    const run = path.join(home, 'run');
    const a = await startTrainer([...longRun(home), '--out', run], run);
    const b = second([...longRun(home), '--out', run]);
    expect(b.signal, 'the second trainer ran instead of refusing').toBeNull();
    expect(b.code).not.toBe(0);
    expect(b.stderr.trim().split('\n').length, b.stderr).toBe(1);
    expect(b.stderr).toContain(`pid ${a.pid}`);
    await kill(a);

    // A's lock is stale now (its pid is gone): a resume takes the folder over.
    const c = await startTrainer(['train', '--home', home, '--resume', run], run);
    expect(runLockHolder(run)?.pid).toBe(c.pid);
    const d = second(['train', '--home', home, '--resume', run]);
    expect(d.signal, 'the second resume ran instead of refusing').toBeNull();
    expect(d.code).not.toBe(0);
    expect(d.stderr.trim().split('\n').length, d.stderr).toBe(1);
    expect(d.stderr).toContain(`pid ${c.pid}`);
    // The refused resume touched nothing: the holder is still training into its own log.
    expect(runLockHolder(run)?.pid).toBe(c.pid);
    await kill(c);
  }, 180_000);

  it('release removes only its own lock; a lock of a dead pid is taken over', () => {
    const dir = tmpDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    fs.writeFileSync(
      path.join(dir, '.lock'),
      JSON.stringify({ pid: dead, host: os.hostname(), token: 'x', since: 'then' }),
    );
    expect(runLockHolder(dir)).toBeNull();
    const l = lockRunDir(dir);
    expect(runLockHolder(dir)?.pid).toBe(process.pid);
    expect(() => lockRunDir(dir)).toThrow(`pid ${process.pid}`);
    l.release();
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false);
  });
});
