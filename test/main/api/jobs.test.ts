// The Jobs panel's Cancel through the app's API (jobs.cancel) on real jobs of each kind whose work stops on
// cancel: a training run in its worker thread (tiny fixture model), a generation run against the local
// OpenAI-compatible server, an evaluation, a dataset import and mining/scoring runs (each cancelled from its
// own first progress event, then the store is checked: nothing published, nothing written); and the
// one-line refusals.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../../src/main/api';
import { Store } from '../../../src/main/store';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import { gate, type LlmServer, startLlmServer } from '../../helpers/llm-server';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { examples } from '../mining/helpers';
import { hubServer } from '../models/hub-server';
import { syntheticTask } from '../training/synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');
const BERT = path.join(FIXTURES, 'parity/bert');

let wb: Workbench | undefined;
let llm: LlmServer | undefined;
afterEach(async () => {
  await llm?.close();
  llm = undefined;
  wb?.close();
  wb = undefined;
});

function open(rows = 200): { api: Api; wb: Workbench } {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(rows, 5, 24));
  store.close();
  wb = openWorkbench({ home });
  return { wb, api: createApi(wb, { transport: 'http' }) };
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

describe('jobs.cancel', () => {
  it('stops a running training job: job and run end cancelled; a second cancel names the end', async () => {
    const { wb, api } = open();
    const { runId } = await api.caller.training.start({
      datasets: ['syn'],
      model: MODEL,
      encoder: 'reference',
      batchSize: 2,
      chunkSize: 2,
      epochs: 1000,
      maxLength: 16,
      warmup: 1,
    });
    const jobId = (
      wb.store.db.prepare('SELECT job_id FROM training_runs WHERE id = ?').get(runId) as { job_id: string }
    ).job_id;
    const listed = (await api.caller.jobs.list()).find((j) => j.id === jobId);
    expect(listed).toMatchObject({ type: 'training', state: 'running', cancellable: true });
    // Cancel once it trains (a run far too long to end on its own meanwhile: 1000 epochs).
    await until(
      async () => (await api.caller.training.list()).find((r) => r.id === runId)?.step ?? 0,
      (step) => step >= 2,
      'the run to train',
    );
    const asked = await api.caller.jobs.cancel({ jobId });
    expect(asked.id).toBe(jobId);
    const end = await wb.jobs.settled(jobId);
    expect(end.state).toBe('cancelled');
    expect(wb.jobs.store.get(jobId).state).toBe('cancelled');
    const run = await until(
      async () => (await api.caller.training.list()).find((r) => r.id === runId),
      (r) => r?.state !== 'running',
      'the run to stop',
    );
    expect(run?.state).toBe('cancelled');
    expect((await api.caller.jobs.list()).find((j) => j.id === jobId)?.cancellable).toBeUndefined();
    await expect(api.caller.jobs.cancel({ jobId })).rejects.toThrow(
      `job ${jobId} already ended (cancelled); there is nothing to cancel`,
    );
  }, 120_000);

  it('stops a running generation job while its requests are on the wire', async () => {
    const { wb, api } = open();
    const g = gate();
    llm = await startLlmServer({ hold: () => g.wait() });
    wb.store.datasets.create('g');
    await api.caller.secrets.set({ name: 'openai', value: 'sk-test-key' });
    const { runId } = await api.caller.generation.start({
      dataset: 'g',
      count: 200,
      models: 'test-model',
      baseUrl: llm.url,
    });
    await g.arrived(1);
    const job = (await api.caller.jobs.list()).find((j) => j.type === 'generation');
    expect(job).toMatchObject({ state: 'running', cancellable: true });
    await api.caller.jobs.cancel({ jobId: job!.id });
    g.open();
    expect((await wb.jobs.settled(job!.id)).state).toBe('cancelled');
    expect(wb.jobs.store.get(job!.id).state).toBe('cancelled');
    const s = await until(
      () => api.caller.generation.summary({ runId }),
      (x) => x.state !== 'running',
      'the run to stop',
    );
    expect(s.state).toBe('cancelled');
    expect(s.accepted).toBeLessThan(200);
  }, 60_000);

  it('stops a running evaluation between batches: the job ends cancelled and stores no result', async () => {
    // 1,200 queries and their documents: several embedding batches of the fixture model (ONNX Runtime).
    const { wb, api } = open(1200);
    let asked: Promise<unknown> | undefined;
    // Cancel as soon as the job reports progress, i.e. while it embeds.
    wb.jobs.subscribe((j) => {
      if (j.type === 'eval' && j.state === 'running' && j.progress && !asked)
        asked = api.caller.jobs.cancel({ jobId: j.id });
    });
    const j = await api.caller.evaluation.run({ model: MODEL, tasks: ['dataset:syn:train'] });
    expect(j.cancellable).toBe(true);
    const end = await wb.jobs.settled(j.id);
    await asked;
    expect(asked).toBeDefined();
    expect(end.state).toBe('cancelled');
    expect(wb.jobs.store.get(j.id).state).toBe('cancelled');
    expect(await api.caller.evaluation.compare({})).toBeNull();
  }, 120_000);

  it('refuses a job that cannot stop, an ended one and an unknown id with one line each', async () => {
    const { wb, api } = open();
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    // A body that does not honour its signal offers no Cancel.
    const j = wb.jobs.start('sample', 'a job that ignores its signal', () => held);
    await expect(api.caller.jobs.cancel({ jobId: j.id })).rejects.toThrow(
      `job ${j.id} (sample) cannot be cancelled: it stops on its own when its work is done`,
    );
    release();
    expect((await wb.jobs.settled(j.id)).state).toBe('done');
    await expect(api.caller.jobs.cancel({ jobId: j.id })).rejects.toThrow(/already ended \(done\)/);
    await expect(api.caller.jobs.cancel({ jobId: 'nope' })).rejects.toThrow(
      'job "nope" does not exist; pick one from the Jobs list',
    );
  });

  it('stops a running import: nothing is published, its staged rows are removed', async () => {
    const { wb, api } = open();
    const file = path.join(wb.paths.home, 'big.jsonl');
    const LINES = 40_000;
    fs.writeFileSync(
      file,
      Array.from({ length: LINES }, (_, i) =>
        JSON.stringify({ anchor: `query number ${i}`, positive: `a passage that answers query ${i}` }),
      ).join('\n'),
    );
    const before = count(wb, 'examples');
    const staged = () =>
      (
        wb.store.db
          .prepare(
            "SELECT count(*) AS n FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.name LIKE '~import-%'",
          )
          .get() as { n: number }
      ).n;
    let asked: Promise<unknown> | undefined;
    let stagedAtCancel = -1;
    // The first progress event comes after the first chunk is committed to the staging dataset.
    wb.jobs.subscribe((j) => {
      if (j.type === 'import' && j.state === 'running' && j.progress && !asked) {
        stagedAtCancel = staged();
        asked = api.caller.jobs.cancel({ jobId: j.id });
      }
    });
    const j = await api.caller.datasets.import({
      name: 'imp',
      path: file,
      create: true,
      layout: 'sentence-transformers',
    });
    expect(j.cancellable).toBe(true);
    const end = await wb.jobs.settled(j.id);
    expect(await asked).toMatchObject({ id: j.id });
    expect(end.state).toBe('cancelled');
    expect(wb.jobs.store.get(j.id).state).toBe('cancelled');
    // It was mid-way: rows staged, the file not read to its end.
    expect(stagedAtCancel).toBeGreaterThan(0);
    expect(end.progress?.done ?? 0).toBeLessThan(LINES);
    // Nothing published, nothing left staged, no other dataset touched.
    expect(wb.store.datasets.find('imp')).toBeUndefined();
    expect(staged()).toBe(0);
    expect(count(wb, 'examples')).toBe(before);
    expect(wb.store.datasets.list().map((d) => d.name)).toEqual(['syn']);
  }, 120_000);

  for (const what of ['mine', 'score'] as const)
    it(`stops a running ${what} job between embedding slices: nothing is written`, async () => {
      const { wb, api } = open();
      const d = wb.store.datasets.create('m');
      // ~7,000 pool texts and 6,000 queries: several embedding slices of 4,096.
      wb.store.examples.insertMany(d.id, examples(6000));
      const tables = ['mining_runs', 'mined_negatives', 'score_runs', 'example_scores'];
      const before = tables.map((t) => count(wb, t));
      let asked: Promise<unknown> | undefined;
      wb.jobs.subscribe((j) => {
        if (j.type === 'mining' && j.state === 'running' && j.progress && !asked)
          asked = api.caller.jobs.cancel({ jobId: j.id });
      });
      const j = await api.caller.mining[what]({ dataset: 'm', model: 'builtin:hashbow-64' });
      expect(j.cancellable).toBe(true);
      const end = await wb.jobs.settled(j.id);
      expect(await asked).toMatchObject({ id: j.id });
      expect(end.state).toBe('cancelled');
      expect(wb.jobs.store.get(j.id).state).toBe('cancelled');
      expect(tables.map((t) => count(wb, t))).toEqual(before);
      expect(await api.caller.mining.page({ dataset: 'm' })).toBeNull();
    }, 120_000);
});

