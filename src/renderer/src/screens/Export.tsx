// Every artefact the workbench makes, exported from the app: the dataset, a run's PEFT adapter, the merged
// model, the ONNX (transformers.js) folder, and embeddings of a split or a file. Each is a job with progress;
// its result names the output folder.
import { useEffect, useState } from 'react';
import type { ArtefactKind, Inputs, JobInfo, TrainingRunInfo } from '../../../shared/contract';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { JobCard } from '../components/JobCard';
import { guiError } from '../gui-errors';
import { useNav } from '../nav';
import { OutputFolder, outputFolder } from './OutputFolder';
import { PathField } from './PathField';
import { RunAdapterPicker } from './RunPicker';
import './forms.css';

const KIND_LABEL: Record<ArtefactKind, string> = {
  adapter: 'PEFT adapter',
  merged: 'Merged model',
  onnx: 'ONNX (transformers.js)',
  embeddings: 'Embeddings',
  trainer: 'trainer job (multi-GPU sentence-transformers)',
};

/** The export jobs started here, with progress and the output folder once done. */
function useExportJobs() {
  const { onEvent } = useApi();
  const initial = useQuery((c) => c.jobs.list.query(), []);
  const [jobs, setJobs] = useState<JobInfo[]>([]);
  useEffect(() => {
    if (initial.data) setJobs(initial.data.filter((j) => j.type === 'export'));
  }, [initial.data]);
  useEffect(
    () =>
      onEvent((e) => {
        if (e.topic !== 'job' || e.job.type !== 'export') return;
        setJobs((js) => {
          const i = js.findIndex((j) => j.id === e.job.id);
          return i < 0 ? [e.job, ...js] : js.map((j) => (j.id === e.job.id ? e.job : j));
        });
      }),
    [onEvent],
  );
  return jobs;
}

export function ExportScreen() {
  const jobs = useExportJobs();
  return (
    <div className="screen">
      <ModelExports />
      <EmbeddingsExport />
      <DatasetExport />
      <Card title="Exports">
        <div className="jobs" data-testid="export-jobs">
          {jobs.length === 0 && <div className="muted">Nothing exported yet in this session.</div>}
          {jobs.map((j) => (
            <ExportJob key={j.id} job={j} />
          ))}
        </div>
      </Card>
    </div>
  );
}

function ExportJob({ job }: { job: JobInfo }) {
  const r = (job.result ?? {}) as {
    out?: string;
    files?: string[];
    rows?: number;
    count?: number;
    dataset?: string;
  };
  return (
    <JobCard job={job} testId="export-job">
      {r.out && (
        <div className="attrs">
          {/* A dataset export writes one file: its folder is the one to open. */}
          <OutputFolder folder={outputFolder(r.out, r.dataset !== undefined)} />
          {r.dataset !== undefined && <span className="muted small">file {r.out}</span>}
          {r.files && (
            <span className="muted small">
              {r.files.length} files: {r.files.slice(0, 6).join(', ')}
              {r.files.length > 6 ? ', …' : ''}
            </span>
          )}
          {r.count !== undefined && <span>{r.count} texts</span>}
          {r.rows !== undefined && <span>{r.rows} rows</span>}
        </div>
      )}
    </JobCard>
  );
}

function ModelExports() {
  const { client } = useApi();
  const [run, setRun] = useState<TrainingRunInfo | null>(null);
  const [out, setOut] = useState('');
  const [gpus, setGpus] = useState('1');
  const [nodes, setNodes] = useState('1');
  const [error, setError] = useState<string | null>(null);
  const start = async (kind: ArtefactKind) => {
    setError(null);
    try {
      const scale = kind === 'trainer' ? { gpus: Number(gpus), nodes: Number(nodes) } : {};
      await client.artefacts.export.mutate({ kind, runId: run?.id, out: out.trim() || undefined, ...scale });
    } catch (e) {
      setError(guiError(errorText(e)).text);
    }
  };
  return (
    <Card title="Export a trained model">
      <div className="grid-form">
        <RunAdapterPicker value={run?.id ?? null} onPick={setRun} label="Training run" />
        <div className="wide">
          <PathField
            label="Output folder (empty: the workspace's exports folder)"
            aria="model output folder"
            kind="folder"
            value={out}
            onChange={setOut}
            placeholder="/path/to/new-folder"
          />
        </div>
        <label>
          GPUs per node (trainer job)
          <input
            aria-label="GPUs per node"
            inputMode="numeric"
            value={gpus}
            onChange={(e) => setGpus(e.target.value)}
          />
        </label>
        <label>
          Nodes (trainer job)
          <input
            aria-label="nodes"
            inputMode="numeric"
            value={nodes}
            onChange={(e) => setNodes(e.target.value)}
          />
        </label>
      </div>
      <div className="row-actions">
        {(['adapter', 'merged', 'onnx', 'trainer'] as const).map((k) => (
          <button key={k} type="button" disabled={!run} onClick={() => start(k)}>
            Export {KIND_LABEL[k]}
          </button>
        ))}
        {run && (
          <span className="muted small">
            base {run.model} · adapter {run.adapterDir}
          </span>
        )}
      </div>
      <ErrorBox error={error} />
    </Card>
  );
}

