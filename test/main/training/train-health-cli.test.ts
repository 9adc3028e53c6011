// `embedsmith train` ends with the training-health hints the Train screen shows (issue #18.2): the same
// trainingHealth over the run's logged losses, in the text summary and in --json.
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { Store } from '../../../src/main/store';
import { readTrainLog } from '../../../src/main/training/train-log';
import { HEALTH_MIN_STEPS, trainingHealth } from '../../../src/shared/training-health';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { syntheticTask } from './synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');

async function train(home: string, out: string, json: boolean) {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
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
    String(HEALTH_MIN_STEPS + 2),
    '--warmup',
    '1',
    '--max-length',
    '16',
    '--device',
    'cpu',
    ...(json ? ['--json'] : []),
  ]);
  vi.restoreAllMocks();
  expect(code).toBe(0);
  return stdout;
}

describe('train summary: training-health hints', () => {
  it('prints the hints of the logged loss curve, as text and as JSON', async () => {
    const home = tmpDir();
    const store = Store.open(path.join(home, 'embedsmith.db'));
    store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(160, 5));
    store.close();
    const out = path.join(home, 'run-text');
    const text = await train(home, out, false);
    const expected = trainingHealth(readTrainLog(out, Number.POSITIVE_INFINITY).map((s) => s.loss));
    const hints = text
      .split('\n')
      .filter((l) => l.startsWith('hint: '))
      .map((l) => l.slice(6));
    expect(hints).toEqual(expected.map((h) => h.message));
    expect(text).toMatch(/^done: \d+ steps/m);
    const out2 = path.join(home, 'run-json');
    const doc = JSON.parse(await train(home, out2, true));
    expect(doc.health).toEqual(
      trainingHealth(readTrainLog(out2, Number.POSITIVE_INFINITY).map((s) => s.loss)),
    );
    expect(Array.isArray(doc.health)).toBe(true);
  });
});
