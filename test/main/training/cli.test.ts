import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { Store } from '../../../src/main/store';
import { parseTrainConfig, queryFormatter } from '../../../src/main/training/config';
import { loadTrainRows } from '../../../src/main/training/data';
import { loadEncoder, lossFor } from '../../../src/main/training/job';
import { readRunJson, runTraining } from '../../../src/main/training/trainer';
import { FIXTURES, REPO_ROOT, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');
const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');

function makeHome(): string {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  const ds = store.datasets.create('syn');
  store.examples.insertMany(ds.id, syntheticTask(160, 5));
  const nosplit = store.datasets.create('nosplit');
  store.examples.insertMany(
    nosplit.id,
    syntheticTask(20, 6).map((e) => ({ ...e, split: null })),
  );
  store.close();
  return home;
}

describe('embedsmith train: bad configurations fail before any work, naming the flag', () => {
  let stderr = '';
  beforeEach(() => {
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  const cases: [string, string[], string][] = [
    ['rank 0', ['--lora-rank', '0'], '--lora-rank'],
    ['unknown target module', ['--target-modules', 'q_proj,qkv_fused'], '--target-modules'],
    ['chunk larger than batch', ['--batch-size', '8', '--chunk-size', '16'], '--chunk-size'],
    ['max length below the instruction', ['--max-length', '6'], '--max-length'],
    ['not a number', ['--lr', 'fast'], '--lr'],
    ['batch larger than the split', ['--batch-size', '1000', '--chunk-size', '4'], '--batch-size'],
    [
      'bfloat16 on the CPU provider',
      ['--dtype', 'bfloat16', '--device', 'cpu'],
      '--dtype bfloat16 needs the cuda',
    ],
  ];
  for (const [name, args, flag] of cases)
    it(name, async () => {
      const home = makeHome();
      const out = path.join(home, 'run');
      const code = await main([
        'train',
        '--home',
        home,
        '--dataset',
        'syn',
        '--model',
        MODEL,
        '--out',
        out,
        '--batch-size',
        '16',
        '--chunk-size',
        '4',
        ...args,
      ]);
      expect(code).toBe(2);
      expect(stderr).toContain(flag);
      expect(stderr.trim().split('\n').length).toBe(1);
      expect(fs.existsSync(out)).toBe(false);
    });

  it('empty train split names the `datasets split` command', async () => {
    const home = makeHome();
    const code = await main([
      'train',
      '--home',
      home,
      '--dataset',
      'nosplit',
      '--model',
      MODEL,
      '--out',
      path.join(home, 'r'),
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('embedsmith datasets split nosplit');
  });
});

describe('embedsmith train --dtype float16', () => {
  it('trains the model in float16 on CPU with the loss scaler in the loop', async () => {
    const home = makeHome();
    const out = path.join(home, 'run16');
    let err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err += String(s);
      return true;
    });
    const code = await main([
      'train',
      '--home',
      home,
      '--dataset',
      'syn',
      '--model',
      MODEL,
      '--out',
      out,
      '--batch-size',
      '8',
      '--chunk-size',
      '8',
      '--max-steps',
      '4',
      '--warmup',
      '1',
      '--max-length',
      '16',
      '--device',
      'cpu',
      '--dtype',
      'float16',
      '--json',
    ]);
    vi.restoreAllMocks();
    expect(code, err).toBe(0);
    const log = fs
      .readFileSync(path.join(out, 'train.log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { loss: number; gradNorm: number | null; lossScale?: number; skipped?: boolean },
      );
    expect(log.length).toBe(4);
    // GradScaler semantics at the CLI's defaults (τ 0.02): a step whose scaled float16 gradients overflow is
    // skipped and halves the scale (2^16 at the start); clean steps report a finite, unscaled norm.
    let scale = 2 ** 16;
    for (const e of log) {
      expect(Number.isFinite(e.loss)).toBe(true);
      if (e.skipped) scale /= 2;
      expect(e.lossScale).toBe(scale);
      expect(e.skipped ? e.gradNorm === null : Number.isFinite(e.gradNorm)).toBe(true);
    }
    expect(log.some((e) => !e.skipped)).toBe(true);
    console.log(
      `[cli fp16] steps: ${log.map((e) => (e.skipped ? `skip→${e.lossScale}` : `ok |g| ${e.gradNorm?.toFixed(2)}`)).join(', ')}`,
    );
    expect(fs.existsSync(path.join(out, 'adapter/adapter_model.safetensors'))).toBe(true);
  });
});

function readLosses(runDir: string): number[] {
  return fs
    .readFileSync(path.join(runDir, 'train.log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number })
    .map((e, i) => {
      expect(e.step).toBe(i + 1);
      return e.loss;
    });
}

describe('embedsmith train: kill and resume', () => {
  it('a run SIGKILLed mid-way and resumed has the loss curve of the uninterrupted run', async () => {
    const home = makeHome();
    const common = [
      '--home',
      home,
      '--dataset',
      'syn',
      '--model',
      MODEL,
      '--encoder',
      'reference',
      '--batch-size',
      '16',
      '--chunk-size',
      '8',
      '--lr',
      '5e-3',
      '--warmup',
      '10',
      '--epochs',
      '40',
      '--max-steps',
      '200',
      '--checkpoint-every',
      '40',
      '--max-length',
      '32',
      '--lora-dropout',
      '0.1',
    ];
    const cut = path.join(home, 'cut');
    const child = spawn(process.execPath, [BIN, 'train', ...common, '--out', cut], { stdio: 'ignore' });
    // Kill once the second checkpoint is complete: the run is then mid-way, past a checkpoint.
    const second = path.join(cut, 'checkpoints/step-000080');
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (fs.existsSync(second)) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => {
        clearInterval(t);
        reject(new Error('the run finished before it could be killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    // The kill may cut the last log line in half: count complete lines only (resume truncates the rest).
    const killedAt = fs
      .readFileSync(path.join(cut, 'train.log.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.endsWith('}')).length;
    expect(killedAt).toBeLessThan(200);
    expect(killedAt).toBeGreaterThanOrEqual(80);
    // The uninterrupted run, in-process, from the same run.json config.
    const full = path.join(home, 'full');
    const cfg = parseTrainConfig({ ...readRunJson(cut).config, out: full });
    const store0 = Store.open(path.join(home, 'embedsmith.db'));
    const rows = loadTrainRows(store0, ['syn'], queryFormatter(MODEL));
    store0.close();
    const enc = await loadEncoder(cfg);
    const res = await runTraining({
      config: cfg,
      rows,
      encoder: enc,
      loss: await lossFor(cfg, enc.dim),
      runDir: full,
      resume: false,
    });
    expect(res.step).toBe(200);
    const want = readLosses(full);
    const r1 = spawnSync(process.execPath, [BIN, 'train', '--home', home, '--resume', cut, '--json'], {
      encoding: 'utf8',
    });
    expect(r1.status).toBe(0);
    expect(JSON.parse(r1.stdout).step).toBe(200);
    const got = readLosses(cut);
    expect(got.length).toBe(200);
    expect(got).toEqual(want);
    expect(fs.existsSync(path.join(cut, 'adapter/adapter_model.safetensors'))).toBe(true);
    const store = Store.open(path.join(home, 'embedsmith.db'));
    const run = store.db.prepare('SELECT * FROM training_runs WHERE out_dir = ?').get(cut) as {
      state: string;
      step: number;
    };
    expect(run.state).toBe('done');
    expect(run.step).toBe(200);
    const ck = store.db
      .prepare(
        'SELECT count(*) AS n FROM checkpoints WHERE run_id = (SELECT id FROM training_runs WHERE out_dir = ?)',
      )
      .get(cut) as { n: number };
    // 40 and 80 by the killed run, 120, 160 and 200 by the resume; the kill can land between step 80's folder
    // rename and its row, so the killed run may have recorded only step 40.
    expect(ck.n).toBeGreaterThanOrEqual(4);
    const states = (
      store.db.prepare("SELECT state FROM jobs WHERE type = 'training' ORDER BY created_at").all() as {
        state: string;
      }[]
    ).map((j) => j.state);
    expect(states).toEqual(['interrupted', 'done']);
    store.close();
  }, 120_000);
});