function EmbeddingsExport() {
  const nav = useNav();
  const { client } = useApi();
  const datasets = useQuery((c) => c.datasets.list.query(), []);
  const models = useQuery((c) => c.models.list.query(), []);
  const [run, setRun] = useState<TrainingRunInfo | null>(null);
  const [model, setModel] = useState('');
  const [source, setSource] = useState<'split' | 'file'>('split');
  const [dataset, setDataset] = useState(nav.dataset ?? '');
  const [split, setSplit] = useState<'' | 'train' | 'dev' | 'test'>('test');
  const [file, setFile] = useState('');
  const [format, setFormat] = useState<'npy' | 'parquet'>('npy');
  const [out, setOut] = useState('');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!dataset && nav.dataset) setDataset(nav.dataset);
  }, [nav.dataset, dataset]);
  return (
    <Card title="Export embeddings">
      <form
        className="grid-form"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          try {
            await client.artefacts.export.mutate({
              kind: 'embeddings',
              runId: run?.id,
              model: run ? undefined : model.trim() || undefined,
              ...(source === 'split'
                ? { dataset: dataset || undefined, split: split || undefined }
                : { file }),
              format,
              out: out.trim() || undefined,
            });
          } catch (err) {
            setError(guiError(errorText(err)).text);
          }
        }}
      >
        <RunAdapterPicker value={run?.id ?? null} onPick={setRun} label="With this run's adapter" />
        {!run && (
          <div className="wide">
            <PathField
              label="… or a model folder"
              aria="embedding model"
              kind="folder"
              value={model}
              onChange={setModel}
              suggestions={(models.data ?? []).map((m) => ({ value: m.path, label: m.name }))}
            />
          </div>
        )}
        <label>
          Texts
          <select
            aria-label="texts source"
            value={source}
            onChange={(e) => setSource(e.target.value as 'split')}
          >
            <option value="split">a dataset split (accepted rows' documents)</option>
            <option value="file">a file (.txt / .jsonl)</option>
          </select>
        </label>
        {source === 'split' ? (
          <>
            <label>
              Dataset
              <select
                aria-label="embeddings dataset"
                value={dataset}
                onChange={(e) => setDataset(e.target.value)}
              >
                <option value="">(pick)</option>
                {(datasets.data ?? []).map((d) => (
                  <option key={d.name}>{d.name}</option>
                ))}
              </select>
            </label>
            <label>
              Split
              <select
                aria-label="embeddings split"
                value={split}
                onChange={(e) => setSplit(e.target.value as 'test')}
              >
                <option value="">all</option>
                <option value="train">train</option>
                <option value="dev">dev</option>
                <option value="test">test</option>
              </select>
            </label>
          </>
        ) : (
          <div className="wide">
            <PathField
              label="Texts file"
              aria="texts file"
              kind="file"
              extensions={['txt', 'jsonl']}
              value={file}
              onChange={setFile}
            />
          </div>
        )}
        <label>
          Format
          <select
            aria-label="embeddings format"
            value={format}
            onChange={(e) => setFormat(e.target.value as 'npy')}
          >
            <option value="npy">.npy (+ index.jsonl)</option>
            <option value="parquet">.parquet (+ index.jsonl)</option>
          </select>
        </label>
        <div className="wide">
          <PathField
            label="Output folder (empty: the workspace's exports folder)"
            aria="embeddings output folder"
            kind="folder"
            value={out}
            onChange={setOut}
          />
        </div>
        <button type="submit" className="primary" disabled={!run && !model.trim()}>
          Export embeddings
        </button>
      </form>
      <ErrorBox error={error} />
    </Card>
  );
}

function DatasetExport() {
  const nav = useNav();
  const { client } = useApi();
  const [form, setForm] = useState<Omit<Inputs['datasetExport'], 'name'>>({
    format: 'jsonl',
    layout: 'paper',
    status: 'accepted',
  });
  const [error, setError] = useState<string | null>(null);
  const set = (k: keyof typeof form, v: string) => setForm((f) => ({ ...f, [k]: v || undefined }));
  return (
    <Card title={nav.dataset ? `Export dataset ${nav.dataset}` : 'Export a dataset'}>
      {!nav.dataset ? (
        <div className="muted">Pick a dataset in the sidebar to export it.</div>
      ) : (
        <form
          className="grid-form"
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              await client.datasets.export.mutate({ name: nav.dataset!, ...form });
            } catch (err) {
              setError(guiError(errorText(err)).text);
            }
          }}
        >
          <label>
            Format
            <select value={form.format} onChange={(e) => set('format', e.target.value)}>
              <option value="jsonl">JSONL</option>
              <option value="parquet">Parquet</option>
            </select>
          </label>
          <label>
            Layout
            <select value={form.layout} onChange={(e) => set('layout', e.target.value)}>
              <option value="paper">paper (E5-mistral JSON keys)</option>
              <option value="sentence-transformers">sentence-transformers</option>
              <option value="flagembedding">FlagEmbedding</option>
            </select>
          </label>
          <label>
            Status
            <select value={form.status} onChange={(e) => set('status', e.target.value)}>
              <option value="accepted">accepted only</option>
              <option value="unreviewed">unreviewed</option>
              <option value="rejected">rejected</option>
              <option value="all">all</option>
            </select>
          </label>
          <label>
            Split
            <select value={form.split ?? ''} onChange={(e) => set('split', e.target.value)}>
              <option value="">any</option>
              <option value="train">train</option>
              <option value="dev">dev</option>
              <option value="test">test</option>
            </select>
          </label>
          <div className="wide">
            <PathField
              label="Output file (empty: the workspace's exports folder)"
              aria="dataset output file"
              kind="save"
              value={form.out ?? ''}
              onChange={(v) => set('out', v)}
              placeholder="/path/out.jsonl"
            />
          </div>
          <button type="submit" className="primary">
            Export
          </button>
        </form>
      )}
      <ErrorBox error={error} />
    </Card>
  );
}
