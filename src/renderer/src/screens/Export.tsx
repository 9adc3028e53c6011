import { useState } from 'react';
import type { Inputs, JobInfo } from '../../../shared/contract';
import { useApi } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { JobsList } from '../components/Jobs';
import { useNav } from '../nav';

export function ExportScreen() {
  const nav = useNav();
  const { client } = useApi();
  const [form, setForm] = useState<Omit<Inputs['datasetExport'], 'name'>>({
    format: 'jsonl',
    layout: 'paper',
    status: 'accepted',
  });
  const [error, setError] = useState<string | null>(null);
  const [job, setJob] = useState<JobInfo | null>(null);
  if (!nav.dataset)
    return (
      <div className="screen">
        <div className="empty">Pick a dataset in the sidebar to export it.</div>
      </div>
    );
  const set = (k: keyof typeof form, v: string) => setForm((f) => ({ ...f, [k]: v || undefined }));
  return (
    <div className="screen">
      <Card title={`Export ${nav.dataset}`}>
        <form
          className="grid-form"
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              setJob(await client.datasets.export.mutate({ name: nav.dataset!, ...form }));
            } catch (err) {
              setError(errorText(err));
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
          <label className="wide">
            Output file (on the machine running Embedsmith; empty: the workspace's exports folder)
            <input
              value={form.out ?? ''}
              onChange={(e) => set('out', e.target.value)}
              placeholder="/path/out.jsonl"
            />
          </label>
          <button type="submit" className="primary">
            Export
          </button>
        </form>
        <ErrorBox error={error} />
      </Card>
      <JobsList types={['export']} highlight={job?.id} />
    </div>
  );
}
