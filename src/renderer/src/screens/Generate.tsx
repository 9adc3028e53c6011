import { createColumnHelper } from '@tanstack/react-table';
import { useEffect, useMemo, useState } from 'react';
import type {
  FailedRequest,
  GenerationPlanInfo,
  GenerationProgressInfo,
  GenerationRunInfo,
  Inputs,
  RunSummaryInfo,
} from '../../../shared/contract';
import { KINDS, type Kind } from '../../../shared/domain';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import {
  ConnectionTest,
  FieldError,
  generateErrorField,
  LivePreview,
  TemplatesEditor,
} from './GenerateTools';
import { Card, ErrorBox, formatDuration, ProgressBar } from '../components/common';
import { DataTable, type plainFeatures } from '../components/DataTable';
import { KindLanguageMatrix } from '../components/KindLanguageMatrix';
import { useNav } from '../nav';

// Non-secret provider settings persist in the renderer; the API key goes to main (OS keychain) only.
interface ProviderSettings {
  baseUrl: string;
  models: string;
  concurrency: number;
  budgetUsd: string;
}
const loadProvider = (): ProviderSettings => {
  try {
    return {
      baseUrl: '',
      models: 'gpt-4o-mini',
      concurrency: 8,
      budgetUsd: '',
      ...JSON.parse(localStorage.getItem('embedsmith.provider') ?? '{}'),
    };
  } catch {
    return { baseUrl: '', models: 'gpt-4o-mini', concurrency: 8, budgetUsd: '' };
  }
};

export function GenerateScreen() {
  const nav = useNav();
  if (!nav.dataset)
    return (
      <div className="screen">
        <div className="empty">
          Pick a dataset in the sidebar (or create one on Datasets) to generate into.
        </div>
      </div>
    );
  return <Generator key={nav.dataset} dataset={nav.dataset} />;
}

