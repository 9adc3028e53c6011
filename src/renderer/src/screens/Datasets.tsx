import { createColumnHelper } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import type { Dataset } from '../../../shared/domain';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { DataTable, type plainFeatures } from '../components/DataTable';
import { DistributionChart } from '../components/DistributionChart';
import { KindLanguageMatrix } from '../components/KindLanguageMatrix';
import { JobsList } from '../components/Jobs';
import { useNav } from '../nav';
import { PathField } from './PathField';

const helper = createColumnHelper<typeof plainFeatures, Dataset>();

export function DatasetsScreen() {
  const { client } = useApi();
  const nav = useNav();
  const list = useQuery(
    (c) => c.datasets.list.query(),
    [],
    (e) => e.topic === 'datasets' || e.topic === 'examples',
  );
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [formError, setFormError] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<string | null>(null);
  const selected = nav.dataset && list.data?.some((d) => d.name === nav.dataset) ? nav.dataset : null;

  const columns = useMemo(
    () => [
      helper.accessor('name', { header: 'Name', cell: (c) => <strong>{c.getValue()}</strong> }),
      helper.accessor('exampleCount', { header: 'Examples', cell: (c) => c.getValue().toLocaleString() }),
      helper.accessor('description', {
        header: 'Description',
        cell: (c) => <span className="muted">{c.getValue()}</span>,
      }),
      helper.accessor('updatedAt', {
        header: 'Updated',
        cell: (c) => new Date(c.getValue()).toLocaleString(),
      }),
      helper.display({
        id: 'actions',
        header: '',
        cell: (c) => (
          <span className="row-actions">
            <button type="button" onClick={() => nav.go('curate', c.row.original.name)}>
              Curate
            </button>
            <button type="button" onClick={() => nav.go('generate', c.row.original.name)}>
              Generate
            </button>
            <button type="button" onClick={() => nav.go('export', c.row.original.name)}>
              Export
            </button>
            <button
              type="button"
              className="danger"
              onClick={(e) => {
                e.stopPropagation();
                setConfirmDelete(c.row.original.name);
              }}
            >
              Delete
            </button>
          </span>
        ),
      }),
    ],
    [nav],
  );

  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setFormError(null);
    try {
      const d = await client.datasets.create.mutate({
        name: name.trim(),
        description: description || undefined,
      });
      setName('');
      setDescription('');
      nav.setDataset(d.name);
    } catch (err) {
      setFormError(errorText(err));
    }
  };

  return (
    <div className="screen">
      <Card title="Datasets">
        <ErrorBox error={list.error} onRetry={list.reload} />
        {confirmDelete && (
          <div className="confirm" role="alertdialog">
            Delete dataset <strong>{confirmDelete}</strong> and all its examples? This cannot be undone.
            <button
              type="button"
              className="danger"
              onClick={async () => {
                const n = confirmDelete;
                setConfirmDelete(null);
                try {
                  await client.datasets.delete.mutate({ name: n });
                  if (nav.dataset === n) nav.setDataset(null);
                } catch (err) {
                  setFormError(errorText(err));
                }
              }}
            >
              Delete
            </button>
            <button type="button" onClick={() => setConfirmDelete(null)}>
              Cancel
            </button>
          </div>
        )}
        <DataTable
          testId="datasets-table"
          columns={columns}
          data={list.data ?? []}
          rowKey={(d) => d.name}
          selected={selected}
          onRowClick={(d) => nav.setDataset(d.name)}
          empty={
            list.loading ? 'Loading…' : 'No datasets yet: create one below, then generate or import examples.'
          }
        />
        <form className="inline-form" onSubmit={create}>
          <input
            aria-label="new dataset name"
            placeholder="new dataset name"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <input
            aria-label="description"
            placeholder="description (optional)"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
          <button type="submit" className="primary" disabled={!name.trim()}>
            Create dataset
          </button>
        </form>
        <ErrorBox error={formError} />
      </Card>
      {selected && <DatasetDetail name={selected} />}
      <ImportSplit
        dataset={selected}
        instruction={list.data?.find((d) => d.name === selected)?.instruction ?? null}
      />
      <JobsList types={['import', 'export']} />
    </div>
  );
}

function DatasetDetail({ name }: { name: string }) {
  const stats = useQuery(
    (c) => c.datasets.stats.query({ name }),
    [name],
    (e) => e.topic === 'examples' && e.dataset === name,
  );
  const s = stats.data;
  return (
    <Card title={`${name}: distribution`}>
      <ErrorBox error={stats.error} onRetry={stats.reload} />
      {s && s.total === 0 && <div className="empty">No examples yet. Generate some, or import a file.</div>}
      {s && s.total > 0 && (
        <div className="detail-grid">
          <DistributionChart stats={s} />
          <div className="marginals">
            <Marginal title="Status" m={s.byStatus} />
            <Marginal title="Split" m={s.bySplit} />
            <Marginal title="Kind" m={s.byKind} />
          </div>
        </div>
      )}
      {s && s.total > 0 && (
        <>
          <h3>Kind × language</h3>
          <KindLanguageMatrix cells={s.cells} unit="rows" testId="dataset-matrix" />
        </>
      )}
    </Card>
  );
}

