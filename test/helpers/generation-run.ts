import path from 'node:path';
import { afterEach } from 'vitest';
import { type GenerateOptions, GenerationService } from '../../src/main/generation';
import { Store } from '../../src/main/store';
import { tmpDir } from './tmp';

const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** A workspace store with dataset "d" and one stored (not started) generation run; closed after the test. */
export function storedRun(o: Partial<GenerateOptions> & Pick<GenerateOptions, 'count'>) {
  const store = Store.open(path.join(tmpDir(), 'embedsmith.db'));
  open.push(store);
  store.datasets.create('d');
  const gen = new GenerationService(store);
  const { runId } = gen.create({ dataset: 'd', models: 'm', seed: 1, ...o });
  return { store, gen, runId };
}