describe('jobs.cancel on an embeddings export', () => {
  it('stops between batches: no output folder, no temp folder left', async () => {
    const { wb, api } = open();
    const d = wb.store.datasets.create('e');
    wb.store.examples.insertMany(
      d.id,
      examples(300).map((e) => ({ ...e, status: 'accepted' as const })),
    );
    const out = path.join(wb.paths.home, 'emb-out');
    let asked: Promise<unknown> | undefined;
    wb.jobs.subscribe((j) => {
      if (j.type === 'export' && j.state === 'running' && j.progress && !asked)
        asked = api.caller.jobs.cancel({ jobId: j.id });
    });
    const j = await api.caller.artefacts.export({ kind: 'embeddings', model: BERT, dataset: 'e', out });
    expect(j.cancellable).toBe(true);
    const end = await wb.jobs.settled(j.id);
    expect(await asked).toMatchObject({ id: j.id });
    expect(end.state).toBe('cancelled');
    expect(end.progress?.done ?? 0).toBeLessThan(end.progress?.total ?? 0);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(wb.paths.home).filter((f) => f.startsWith('emb-out'))).toEqual([]);
  }, 120_000);
});

describe('jobs.cancel on loading the demo', () => {
  it('stops before the dataset is published: no demo dataset, nothing staged', async () => {
    const { wb, api } = open();
    let asked: Promise<unknown> | undefined;
    // Its first progress is "model ready": the import has not started yet.
    wb.jobs.subscribe((j) => {
      if (j.type === 'demo' && j.state === 'running' && j.progress && !asked)
        asked = api.caller.jobs.cancel({ jobId: j.id });
    });
    const j = await api.caller.demo.load();
    expect(j.cancellable).toBe(true);
    const end = await wb.jobs.settled(j.id);
    expect(await asked).toMatchObject({ id: j.id });
    expect(end.state).toBe('cancelled');
    expect(wb.store.datasets.list().map((d) => d.name)).toEqual(['syn']);
    expect(count(wb, 'datasets')).toBe(1);
  }, 120_000);
});

