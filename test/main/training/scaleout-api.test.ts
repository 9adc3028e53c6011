import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../../src/main/api';
import { writeRunJson } from '../../../src/main/training/trainer';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import type { JobInfo } from '../../../src/shared/contract';
import { main } from '../../../src/main/cli/index';
import { TRAIN_FIELDS, trainSettings, trainValueText } from '../../../src/shared/training';
import { captureOutput } from '../../helpers/capture';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

// The Export screen's "Export trainer job" button: artefacts.export({ kind: 'trainer', runId, gpus, nodes }).
const MODEL = path.join(FIXTURES, 'parity/mistral');

const io = captureOutput();
let wb: Workbench | undefined;
afterEach(() => {
  wb?.close();
  wb = undefined;
});

async function finished(api: Api, job: JobInfo): Promise<JobInfo> {
  for (;;) {
    const j = (await api.caller.jobs.list()).find((x) => x.id === job.id) as JobInfo;
    if (j.state !== 'running' && j.state !== 'queued') return j;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('artefacts.export kind trainer: a run as a multi-GPU sentence-transformers job', () => {
  it('writes the job of the run’s config with the GPUs and nodes asked for', async () => {
    wb = openWorkbench({ home: tmpDir() });
    const api = createApi(wb, { transport: 'http' });
    const d = wb.store.datasets.create('syn');
    wb.store.examples.insertMany(d.id, syntheticTask(64, 5));
    const runDir = path.join(wb.paths.runs, 'run-t');
    const config = trainSettings.parse({
      datasets: ['syn'],
      model: MODEL,
      out: runDir,
      batchSize: 12,
      chunkSize: 4,
      temperature: 0.04,
    });
    writeRunJson(runDir, config, { runId: 'run-t' });
    wb.store.db
      .prepare(
        `INSERT INTO training_runs (id, model_path, out_dir, config_json, state, step, total_steps) VALUES (?, ?, ?, ?, 'done', 3, 3)`,
      )
      .run('run-t', MODEL, runDir, JSON.stringify(config));
    const job = await finished(
      api,
      await api.caller.artefacts.export({ kind: 'trainer', runId: 'run-t', gpus: 3, nodes: 2 }),
    );
    expect(job.state, job.error ?? '').toBe('done');
    const out = (job.result as { out: string }).out;
    expect(out).toBe(path.join(wb.paths.home, 'exports', 'run-t-trainer'));
    const recipe = JSON.parse(fs.readFileSync(path.join(out, 'recipe.json'), 'utf8'));
    expect(recipe.job).toMatchObject({ gpusPerNode: 3, nodes: 2, worldSize: 6, perDeviceBatch: 2 });
    expect(recipe.job.scale).toBeCloseTo(1 / 0.04, 12);
    expect(recipe.source.run).toBe(runDir);
    // A batch the processes cannot split is one line, on the job.
    const bad = await finished(
      api,
      await api.caller.artefacts.export({ kind: 'trainer', runId: 'run-t', gpus: 5 }),
    );
    expect(bad.state).toBe('failed');
    expect(bad.error).toMatch(/--batch-size 12 does not split over --gpus 5/);
    await expect(api.caller.artefacts.export({ kind: 'trainer' })).rejects.toThrow(/pick the training run/);
  });
});

describe('artefacts.export kind trainer with settings: the Train form as `export trainer DATASET`', () => {
  it('writes the bundle the CLI writes for the same dataset and flags (recipe and rows)', async () => {
    const home = tmpDir();
    wb = openWorkbench({ home });
    const api = createApi(wb, { transport: 'http' });
    wb.store.examples.insertMany(wb.store.datasets.create('syn').id, syntheticTask(64, 5));
    const settings = {
      datasets: ['syn'],
      model: MODEL,
      batchSize: 12,
      chunkSize: 4,
      lr: 0.002,
      temperature: 0.05,
      loraRank: 4,
      loraAlpha: 8,
      negatives: 'llm' as const,
      maxSteps: 5,
      warmup: 1,
      seed: 3,
    };
    const job = await finished(
      api,
      await api.caller.artefacts.export({ kind: 'trainer', settings, gpus: 2, nodes: 1 }),
    );
    expect(job.state, job.error ?? '').toBe('done');
    const fromApi = (job.result as { out: string }).out;
    expect(fromApi).toBe(path.join(home, 'exports', 'syn-trainer'));
    // The same settings as CLI flags, named by the one schema.
    const flags = Object.entries(settings)
      .filter(([k]) => k !== 'datasets')
      .flatMap(([k, v]) => [`--${TRAIN_FIELDS[k as 'lr'].meta.flag}`, trainValueText(v)]);
    wb.close();
    wb = undefined;
    const fromCli = path.join(home, 'cli-bundle');
    const code = await main([
      'export',
      'trainer',
      'syn',
      '--home',
      home,
      '--out',
      fromCli,
      '--gpus',
      '2',
      ...flags,
    ]);
    expect(code, io.stderr).toBe(0);
    const read = (d: string, f: string) => fs.readFileSync(path.join(d, f), 'utf8');
    const ra = JSON.parse(read(fromApi, 'recipe.json'));
    const rc = JSON.parse(read(fromCli, 'recipe.json'));
    expect(ra).toEqual(rc);
    expect(ra.config).toMatchObject({
      lr: 0.002,
      temperature: 0.05,
      loraRank: 4,
      batchSize: 12,
      maxSteps: 5,
    });
    for (const f of ['train.jsonl', 'batches.jsonl', 'README.md', 'launch.sh', 'train.py'])
      expect(read(fromApi, f), f).toBe(read(fromCli, f));
  });

  it('refuses settings with another kind, and bad settings by their field', async () => {
    wb = openWorkbench({ home: tmpDir() });
    const api = createApi(wb, { transport: 'http' });
    const settings = { datasets: ['syn'], model: MODEL };
    await expect(api.caller.artefacts.export({ kind: 'merged', settings })).rejects.toThrow(
      /export only the trainer job/,
    );
    await expect(
      api.caller.artefacts.export({ kind: 'trainer', settings: { ...settings, temperature: -1 } }),
    ).rejects.toThrow(/settings\.temperature/);
    const j = await finished(api, await api.caller.artefacts.export({ kind: 'trainer', settings }));
    expect(j.error).toMatch(/no dataset syn/);
  });
});
