// The app's own procedures, over a real workspace: native dialogs (Electron's `dialog` stubbed at the
// Electron boundary only, the backend ↔ main relay real over a MessageChannel), the server-side file
// browser, the model library against a local hub server, every artefact export of a run, and the Generate
// extras against the local OpenAI-compatible server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../../src/main/api';
import {
  answerDialog,
  type DialogAnswer,
  type DialogAsk,
  type DialogModule,
  relayedDialogs,
} from '../../../src/main/dialogs';
import { readNpy } from '../../../src/main/models/io';
import { writeRunJson } from '../../../src/main/training/trainer';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import type { JobInfo } from '../../../src/shared/contract';
import { trainSettings } from '../../../src/shared/training';
import { startLlmServer } from '../../helpers/llm-server';
import { FIXTURES, tmpDir } from '../../helpers/tmp';
import { hubServer } from '../models/hub-server';

const BERT = path.join(FIXTURES, 'parity/bert');

let wb: Workbench | undefined;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  wb?.close();
  wb = undefined;
});

function setup(opts: Parameters<typeof createApi>[1] = { transport: 'http' }): { wb: Workbench; api: Api } {
  wb = openWorkbench({ home: tmpDir() });
  return { wb, api: createApi(wb, opts) };
}

/** Resolves with the job once it is done (or throws with its error). */
function finished(api: Api, job: JobInfo, timeoutMs = 60_000): Promise<JobInfo> {
  return new Promise((resolve, reject) => {
    const ac = new AbortController();
    const t = setTimeout(() => {
      ac.abort();
      reject(new Error(`job ${job.label} did not end in ${timeoutMs} ms`));
    }, timeoutMs);
    (async () => {
      for await (const e of api.createContext().svc.events(ac.signal)) {
        if (e.topic !== 'job' || e.job.id !== job.id || e.job.state === 'running') continue;
        clearTimeout(t);
        ac.abort();
        if (e.job.state === 'failed') reject(new Error(e.job.error));
        else resolve(e.job);
        return;
      }
    })().catch(() => undefined);
  });
}

describe('paths.pick: native dialogs through the Electron main process', () => {
  it('asks main over the port, which shows the dialog the request names; cancel gives null', async () => {
    // The Electron boundary: `dialog` is the only stub. Everything between the router and it is real.
    const shown: { kind: string; o: Record<string, unknown> }[] = [];
    let answer: string | null = '/picked/folder';
    const dialog: DialogModule = {
      async showOpenDialog(_w, o) {
        shown.push({ kind: 'open', o });
        return answer ? { canceled: false, filePaths: [answer] } : { canceled: true, filePaths: [] };
      },
      async showSaveDialog(_w, o) {
        shown.push({ kind: 'save', o });
        return { canceled: false, filePath: '/picked/out.jsonl' };
      },
    };
    // backend (port1) ↔ main (port2), messages structured-cloned as between the processes.
    const ch = new MessageChannel();
    closers.push(() => {
      ch.port1.close();
      ch.port2.close();
    });
    const dialogs = relayedDialogs((m) => ch.port1.postMessage(m));
    ch.port1.on('message', (m: DialogAnswer) => dialogs.answer(m));
    ch.port2.on('message', async (m: DialogAsk) =>
      ch.port2.postMessage({
        type: 'dialog-result',
        id: m.id,
        path: await answerDialog(dialog, null, m.req),
      }),
    );
    const { api } = setup({ transport: 'ipc', dialogs });

    expect(await api.caller.paths.pick({ mode: 'folder', title: 'Base model' })).toEqual({
      supported: true,
      path: '/picked/folder',
    });
    expect(shown[0]).toMatchObject({
      kind: 'open',
      o: { title: 'Base model', properties: ['openDirectory', 'createDirectory'] },
    });
    expect(await api.caller.paths.pick({ mode: 'file', extensions: ['jsonl', 'txt'] })).toMatchObject({
      path: '/picked/folder',
    });
    expect(shown[1].o).toMatchObject({
      properties: ['openFile'],
      filters: [{ extensions: ['jsonl', 'txt'] }],
    });
    expect(await api.caller.paths.pick({ mode: 'save', defaultPath: '/x/out.jsonl' })).toEqual({
      supported: true,
      path: '/picked/out.jsonl',
    });
    expect(shown[2]).toMatchObject({ kind: 'save', o: { defaultPath: '/x/out.jsonl' } });
    answer = null;
    expect(await api.caller.paths.pick({ mode: 'folder' })).toEqual({ supported: true, path: null });
  });

  it('in browser mode says there is no native dialog (the renderer browses instead)', async () => {
    const { api } = setup();
    expect(await api.caller.paths.pick({ mode: 'file' })).toEqual({ supported: false, path: null });
  });
});

