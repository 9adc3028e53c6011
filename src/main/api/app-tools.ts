// The contract's artefacts / models / paths / demo procedures: what the app needs to finish the job without
// the CLI (exports of every artefact, the model library, picking paths, the first-run demo). Each long one
// is a job on the registry, so every window sees its progress and result (the output folder).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DirEntry, DirListing, Inputs, ModelInfo, Services } from '../../shared/contract';
import type { Progress } from '../../shared/domain';
import { UserError } from '../errors';
import { ProgressTracker } from '../jobs/progress';
import { siblingModule } from '../ts-worker';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';
import type { ExportJobInput, ExportJobResult } from './export-job';
import type { JobRegistry } from './jobs';

/** What Electron's main process answers for a native dialog (null: cancelled). */
export interface NativeDialogs {
  pick(i: Inputs['pathPick']): Promise<string | null>;
  /** Opens a folder in the desktop's file manager: '' when it did, else the reason. */
  open(path: string): Promise<string>;
}

export interface AppToolsOptions {
  /** Native dialogs (Electron); absent in browser mode, where the renderer browses with paths.list. */
  dialogs?: NativeDialogs;
  /** Root of the server-side file browser (default: the user's home). */
  browseRoot?: string;
}

// Loaded on use: the model stack pulls in onnxruntime-node, which listing datasets should not pay for.
const modelLib = async () => {
  const [model, io, texport, hub, demo] = await Promise.all([
    import('../models/model'),
    import('../models/io'),
    import('../training/export'),
    import('../models/hub'),
    import('../demo'),
  ]);
  return { ...model, ...io, ...texport, ...hub, demo };
};

const isDir = (p: string) => {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
};

function readJson(file: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function dirSize(dir: string): number {
  let s = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) s += dirSize(p);
    else if (e.isFile()) s += fs.statSync(p).size;
  }
  return s;
}

/** A model folder as the library lists it: type, dtype and pooling from its config files. */
export function describeModel(dir: string, source: ModelInfo['source'], name?: string): ModelInfo | null {
  const config = readJson(path.join(dir, 'config.json'));
  if (!config) return null;
  const pool = readJson(path.join(dir, '1_Pooling', 'config.json'));
  const pooling = pool
    ? ((['pooling_mode_lasttoken', 'pooling_mode_mean_tokens', 'pooling_mode_cls_token'] as const)
        .filter((k) => pool[k] === true)
        .map(
          (k) =>
            ({
              pooling_mode_lasttoken: 'last_token',
              pooling_mode_mean_tokens: 'mean',
              pooling_mode_cls_token: 'cls',
            })[k],
        )[0] ?? null)
    : null;
  const manifest = readJson(path.join(dir, '.embedsmith-model.json')) ?? {};
  return {
    name: name ?? (typeof manifest.id === 'string' ? manifest.id : path.basename(dir).replace(/--/g, '/')),
    path: dir,
    type: typeof config.model_type === 'string' ? config.model_type : null,
    dtype: typeof config.torch_dtype === 'string' ? config.torch_dtype : null,
    pooling,
    sizeBytes: dirSize(dir),
    source,
    revision: typeof manifest.revision === 'string' ? manifest.revision : null,
  };
}

/** A path the file browser may show: inside the root, symlinks resolved (no escape by ../ or a link). */
function insideRoot(root: string, p: string): string {
  const real = fs.realpathSync(p);
  const r = fs.realpathSync(root);
  if (real !== r && !real.startsWith(r.endsWith(path.sep) ? r : r + path.sep))
    throw new UserError(`${p} is outside ${root}; the file browser shows only folders under it`);
  return real;
}

export function createAppTools(
  wb: Workbench,
  hub: EventHub,
  jobs: JobRegistry,
  o: AppToolsOptions = {},
): Pick<Services, 'artefacts' | 'models' | 'paths' | 'demo'> {
  return {
    artefacts: artefactsApi(wb, jobs),
    models: modelsApi(wb, hub, jobs),
    paths: pathsApi(o),
    demo: demoApi(wb, hub, jobs),
  };
}

