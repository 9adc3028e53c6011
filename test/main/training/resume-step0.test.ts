// A run stopped before its first step (the app's Stop right after Start) checkpoints at step 0 with no data
// order yet; resuming it must plan the epoch afresh rather than read an empty one.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../../src/main/store';
import { parseTrainConfig, queryFormatter } from '../../../src/main/training/config';
import { loadTrainRows } from '../../../src/main/training/data';
import { referenceLoss } from '../../../src/main/training/loss';
import { ReferenceEncoder } from '../../../src/main/training/reference-encoder';
import { runTraining } from '../../../src/main/training/trainer';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');

describe('resume of a run stopped at step 0', () => {
  it('continues to the end', async () => {
    const dir = tmpDir();
    const store = Store.open(path.join(dir, 'db.sqlite'));
    store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(40, 5));
    const config = parseTrainConfig({
      datasets: ['syn'],
      model: MODEL,
      encoder: 'reference',
      loraRank: 4,
      loraAlpha: 8,
      batchSize: 8,
      chunkSize: 8,
      lr: 1e-2,
      warmup: 0,
      maxSteps: 4,
      maxLength: 16,
      checkpointEvery: 0,
      out: path.join(dir, 'run'),
    });
    const rows = loadTrainRows(store, ['syn'], queryFormatter(MODEL));
    store.close();
    const enc = () =>
      ReferenceEncoder.load({
        modelDir: MODEL,
        rank: 4,
        alpha: 8,
        dropout: 0.1,
        targetModules: ['all-linear'],
        maxLength: 16,
        device: 'cpu',
        dtype: 'float32',
      });
    const ac = new AbortController();
    ac.abort(); // Stop before the first step
    const first = await runTraining({
      config,
      rows,
      encoder: enc(),
      loss: referenceLoss,
      runDir: config.out,
      resume: false,
      hooks: { signal: ac.signal },
    });
    expect(first).toMatchObject({ state: 'cancelled', step: 0 });
    const second = await runTraining({
      config,
      rows,
      encoder: enc(),
      loss: referenceLoss,
      runDir: config.out,
      resume: true,
      hooks: {},
    });
    expect(second).toMatchObject({ state: 'done', step: 4, totalSteps: 4 });
  });
});
