import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../../src/main/api';
import { writeRunJson } from '../../../src/main/training/trainer';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import type { JobInfo } from '../../../src/shared/contract';
import { trainSettings } from '../../../src/shared/training';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

// The Export screen's "Export trainer job" button: artefacts.export({ kind: 'trainer', runId, gpus, nodes }).
const MODEL = path.join(FIXTURES, 'parity/mistral');

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