describe('paths.list: the server-side file browser', () => {
  it('lists folders first, hides dot files, stays under its root (no ../, no symlink out)', async () => {
    const root = tmpDir();
    fs.mkdirSync(path.join(root, 'data', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'data', 'b.jsonl'), 'x');
    fs.writeFileSync(path.join(root, 'data', '.hidden'), 'x');
    const outside = tmpDir();
    fs.symlinkSync(outside, path.join(root, 'data', 'escape'));
    const { api } = setup({ transport: 'http', browseRoot: root });
    const top = await api.caller.paths.list({});
    expect(top.parent).toBeNull();
    expect(top.entries.map((e) => e.name)).toEqual(['data']);
    const d = await api.caller.paths.list({ dir: path.join(root, 'data') });
    expect(d.entries.map((e) => [e.name, e.type])).toEqual([
      ['escape', 'dir'],
      ['sub', 'dir'],
      ['b.jsonl', 'file'],
    ]);
    expect(d.parent).toBe(fs.realpathSync(root));
    expect(
      (await api.caller.paths.list({ dir: path.join(root, 'data'), hidden: true })).entries,
    ).toHaveLength(4);
    await expect(api.caller.paths.list({ dir: path.join(root, '..') })).rejects.toThrow(/outside/);
    await expect(api.caller.paths.list({ dir: path.join(root, 'data', 'escape') })).rejects.toThrow(
      /outside/,
    );
    await expect(api.caller.paths.list({ dir: '/etc' })).rejects.toThrow(/outside/);
  });

  it('is rooted at the home folder by default', async () => {
    const { api } = setup();
    expect((await api.caller.paths.list({})).root).toBe(fs.realpathSync(os.homedir()));
  });
});

describe('models: the library', () => {
  it('pulls from a hub (local server) as a job with progress, lists it with type and pooling, removes it', async () => {
    const hub = await hubServer();
    closers.push(() => hub.close());
    const before = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.url;
    closers.push(() => {
      if (before === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = before;
    });
    const { wb, api } = setup();
    const progress: number[] = [];
    const ac = new AbortController();
    closers.push(() => ac.abort());
    void (async () => {
      for await (const e of api.createContext().svc.events(ac.signal))
        if (e.topic === 'job' && e.job.type === 'model-pull' && e.job.progress)
          progress.push(e.job.progress.done);
    })();
    const job = await finished(api, await api.caller.models.pull({ id: 'acme/tiny-bert' }));
    expect((job.result as { out: string }).out).toBe(path.join(wb.paths.models, 'acme--tiny-bert'));
    expect(progress.length).toBeGreaterThan(0);
    const list = await api.caller.models.list();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      name: 'acme/tiny-bert',
      type: 'bert',
      pooling: 'mean',
      source: 'pulled',
    });
    expect(list[0].sizeBytes).toBeGreaterThan(1000);
    // Only folders of the library can be removed from the app.
    await expect(api.caller.models.remove({ path: BERT })).rejects.toThrow(/not in the model library/);
    expect((await api.caller.models.remove({ path: list[0].path })).removed).toBe(list[0].path);
    expect(await api.caller.models.list()).toEqual([]);
    // A bad id is one readable line, before anything is fetched.
    await expect(api.caller.models.pull({ id: 'not an id' })).rejects.toThrow(/Hugging Face model id/);
  });
});