function Generator({ dataset }: { dataset: string }) {
  const { client, onEvent } = useApi();
  const [provider, setProvider] = useState<ProviderSettings>(loadProvider);
  const [count, setCount] = useState(20);
  const [kinds, setKinds] = useState<Kind[]>([...KINDS]);
  const [languages, setLanguages] = useState('default');
  const [plan, setPlan] = useState<GenerationPlanInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [live, setLive] = useState<Record<string, GenerationProgressInfo>>({});
  const [keyInput, setKeyInput] = useState('');
  useEffect(() => localStorage.setItem('embedsmith.provider', JSON.stringify(provider)), [provider]);

  const secrets = useQuery((c) => c.secrets.status.query(), []);
  const runs = useQuery(
    (c) => c.generation.list.query({ name: dataset }),
    [dataset],
    (e) => e.topic === 'generation' && (e.progress.state !== 'running' || !live[e.progress.run]),
  );
  useEffect(
    () =>
      onEvent((e) => {
        if (e.topic === 'generation') setLive((l) => ({ ...l, [e.progress.run]: e.progress }));
      }),
    [onEvent],
  );

  const options = (): Inputs['generationOptions'] => ({
    dataset,
    count,
    models: provider.models,
    kinds,
    languages: languages || undefined,
    baseUrl: provider.baseUrl || undefined,
    concurrency: provider.concurrency,
    budgetUsd: provider.budgetUsd ? Number(provider.budgetUsd) : undefined,
    apiKeyName: secrets.data?.names.includes('openai') ? 'openai' : undefined,
  });
  const guard = async (fn: () => Promise<void>) => {
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(errorText(e));
    }
  };

  const errField = generateErrorField(error);
  const current = runs.data?.find((r) => r.id === selected) ?? runs.data?.[0] ?? null;
  const progress = current ? (live[current.id] ?? current.live) : null;

  return (
    <div className="screen">
      <div className="two-col">
        <Card title="Provider">
          <div className="grid-form two">
            <label className="wide">
              Base URL (empty: OpenAI)
              <input
                aria-label="base URL"
                value={provider.baseUrl}
                placeholder="https://api.openai.com/v1"
                onChange={(e) => setProvider({ ...provider, baseUrl: e.target.value })}
              />
              <FieldError on="baseUrl" field={errField} error={error} />
            </label>
            <ConnectionTest
              baseUrl={provider.baseUrl}
              apiKeyName={secrets.data?.names.includes('openai') ? 'openai' : undefined}
              onPickModel={(m) => setProvider({ ...provider, models: m })}
            />
            <label className="wide">
              Models (name or name=weight, comma separated)
              <input
                aria-label="models"
                value={provider.models}
                onChange={(e) => setProvider({ ...provider, models: e.target.value })}
              />
              <FieldError on="models" field={errField} error={error} />
            </label>
            <label>
              Concurrency
              <input
                type="number"
                min={1}
                value={provider.concurrency}
                onChange={(e) => setProvider({ ...provider, concurrency: Number(e.target.value) || 1 })}
              />
            </label>
            <label>
              Budget USD (optional)
              <input
                value={provider.budgetUsd}
                onChange={(e) => setProvider({ ...provider, budgetUsd: e.target.value })}
              />
            </label>
            <label className="wide">
              API key{' '}
              {secrets.data?.names.includes('openai')
                ? `(stored, ${secrets.data.storage === 'os-keychain' ? 'in the OS keychain' : 'for this session only'})`
                : '(none stored; the OPENAI_API_KEY variable of the server is used if set)'}
              <span className="inline-form">
                <input
                  type="password"
                  aria-label="API key"
                  value={keyInput}
                  autoComplete="off"
                  onChange={(e) => setKeyInput(e.target.value)}
                />
                <button
                  type="button"
                  disabled={!keyInput}
                  onClick={() =>
                    guard(async () => {
                      await client.secrets.set.mutate({ name: 'openai', value: keyInput });
                      setKeyInput('');
                      secrets.reload();
                    })
                  }
                >
                  Save key
                </button>
                {secrets.data?.names.includes('openai') && (
                  <button
                    type="button"
                    onClick={() =>
                      guard(async () => {
                        await client.secrets.delete.mutate({ name: 'openai' });
                        secrets.reload();
                      })
                    }
                  >
                    Forget
                  </button>
                )}
              </span>
              <FieldError on="apiKey" field={errField} error={error} />
            </label>
          </div>
        </Card>
        <Card title={`Generate into ${dataset}`}>
          <div className="grid-form two">
            <label>
              Examples
              <input
                type="number"
                aria-label="count"
                min={1}
                value={count}
                onChange={(e) => setCount(Math.max(1, Number(e.target.value) || 1))}
              />
            </label>
            <label>
              Languages
              <input
                aria-label="languages"
                value={languages}
                placeholder="default, or en,de or en=0.6,de=0.4"
                onChange={(e) => setLanguages(e.target.value)}
              />
              <FieldError on="languages" field={errField} error={error} />
            </label>
            <fieldset className="wide kinds">
              <legend>Kinds</legend>
              {KINDS.map((k) => (
                <label key={k} className="check">
                  <input
                    type="checkbox"
                    checked={kinds.includes(k)}
                    onChange={(e) =>
                      setKinds(e.target.checked ? [...kinds, k] : kinds.filter((x) => x !== k))
                    }
                  />
                  {k}
                </label>
              ))}
            </fieldset>
          </div>
          <div className="row-actions">
            <button
              type="button"
              onClick={() => guard(async () => setPlan(await client.generation.plan.query(options())))}
              disabled={!kinds.length}
            >
              Dry run
            </button>
            <button
              type="button"
              className="primary"
              disabled={!kinds.length}
              onClick={() =>
                guard(async () => {
                  const r = await client.generation.start.mutate(options());
                  setSelected(r.runId);
                  runs.reload();
                })
              }
            >
              Start
            </button>
          </div>
          <ErrorBox error={error} />
          {plan && <PlanView plan={plan} />}
        </Card>
      </div>
      <RunsTable runs={runs.data ?? []} selected={current?.id ?? null} onSelect={setSelected} live={live} />
      {current && <RunDetail run={current} progress={progress} onError={setError} />}
      <LivePreview dataset={dataset} runId={current?.id ?? null} />
      <TemplatesEditor dataset={dataset} />
    </div>
  );
}

