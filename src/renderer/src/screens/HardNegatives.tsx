import { createColumnHelper } from '@tanstack/react-table';
import { useState } from 'react';
import type { ScoredExampleInfo } from '../../../shared/contract';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox } from '../components/common';
import { DataTable, type plainFeatures } from '../components/DataTable';
import { JobsList } from '../components/Jobs';

const helper = createColumnHelper<typeof plainFeatures, ScoredExampleInfo>();
const f3 = (v: number | null) => (v === null ? '–' : v.toFixed(3));
const columns = [
  helper.accessor((r) => r.example.id, { id: 'id', header: '#' }),
  helper.accessor((r) => r.example.kind, { id: 'kind', header: 'Kind' }),
  helper.accessor((r) => r.example.query, {
    id: 'query',
    header: 'Query',
    cell: (c) => <span className="clip">{c.getValue()}</span>,
  }),
  helper.accessor('positiveScore', { header: 'Positive', cell: (c) => f3(c.getValue()) }),
  helper.accessor('maxNegativeScore', { header: 'Top negative', cell: (c) => f3(c.getValue()) }),
  helper.accessor('margin', {
    header: 'Margin',
    cell: (c) => <span className={(c.getValue() ?? 1) <= 0 ? 'bad' : undefined}>{f3(c.getValue())}</span>,
  }),
  helper.accessor((r) => r.likelyFalseNegative, {
    id: 'flag',
    header: 'Flag',
    cell: (c) =>
      c.getValue() ? (
        <span className="badge rejected">likely false negative</span>
      ) : (
        <span className="muted">–</span>
      ),
  }),
  helper.accessor((r) => r.example.status, {
    id: 'status',
    header: 'Status',
    cell: (c) => <span className={`badge ${c.getValue()}`}>{c.getValue()}</span>,
  }),
];

const PAGE = 50;

/** Hard-negative review: model scores of the positive and every negative, hardest (smallest margin) first. */
export function HardNegatives({ dataset }: { dataset: string }) {
  const { client } = useApi();
  const [model, setModel] = useState('builtin:hashbow-256');
  const [margin, setMargin] = useState('0');
  const [onlyFlagged, setOnlyFlagged] = useState(false);
  const [offset, setOffset] = useState(0);
  const [sel, setSel] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const page = useQuery(
    (c) =>
      c.mining.page.query({
        dataset,
        likelyFalseNegative: onlyFlagged ? true : undefined,
        limit: PAGE,
        offset,
      }),
    [dataset, onlyFlagged, offset],
    (e) => (e.topic === 'mining' || e.topic === 'examples') && e.dataset === dataset,
  );
  const run = (what: 'score' | 'mine') => async () => {
    setError(null);
    try {
      await client.mining[what].mutate({
        dataset,
        model,
        margin: what === 'score' ? Number(margin) : undefined,
      });
    } catch (e) {
      setError(errorText(e));
    }
  };
  const rows = page.data?.rows ?? [];
  const current = rows.find((r) => r.example.id === sel) ?? rows[0];
  const review = async (action: 'accept' | 'reject', reason?: string) => {
    if (!current) return;
    try {
      await client.examples.review.mutate({ id: current.example.id, action, reason });
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <div className="screen" data-testid="hard-negatives">
      <Card title="Score with a model">
        <div className="inline-form">
          <input
            aria-label="scoring model"
            value={model}
            onChange={(e) => setModel(e.target.value)}
            style={{ minWidth: 320 }}
          />
          <label>
            margin{' '}
            <input aria-label="margin" value={margin} onChange={(e) => setMargin(e.target.value)} size={5} />
          </label>
          <button type="button" className="primary" onClick={run('score')}>
            Score positives and negatives
          </button>
          <button type="button" onClick={run('mine')}>
            Mine more negatives
          </button>
          <label className="check">
            <input type="checkbox" checked={onlyFlagged} onChange={(e) => setOnlyFlagged(e.target.checked)} />{' '}
            likely false negatives only
          </label>
        </div>
        <ErrorBox error={error ?? page.error} />
      </Card>
      <JobsList types={['mining']} />
      {page.data === null ? (
        <div className="empty">
          Not scored yet: score the dataset with a model to review its hard negatives.
        </div>
      ) : (
        <Card title={`Scored examples (${page.data?.total ?? '…'}), hardest first`}>
          <DataTable
            testId="scores"
            columns={columns}
            data={rows}
            rowKey={(r) => String(r.example.id)}
            selected={current ? String(current.example.id) : null}
            onRowClick={(r) => setSel(r.example.id)}
          />
          <div className="row-actions">
            <button
              type="button"
              disabled={offset === 0}
              onClick={() => setOffset(Math.max(0, offset - PAGE))}
            >
              Previous
            </button>
            <span className="muted">
              {offset + 1}–{offset + rows.length}
            </span>
            <button type="button" disabled={rows.length < PAGE} onClick={() => setOffset(offset + PAGE)}>
              Next
            </button>
          </div>
        </Card>
      )}
      {current && (
        <div className="detail" data-testid="score-detail">
          <div className="detail-head">
            <strong>#{current.example.id}</strong> <span className="badge">{current.example.kind}</span>{' '}
            <span className={`badge ${current.example.status}`}>{current.example.status}</span>
            {current.stale && <span className="badge rejected">edited since scored: rescore</span>}
            <span className="row-actions" style={{ display: 'inline-flex', marginLeft: 12 }}>
              <button type="button" onClick={() => review('accept')}>
                Accept
              </button>
              <button type="button" onClick={() => review('reject', 'negative-is-positive')}>
                Reject: negative is a positive
              </button>
            </span>
          </div>
          <div className="triple">
            <div className="text-col">
              <h3>Query</h3>
              <div className="text">{current.example.query}</div>
            </div>
            <div className="text-col positive">
              <h3>Positive · {f3(current.positiveScore)}</h3>
              <div className="text">{current.example.positive}</div>
            </div>
            <div className="text-col negative">
              <h3>Negatives by score</h3>
              {current.negativeScores.map((n, i) => (
                <div
                  key={`${n.source}-${n.minedId ?? i}`}
                  className={`neg${n.likelyFalseNegative ? ' flagged' : ''}`}
                >
                  <div className="attrs">
                    <span>
                      <b>{n.source}</b> {f3(n.score)}
                    </span>
                    <span>
                      <b>margin</b> {f3(n.margin)}
                    </span>
                    {n.likelyFalseNegative && <span className="badge rejected">likely false negative</span>}
                  </div>
                  <div className="text">{n.text}</div>
                </div>
              ))}
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
