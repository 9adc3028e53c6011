import { createColumnHelper } from '@tanstack/react-table';
import { useEffect, useMemo, useState } from 'react';
import type { TrainingRunInfo, TrainPreview, TrainStep } from '../../../shared/contract';
import type { TrainKey, TrainStartInput } from '../../../shared/training';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox, ProgressBar } from '../components/common';
import { DataTable, type plainFeatures } from '../components/DataTable';
import { type CurvePoint, LossChart } from '../components/LossChart';
import { guiError } from '../gui-errors';
import { useNav } from '../nav';
import { PathField } from './PathField';
import { handOffRun } from './RunPicker';
import { TrainFields, trainFormInput, trainFormIssues, useTrainValues } from './TrainForm';
import { ScaleOutExport } from './TrainScaleOut';
import './forms.css';

const helper = createColumnHelper<typeof plainFeatures, TrainingRunInfo>();

type Live = Record<string, { steps: CurvePoint[]; last: TrainStep }>;

export function TrainScreen() {
  const nav = useNav();
  const { client, onEvent } = useApi();
  const { values, update, reset } = useTrainValues(nav.dataset);
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<TrainKey, string>>>({});
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [preview, setPreview] = useState<TrainPreview | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [live, setLive] = useState<Live>({});
  const datasets = useQuery(
    (c) => c.datasets.list.query(),
    [],
    (e) => e.topic === 'datasets',
  );
  const models = useQuery((c) => c.models.list.query(), []);
  const runs = useQuery(
    (c) => c.training.list.query(),
    [],
    (e) => e.topic === 'training' && e.state !== undefined,
  );
  useEffect(
    () =>
      onEvent((e) => {
        if (e.topic !== 'training' || !e.step) return;
        const step = e.step;
        setLive((l) => {
          const cur = l[e.runId] ?? { steps: [], last: step };
          return {
            ...l,
            [e.runId]: {
              steps: [...cur.steps, { step: step.step, loss: step.loss, lr: step.lr }],
              last: step,
            },
          };
        });
      }),
    [onEvent],
  );

  /** Checks with the shared schema first (every bad field at once), then asks the server. */
  const checked = (): TrainStartInput | null => {
    const local = trainFormIssues(values);
    setFieldErrors(local);
    if (!Object.keys(local).length) {
      setError(null);
      return trainFormInput(values);
    }
    setError('Fix the highlighted fields.');
    return null;
  };
  const submit = async (what: 'preview' | 'start') => {
    setError(null);
    setNotice(null);
    const input = checked();
    if (!input) return;
    try {
      if (what === 'preview') {
        const p = await client.training.preview.query(input);
        setPreview(p);
        setNotice(`${p.rows} train rows, ${p.totalSteps} steps of ${p.config.batchSize}`);
      } else {
        const r = await client.training.start.mutate(input);
        setSelected(r.runId);
        setPreview(null);
        setNotice(`started ${r.runId}: ${r.rows} train rows, ${r.totalSteps} steps`);
        runs.reload();
      }
    } catch (err) {
      // The raw message: its flags and zod paths name the fields to highlight.
      const g = guiError(err instanceof Error ? err.message : errorText(err));
      setFieldErrors(Object.fromEntries(g.fields.map((k) => [k, g.text])));
      setError(g.text);
    }
  };

  const custom = (k: TrainKey) => {
    if (k === 'datasets')
      return (
        <fieldset className="tf-datasets" aria-label="datasets to train on">
          <span className="tf-label">Datasets (their train split)</span>
          {(datasets.data ?? []).map((d) => (
            <label key={d.name} className="check">
              <input
                type="checkbox"
                checked={values.datasets.includes(d.name)}
                onChange={(e) =>
                  update({
                    ...values,
                    datasets: e.target.checked
                      ? [...values.datasets, d.name]
                      : values.datasets.filter((x) => x !== d.name),
                  })
                }
              />
              {d.name}
            </label>
          ))}
          {fieldErrors.datasets && <span className="tf-error">{fieldErrors.datasets}</span>}
        </fieldset>
      );
    if (k === 'model')
      return (
        <div className={fieldErrors.model ? 'tf invalid' : 'tf'}>
          <PathField
            label="Base model"
            aria="base model"
            kind="folder"
            value={values.model}
            onChange={(v) => update({ ...values, model: v })}
            placeholder="/models/bge-small-en"
            suggestions={(models.data ?? []).map((m) => ({ value: m.path, label: `${m.name} (${m.type})` }))}
          />
          {fieldErrors.model && <span className="tf-error">{fieldErrors.model}</span>}
        </div>
      );
    return null;
  };

  const columns = useMemo(
    () => [
      helper.accessor('id', { header: 'Run' }),
      helper.accessor((r) => r.datasets.join(', '), { id: 'dataset', header: 'Dataset' }),
      helper.accessor('state', {
        header: 'State',
        cell: (c) => <span className={`badge ${c.getValue()}`}>{c.getValue()}</span>,
      }),
      helper.accessor((r) => `${live[r.id]?.last.step ?? r.step} / ${r.totalSteps ?? '?'}`, {
        id: 'steps',
        header: 'Step',
      }),
      helper.accessor((r) => live[r.id]?.last.loss ?? r.lastLoss, {
        id: 'loss',
        header: 'Loss',
        cell: (c) => (c.getValue() == null ? '–' : (c.getValue() as number).toFixed(4)),
      }),
      helper.accessor((r) => r.deviceUsed ?? r.device, {
        id: 'device',
        header: 'Device',
      }),
      helper.accessor('model', { header: 'Base model' }),
      helper.accessor('createdAt', {
        header: 'Created',
        cell: (c) => new Date(c.getValue()).toLocaleString(),
      }),
    ],
    [live],
  );
  const current = runs.data?.find((r) => r.id === selected) ?? runs.data?.[0] ?? null;

  return (
    <div className="screen">
      <Card
        title={`Train a LoRA adapter${nav.dataset ? ` on ${nav.dataset}` : ''}`}
        actions={
          <button type="button" onClick={reset}>
            Reset to defaults
          </button>
        }
      >
        {!nav.dataset && !values.datasets.length && (
          <div className="notice">Pick a dataset in the sidebar; its train split is used.</div>
        )}
        <form
          className="train-form"
          data-testid="train-form"
          onSubmit={(e) => {
            e.preventDefault();
            void submit('start');
          }}
        >
          <TrainFields values={values} onChange={update} errors={fieldErrors} custom={custom} />
          <div className="row-actions">
            <button type="button" onClick={() => void submit('preview')}>
              Check settings
            </button>
            <button type="submit" className="primary">
              Start training
            </button>
          </div>
        </form>
        <ErrorBox error={error} />
        {notice && (
          <div className="notice" data-testid="train-notice">
            {notice}
          </div>
        )}
        {preview && (
          <details className="small">
            <summary>Resolved configuration</summary>
            <pre data-testid="train-preview">{JSON.stringify(preview.config, null, 2)}</pre>
          </details>
        )}
      </Card>
      <ScaleOutExport settings={checked} />
      <Card title="Runs">
        <ErrorBox error={runs.error} onRetry={runs.reload} />
        <DataTable
          testId="train-runs"
          columns={columns}
          data={runs.data ?? []}
          rowKey={(r) => r.id}
          selected={current?.id ?? null}
          onRowClick={(r) => setSelected(r.id)}
          empty="No training runs yet."
        />
      </Card>
      {current && <RunView run={current} live={live[current.id]} onChanged={runs.reload} />}
    </div>
  );
}

