import { createColumnHelper } from '@tanstack/react-table';
import { useEffect, useMemo, useState } from 'react';
import type { TrainingRunInfo, TrainStep } from '../../../shared/contract';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox, ProgressBar } from '../components/common';
import { DataTable, type plainFeatures } from '../components/DataTable';
import { useNav } from '../nav';

const helper = createColumnHelper<typeof plainFeatures, TrainingRunInfo>();

export function TrainScreen() {
  const nav = useNav();
  const { client, onEvent } = useApi();
  const [form, setForm] = useState({
    model: '',
    maxSteps: '100',
    batchSize: '32',
    chunkSize: '8',
    lr: '0.0001',
    warmup: '',
    loraRank: '16',
    maxLength: '128',
    device: 'auto' as 'auto' | 'cuda' | 'webgpu' | 'cpu',
  });
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [live, setLive] = useState<
    Record<string, { steps: { step: number; loss: number }[]; last: TrainStep }>
  >({});
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
            [e.runId]: { steps: [...cur.steps, { step: step.step, loss: step.loss }], last: step },
          };
        });
      }),
    [onEvent],
  );
  const set = (k: keyof typeof form, v: string) => setForm((f) => ({ ...f, [k]: v }));
  const n = (s: string) => (s.trim() === '' ? undefined : Number(s));

  const columns = useMemo(
    () => [
      helper.accessor('id', { header: 'Run' }),
      helper.accessor('state', {
        header: 'State',
        cell: (c) => <span className={`badge ${c.getValue()}`}>{c.getValue()}</span>,
      }),
      helper.accessor((r) => `${live[r.id]?.last.step ?? r.step} / ${r.totalSteps ?? '?'}`, {
        id: 'steps',
        header: 'Steps',
      }),
      helper.accessor((r) => live[r.id]?.last.loss ?? r.lastLoss, {
        id: 'loss',
        header: 'Loss',
        cell: (c) => (c.getValue() == null ? '–' : (c.getValue() as number).toFixed(4)),
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
      <Card title={`Train a LoRA adapter${nav.dataset ? ` on ${nav.dataset}` : ''}`}>
        {!nav.dataset && (
          <div className="notice">Pick a dataset in the sidebar; its train split is used.</div>
        )}
        <form
          className="grid-form"
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            setNotice(null);
            try {
              const r = await client.training.start.mutate({
                datasets: [nav.dataset!],
                model: form.model,
                maxSteps: n(form.maxSteps) ?? null,
                batchSize: n(form.batchSize),
                chunkSize: n(form.chunkSize),
                lr: n(form.lr),
                warmup: n(form.warmup),
                loraRank: n(form.loraRank),
                maxLength: n(form.maxLength),
                device: form.device,
              });
              setSelected(r.runId);
              setNotice(`started ${r.runId}: ${r.rows} train rows, ${r.totalSteps} steps`);
              runs.reload();
            } catch (err) {
              setError(errorText(err));
            }
          }}
        >
          <label className="wide">
            Base model folder (on the machine running Embedsmith)
            <input
              aria-label="base model"
              value={form.model}
              onChange={(e) => set('model', e.target.value)}
              placeholder="/models/bge-small-en"
            />
          </label>
          <TextField
            label="Max steps"
            aria="max steps"
            value={form.maxSteps}
            onChange={(v) => set('maxSteps', v)}
          />
          <label>
            Device
            <select value={form.device} onChange={(e) => set('device', e.target.value)}>
              {['auto', 'cuda', 'webgpu', 'cpu'].map((d) => (
                <option key={d}>{d}</option>
              ))}
            </select>
          </label>
          <TextField
            label="Batch size (in-batch negatives)"
            aria="batch size"
            value={form.batchSize}
            onChange={(v) => set('batchSize', v)}
          />
          <TextField
            label="GradCache chunk"
            aria="chunk size"
            value={form.chunkSize}
            onChange={(v) => set('chunkSize', v)}
          />
          <TextField
            label="Learning rate"
            aria="learning rate"
            value={form.lr}
            onChange={(v) => set('lr', v)}
          />
          <TextField
            label="Warm-up steps"
            aria="warmup"
            value={form.warmup}
            onChange={(v) => set('warmup', v)}
            placeholder="auto: min(100, steps ÷ 10)"
          />
          <TextField
            label="LoRA rank"
            aria="lora rank"
            value={form.loraRank}
            onChange={(v) => set('loraRank', v)}
          />
          <TextField
            label="Max tokens per text"
            aria="max length"
            value={form.maxLength}
            onChange={(v) => set('maxLength', v)}
          />
          <button type="submit" className="primary" disabled={!nav.dataset || !form.model}>
            Start training
          </button>
        </form>
        <ErrorBox error={error} />
        {notice && <div className="notice">{notice}</div>}
      </Card>
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
      {current && <RunView run={current} live={live[current.id]} />}
    </div>
  );
}

function RunView({
  run,
  live,
}: {
  run: TrainingRunInfo;
  live?: { steps: { step: number; loss: number }[]; last: TrainStep };
}) {
  const { client } = useApi();
  const [err, setErr] = useState<string | null>(null);
  const last = live?.last ?? run.live;
  const losses = useMemo(() => {
    const m = new Map<number, number>();
    for (const p of [...run.losses, ...(live?.steps ?? [])]) m.set(p.step, p.loss);
    return [...m.entries()].sort((a, b) => a[0] - b[0]);
  }, [run.losses, live?.steps]);
  const running = run.state === 'running';
  return (
    <Card
      title={`Run ${run.id}`}
      actions={
        <button
          type="button"
          className="danger"
          disabled={!running}
          onClick={async () => {
            try {
              await client.training.cancel.mutate({ runId: run.id });
            } catch (e) {
              setErr(errorText(e));
            }
          }}
        >
          Stop (checkpoint)
        </button>
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
      <LossCurve points={losses} />
      <div className="attrs">
        <span>
          <b>folder</b> {run.outDir}
        </span>
        {run.adapterDir && (
          <span>
            <b>adapter</b> {run.adapterDir}
          </span>
        )}
      </div>
      <ErrorBox error={run.error ?? err} />
    </Card>
  );
}

function LossCurve({ points }: { points: [number, number][] }) {
  if (points.length < 2) return <div className="muted small">The loss curve appears after two steps.</div>;
  const w = 600;
  const h = 120;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const px = (x: number) => ((x - x0) / Math.max(1e-9, x1 - x0)) * (w - 40) + 36;
  const py = (y: number) => h - 16 - ((y - y0) / Math.max(1e-9, y1 - y0)) * (h - 28);
  return (
    <svg className="loss" viewBox={`0 0 ${w} ${h}`} role="img" aria-label="training loss by step">
      <text x={2} y={12}>
        {y1.toFixed(3)}
      </text>
      <text x={2} y={h - 16}>
        {y0.toFixed(3)}
      </text>
      <polyline
        fill="none"
        stroke="var(--accent)"
        strokeWidth={2}
        points={points.map(([x, y]) => `${px(x)},${py(y)}`).join(' ')}
      />
      <text x={w - 60} y={h - 2}>
        step {x1}
      </text>
    </svg>
  );
}

/** A labelled text input; the aria label is what tests and screen readers find it by. */
function TextField(props: {
  label: string;
  aria: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
}) {
  return (
    <label>
      {props.label}
      <input
        aria-label={props.aria}
        value={props.value}
        placeholder={props.placeholder}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </label>
  );
}