const EXPORT_JOB = siblingModule(import.meta.url, 'export-job').href;

const exportsDirOf = (wb: Workbench) => path.join(wb.paths.home, 'exports');

function artefactsApi(wb: Workbench, jobs: JobRegistry): Services['artefacts'] {
  const exportsDir = exportsDirOf(wb);
  const runRow = (runId: string) => {
    const r = wb.store.db.prepare('SELECT id, out_dir FROM training_runs WHERE id = ?').get(runId) as
      | { id: string; out_dir: string }
      | undefined;
    if (!r) throw new UserError(`no training run ${runId}; pick one from the Runs table`);
    return r;
  };
  const freshOut = (want: string | undefined, base: string) => {
    if (want) return path.resolve(want);
    let out = path.join(exportsDir, base);
    for (let i = 2; fs.existsSync(out); i++) out = path.join(exportsDir, `${base}-${i}`);
    return out;
  };

  return {
    export(i) {
      const run = i.runId ? runRow(i.runId) : null;
      checkExport(i, run !== null);
      if (i.kind === 'trainer' && i.settings) {
        const out = freshOut(i.out, `${i.settings.datasets.join('+')}-trainer`);
        return trainerFromSettings(wb, jobs, i, i.settings, out);
      }
      const lib = modelLib();
      const what =
        i.kind === 'embeddings'
          ? `embeddings of ${i.file ?? `${i.dataset}${i.split ? `:${i.split}` : ''}`}`
          : i.kind;
      const format = i.format ?? 'npy';
      const out = freshOut(
        i.out,
        `${run?.id ?? path.basename(i.model ?? 'model')}-${i.kind}${i.kind === 'embeddings' ? `-${i.dataset ?? path.parse(i.file ?? 'texts').name}` : ''}`,
      );
      if (i.kind === 'merged' || i.kind === 'onnx')
        return workerExport(
          wb,
          jobs,
          { kind: i.kind, runDir: run!.out_dir, runsDir: wb.paths.runs, out },
          run!.id,
          what,
        );
      // Cancellable for embeddings (the long one): it stops between batches and writes nothing.
      return jobs.start(
        'export',
        `export ${what} → ${out}`,
        async (onProgress, job) => {
          const L = await lib;
          const t = new ProgressTracker(1, 'files', onProgress);
          if (i.kind === 'adapter') {
            const r = L.resolveRun(run!.out_dir, wb.paths.runs);
            if (fs.existsSync(out) && fs.readdirSync(out).length)
              throw new UserError(`${out} exists and is not empty; pick another output folder`);
            fs.mkdirSync(path.dirname(out), { recursive: true });
            fs.cpSync(r.adapterDir, `${out}.tmp`, { recursive: true });
            fs.renameSync(`${out}.tmp`, out);
            t.tick();
            return { out, files: fs.readdirSync(out).sort() };
          }
          if (i.kind === 'trainer') {
            // The run's config as a sentence-transformers + PEFT job (src/main/training/scaleout).
            const S = await import('../training/scaleout');
            const { config, run: runDir } = S.trainerConfigFor(wb.store, wb.paths.runs, run!.out_dir, {});
            fs.mkdirSync(path.dirname(out), { recursive: true });
            const res = S.exportTrainerJob(wb.store, {
              config,
              out,
              gpus: i.gpus,
              nodes: i.nodes,
              run: runDir,
              onProgress,
            });
            return { out: res.out, files: res.files, rows: res.rows };
          }
          return embedTexts(wb, i, run, L, out, format, onProgress, job.signal);
        },
        {},
        { cancellable: i.kind === 'embeddings' },
      );
    },
  };
}