describe('jobs.cancel on a model pull', () => {
  it('stops a stalled transfer and keeps its partial file; pulling again resumes from it', async () => {
    const hub = await hubServer({ holdAfterBytes: 4000 });
    const before = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.url;
    try {
      const { wb, api } = open();
      const part = path.join(wb.paths.models, 'acme--tiny-bert', 'model.safetensors.part');
      const job = await api.caller.models.pull({ id: 'acme/tiny-bert' });
      expect(job.cancellable).toBe(true);
      // The server holds the transfer after 4000 bytes: cancel once they are on disk.
      await until(
        () => (fs.existsSync(part) ? fs.statSync(part).size : 0),
        (n) => n === 4000,
        'the first 4000 bytes',
      );
      await api.caller.jobs.cancel({ jobId: job.id });
      const end = await wb.jobs.settled(job.id);
      expect(end.state).toBe('cancelled');
      expect(wb.jobs.store.get(job.id).state).toBe('cancelled');
      expect(fs.statSync(part).size).toBe(4000);
      expect(await api.caller.models.list()).toEqual([]);
      const again = await api.caller.models.pull({ id: 'acme/tiny-bert' });
      expect((await wb.jobs.settled(again.id)).state).toBe('done');
      expect(
        hub.log.some((l) => l.url.endsWith('/model.safetensors') && l.range?.startsWith('bytes=4000-')),
      ).toBe(true);
    } finally {
      if (before === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = before;
      await hub.close();
    }
  }, 60_000);
});

const count = (wb: Workbench, table: string) =>
  (wb.store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
