// The Train screen's "Export for multi-GPU" (issue #19): the form's current settings, as they are, become a
// sentence-transformers + PEFT job folder (artefactExport kind 'trainer' with `settings`), run as a job.
import { useEffect, useState } from 'react';
import type { JobInfo } from '../../../shared/contract';
import type { TrainStartInput } from '../../../shared/training';
import { useApi } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { JobCard } from '../components/JobCard';
import { OutputFolder } from './OutputFolder';
import { PathField } from './PathField';

/** The newest state of one job: events seen from mount on, so one that ends before its id is known counts. */
function useJob(id: string | null, started: JobInfo | null): JobInfo | null {
  const { onEvent } = useApi();
  const [seen, setSeen] = useState<Record<string, JobInfo>>({});
  useEffect(
    () =>
      onEvent((e) => {
        if (e.topic === 'job' && e.job.type === 'export') setSeen((s) => ({ ...s, [e.job.id]: e.job }));
      }),
    [onEvent],
  );
  return id ? (seen[id] ?? started) : null;
}

export function ScaleOutExport({ settings }: { settings: () => TrainStartInput | null }) {
  const { client } = useApi();
  const [gpus, setGpus] = useState('1');
  const [nodes, setNodes] = useState('1');
  const [out, setOut] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [started, setStarted] = useState<JobInfo | null>(null);
  const job = useJob(started?.id ?? null, started);
  const start = async () => {
    setError(null);
    const s = settings();
    if (!s) return; // the form shows which fields to fix
    const count = (v: string, what: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: give a whole number of at least 1`);
      return n;
    };
    try {
      const j = await client.artefacts.export.mutate({
        kind: 'trainer',
        settings: s,
        gpus: count(gpus, 'GPUs per node'),
        nodes: count(nodes, 'Nodes'),
        out: out.trim() || undefined,
      });
      setStarted(j);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const r = (job?.result ?? {}) as { out?: string; files?: string[]; rows?: number };
  return (
    <Card title="Export for multi-GPU">
      <div className="muted small">
        These settings as a sentence-transformers + PEFT job (train.py, torchrun / accelerate / SLURM
        launchers) with the rows exactly as this trainer sees them.
      </div>
      <div className="grid-form">
        <label>
          GPUs per node
          <input
            aria-label="multi-GPU GPUs per node"
            inputMode="numeric"
            value={gpus}
            onChange={(e) => setGpus(e.target.value)}
          />
        </label>
        <label>
          Nodes
          <input
            aria-label="multi-GPU nodes"
            inputMode="numeric"
            value={nodes}
            onChange={(e) => setNodes(e.target.value)}
          />
        </label>
        <div className="wide">
          <PathField
            label="Output folder (empty: the workspace's exports folder)"
            aria="multi-GPU output folder"
            kind="folder"
            value={out}
            onChange={setOut}
          />
        </div>
      </div>
      <div className="row-actions">
        <button type="button" onClick={() => void start()} disabled={job?.state === 'running'}>
          Export for multi-GPU
        </button>
      </div>
      <ErrorBox error={error} />
      {job && (
        <JobCard job={job} testId="scaleout-job">
          {r.out && (
            <div className="attrs">
              <OutputFolder folder={r.out} testId="scaleout-out" />
              {r.rows !== undefined && <span>{r.rows} rows</span>}
              {r.files && <span className="muted small">{r.files.join(', ')}</span>}
            </div>
          )}
        </JobCard>
      )}
    </Card>
  );
}
