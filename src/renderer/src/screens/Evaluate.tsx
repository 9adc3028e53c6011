import { useState } from 'react';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { ComparisonView } from '../components/Comparison';
import { JobsList } from '../components/Jobs';
import { useNav } from '../nav';
import { RunAdapterPicker, useHandedModel } from './RunPicker';

export function EvaluateScreen() {
  const nav = useNav();
  const { client } = useApi();
  const [model, setModel] = useState('builtin:hashbow-256');
  const [adapters, setAdapters] = useState('');
  const [tasks, setTasks] = useState(nav.dataset ? `dataset:${nav.dataset}` : '');
  const [limit, setLimit] = useState('');
  const [pickedRun, setPickedRun] = useState<string | null>(null);
  useHandedModel(setModel);
  const [error, setError] = useState<string | null>(null);
  const table = useQuery(
    (c) => c.evaluation.compare.query({}),
    [],
    (e) => e.topic === 'evaluation',
  );
  const lines = (s: string) =>
    s
      .split('\n')
      .map((x) => x.trim())
      .filter(Boolean);

  return (
    <div className="screen">
      <Card title="Run an evaluation">
        <form
          className="grid-form"
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              await client.evaluation.run.mutate({
                model,
                adapters: lines(adapters),
                tasks: lines(tasks),
                limit: limit ? Number(limit) : undefined,
                base: lines(adapters).length > 0,
              });
            } catch (err) {
              setError(errorText(err));
            }
          }}
        >
          <label className="wide">
            Model folder (on the machine running Embedsmith) or builtin:hashbow-256
            <input aria-label="model" value={model} onChange={(e) => setModel(e.target.value)} />
          </label>
          <RunAdapterPicker
            value={pickedRun}
            onPick={(r) => {
              setPickedRun(r?.id ?? null);
              if (r?.adapterDir) {
                setModel(r.model);
                setAdapters(r.adapterDir);
              }
            }}
          />
          <label>
            Limit (queries per task, optional)
            <input aria-label="limit" value={limit} onChange={(e) => setLimit(e.target.value)} />
          </label>
          <label className="wide">
            Adapters (one folder per line; the base model is evaluated too)
            <textarea
              aria-label="adapters"
              rows={2}
              value={adapters}
              onChange={(e) => setAdapters(e.target.value)}
            />
          </label>
          <label className="wide">
            Tasks (one per line: dataset:NAME[:split], beir:DIR, sts:FILE, …)
            <textarea aria-label="tasks" rows={2} value={tasks} onChange={(e) => setTasks(e.target.value)} />
          </label>
          <button type="submit" className="primary" disabled={!model || !lines(tasks).length}>
            Evaluate
          </button>
        </form>
        <ErrorBox error={error} />
      </Card>
      <JobsList types={['eval']} />
      <Card title="Comparison (main score ×100; deltas against the base model)">
        <ErrorBox error={table.error} onRetry={table.reload} />
        {table.data ? (
          <ComparisonView table={table.data} />
        ) : (
          <div className="empty">No results yet: run an evaluation above (or `embedsmith eval`).</div>
        )}
      </Card>
    </div>
  );
}
