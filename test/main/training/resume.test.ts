import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { readF32, readStHeader, writeSafetensors } from '../../../src/main/models/safetensors';
import { Store } from '../../../src/main/store';
import { listCheckpoints } from '../../../src/main/training/checkpoint';
import { parseTrainConfig, queryFormatter } from '../../../src/main/training/config';
import { loadTrainRows } from '../../../src/main/training/data';
import { referenceLoss } from '../../../src/main/training/loss';
import { ReferenceEncoder } from '../../../src/main/training/reference-encoder';
import { readTensors, writeTensors } from '../../../src/main/training/tensors';
import { runTraining } from '../../../src/main/training/trainer';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

// Issue #21 items 9-10: non-finite values stop a run and never reach an adapter; a resume falls back to the
// newest intact checkpoint (saying so) or fails in one line; interrupted writes leave nothing behind.
const MODEL = path.join(FIXTURES, 'parity/mistral');

function workspace() {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(64, 5));
  return { home, store };
}

const settings = (out: string, over: Record<string, unknown> = {}) =>
  parseTrainConfig({
    datasets: ['syn'],
    model: MODEL,
    encoder: 'reference',
    loraRank: 4,
    loraAlpha: 8,
    loraDropout: 0.1,
    targetModules: ['all-linear'],
    batchSize: 8,
    chunkSize: 8,
    lr: 5e-3,
    warmup: 1,
    weightDecay: 0.01,
    temperature: 0.05,
    epochs: 10,
    maxSteps: 12,
    maxLength: 16,
    checkpointEvery: 4,
    out,
    ...over,
  });

async function train(store: Store, out: string, resume: boolean, over: Record<string, unknown> = {}) {
  const config = settings(out, over);
  const logs: string[] = [];
  const enc = ReferenceEncoder.load({
    modelDir: MODEL,
    rank: config.loraRank,
    alpha: config.loraAlpha,
    dropout: config.loraDropout,
    targetModules: config.targetModules,
    maxLength: config.maxLength,
    device: 'cpu',
    dtype: 'float32',
  });
  const res = await runTraining({
    config,
    rows: loadTrainRows(store, ['syn'], queryFormatter(MODEL)),
    encoder: enc,
    loss: referenceLoss,
    runDir: out,
    resume,
    hooks: { onLog: (m) => logs.push(m) },
  });
  return { res, logs };
}

/** The same 12-step run as if killed after its step-8 checkpoint (what came later removed). */
async function killedAfterStep8(store: Store, run: string) {
  await train(store, run, false);
  fs.rmSync(path.join(run, 'checkpoints/step-000012'), { recursive: true });
  fs.rmSync(path.join(run, 'adapter'), { recursive: true });
}

