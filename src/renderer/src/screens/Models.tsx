// The model library: local model folders (pulled, the demo's, merged exports) with what they are, hub pulls
// with progress (resumable and hash-checked by the hub code), removal, and "use in Train / Evaluate".
import { createColumnHelper } from '@tanstack/react-table';
import { useEffect, useMemo, useState } from 'react';
import type { JobInfo, ModelInfo } from '../../../shared/contract';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { JobCard } from '../components/JobCard';
import { DataTable, type plainFeatures } from '../components/DataTable';
import { guiError } from '../gui-errors';
import { useNav } from '../nav';
import { handOffModel } from './RunPicker';
import { useTrainModelSetter } from './TrainForm';

const helper = createColumnHelper<typeof plainFeatures, ModelInfo>();

const size = (b: number) =>
  b >= 1e9
    ? `${(b / 1e9).toFixed(2)} GB`
    : b >= 1e6
      ? `${(b / 1e6).toFixed(1)} MB`
      : `${(b / 1e3).toFixed(0)} kB`;

export function ModelsScreen() {
  const nav = useNav();
  const { client, onEvent } = useApi();
  const [id, setId] = useState('');
  const [revision, setRevision] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const models = useQuery(
    (c) => c.models.list.query(),
    [],
    (e) => e.topic === 'job' && e.job.type === 'model-pull' && e.job.state !== 'running',
  );
  void onEvent;
  const setTrainModel = useTrainModelSetter();
  const columns = useMemo(
    () => [
      helper.accessor('name', { header: 'Model' }),
      helper.accessor((m) => m.type ?? '?', { id: 'type', header: 'Type' }),
      helper.accessor((m) => m.dtype ?? '?', { id: 'dtype', header: 'dtype' }),
      helper.accessor((m) => m.pooling ?? '?', { id: 'pooling', header: 'Pooling' }),
      helper.accessor((m) => size(m.sizeBytes), { id: 'size', header: 'Size' }),
      helper.accessor('source', { header: 'Source' }),
      helper.accessor('path', { header: 'Where' }),
    ],
    [],
  );
  const current = models.data?.find((m) => m.path === selected) ?? null;
  return (
    <div className="screen">
      <Card title="Pull from the Hugging Face Hub">
        <form
          className="inline-form"
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              await client.models.pull.mutate({ id: id.trim(), revision: revision.trim() || undefined });
            } catch (err) {
              setError(guiError(errorText(err)).text);
            }
          }}
        >
          <input
            aria-label="model id"
            placeholder="BAAI/bge-small-en-v1.5"
            value={id}
            onChange={(e) => setId(e.target.value)}
          />
          <input
            aria-label="revision"
            placeholder="main"
            value={revision}
            onChange={(e) => setRevision(e.target.value)}
          />
          <button type="submit" className="primary" disabled={!id.trim()}>
            Pull
          </button>
          <span className="muted small">
            safetensors, config and tokenizer files; an interrupted pull continues where it stopped, every
            file is checked against the hub's hash.
          </span>
        </form>
        <ErrorBox error={error} />
      </Card>
      <PullJobs
        onAgain={async (pullId, rev) => {
          setError(null);
          try {
            await client.models.pull.mutate({ id: pullId, revision: rev });
          } catch (err) {
            setError(guiError(errorText(err)).text);
          }
        }}
      />
      <Card
        title="Local models"
        actions={
          current && (
            <>
              <button
                type="button"
                onClick={() => {
                  setTrainModel(nav.dataset, current.path);
                  nav.go('train');
                }}
              >
                Use in Train
              </button>
              <button
                type="button"
                onClick={() => {
                  handOffModel(current.path);
                  nav.go('evaluate');
                }}
              >
                Use in Evaluate
              </button>
              {current.source === 'pulled' && (
                <button
                  type="button"
                  className="danger"
                  onClick={async () => {
                    setError(null);
                    try {
                      await client.models.remove.mutate({ path: current.path });
                      setSelected(null);
                      models.reload();
                    } catch (err) {
                      setError(guiError(errorText(err)).text);
                    }
                  }}
                >
                  Remove
                </button>
              )}
            </>
          )
        }
      >
        <ErrorBox error={models.error} onRetry={models.reload} />
        <DataTable
          testId="models-table"
          columns={columns}
          data={models.data ?? []}
          rowKey={(m) => m.path}
          selected={selected}
          onRowClick={(m) => setSelected(m.path)}
          empty="No local models yet: pull one above, or load the demo (Datasets screen)."
        />
      </Card>
    </div>
  );
}

/** Hub pulls of this session: progress, Pause while running, Pull again (continues) once paused or failed. */
function PullJobs({ onAgain }: { onAgain: (id: string, revision?: string) => void }) {
  const { client, onEvent } = useApi();
  const initial = useQuery((c) => c.jobs.list.query(), []);
  const [jobs, setJobs] = useState<JobInfo[]>([]);
  useEffect(() => {
    if (initial.data) setJobs(initial.data.filter((j) => j.type === 'model-pull'));
  }, [initial.data]);
  useEffect(
    () =>
      onEvent((e) => {
        if (e.topic !== 'job' || e.job.type !== 'model-pull') return;
        setJobs((js) => {
          const i = js.findIndex((j) => j.id === e.job.id);
          return i < 0 ? [e.job, ...js] : js.map((j) => (j.id === e.job.id ? e.job : j));
        });
      }),
    [onEvent],
  );
  if (!jobs.length) return null;
  return (
    <Card title="Pulls">
      <div className="jobs" data-testid="pull-jobs">
        {jobs.map((j) => {
          const [, ref = ''] = /^pull (.+)$/.exec(j.label) ?? [];
          const [id, revision] = ref.split('@');
          return (
            <JobCard
              key={j.id}
              job={j}
              quietError
              actions={
                <>
                  {j.state === 'running' && (
                    <button
                      type="button"
                      onClick={() => void client.models.pausePull.mutate({ jobId: j.id })}
                    >
                      Pause
                    </button>
                  )}
                  {j.state === 'failed' && id && (
                    <button type="button" onClick={() => onAgain(id, revision)}>
                      {/paused/.test(j.error ?? '') ? 'Resume' : 'Pull again'}
                    </button>
                  )}
                </>
              }
            >
              <div className="muted small">
                {String((j.result as { out?: string } | undefined)?.out ?? '')}
              </div>
            </JobCard>
          );
        })}
      </div>
    </Card>
  );
}
