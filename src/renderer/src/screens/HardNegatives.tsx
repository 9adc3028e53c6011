import { useEffect, useMemo, useRef, useState } from 'react';
import type { ExampleFilterInput, ScoredExampleInfo } from '../../../shared/contract';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Histogram } from '../components/charts';
import { Card, ErrorBox } from '../components/common';
import { JobsList } from '../components/Jobs';

const f3 = (v: number | null) => (v === null ? '–' : v.toFixed(3));
const PAGE = 50;
const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

/**
 * Hard-negative review: model scores of the positive and every negative, hardest (smallest margin) first,
 * under the Curate toolbar's filter. Same keyboard model as the example list (j/k/↑/↓, a, r, x) plus
 * [ / ] to pick a negative, d to drop it and p to move it to a positive; the detail sits under the list.
 */
export function HardNegatives({ dataset, filter }: { dataset: string; filter: ExampleFilterInput }) {
  const { client } = useApi();
  const [model, setModel] = useState<string | null>(null);
  const [margin, setMargin] = useState('0');
  const [knobs, setKnobs] = useState({ rangeMin: '', rangeMax: '', mineMargin: '', count: '3', corpus: '' });
  const [pools, setPools] = useState<'kind' | 'dataset'>('kind');
  const [onlyFlagged, setOnlyFlagged] = useState(false);
  const [offset, setOffset] = useState(0);
  const [sel, setSel] = useState(0);
  const [negSel, setNegSel] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const listRef = useRef<HTMLDivElement>(null);
  const fkey = JSON.stringify(filter);
  const page = useQuery(
    (c) =>
      c.mining.page.query({
        dataset,
        filter,
        likelyFalseNegative: onlyFlagged ? true : undefined,
        limit: PAGE,
        offset,
      }),
    [dataset, fkey, onlyFlagged, offset],
    (e) => (e.topic === 'mining' || e.topic === 'examples') && e.dataset === dataset,
  );
  const dist = useQuery(
    (c) => c.mining.distribution.query({ dataset, filter }),
    [dataset, fkey],
    (e) => (e.topic === 'mining' || e.topic === 'examples') && e.dataset === dataset,
  );
  // A filter change starts at the top of the list, with the selection there.
  // biome-ignore lint/correctness/useExhaustiveDependencies: fkey stands for the filter
  useEffect(() => {
    setOffset(0);
    setSel(0);
    listRef.current?.scrollTo?.({ top: 0 });
  }, [fkey, onlyFlagged]);
  // The form shows the model the table's scores come from (after a reload too) until the user types.
  const shownModel = model ?? page.data?.model ?? 'builtin:hashbow-256';
  // Only when a run's data arrives, not while the user edits the margin.
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the run, see above
  useEffect(() => {
    if (page.data && margin === '0' && page.data.margin !== 0) setMargin(String(page.data.margin));
  }, [page.data?.runId]);

  const rows = page.data?.rows ?? [];
  const current = rows[Math.min(sel, rows.length - 1)] as ScoredExampleInfo | undefined;
  const neg = current?.negativeScores[Math.min(negSel, (current?.negativeScores.length ?? 1) - 1)];
  // A new example starts at its first negative.
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the example shown
  useEffect(() => {
    setNegSel(0);
  }, [current?.example.id]);
  useEffect(() => {
    listRef.current?.querySelector(`[data-index="${sel}"]`)?.scrollIntoView?.({ block: 'nearest' });
  }, [sel]);

  const run = (what: 'score' | 'mine') => async () => {
    setError(null);
    try {
      await client.mining[what].mutate(
        what === 'score'
          ? { dataset, model: shownModel, margin: Number(margin), filter }
          : {
              dataset,
              model: shownModel,
              filter,
              pools,
              rangeMin: num(knobs.rangeMin),
              rangeMax: num(knobs.rangeMax),
              margin: num(knobs.mineMargin),
              numNegatives: num(knobs.count),
              corpus: knobs.corpus.trim() || undefined,
            },
      );
    } catch (e) {
      setError(errorText(e));
    }
  };
  const review = async (action: 'accept' | 'reject' | 'reset', reason?: string) => {
    if (!current) return;
    try {
      await client.examples.review.mutate({ id: current.example.id, action, reason });
      setSel((s) => Math.min(rows.length - 1, s + 1));
    } catch (e) {
      setError(errorText(e));
    }
  };
  const negAction = (action: 'drop' | 'to-positive') => (neg ? negActionFor(neg, action) : undefined);

  // Keys: window-wide on this view (the example list's keys are off while it shows).
  const keyRef = useRef<(e: KeyboardEvent) => void>(() => {});
  keyRef.current = (e: KeyboardEvent) => {
    const t = e.target as HTMLElement | null;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const n = current?.negativeScores.length ?? 0;
    switch (e.key) {
      case 'j':
      case 'ArrowDown':
        e.preventDefault();
        setSel((s) => Math.min(rows.length - 1, s + 1));
        break;
      case 'k':
      case 'ArrowUp':
        e.preventDefault();
        setSel((s) => Math.max(0, s - 1));
        break;
      case ']':
        setNegSel((s) => Math.min(n - 1, s + 1));
        break;
      case '[':
        setNegSel((s) => Math.max(0, s - 1));
        break;
      case 'a':
        void review('accept');
        break;
      case 'r':
        void review('reject', 'negative-is-positive');
        break;
      case 'x':
        void review('reset');
        break;
      case 'd':
        void negAction('drop');
        break;
      case 'p':
        void negAction('to-positive');
        break;
    }
  };
  useEffect(() => {
    const on = (e: KeyboardEvent) => keyRef.current(e);
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
  }, []);

  const m = Number(margin);
  const flaggedAt = useMemo(
    () => (dist.data && Number.isFinite(m) ? dist.data.margin.filter((x) => x <= m).length : null),
    [dist.data, m],
  );

  return (
    <div className="hard-negatives" data-testid="hard-negatives">
      <Card title="Score and mine with a model">
        <div className="inline-form">
          <label>
            model{' '}
            <input
              aria-label="scoring model"
              value={shownModel}
              onChange={(e) => setModel(e.target.value)}
              style={{ minWidth: 320 }}
            />
          </label>
          <label title="flag a negative scoring ≥ positive − margin">
            flag margin{' '}
            <input
              aria-label="flag margin"
              value={margin}
              onChange={(e) => setMargin(e.target.value)}
              size={5}
            />
          </label>
          <button type="button" className="primary" onClick={run('score')}>
            Score positives and negatives
          </button>
          <label className="check">
            <input type="checkbox" checked={onlyFlagged} onChange={(e) => setOnlyFlagged(e.target.checked)} />{' '}
            likely false negatives only
          </label>
        </div>
        <div className="inline-form" data-testid="mine-options">
          <label title="candidate pools: one per kind (long-short labels against labels; sts/bitext per language pair) or the whole dataset">
            pools{' '}
            <select
              aria-label="pools"
              value={pools}
              onChange={(e) => setPools(e.target.value as 'kind' | 'dataset')}
            >
              <option value="kind">per kind (and language)</option>
              <option value="dataset">whole dataset</option>
            </select>
          </label>
          <label title="skip the N most similar candidates (--range min)">
            skip top{' '}
            <input
              aria-label="range min"
              size={4}
              placeholder="0"
              value={knobs.rangeMin}
              onChange={(e) => setKnobs({ ...knobs, rangeMin: e.target.value })}
            />
          </label>
          <label title="consider candidates up to this rank (--range max)">
            up to rank{' '}
            <input
              aria-label="range max"
              size={4}
              placeholder="auto"
              value={knobs.rangeMax}
              onChange={(e) => setKnobs({ ...knobs, rangeMax: e.target.value })}
            />
          </label>
          <label title="drop candidates scoring above positive − margin (--margin)">
            margin{' '}
            <input
              aria-label="mine margin"
              size={4}
              placeholder="none"
              value={knobs.mineMargin}
              onChange={(e) => setKnobs({ ...knobs, mineMargin: e.target.value })}
            />
          </label>
          <label title="negatives per query (--num-negatives)">
            count{' '}
            <input
              aria-label="negatives per query"
              size={3}
              value={knobs.count}
              onChange={(e) => setKnobs({ ...knobs, count: e.target.value })}
            />
          </label>
          <label title="a JSONL/TXT file or BEIR folder on the serving machine; empty: the dataset's own texts">
            corpus{' '}
            <input
              aria-label="corpus"
              placeholder="(dataset texts)"
              value={knobs.corpus}
              onChange={(e) => setKnobs({ ...knobs, corpus: e.target.value })}
            />
          </label>
          <button type="button" onClick={run('mine')}>
            Mine more negatives
          </button>
        </div>
        <ErrorBox error={error ?? page.error} />
        {notice && <div className="notice">{notice}</div>}
      </Card>
      <JobsList types={['mining']} />
      {dist.data && (dist.data.positive.length > 0 || dist.data.negative.length > 0) && (
        <Card title="Scores: positives vs negatives, and margins">
          <div className="hist-pair">
            <Histogram
              testId="score-histogram"
              ariaLabel="histogram of positive and negative scores"
              xLabel="cosine score"
              samples={[
                { name: 'positives', values: dist.data.positive, className: 'c-pos' },
                { name: 'negatives', values: dist.data.negative, className: 'c-neg' },
              ]}
            />
            <Histogram
              testId="margin-histogram"
              ariaLabel="histogram of margins (positive − top negative) with the flag margin"
              xLabel="margin = positive − top negative (left of the line: flagged)"
              samples={[{ name: 'margins', values: dist.data.margin, className: 'c-margin' }]}
              marks={Number.isFinite(m) ? [{ x: m, label: `margin ${m}` }] : []}
            >
              {flaggedAt !== null && (
                <span data-testid="flagged-at">
                  {flaggedAt} of {dist.data.margin.length} rows flagged at margin {m}
                </span>
              )}
            </Histogram>
          </div>
        </Card>
      )}
      {page.data === null ? (
        <div className="empty">
          Not scored yet: score the dataset with a model to review its hard negatives.
        </div>
      ) : (
        <>
          <div className="vtable hn-list">
            <div className="vrow vhead hn-grid">
              <div>#</div>
              <div>Kind</div>
              <div>Query</div>
              <div>Positive</div>
              <div>Top negative</div>
              <div>Margin</div>
              <div>Flag</div>
              <div>Status</div>
            </div>
            <div className="vbody" ref={listRef} data-testid="scores">
              {rows.map((r, i) => (
                // biome-ignore lint/a11y/noStaticElementInteractions: keys are window-wide on this view
                // biome-ignore lint/a11y/useKeyWithClickEvents: idem; a click only selects the row
                <div
                  key={r.example.id}
                  data-index={i}
                  data-id={r.example.id}
                  data-selected={current?.example.id === r.example.id}
                  className={`vrow hn-grid${current?.example.id === r.example.id ? ' selected' : ''}`}
                  onClick={() => setSel(i)}
                >
                  <div className="cell">{r.example.id}</div>
                  <div className="cell">{r.example.kind}</div>
                  <div className="cell" dir="auto">
                    {r.example.query}
                  </div>
                  <div className="cell">{f3(r.positiveScore)}</div>
                  <div className="cell">{f3(r.maxNegativeScore)}</div>
                  <div className="cell">
                    <span className={(r.margin ?? 1) <= 0 ? 'bad' : undefined}>{f3(r.margin)}</span>
                  </div>
                  <div className="cell">
                    {r.likelyFalseNegative ? (
                      <span className="badge rejected">likely false negative</span>
                    ) : (
                      <span className="muted">–</span>
                    )}
                  </div>
                  <div className="cell">
                    <span className={`badge ${r.example.status}`}>{r.example.status}</span>
                  </div>
                </div>
              ))}
              {!rows.length && <div className="empty">No scored example matches these filters.</div>}
            </div>
            <div className="vfoot muted row-actions">
              <span data-testid="scores-total">
                {page.data?.total ?? '…'} scored examples match · scores of{' '}
                <span title={page.data?.model}>{page.data?.model.split(/[\\/]/).pop()}</span>
              </span>
              <button
                type="button"
                disabled={offset === 0}
                onClick={() => setOffset(Math.max(0, offset - PAGE))}
              >
                Previous
              </button>
              <span>
                {rows.length ? offset + 1 : 0}–{offset + rows.length}
              </span>
              <button type="button" disabled={rows.length < PAGE} onClick={() => setOffset(offset + PAGE)}>
                Next
              </button>
            </div>
          </div>
          {current && (
            <div className="detail" data-testid="score-detail">
              <div className="detail-head">
                <strong>#{current.example.id}</strong> <span className="badge">{current.example.kind}</span>{' '}
                <span className={`badge ${current.example.status}`}>{current.example.status}</span>
                {current.stale && <span className="badge rejected">edited since scored: rescore</span>}
                <span className="row-actions" style={{ display: 'inline-flex', marginLeft: 12 }}>
                  <button type="button" onClick={() => review('accept')}>
                    Accept (a)
                  </button>
                  <button type="button" onClick={() => review('reject', 'negative-is-positive')}>
                    Reject example (r)
                  </button>
                </span>
              </div>
              <div className="triple">
                <div className="text-col">
                  <h3>Query</h3>
                  <div className="text" dir="auto">
                    {current.example.query}
                  </div>
                </div>
                <div className="text-col positive">
                  <h3>Positive · {f3(current.positiveScore)}</h3>
                  <div className="text" dir="auto">
                    {current.example.positive}
                  </div>
                </div>
                <div className="text-col negative">
                  <h3>Negatives by score ([ ] to pick)</h3>
                  {current.negativeScores.map((n, i) => (
                    <div
                      key={`${n.source}-${n.minedId ?? i}`}
                      className={`neg${n.likelyFalseNegative ? ' flagged' : ''}${n === neg ? ' picked' : ''}`}
                      data-testid="negative"
                      data-picked={n === neg}
                    >
                      <div className="attrs">
                        <span>
                          <b>{n.source}</b> {f3(n.score)}
                        </span>
                        <span>
                          <b>margin</b> {f3(n.margin)}
                        </span>
                        {n.likelyFalseNegative && (
                          <span className="badge rejected">likely false negative</span>
                        )}
                      </div>
                      <div className="text" dir="auto">
                        {n.text}
                      </div>
                      <div className="row-actions">
                        <button
                          type="button"
                          onClick={() => {
                            setNegSel(i);
                            void negActionFor(n, 'drop');
                          }}
                        >
                          Drop this negative (d)
                        </button>
                        <button type="button" onClick={() => void negActionFor(n, 'to-positive')}>
                          It is a positive: move it (p)
                        </button>
                      </div>
                    </div>
                  ))}
                </div>
              </div>
            </div>
          )}
        </>
      )}
    </div>
  );

  async function negActionFor(
    n: ScoredExampleInfo['negativeScores'][number],
    action: 'drop' | 'to-positive',
  ) {
    if (!current) return;
    try {
      const r = await client.mining.negativeAction.mutate({
        exampleId: current.example.id,
        source: n.source,
        minedId: n.minedId,
        action,
      });
      setNotice(
        action === 'drop'
          ? `dropped a ${n.source} negative of #${current.example.id}`
          : `moved to a positive: new example #${r.created}`,
      );
    } catch (e) {
      setError(errorText(e));
    }
  }
}