function RunView({
  run,
  live,
  onChanged,
}: {
  run: TrainingRunInfo;
  live?: { steps: CurvePoint[]; last: TrainStep };
  onChanged: () => void;
}) {
  const nav = useNav();
  const { client } = useApi();
  const [err, setErr] = useState<string | null>(null);
  const last = live?.last ?? run.live;
  const losses = useMemo(() => {
    const m = new Map<number, CurvePoint>();
    for (const p of [...run.losses, ...(live?.steps ?? [])]) m.set(p.step, { ...m.get(p.step), ...p });
    return [...m.values()].sort((a, b) => a.step - b.step);
  }, [run.losses, live?.steps]);
  const running = run.state === 'running';
  const act = async (f: () => Promise<unknown>) => {
    setErr(null);
    try {
      await f();
      onChanged();
    } catch (e) {
      setErr(guiError(errorText(e)).text);
    }
  };
  return (
    <Card
      title={`Run ${run.id}`}
      actions={
        <>
          {run.resumable && (
            <button
              type="button"
              className="primary"
              onClick={() => act(() => client.training.resume.mutate({ runId: run.id }))}
            >
              Resume
            </button>
          )}
          {running && (
            <button
              type="button"
              className="danger"
              onClick={() => act(() => client.training.cancel.mutate({ runId: run.id }))}
            >
              Stop (checkpoint)
            </button>
          )}
          {run.resumable && (
            <button
              type="button"
              className="danger"
              onClick={() => act(() => client.training.discard.mutate({ runId: run.id }))}
            >
              Cancel run
            </button>
          )}
          {run.adapterDir && (
            <>
              <button
                type="button"
                onClick={() => {
                  handOffRun(run.id);
                  nav.go('evaluate');
                }}
              >
                Evaluate
              </button>
              <button
                type="button"
                onClick={() => {
                  handOffRun(run.id);
                  nav.go('export');
                }}
              >
                Export
              </button>
            </>
          )}
        </>
      }
    >
      <ProgressBar
        p={{
          done: last?.step ?? run.step,
          total: last?.totalSteps ?? run.totalSteps,
          unit: 'steps',
          ratePerS: null,
          etaS: running ? (last?.etaS ?? null) : null,
          message: last
            ? `loss ${last.loss.toFixed(4)} · lr ${last.lr.toExponential(2)} · ${last.examplesPerS.toFixed(1)} ex/s`
            : undefined,
        }}
      />
      <LossChart points={losses} />
      <div className="attrs" data-testid="run-attrs">
        <span>
          <b>dataset</b> {run.datasets.join(', ')}
        </span>
        <span>
          <b>device</b> {run.deviceUsed ?? run.device}
        </span>
        <span>
          <b>folder</b> {run.outDir}
        </span>
        {run.adapterDir && (
          <span>
            <b>adapter</b> {run.adapterDir}
          </span>
        )}
      </div>
      <ErrorBox error={run.error ? guiError(run.error).text : err} />
    </Card>
  );
}