function PlanView({ plan }: { plan: GenerationPlanInfo }) {
  const langs = Object.entries(plan.byLanguage).sort((a, b) => b[1] - a[1]);
  return (
    <div className="plan" data-testid="plan">
      <div className="attrs">
        <span>
          <b>examples</b> {plan.count}
        </span>
        <span>
          <b>calls</b> {plan.calls.min}–{plan.calls.expected} (assuming{' '}
          {(plan.calls.assumedRejectRate * 100).toFixed(0)}% rejected)
        </span>
        <span>
          <b>tokens</b> {plan.tokens.prompt.toLocaleString()} in / {plan.tokens.completion.toLocaleString()}{' '}
          out
        </span>
        <span>
          <b>cost</b>{' '}
          {plan.unpricedModels.length
            ? `unknown for ${plan.unpricedModels.join(', ')}`
            : `$${plan.costUsd.toFixed(4)}`}
        </span>
        <span>
          <b>seed</b> {plan.seed}
        </span>
      </div>
      <div className="attrs">
        {Object.entries(plan.byKind).map(([k, n]) => (
          <span key={k}>
            <b>{k}</b> {n}
          </span>
        ))}
      </div>
      {/* Every language of the plan with its quota per kind (issue #18.5; the matrix is the Datasets one). */}
      <KindLanguageMatrix
        cells={plan.cells.map((c) => ({ kind: c.kind, language: c.language, count: c.quota }))}
        unit="examples planned"
        testId="plan-matrix"
        initialRows={Math.min(12, langs.length)}
      />
    </div>
  );
}

const runHelper = createColumnHelper<typeof plainFeatures, GenerationRunInfo>();

function RunsTable({
  runs,
  selected,
  onSelect,
  live,
}: {
  runs: GenerationRunInfo[];
  selected: string | null;
  onSelect: (id: string) => void;
  live: Record<string, GenerationProgressInfo>;
}) {
  const columns = useMemo(
    () => [
      runHelper.accessor('id', { header: 'Run' }),
      runHelper.accessor((r) => live[r.id]?.state ?? r.state, {
        id: 'state',
        header: 'State',
        cell: (c) => <span className={`badge ${c.getValue()}`}>{c.getValue()}</span>,
      }),
      runHelper.accessor((r) => `${live[r.id]?.accepted ?? r.accepted} / ${r.count}`, {
        id: 'acc',
        header: 'Accepted',
      }),
      runHelper.accessor('models', { header: 'Models' }),
      runHelper.accessor('created_at', {
        header: 'Created',
        cell: (c) => new Date(c.getValue()).toLocaleString(),
      }),
    ],
    [live],
  );
  return (
    <Card title="Runs">
      <DataTable
        testId="runs-table"
        columns={columns}
        data={runs}
        rowKey={(r) => r.id}
        selected={selected}
        onRowClick={(r) => onSelect(r.id)}
        empty="No runs yet: plan one above (Dry run shows the cost first)."
      />
    </Card>
  );
}

function RunDetail({
  run,
  progress,
  onError,
}: {
  run: GenerationRunInfo;
  progress: GenerationProgressInfo | null;
  onError: (e: string | null) => void;
}) {
  const { client } = useApi();
  const state = progress?.state ?? run.state;
  const summary = useQuery((c) => c.generation.summary.query({ runId: run.id }), [run.id, state]);
  const failures = useQuery(
    (c) => c.generation.failures.query({ runId: run.id, limit: 50 }),
    [run.id, state, progress?.rejected],
  );
  const s = summary.data;
  const rejected = progress?.rejectedByReason ?? s?.rejected ?? {};
  const failed = progress?.failedByClass ?? s?.failed_requests ?? {};
  const act = (fn: () => Promise<unknown>) => async () => {
    onError(null);
    try {
      await fn();
    } catch (e) {
      onError(errorText(e));
    }
  };
  const running = state === 'running';
  return (
    <Card
      title={`Run ${run.id}`}
      actions={
        <span className="row-actions">
          <button
            type="button"
            disabled={!running}
            onClick={act(() => client.generation.pause.mutate({ runId: run.id }))}
          >
            Pause
          </button>
          <button
            type="button"
            disabled={running || state === 'done' || state === 'cancelled'}
            onClick={act(() => client.generation.resume.mutate({ runId: run.id }))}
          >
            Resume
          </button>
          <button
            type="button"
            className="danger"
            disabled={state === 'done' || state === 'cancelled'}
            onClick={act(() => client.generation.cancel.mutate({ runId: run.id }))}
          >
            Cancel
          </button>
        </span>
      }
    >
      <div data-testid="run-detail">
        <span className={`badge ${state}`} data-testid="run-state">
          {state}
        </span>
        {s?.error && <div className="error">{s.error}</div>}
      </div>
      <ProgressBar
        p={{
          done: progress?.accepted ?? s?.accepted ?? run.accepted,
          total: progress?.planned ?? run.count,
          unit: 'examples',
          ratePerS: running ? (progress?.ratePerS ?? null) : null,
          etaS: running ? (progress?.etaS ?? null) : null,
        }}
      />
      <div className="attrs">
        <span>
          <b>requests</b> {progress?.requests ?? s?.requests ?? 0}
        </span>
        <span>
          <b>retries</b> {progress?.retries ?? s?.retries ?? 0}
        </span>
        <span>
          <b>in flight</b> {progress?.inFlight ?? 0}
        </span>
        <span>
          <b>tokens</b> {(progress?.tokens.prompt ?? s?.tokens.prompt ?? 0).toLocaleString()} in /{' '}
          {(progress?.tokens.completion ?? s?.tokens.completion ?? 0).toLocaleString()} out
        </span>
        <span>
          <b>cost</b> ${(progress?.costUsd ?? s?.cost_usd ?? 0).toFixed(4)}
        </span>
        {running && progress?.etaS != null && (
          <span>
            <b>ETA</b> {formatDuration(progress.etaS)}
          </span>
        )}
      </div>
      <div className="two-col">
        <Reasons title="Rejections by reason" m={rejected} />
        <Reasons title="Failed requests by class" m={failed} />
      </div>
      <Shortfall
        runId={run.id}
        cells={state === 'done' ? (s?.shortfall ?? []) : []}
        onRetry={act(() => client.generation.resume.mutate({ runId: run.id, retryShort: true }))}
      />
      <FailedList rows={failures.data ?? []} />
    </Card>
  );
}

