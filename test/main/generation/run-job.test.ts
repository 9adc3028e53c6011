import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type GenerateOptions, GenerationService } from '../../../src/main/generation';
import { JobRegistry } from '../../../src/main/jobs/registry';
import { Store } from '../../../src/main/store';
import { gate, type LlmServer, type LlmServerOptions, startLlmServer } from '../../helpers/llm-server';
import { tmpDir } from '../../helpers/tmp';

const servers: LlmServer[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const s of stores.splice(0)) s.close();
});

async function setup(hold?: LlmServerOptions['hold']) {
  const srv = await startLlmServer({ latencyMs: 2, hold });
  servers.push(srv);
  const store = Store.open(path.join(tmpDir(), 'embedsmith.db'));
  stores.push(store);
  store.datasets.create('d');
  const jobs = JobRegistry.over(store.db);
  const gen = new GenerationService(store, jobs);
  const o: GenerateOptions = {
    dataset: 'd',
    count: 6,
    models: 'test-model',
    baseUrl: srv.url,
    kinds: 'sts',
    languages: 'en',
    concurrency: 1,
    seed: 3,
    backoffBaseMs: 5,
    backoffMaxMs: 50,
    leaseTtlMs: 2000,
  };
  const { runId } = gen.create(o);
  return { store, jobs, gen, runId };
}

const generationJobs = (jobs: JobRegistry) => jobs.list().filter((j) => j.type === 'generation');

describe('a generation run is a job of the registry', () => {
  it('a run ends its job done with the examples and the bar at the count', async () => {
    const { jobs, gen, runId } = await setup();
    const s = await gen.start(runId).done;
    expect(s).toMatchObject({ state: 'done', accepted: 6 });
    const [j] = generationJobs(jobs);
    await jobs.settled(j.id);
    const row = jobs.store.get(j.id);
    expect(row).toMatchObject({
      state: 'done',
      label: `generate ${runId} into d`,
      config: { runId, dataset: 'd' },
      result: { examples: 6, stopped: 'done', short: 0 },
      progress: { done: 6, total: 6, unit: 'examples' },
    });
  });

  it('cancel from the Jobs registry stops the engine: run and job end cancelled', async () => {
    const first = gate();
    const { jobs, gen, runId } = await setup(() => first.wait());
    const h = gen.start(runId);
    await first.arrived(1);
    const [j] = generationJobs(jobs);
    expect(j.state).toBe('running');
    expect(jobs.cancel(j.id)).toBe(true);
    first.open();
    expect((await h.done).state).toBe('cancelled');
    expect((await jobs.settled(j.id)).state).toBe('cancelled');
    expect(gen.summary(runId).state).toBe('cancelled');
  });

  it('a paused run ends its job interrupted; the resume is a new job that ends done', async () => {
    const first = gate();
    let n = 0;
    const { jobs, gen, runId } = await setup(() => (n++ === 0 ? first.wait() : undefined));
    const h = gen.start(runId);
    await first.arrived(1);
    h.pause();
    first.open();
    expect((await h.done).state).toBe('paused');
    const [paused] = generationJobs(jobs);
    expect(await jobs.settled(paused.id)).toMatchObject({ state: 'interrupted' });
    expect(jobs.store.get(paused.id).error).toMatch(new RegExp(`resume run ${runId}`));
    expect((await gen.start(runId).done).state).toBe('done');
    const [resumed] = generationJobs(jobs);
    expect(resumed.id).not.toBe(paused.id);
    expect(resumed.label).toBe(`resume ${runId} into d`);
    expect((await jobs.settled(resumed.id)).state).toBe('done');
  });
});
