// The model library: local model folders (pulled, the demo's, merged exports) with what they are, hub pulls
// with progress (resumable and hash-checked by the hub code), removal, and "use in Train / Evaluate".
import { createColumnHelper } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import type { ModelInfo } from '../../../shared/contract';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { DataTable, type plainFeatures } from '../components/DataTable';
import { JobsList } from '../components/Jobs';
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
      <JobsList types={['model-pull']} />
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