describe('models: pause and resume a pull', () => {
  it('Pause stops a stalled transfer; pulling again continues from the bytes there and checks the hash', async () => {
    const hub = await hubServer({ holdAfterBytes: 4000 });
    closers.push(() => hub.close());
    const before = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.url;
    closers.push(() => {
      if (before === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = before;
    });
    const { wb, api } = setup();
    const part = path.join(wb.paths.models, 'acme--tiny-bert', 'model.safetensors.part');
    const job = await api.caller.models.pull({ id: 'acme/tiny-bert' });
    // The transfer stalls after 4000 bytes (the server holds it): pause it there.
    await expect
      .poll(() => (fs.existsSync(part) ? fs.statSync(part).size : 0), { timeout: 30_000 })
      .toBe(4000);
    expect(await api.caller.models.pausePull({ jobId: job.id })).toEqual({ paused: true });
    await expect(finished(api, job)).rejects.toThrow(/paused; pull acme\/tiny-bert again/);
    expect(fs.statSync(part).size).toBe(4000);
    expect(await api.caller.models.list()).toEqual([]);
    // Resume: the next pull asks only for the rest (a Range request from 4000) and verifies the file.
    const again = await finished(api, await api.caller.models.pull({ id: 'acme/tiny-bert' }));
    expect(again.state).toBe('done');
    expect(
      hub.log.some((l) => l.url.endsWith('/model.safetensors') && l.range?.startsWith('bytes=4000-')),
    ).toBe(true);
    expect(fs.readFileSync(path.join(wb.paths.models, 'acme--tiny-bert', 'model.safetensors'))).toEqual(
      fs.readFileSync(path.join(BERT, 'model.safetensors')),
    );
    expect(await api.caller.models.pausePull({ jobId: job.id })).toEqual({ paused: false });
  });
});

/** A finished run without training: the parity adapter of the bert fixture in a run folder. */
function fakeRun(w: Workbench, id: string): string {
  const runDir = path.join(w.paths.runs, id);
  fs.mkdirSync(runDir, { recursive: true });
  fs.cpSync(path.join(BERT, 'adapter'), path.join(runDir, 'adapter'), { recursive: true });
  const config = trainSettings.parse({
    datasets: ['d'],
    model: BERT,
    out: runDir,
    batchSize: 4,
    chunkSize: 4,
  });
  writeRunJson(runDir, config, { runId: id });
  w.store.db
    .prepare(
      `INSERT INTO training_runs (id, model_path, out_dir, config_json, state, step, total_steps) VALUES (?, ?, ?, ?, 'done', 3, 3)`,
    )
    .run(id, BERT, runDir, JSON.stringify(config));
  return runDir;
}

describe('artefacts.export: every artefact of a run as a job naming its folder', () => {
  it('adapter, merged, ONNX and embeddings of a split (.npy + index) and of a file (.parquet)', async () => {
    const { wb, api } = setup();
    fakeRun(wb, 'run-a');
    const d = wb.store.datasets.create('d');
    wb.store.examples.insertMany(
      d.id,
      Array.from({ length: 6 }, (_, i) => ({
        kind: 'short-long' as const,
        query: `q ${i}`,
        positive: `the positive document ${i}`,
        negative: i % 2 ? `a negative ${i}` : null,
        status: 'accepted' as const,
        split: i < 4 ? ('test' as const) : ('train' as const),
      })),
    );
    const out = (j: JobInfo) => (j.result as { out: string }).out;

    const adapter = await finished(
      api,
      await api.caller.artefacts.export({ kind: 'adapter', runId: 'run-a' }),
    );
    expect(out(adapter)).toBe(path.join(wb.paths.home, 'exports', 'run-a-adapter'));
    expect(fs.readFileSync(path.join(out(adapter), 'adapter_model.safetensors'))).toEqual(
      fs.readFileSync(path.join(BERT, 'adapter', 'adapter_model.safetensors')),
    );
    const merged = await finished(api, await api.caller.artefacts.export({ kind: 'merged', runId: 'run-a' }));
    expect(fs.existsSync(path.join(out(merged), 'model.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(out(merged), 'config.json'))).toBe(true);
    const onnx = await finished(api, await api.caller.artefacts.export({ kind: 'onnx', runId: 'run-a' }));
    expect(fs.readdirSync(path.join(out(onnx), 'onnx')).some((f) => f.endsWith('.onnx'))).toBe(true);
    // A second export of the same kind gets its own folder rather than failing or overwriting.
    const again = await finished(api, await api.caller.artefacts.export({ kind: 'adapter', runId: 'run-a' }));
    expect(out(again)).toBe(path.join(wb.paths.home, 'exports', 'run-a-adapter-2'));

    const emb = await finished(
      api,
      await api.caller.artefacts.export({ kind: 'embeddings', runId: 'run-a', dataset: 'd', split: 'test' }),
    );
    const npy = readNpy(path.join(out(emb), 'embeddings.npy'));
    const index = fs
      .readFileSync(path.join(out(emb), 'index.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // Test split: 4 positives and 2 negatives, one row each, in index order.
    expect(npy.shape[0]).toBe(6);
    expect(index).toHaveLength(6);
    expect(index.map((r) => r.field)).toEqual([
      'positive',
      'positive',
      'negative',
      'positive',
      'positive',
      'negative',
    ]);
    const norm = Math.hypot(...npy.data.subarray(0, npy.shape[1]));
    expect(norm).toBeCloseTo(1, 4);

    const texts = path.join(tmpDir(), 'texts.txt');
    fs.writeFileSync(texts, 'alpha\nbeta\ngamma\n');
    const pq = await finished(
      api,
      await api.caller.artefacts.export({ kind: 'embeddings', model: BERT, file: texts, format: 'parquet' }),
    );
    expect(fs.existsSync(path.join(out(pq), 'embeddings.parquet'))).toBe(true);
    expect(
      fs
        .readFileSync(path.join(out(pq), 'index.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(3);

    // Bad requests are one line each, before a job starts.
    await expect(api.caller.artefacts.export({ kind: 'merged' })).rejects.toThrow(/pick the training run/);
    await expect(api.caller.artefacts.export({ kind: 'adapter', runId: 'nope' })).rejects.toThrow(
      /no training run nope/,
    );
    await expect(api.caller.artefacts.export({ kind: 'embeddings', model: BERT })).rejects.toThrow(
      /dataset split or a file/,
    );
  });
});

describe('generationTools: the Generate screen extras', () => {
  it('tests the connection, lists the models, refuses a wrong key, says when the server is unreachable', async () => {
    const llm = await startLlmServer({ models: ['m-small', 'm-large'], apiKey: 'sk-right' });
    closers.push(() => llm.close());
    const { api } = setup();
    await api.caller.secrets.set({ name: 'good', value: 'sk-right' });
    await api.caller.secrets.set({ name: 'bad', value: 'sk-wrong' });
    expect(await api.caller.generationTools.connection({ baseUrl: llm.url, apiKeyName: 'good' })).toEqual({
      ok: true,
      models: ['m-large', 'm-small'],
      error: null,
    });
    const bad = await api.caller.generationTools.connection({ baseUrl: llm.url, apiKeyName: 'bad' });
    expect(bad).toMatchObject({ ok: false, models: [] });
    expect(bad.error).toMatch(/refused the API key/);
    const down = await api.caller.generationTools.connection({ baseUrl: 'http://127.0.0.1:9/v1' });
    expect(down.ok).toBe(false);
    expect(down.error).toMatch(/cannot reach/);
  });

  it('a Start that cannot run (no API key) fails before a run exists: no pending run left', async () => {
    const before = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    closers.push(() => {
      if (before !== undefined) process.env.OPENAI_API_KEY = before;
    });
    const { wb, api } = setup();
    wb.store.datasets.create('g');
    await expect(
      api.caller.generation.start({
        dataset: 'g',
        count: 5,
        models: 'gpt-4o-mini',
        baseUrl: 'https://api.example.com/v1',
      }),
    ).rejects.toThrow(/API key/);
    expect(wb.store.db.prepare('SELECT count(*) AS n FROM generation_runs').get()).toEqual({ n: 0 });
    await expect(
      api.caller.generation.start({ dataset: 'g', count: 5, models: 'm', apiKeyName: 'missing' }),
    ).rejects.toThrow(/API key/);
    expect(wb.store.db.prepare('SELECT count(*) AS n FROM generation_runs').get()).toEqual({ n: 0 });
  });

  it('shows the templates with versions; an override changes the version and can be removed', async () => {
    const { wb, api } = setup();
    wb.store.datasets.create('t');
    const list = await api.caller.generationTools.templates({ name: 't' });
    const sts = list.find((x) => x.id === 'example.sts')!;
    expect(sts.overridden).toBe(false);
    expect(sts.placeholders.length).toBeGreaterThan(0);
    const text = `${sts.text}\nWrite plainly.`;
    const after = await api.caller.generationTools.setTemplate({ dataset: 't', id: sts.id, text });
    const changed = after.find((x) => x.id === sts.id)!;
    expect(changed).toMatchObject({ overridden: true, text });
    expect(changed.version).not.toBe(sts.version);
    await expect(
      api.caller.generationTools.setTemplate({ dataset: 't', id: sts.id, text: 'no placeholders' }),
    ).rejects.toThrow(/lacks/);
    const back = await api.caller.generationTools.setTemplate({ dataset: 't', id: sts.id, text: null });
    expect(back.find((x) => x.id === sts.id)).toMatchObject({ overridden: false, version: sts.version });
  });
});

describe('training runs in the app: dataset, device, Resume and Cancel run', () => {
  it('a stopped run with a checkpoint offers Resume; Cancel run gives it up; finished runs offer neither', async () => {
    const { wb, api } = setup();
    const runDir = fakeRun(wb, 'run-b');
    wb.store.db.prepare(`UPDATE training_runs SET state = 'cancelled' WHERE id = 'run-b'`).run();
    const row = async () => (await api.caller.training.list()).find((r) => r.id === 'run-b')!;
    // No checkpoint yet: nothing to resume from.
    expect((await row()).resumable).toBe(false);
    await expect(api.caller.training.resume({ runId: 'run-b' })).rejects.toThrow(/no checkpoint/);
    fs.mkdirSync(path.join(runDir, 'checkpoints', 'step-000002'), { recursive: true });
    fs.writeFileSync(path.join(runDir, 'checkpoints', 'step-000002', 'trainer_state.json'), '{}');
    const r = await row();
    expect(r).toMatchObject({ resumable: true, datasets: ['d'], device: 'auto', step: 3, totalSteps: 3 });
    expect(['cpu', 'cuda', 'webgpu']).toContain(r.deviceUsed);
    expect(r.adapterDir).toBe(path.join(runDir, 'adapter'));
    expect((await api.caller.training.discard({ runId: 'run-b' })).runId).toBe('run-b');
    expect(await row()).toMatchObject({ state: 'discarded', resumable: false });
    await expect(api.caller.training.resume({ runId: 'run-b' })).rejects.toThrow(/cancelled for good/);
    // A finished run can be neither resumed nor cancelled.
    fakeRun(wb, 'run-c');
    await expect(api.caller.training.resume({ runId: 'run-c' })).rejects.toThrow(/finished/);
    await expect(api.caller.training.discard({ runId: 'run-c' })).rejects.toThrow(/finished/);
    await expect(api.caller.training.resume({ runId: 'nope' })).rejects.toThrow(/no training run nope/);
  });
});