/** The embeddings export: texts of a split or a file through the model, three files into `out`. */
async function embedTexts(
  wb: Workbench,
  i: Inputs['artefactExport'],
  run: { out_dir: string } | null,
  L: Awaited<ReturnType<typeof modelLib>>,
  out: string,
  format: 'npy' | 'parquet',
  onProgress: (p: Progress) => void,
  signal: AbortSignal,
) {
  let modelDir = i.model ?? '';
  let adapterDir: string | null = null;
  if (run) {
    const r = L.resolveRun(run.out_dir, wb.paths.runs);
    modelDir = r.modelDir;
    adapterDir = r.adapterDir;
  }
  // The index says what each embedding row is: the example and field, or the file's line.
  const index: Record<string, unknown>[] = [];
  const texts: string[] = [];
  if (i.file) {
    for (const [n, t] of L.readTexts(i.file).entries()) {
      texts.push(t);
      index.push({ row: n, line: n + 1, text: t });
    }
  } else {
    const d = wb.store.datasets.get(i.dataset!);
    const rows = [...wb.store.examples.iterate(d.id, { split: i.split, status: 'accepted' })];
    if (!rows.length)
      throw new UserError(
        `${i.dataset}${i.split ? ` (${i.split} split)` : ''} has no accepted rows to embed; accept rows in Curate${i.split ? ' or "Assign splits"' : ''}`,
      );
    const seen = new Set<string>();
    for (const e of rows)
      for (const field of ['positive', 'negative'] as const) {
        const t = e[field];
        if (!t || seen.has(t)) continue;
        seen.add(t);
        texts.push(t);
        index.push({ row: texts.length - 1, exampleId: e.id, field, text: t });
      }
  }
  const model = L.EmbeddingModel.load(modelDir);
  try {
    const adapter = adapterDir ? model.loadAdapter(adapterDir) : null;
    const stopIfCancelled = () => {
      if (signal.aborted) throw new UserError(`export to ${out} cancelled; nothing was written`);
    };
    // The model reports after each batch: a cancel stops it there (the throw leaves embed between
    // batches), and nothing is written.
    const emb = await model.embed(texts, {
      role: 'document',
      adapter,
      onProgress: (p) => {
        stopIfCancelled();
        onProgress(p);
      },
    });
    stopIfCancelled();
    const files = [`embeddings.${format}`, 'index.jsonl', 'embeddings.json'];
    // Written beside the target, then moved in (a failed write leaves no half-written file there).
    const tmp = `${out.replace(/[\\/]$/, '')}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    try {
      L.writeEmbeddings(path.join(tmp, files[0]), texts, emb, model.dim);
      fs.writeFileSync(path.join(tmp, files[1]), `${index.map((r) => JSON.stringify(r)).join('\n')}\n`);
      fs.writeFileSync(
        path.join(tmp, files[2]),
        `${JSON.stringify({ count: texts.length, dim: model.dim, model: modelDir, adapter: adapterDir, pooling: model.pooling, normalized: model.normalize }, null, 2)}\n`,
      );
      fs.mkdirSync(out, { recursive: true });
      for (const f of files) fs.renameSync(path.join(tmp, f), path.join(out, f));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return {
      out,
      files,
      count: texts.length,
      dim: model.dim,
    };
  } finally {
    await model.dispose();
  }
}

/** An export request that cannot run, refused in one line before a job starts. */
function checkExport(i: Inputs['artefactExport'], hasRun: boolean): void {
  if (i.settings && (i.kind !== 'trainer' || hasRun))
    throw new UserError(
      i.kind === 'trainer'
        ? 'export the trainer job of a run or of the Train form’s settings, not both'
        : `the Train form’s settings export only the trainer job, not the ${i.kind}`,
    );
  if (i.kind === 'trainer' && i.settings) return;
  if (i.kind !== 'embeddings' && !hasRun)
    throw new UserError(`pick the training run whose ${i.kind} to export`);
  if (i.kind === 'embeddings') {
    if (!hasRun && !i.model) throw new UserError('pick a training run or a model to embed with');
    if (!i.file && !i.dataset) throw new UserError('pick a dataset split or a file of texts to embed');
    if (i.file && !fs.existsSync(i.file)) throw new UserError(`${i.file}: no such file; check the path`);
  }
}

/** Merged / ONNX as a worker-thread job: the merge would otherwise block every request for its whole length. */
function workerExport(wb: Workbench, jobs: JobRegistry, input: ExportJobInput, runId: string, what: string) {
  const h = wb.runner.start<ExportJobResult>(
    'export',
    { kind: input.kind, runId, out: input.out },
    { label: `export ${what} → ${input.out}`, moduleUrl: EXPORT_JOB, input },
  );
  h.done.catch(() => undefined); // its failure is the job row's error
  return jobs.get(h.id);
}

/** The Train screen's "Export for multi-GPU": the form's dataset and settings, as `export trainer DATASET`. */
function trainerFromSettings(
  wb: Workbench,
  jobs: JobRegistry,
  i: Inputs['artefactExport'],
  settings: NonNullable<Inputs['artefactExport']['settings']>,
  out: string,
) {
  const names = settings.datasets;
  return jobs.start('export', `export trainer ${names.join(', ')} → ${out}`, async (onProgress) => {
    const S = await import('../training/scaleout');
    const { config } = S.trainerConfigForDatasets(wb.store, wb.paths.runs, names, settings);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const res = S.exportTrainerJob(wb.store, { config, out, gpus: i.gpus, nodes: i.nodes, onProgress });
    return { out: res.out, files: res.files, rows: res.rows };
  });
}

function modelsApi(wb: Workbench, hub: EventHub, jobs: JobRegistry): Services['models'] {
  const exportsDir = exportsDirOf(wb);
  const pulls = new Map<string, AbortController>();
  return {
    list() {
      const out: ModelInfo[] = [];
      const dir = wb.paths.models;
      if (isDir(dir))
        for (const name of fs.readdirSync(dir).sort()) {
          const d = path.join(dir, name);
          // A pull still under way (or paused) is not a model yet.
          if (!isDir(d) || fs.readdirSync(d).some((f) => f.endsWith('.part'))) continue;
          const m = describeModel(d, name.startsWith('embedsmith-demo') ? 'demo' : 'pulled');
          if (m) out.push(m);
        }
      // Merged exports are model folders too.
      if (isDir(exportsDir))
        for (const name of fs.readdirSync(exportsDir).sort()) {
          const d = path.join(exportsDir, name);
          if (isDir(d) && fs.existsSync(path.join(d, 'model.safetensors'))) {
            const m = describeModel(d, 'local', name);
            if (m) out.push(m);
          }
        }
      return out;
    },
    pull(i) {
      const ac = new AbortController();
      // Cancellable like Pause: every request of the pull carries both signals, and the partial file stays
      // for a resume (the hub client writes to FILE.part and continues from its size).
      const job = jobs.start(
        'model-pull',
        `pull ${i.id}${i.revision ? `@${i.revision}` : ''}`,
        async (onProgress, j) => {
          const stop = AbortSignal.any([ac.signal, j.signal]);
          const stoppable: typeof fetch = (input, init) =>
            fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, stop]) : stop });
          try {
            const L = await modelLib();
            const r = await L.pullModel(wb.paths.models, i.id, {
              revision: i.revision,
              onProgress,
              fetch: stoppable,
            });
            return {
              out: path.join(wb.paths.models, L.modelDirName(i.id)),
              files: r.files.length,
              sha: r.sha,
            };
          } catch (e) {
            if (stop.aborted)
              throw new UserError(
                `${j.signal.aborted ? 'cancelled' : 'paused'}; pull ${i.id} again to continue from the bytes already downloaded`,
              );
            throw e;
          } finally {
            pulls.delete(job.id);
            hub.emit({ topic: 'datasets' });
          }
        },
        {},
        { cancellable: true },
      );
      pulls.set(job.id, ac);
      return job;
    },
    pausePull(i) {
      const ac = pulls.get(i.jobId);
      ac?.abort();
      return { paused: Boolean(ac) };
    },
    remove(i) {
      const root = fs.existsSync(wb.paths.models) ? fs.realpathSync(wb.paths.models) : wb.paths.models;
      let real: string;
      try {
        real = fs.realpathSync(i.path);
      } catch {
        throw new UserError(`${i.path}: no such model folder`);
      }
      if (path.dirname(real) !== root)
        throw new UserError(
          `${i.path} is not in the model library (${wb.paths.models}); only pulled models can be removed here`,
        );
      fs.rmSync(real, { recursive: true, force: true });
      return { removed: real };
    },
  };
}

function pathsApi(o: AppToolsOptions): Services['paths'] {
  return {
    list(i): DirListing {
      const root = path.resolve(o.browseRoot ?? os.homedir());
      const want = i.dir ? path.resolve(root, i.dir) : root;
      if (!fs.existsSync(want)) throw new UserError(`${want}: no such folder`);
      const dir = insideRoot(root, isDir(want) ? want : path.dirname(want));
      const entries: DirEntry[] = [];
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (!i.hidden && e.name.startsWith('.')) continue;
        const p = path.join(dir, e.name);
        let st: fs.Stats;
        try {
          st = fs.statSync(p);
        } catch {
          continue; // a dangling link
        }
        if (!st.isDirectory() && !st.isFile()) continue;
        entries.push({
          name: e.name,
          path: p,
          type: st.isDirectory() ? 'dir' : 'file',
          size: st.isFile() ? st.size : null,
        });
      }
      entries.sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : 1));
      const realRoot = fs.realpathSync(root);
      return {
        dir,
        root: realRoot,
        parent: dir === realRoot ? null : path.dirname(dir),
        entries: entries.slice(0, 2000),
      };
    },
    async pick(i) {
      if (!o.dialogs) return { supported: false, path: null };
      return { supported: true, path: await o.dialogs.pick(i) };
    },
    async open(i) {
      if (!o.dialogs) return { supported: false, opened: false };
      // Checked here, on the machine the path is on: the shell's own message for a missing one is vaguer.
      if (!isDir(i.path)) throw new UserError(`${i.path}: no such folder; export again or check the path`);
      const why = await o.dialogs.open(path.resolve(i.path));
      return why ? { supported: true, opened: false, error: why } : { supported: true, opened: true };
    },
  };
}

function demoApi(wb: Workbench, hub: EventHub, jobs: JobRegistry): Services['demo'] {
  return {
    load() {
      // Cancellable until the dataset is published (the import's commit); the model folder is reused next time.
      return jobs.start(
        'demo',
        'load the demo (model and dataset)',
        async (onProgress, job) => {
          const L = await modelLib();
          const D = L.demo;
          const t = new ProgressTracker(3, 'stages', onProgress);
          const model = D.ensureDemoModel(wb.paths.models);
          t.tick(1, 'model ready');
          const { importDataset } = await import('../import');
          const imported = wb.store.datasets.find(D.DEMO_DATASET)
            ? null
            : await importDataset(wb.store, D.DEMO_DATASET, D.demoDataFile(), {
                create: true,
                layout: 'paper',
                rejectedDir: path.join(wb.paths.home, 'imports'),
                signal: job.signal,
                commit: job.commit,
              });
          if (!job.commit()) throw new UserError('loading the demo was cancelled; load it again to finish');
          t.tick(1, 'dataset imported');
          const { assignSplits } = await import('../store/splits');
          const d = wb.store.datasets.get(D.DEMO_DATASET);
          const split = assignSplits(wb.store.db, d.id, { ratios: D.DEMO_RATIOS, seed: D.DEMO_SPLIT_SEED });
          t.tick(1, 'splits assigned');
          hub.emit({ topic: 'datasets' });
          return { dataset: D.DEMO_DATASET, model: model.dir, imported: imported?.inserted ?? 0, split };
        },
        {},
        { cancellable: true },
      );
    },
  };
}