/** Cells that used their attempt budget without reaching their quota (the run still ends done). */
export function Shortfall({
  runId,
  cells,
  onRetry,
}: {
  runId: string;
  cells: NonNullable<RunSummaryInfo['shortfall']>;
  onRetry?: () => void;
}) {
  if (!cells.length) return null;
  return (
    <div data-testid="shortfall">
      <h3>Short cells ({cells.length})</h3>
      <table>
        <thead>
          <tr>
            <th>kind</th>
            <th>language</th>
            <th>accepted / quota</th>
            <th>attempts</th>
            <th>top reasons</th>
          </tr>
        </thead>
        <tbody>
          {cells.map((c) => (
            <tr key={`${c.kind}|${c.language}`}>
              <td>{c.kind}</td>
              <td>{c.language}</td>
              <td>
                {c.accepted} / {c.quota}
              </td>
              <td>
                {c.attempts} / {c.budget}
              </td>
              <td>{c.reasons.map((r) => `${r.reason} ${r.n}`).join(', ') || '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        Each cell used its attempt budget. Try them again here, or with{' '}
        <code>embedsmith generate --resume {runId} --retry-short</code>.
      </p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry short cells
        </button>
      )}
    </div>
  );
}

function Reasons({ title, m }: { title: string; m: Record<string, number> }) {
  const entries = Object.entries(m).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map((e) => e[1]));
  return (
    <div className="reasons-chart">
      <h3>{title}</h3>
      {!entries.length && <div className="muted">none</div>}
      {entries.map(([k, n]) => (
        <div key={k} className="chart-row">
          <span className="chart-label">{k}</span>
          <div className="chart-bar">
            <div className="chart-seg" style={{ width: `${(n / max) * 100}%`, background: 'var(--bad)' }} />
          </div>
          <span className="chart-count">{n}</span>
        </div>
      ))}
    </div>
  );
}

const failHelper = createColumnHelper<typeof plainFeatures, FailedRequest>();
const failColumns = [
  failHelper.accessor('id', { header: '#' }),
  failHelper.accessor('kind', { header: 'Kind' }),
  failHelper.accessor((r) => r.rejectReason ?? r.errorClass ?? r.status, { id: 'why', header: 'Why' }),
  failHelper.accessor((r) => r.error ?? '', { id: 'error', header: 'Error' }),
  failHelper.accessor('rawAnswer', {
    header: 'Raw answer',
    cell: (c) =>
      c.getValue() ? (
        <details>
          <summary>{(c.getValue() ?? '').slice(0, 80)}</summary>
          <pre className="raw">{c.getValue()}</pre>
        </details>
      ) : (
        <span className="muted">(no answer)</span>
      ),
  }),
];

function FailedList({ rows }: { rows: FailedRequest[] }) {
  if (!rows.length) return null;
  return (
    <div>
      <h3>Failed and rejected requests (newest first)</h3>
      <DataTable testId="failures" columns={failColumns} data={rows} rowKey={(r) => String(r.id)} />
    </div>
  );
}