const losses = (run: string) =>
  fs
    .readFileSync(path.join(run, 'train.log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { loss: number }).loss);

const allFinite = (file: string) => {
  const h = readStHeader(file);
  return [...h.tensors.keys()].every((k) => readF32(h, k).every(Number.isFinite));
};

describe('non-finite values stop the run', () => {
  it('loraAlpha 1e308: stops at step 1 naming the value; no adapter, no checkpoint', async () => {
    const { home, store } = workspace();
    const out = path.join(home, 'run');
    await expect(train(store, out, false, { loraAlpha: 1e308 })).rejects.toThrow(
      /training stopped at step 1: the (loss|gradient norm) is (NaN|Infinity|-Infinity) \(non-finite\); no adapter was written/,
    );
    expect(fs.existsSync(path.join(out, 'adapter'))).toBe(false);
    expect(listCheckpoints(out)).toEqual([]);
    store.close();
  });

  it('NaN optimiser state in the newest checkpoint: the resume falls back to the older one, exactly', async () => {
    const { home, store } = workspace();
    const full = path.join(home, 'full');
    await train(store, full, false);
    const cut = path.join(home, 'cut');
    await killedAfterStep8(store, cut);
    expect(listCheckpoints(cut).map((d) => path.basename(d))).toEqual(['step-000008', 'step-000004']);
    const opt = path.join(cut, 'checkpoints/step-000008/optimizer.safetensors');
    const t = readTensors(opt);
    const [first] = [...t.keys()].filter((k) => k.startsWith('m.'));
    t.get(first)?.data.fill(Number.NaN);
    writeTensors(opt, t);
    const { res, logs } = await train(store, cut, true);
    expect(res.state).toBe('done');
    expect(logs.join('\n')).toMatch(/checkpoint step-000008 is not usable: .*non-finite/);
    expect(logs.join('\n')).toContain('resuming from the older step-000004 instead');
    expect(losses(cut)).toEqual(losses(full));
    expect(allFinite(path.join(cut, 'adapter/adapter_model.safetensors'))).toBe(true);
    store.close();
  });

  it('a NaN in the only checkpoint fails the resume in one line and writes nothing', async () => {
    const { home, store } = workspace();
    const run = path.join(home, 'run');
    await train(store, run, false, { maxSteps: 4 });
    fs.rmSync(path.join(run, 'adapter'), { recursive: true });
    const ad = path.join(run, 'checkpoints/step-000004/adapter/adapter_model.safetensors');
    const h = readStHeader(ad);
    const tensors = new Map(
      [...h.tensors.entries()].map(([k, e]) => [k, { shape: e.shape, data: readF32(h, k).fill(Number.NaN) }]),
    );
    writeSafetensors(ad, tensors);
    await expect(train(store, run, true)).rejects.toThrow(
      /^cannot resume .*no usable checkpoint \(newest step-000004: .*non-finite/,
    );
    expect(fs.existsSync(path.join(run, 'adapter'))).toBe(false);
    store.close();
  });
});

describe('resume falls back or fails in one line', () => {
  it('corrupt trainer_state.json in the newest checkpoint: falls back to the older one with the same curve', async () => {
    const { home, store } = workspace();
    const full = path.join(home, 'full');
    await train(store, full, false);
    const cut = path.join(home, 'cut');
    await killedAfterStep8(store, cut);
    fs.writeFileSync(path.join(cut, 'checkpoints/step-000008/trainer_state.json'), '{"step": 8, "tot');
    const { res, logs } = await train(store, cut, true);
    expect(res.step).toBe(12);
    expect(logs.join('\n')).toMatch(
      /checkpoint step-000008 is not usable: .*trainer_state\.json: not valid JSON/,
    );
    expect(losses(cut)).toEqual(losses(full));
    store.close();
  });

  it('leftover .tmp-step-* and adapter.tmp-* folders are removed on the next start; a half-replaced checkpoint is put back', async () => {
    const { home, store } = workspace();
    const run = path.join(home, 'run');
    await train(store, run, false, { maxSteps: 8 });
    const ck = path.join(run, 'checkpoints');
    fs.mkdirSync(path.join(ck, '.tmp-step-000012-99999/adapter'), { recursive: true });
    fs.mkdirSync(path.join(run, 'adapter.tmp-99999'));
    // A kill between replaceDir's two renames: step-000008 moved aside, its replacement not yet in place.
    fs.renameSync(path.join(ck, 'step-000008'), path.join(ck, 'step-000008.old-99999'));
    const { res, logs } = await train(store, run, true);
    expect(res.step).toBe(12);
    expect(logs.join('\n')).toContain('.tmp-step-000012-99999, left by an interrupted write');
    expect(logs.join('\n')).toContain('resumed from');
    expect(logs.join('\n')).toContain('step-000008 at step 8');
    expect(fs.readdirSync(ck).sort()).toEqual(['step-000004', 'step-000008', 'step-000012']);
    expect(fs.readdirSync(run).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
    store.close();
  });
});

describe('embedsmith train --resume: one line, no stack trace', () => {
  let stderr = '';
  beforeEach(() => {
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => vi.restoreAllMocks());

  const cliRun = (home: string, out: string, steps: number) =>
    main([
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
      '8',
      '--chunk-size',
      '8',
      '--warmup',
      '1',
      '--epochs',
      '10',
      '--max-steps',
      String(steps),
      '--max-length',
      '16',
      '--checkpoint-every',
      '4',
      '--out',
      out,
    ]);

  it('corrupt run.json: uses the config kept in the workspace (saying so); without it, one line', async () => {
    const { home, store } = workspace();
    store.close();
    const run = path.join(home, 'run');
    expect(await cliRun(home, run, 4)).toBe(0);
    fs.writeFileSync(path.join(run, 'run.json'), '{"version": 1, "config": {"datas');
    stderr = '';
    expect(await main(['train', '--home', home, '--resume', run]), stderr).toBe(0);
    expect(stderr).toContain("using the copy of the run's config kept in the workspace database");
    expect(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).config.maxSteps).toBe(4);
    // Another workspace has no copy: one line naming the file.
    fs.writeFileSync(path.join(run, 'run.json'), 'null');
    stderr = '';
    const other = tmpDir();
    expect(await main(['train', '--home', other, '--resume', run])).not.toBe(0);
    expect(stderr.trim().split('\n').length, stderr).toBe(1);
    expect(stderr).toContain(`${path.join(run, 'run.json')}: it has no config`);
  });

  it('after `datasets split --reassign` the data order is gone: one line saying so', async () => {
    const { home, store } = workspace();
    store.close();
    const run = path.join(home, 'run');
    expect(await cliRun(home, run, 8)).toBe(0);
    expect(
      await main(['datasets', 'split', 'syn', '--ratios', '0.5,0.25,0.25', '--reassign', '--home', home]),
    ).toBe(0);
    stderr = '';
    const code = await main(['train', '--home', home, '--resume', run, '--max-steps', '12']);
    expect(code).not.toBe(0);
    const lines = stderr.trim().split('\n');
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(lines[lines.length - 1]).toMatch(
      /^error: cannot resume .*no longer in the train split \(was `datasets split --reassign` run\?\)/,
    );
  });

  it('embed with an adapter of NaN weights: a warning, exit code 1, nothing written', async () => {
    const adapter = path.join(tmpDir(), 'adapter');
    fs.cpSync(path.join(MODEL, 'adapter'), adapter, { recursive: true });
    const f = path.join(adapter, 'adapter_model.safetensors');
    const h = readStHeader(f);
    writeSafetensors(
      f,
      new Map(
        [...h.tensors.entries()].map(([k, e]) => [
          k,
          { shape: e.shape, data: readF32(h, k).fill(Number.NaN) },
        ]),
      ),
    );
    const input = path.join(tmpDir(), 'in.txt');
    fs.writeFileSync(input, 'hello world\nthe cat\n');
    const out = path.join(tmpDir(), 'out.npy');
    const code = await main([
      'embed',
      '--home',
      tmpDir(),
      '--model',
      MODEL,
      '--adapter',
      adapter,
      '--input',
      input,
      '--out',
      out,
      '--device',
      'cpu',
    ]);
    expect(code).toBe(1);
    expect(stderr).not.toMatch(/\n\s+at /);
    const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors.length, stderr).toBe(1);
    expect(errors[0]).toMatch(/warning: 2 of 2 embeddings are not finite/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
