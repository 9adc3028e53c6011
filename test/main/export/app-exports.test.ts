// The app's exports over a real workspace: the merged export runs as a worker-thread job (the serving
// process keeps answering), "open folder" goes through the contract to Electron's shell (stubbed at the
// Electron boundary only, the backend ↔ main relay real over a MessageChannel), and the Train screen's
// trainer export (a dataset + the form's settings) is the CLI's `export trainer DATASET` bundle.
import fs from 'node:fs';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../../src/main/api';
import { answerAsk, type DialogAnswer, type DialogAsk, relayedDialogs } from '../../../src/main/dialogs';
import { writeRunJson } from '../../../src/main/training/trainer';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import type { JobInfo } from '../../../src/shared/contract';
import { trainSettings } from '../../../src/shared/training';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

const BERT = path.join(FIXTURES, 'parity/bert');

let wb: Workbench | undefined;
const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
  wb?.close();
  wb = undefined;
});

function fakeRun(w: Workbench, id: string): void {
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
}

describe('artefacts.export merged / onnx: a worker-thread job', () => {
  it('the server answers a trivial call while the merge runs, and the job reports stages', async () => {
    wb = openWorkbench({ home: tmpDir() });
    const api: Api = createApi(wb, { transport: 'http' });
    fakeRun(wb, 'run-a');
    const progress: string[] = [];
    let started = 0;
    const off = wb.jobs.subscribe((j) => {
      if (j.progress?.message) progress.push(j.progress.message);
      if (j.progress?.message && !started) started = Date.now();
    });
    closers.push(off);
    const job = await api.caller.artefacts.export({ kind: 'merged', runId: 'run-a' });
    // Trivial calls while the job runs: answered between the worker's first stage and the job's end.
    const during: number[] = [];
    let end: JobInfo;
    for (;;) {
      const t0 = performance.now();
      await api.caller.datasets.list();
      const ms = performance.now() - t0;
      end = wb.jobs.get(job.id);
      if (end.state !== 'running') break;
      if (started) during.push(ms);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(end.state, end.error).toBe('done');
    expect(during.length).toBeGreaterThan(0);
    // No latency bound (a busy CI machine may be slow) and no exact stage list (progress is throttled):
    // answers while the job runs are what a main-thread export could not give.
    expect(progress.length).toBeGreaterThan(0);
    const out = (end.result as { out: string }).out;
    expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(true);
    // A failure in the worker is the job's one line.
    const bad = await api.caller.artefacts.export({ kind: 'onnx', runId: 'run-a', out });
    await wb.jobs.settled(bad.id);
    expect(wb.jobs.get(bad.id).state).toBe('failed');
  });
});

describe('paths.open: "open folder" through Electron main', () => {
  it('asks main over the port, which opens the folder with shell.openPath; a refusal is its reason', async () => {
    const opened: string[] = [];
    let refuse = '';
    // The Electron boundary: `shell` (and `dialog`) are the only stubs.
    const shell = {
      async openPath(p: string) {
        opened.push(p);
        return refuse;
      },
    };
    const dialog = {
      showOpenDialog: async () => ({ canceled: true, filePaths: [] }),
      showSaveDialog: async () => ({ canceled: true }),
    };
    const ch = new MessageChannel();
    closers.push(() => {
      ch.port1.close();
      ch.port2.close();
    });
    const dialogs = relayedDialogs((m) => ch.port1.postMessage(m));
    ch.port1.on('message', (m: DialogAnswer) => dialogs.answer(m));
    ch.port2.on('message', async (m: DialogAsk) =>
      ch.port2.postMessage(await answerAsk(m, dialog, shell, null)),
    );
    wb = openWorkbench({ home: tmpDir() });
    const api = createApi(wb, { transport: 'ipc', dialogs });
    const dir = tmpDir();
    expect(await api.caller.paths.open({ path: dir })).toEqual({ supported: true, opened: true });
    expect(opened).toEqual([dir]);
    refuse = 'Failed to open path';
    expect(await api.caller.paths.open({ path: dir })).toEqual({
      supported: true,
      opened: false,
      error: 'Failed to open path',
    });
    await expect(api.caller.paths.open({ path: path.join(dir, 'nope') })).rejects.toThrow(/no such folder/);
    expect(opened).toHaveLength(2);
    // Dialogs still answer over the same relay.
    expect(await api.caller.paths.pick({ mode: 'folder' })).toEqual({ supported: true, path: null });
  });

  it('in browser mode says there is no shell (the app shows the path and the file browser)', async () => {
    wb = openWorkbench({ home: tmpDir() });
    const api = createApi(wb, { transport: 'http' });
    expect(await api.caller.paths.open({ path: tmpDir() })).toEqual({ supported: false, opened: false });
  });
});