function Marginal({ title, m }: { title: string; m: Record<string, number> }) {
  return (
    <div className="marginal">
      <h3>{title}</h3>
      {Object.entries(m)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => (
          <div key={k} className="kv">
            <span>{k}</span>
            <span>{v.toLocaleString()}</span>
          </div>
        ))}
    </div>
  );
}

function ImportSplit({ dataset, instruction }: { dataset: string | null; instruction: string | null }) {
  const { client } = useApi();
  const nav = useNav();
  const [imp, setImp] = useState({
    name: dataset ?? '',
    path: '',
    layout: 'auto',
    language: '',
    status: 'unreviewed',
    skipInvalid: false,
    instruction: '',
  });
  const [defaultIns, setDefaultIns] = useState<string | null>(null);
  const [ratios, setRatios] = useState('0.9,0.05,0.05');
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const run = async (fn: () => Promise<string>) => {
    setErr(null);
    setMsg(null);
    try {
      setMsg(await fn());
    } catch (e) {
      setErr(errorText(e));
    }
  };
  return (
    <Card title="Import and split">
      <form
        className="grid-form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            const name = imp.name || dataset || '';
            const j = await client.datasets.import.mutate({
              name,
              path: imp.path,
              layout: imp.layout as 'auto',
              language: imp.language || undefined,
              status: imp.status as 'unreviewed',
              skipInvalid: imp.skipInvalid,
              create: true,
              instruction: imp.instruction.trim() || undefined,
            });
            nav.setDataset(name);
            return `started: ${j.label}`;
          });
        }}
      >
        <label>
          Into dataset
          <input
            value={imp.name || dataset || ''}
            onChange={(e) => setImp({ ...imp, name: e.target.value })}
            placeholder="dataset (created if new)"
          />
        </label>
        <div className="wide">
          {/* Browse picks a file; a BEIR folder is typed (or pasted) into the same field. */}
          <PathField
            label="File or BEIR folder (a path on the machine running Embedsmith)"
            aria="import path"
            kind="file"
            value={imp.path}
            onChange={(v) => setImp({ ...imp, path: v })}
            placeholder="/data/train.jsonl"
          />
        </div>
        <label>
          Layout
          <select value={imp.layout} onChange={(e) => setImp({ ...imp, layout: e.target.value })}>
            {['auto', 'paper', 'sentence-transformers', 'flagembedding', 'beir'].map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </label>
        <label>
          Language (when lines have none)
          <input
            value={imp.language}
            onChange={(e) => setImp({ ...imp, language: e.target.value })}
            // No default: rows without a language stay without one (issue #18.5: a greyed "en" looked like one).
            placeholder="none"
          />
        </label>
        <label>
          Imported rows are
          <select
            aria-label="import status"
            value={imp.status}
            onChange={(e) => setImp({ ...imp, status: e.target.value })}
          >
            <option value="unreviewed">unreviewed</option>
            <option value="accepted">accepted (already curated)</option>
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={imp.skipInvalid}
            onChange={(e) => setImp({ ...imp, skipInvalid: e.target.checked })}
          />
          skip invalid lines (kept in a file)
        </label>
        <label className="wide">
          Default instruction (rows without one train with it; empty: the method's per kind)
          <input
            aria-label="import default instruction"
            value={imp.instruction}
            onChange={(e) => setImp({ ...imp, instruction: e.target.value })}
            placeholder="Given a web search query, retrieve relevant passages that answer the query"
          />
        </label>
        <button type="submit" className="primary" disabled={!imp.path || !(imp.name || dataset)}>
          Import
        </button>
      </form>
      {dataset && (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              const r = ratios.split(',').map(Number) as [number, number, number];
              const out = await client.datasets.split.mutate({ name: dataset, ratios: r });
              return `split ${dataset}: ${out.assigned} rows assigned (${Object.entries(out.bySplit)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')})`;
            });
          }}
        >
          <span>Split {dataset} train,dev,test:</span>
          <input aria-label="split ratios" value={ratios} onChange={(e) => setRatios(e.target.value)} />
          <button type="submit">Assign splits</button>
        </form>
      )}
      {dataset && (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              const d = await client.datasets.setInstruction.mutate({
                name: dataset,
                instruction: (defaultIns ?? instruction ?? '').trim() || null,
              });
              setDefaultIns(null);
              return d.instruction
                ? `${dataset}: rows without an instruction train with "${d.instruction}"`
                : `${dataset}: rows without an instruction get the method's default per kind`;
            });
          }}
        >
          <span>Default instruction of {dataset}:</span>
          <input
            aria-label="dataset default instruction"
            value={defaultIns ?? instruction ?? ''}
            onChange={(e) => setDefaultIns(e.target.value)}
            placeholder="none: the method's default per kind"
          />
          <button type="submit">Save</button>
        </form>
      )}
      {msg && <div className="notice">{msg}</div>}
      <ErrorBox error={err} />
    </Card>
  );
}
