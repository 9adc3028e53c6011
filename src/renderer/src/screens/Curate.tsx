import { createColumnHelper, tableFeatures, useTable } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  type EditField,
  type ExampleFilterInput,
  type PageResult,
  REJECT_REASONS,
  type SortKey,
} from '../../../shared/contract';
import { type Example, STATUSES } from '../../../shared/domain';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { ErrorBox } from '../components/common';
import { Highlight, searchTerms, TermsContext } from '../components/Highlight';
import { useNav } from '../nav';
import { Detail, FilterMenus, KeyHelp, type Mode } from './CurateDetail';
import { HardNegatives } from './HardNegatives';

const features = tableFeatures({});
const helper = createColumnHelper<typeof features, Example>();
const PAGE = 200;
const ROW_H = 32;
const SORTABLE: Partial<Record<string, SortKey>> = {
  id: 'id',
  kind: 'kind',
  language: 'language',
  status: 'status',
};

const columns = helper.columns([
  helper.accessor('id', { header: '#' }),
  helper.accessor('kind', { header: 'Kind' }),
  helper.accessor((e) => e.language ?? (e.srcLang ? `${e.srcLang}-${e.tgtLang}` : ''), {
    id: 'language',
    header: 'Lang',
  }),
  helper.accessor('status', {
    header: 'Status',
    cell: (c) => <span className={`badge ${c.getValue()}`}>{c.getValue()}</span>,
  }),
  helper.accessor('query', { header: 'Query', cell: (c) => <Highlight text={c.getValue()} /> }),
  helper.accessor('positive', { header: 'Positive', cell: (c) => <Highlight text={c.getValue()} /> }),
  helper.accessor((e) => e.rejectReason ?? '', { id: 'reason', header: 'Reason' }),
  helper.accessor((e) => e.generatorModel ?? e.origin, { id: 'model', header: 'Model / origin' }),
]);
const GRID = '64px 100px 84px 108px minmax(160px,2fr) minmax(160px,2fr) 130px 150px';

type UndoEntry =
  // `saved`: the stored row, or null when the write failed. The entry is pushed when the key is pressed, so
  // undo follows key order even when a busy server answers the writes out of order.
  | { before: Example; what: 'review' | 'edit'; saved?: Promise<Example | null> }
  // A bulk action is one entry: its review events are undone together.
  | { what: 'bulk'; action: string; changed: number; range: { after: number; upTo: number } };

export function CurateScreen() {
  const nav = useNav();
  const list = useQuery(
    (c) => c.datasets.list.query(),
    [],
    (e) => e.topic === 'datasets',
  );
  if (!nav.dataset)
    return (
      <div className="screen">
        <div className="card">
          <h2>Curate</h2>
          <p>Pick a dataset to review:</p>
          <div className="row-actions">
            {(list.data ?? []).map((d) => (
              <button key={d.name} type="button" onClick={() => nav.go('curate', d.name)}>
                {d.name} ({d.exampleCount})
              </button>
            ))}
            {list.data?.length === 0 && (
              <span className="muted">No datasets yet: create one on Datasets.</span>
            )}
          </div>
        </div>
      </div>
    );
  return <Curator key={nav.dataset} dataset={nav.dataset} />;
}

function Curator({ dataset }: { dataset: string }) {
  const { client } = useApi();
  const [view, setView] = useState<'examples' | 'negatives'>('examples');
  const [filter, setFilter] = useState<ExampleFilterInput>({});
  const [searchText, setSearchText] = useState('');
  const [sort, setSort] = useState<SortKey>('id');
  const [desc, setDesc] = useState(false);
  const [rows, setRows] = useState<Example[]>([]);
  const [next, setNext] = useState<PageResult['next']>(null);
  const [loadingPage, setLoadingPage] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sel, setSel] = useState(0);
  const [mode, setMode] = useState<Mode>(null);
  const [undo, setUndo] = useState<UndoEntry[]>([]);
  const [bulk, setBulk] = useState<null | 'accept' | 'reject' | 'reset'>(null);
  const [bulkReason, setBulkReason] = useState<string>(REJECT_REASONS[0]);
  const [notice, setNotice] = useState<string | null>(null);
  const gen = useRef(0);
  const scrollRef = useRef<HTMLDivElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);

  // Debounce typing into the full-text filter.
  useEffect(() => {
    const next = searchText.trim() || undefined;
    // Same search: keep the same filter object, or the list would reload and lose the selection.
    const t = setTimeout(() => setFilter((f) => (f.search === next ? f : { ...f, search: next })), 250);
    return () => clearTimeout(t);
  }, [searchText]);

  // Facets change with imports, generation and bulk actions, not with one review: refetch on those only.
  const facets = useQuery(
    (c) => c.examples.facets.query({ name: dataset }),
    [dataset],
    (e) => e.topic === 'examples' && e.dataset === dataset && !e.ids,
  );
  // Whole-dataset counts for the filter menus (each option says how many rows it has).
  const all = useQuery(
    (c) => c.datasets.stats.query({ name: dataset }),
    [dataset],
    (e) => e.topic === 'examples' && e.dataset === dataset,
  );
  const counts = useQuery(
    (c) => c.datasets.stats.query({ name: dataset, filter }),
    [dataset, JSON.stringify(filter)],
    (e) => e.topic === 'examples' && e.dataset === dataset,
  );

  // First page on any filter/sort change; later pages by keyset cursor as the list scrolls.
  const load = useCallback(
    async (after: PageResult['next'] | null) => {
      const g = after ? gen.current : ++gen.current;
      setLoadingPage(true);
      try {
        const r = await client.examples.page.query({
          dataset,
          filter,
          sort,
          desc,
          limit: PAGE,
          after: after ?? undefined,
        });
        if (g !== gen.current) return;
        setRows((prev) => (after ? [...prev, ...r.rows] : r.rows));
        setNext(r.next);
        setError(null);
        if (!after) {
          // A new filter or sort: the selection is the first row, and the list shows it.
          setSel(0);
          if (scrollRef.current) scrollRef.current.scrollTop = 0;
        }
      } catch (e) {
        if (g === gen.current) setError(errorText(e));
      } finally {
        if (g === gen.current) setLoadingPage(false);
      }
    },
    [client, dataset, filter, sort, desc],
  );
  useEffect(() => {
    void load(null);
  }, [load]);

  const table = useTable({ features, columns, data: rows, getRowId: (r: Example) => String(r.id) });
  const tableRows = table.getRowModel().rows;
  const virtualizer = useVirtualizer({
    count: tableRows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_H,
    overscan: 12,
    // A first guess until the list is measured (and the size used where nothing is laid out, e.g. tests).
    initialRect: { width: 1200, height: 480 },
  });
  const items = virtualizer.getVirtualItems();
  const lastItem = items[items.length - 1];
  // Next keyset page when the visible window, or the keyboard selection, nears the end of what is loaded.
  useEffect(() => {
    const near = (lastItem && lastItem.index >= rows.length - 40) || sel >= rows.length - 40;
    if (near && next && !loadingPage) void load(next);
  }, [lastItem, sel, rows.length, next, loadingPage, load]);

  const current = rows[sel] as Example | undefined;
  // Token counts of the selected example with the chosen model's tokenizer (a folder path, kept locally).
  const [tokenModel, setTokenModel] = useState(() => localStorage.getItem('embedsmith.tokenModel') ?? '');
  const tokens = useQuery(
    (c) =>
      current && tokenModel
        ? c.examples.tokens.query({ ids: [current.id], model: tokenModel })
        : Promise.resolve(null),
    // Without a model nothing to fetch: moving the selection must not re-run the query (long lists).
    tokenModel ? [current?.id, current?.updatedAt, tokenModel] : [null, null, ''],
  );
  const move = useCallback(
    (d: number) => {
      setSel((s) => {
        const n = Math.max(0, Math.min(rows.length - 1, s + d));
        virtualizer.scrollToIndex(n, { align: 'auto' });
        return n;
      });
    },
    [rows.length, virtualizer],
  );

  const replace = (e: Example) => setRows((rs) => rs.map((r) => (r.id === e.id ? e : r)));
  const act = async (
    fn: () => Promise<Example>,
    entry: { before: Example; what: 'review' | 'edit' },
    advance: boolean,
  ) => {
    // Move on at once so fast key presses each land on the next row; the write follows.
    if (advance) move(1);
    let saved = (_row: Example | null) => {};
    const mine: UndoEntry = { ...entry, saved: new Promise<Example | null>((r) => (saved = r)) };
    setUndo((u) => [...u.slice(-199), mine]);
    try {
      const e = await fn();
      replace(e);
      saved(e);
      setNotice(null);
    } catch (err) {
      saved(null);
      setUndo((u) => u.filter((x) => x !== mine));
      setNotice(errorText(err));
    }
  };
  const review = (action: 'accept' | 'reject' | 'reset', reason?: string) => {
    if (!current) return;
    const before = current;
    void act(
      () => client.examples.review.mutate({ id: before.id, action, reason }),
      { before, what: 'review' },
      true,
    );
  };
  const undoLast = async () => {
    const last = undo[undo.length - 1];
    if (!last) return setNotice('nothing to undo');
    setUndo((u) => u.slice(0, -1));
    if (last.what === 'bulk') {
      try {
        const r = await client.examples.undoBulk.mutate({ dataset, ...last.range });
        setNotice(`undid ${last.action} of ${r.restored.toLocaleString()} examples`);
        void load(null);
      } catch (err) {
        setNotice(errorText(err));
      }
      return;
    }
    const b = last.before;
    // Undo a write only once it is stored (else the undo could land first and be overwritten by it).
    const stored = last.saved ? await last.saved : undefined;
    if (stored === null) return;
    try {
      let e: Example;
      if (last.what === 'review') {
        const action = b.status === 'accepted' ? 'accept' : b.status === 'rejected' ? 'reject' : 'reset';
        e = await client.examples.review.mutate({ id: b.id, action, reason: b.rejectReason ?? undefined });
      } else {
        const now = stored ?? rows.find((r) => r.id === b.id);
        e = now ?? b;
        for (const f of ['query', 'positive', 'negative', 'instruction'] as const)
          if (!now || now[f] !== b[f])
            e = await client.examples.edit.mutate({ id: b.id, field: f, value: b[f] });
      }
      replace(e);
      const i = rows.findIndex((r) => r.id === b.id);
      if (i >= 0) {
        setSel(i);
        virtualizer.scrollToIndex(i, { align: 'auto' });
      }
      setNotice(`undid ${last.what} of #${b.id}`);
    } catch (err) {
      setNotice(errorText(err));
    }
  };

  // Keyboard review. Keys are ignored while typing in a field, except Escape.
  const keyRef = useRef<(e: KeyboardEvent) => void>(() => {});
  keyRef.current = (e: KeyboardEvent) => {
    // The hard-negative view has its own keys on its own rows.
    if (view === 'negatives') return;
    const t = e.target as HTMLElement | null;
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT');
    if (e.key === 'Escape') {
      setMode(null);
      setBulk(null);
      if (typing) t.blur();
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) {
      if ((e.ctrlKey || e.metaKey) && e.key === 'z' && !typing) {
        e.preventDefault();
        void undoLast();
      }
      return;
    }
    if (mode === 'reject') {
      const n = Number(e.key);
      if (n >= 1 && n <= REJECT_REASONS.length) {
        e.preventDefault();
        setMode(null);
        review('reject', REJECT_REASONS[n - 1]);
      }
      return;
    }
    if (mode === 'edit') return;
    switch (e.key) {
      case 'j':
      case 'ArrowDown':
        e.preventDefault();
        move(1);
        break;
      case 'k':
      case 'ArrowUp':
        e.preventDefault();
        move(-1);
        break;
      case 'a':
        review('accept');
        break;
      case 'r':
        if (current) setMode('reject');
        break;
      case 'x':
        review('reset');
        break;
      case 'e':
        if (current) {
          e.preventDefault();
          setMode('edit');
        }
        break;
      case 'u':
        void undoLast();
        break;
      case '/':
        e.preventDefault();
        searchRef.current?.focus();
        break;
      case '?':
        setMode((m) => (m === 'help' ? null : 'help'));
        break;
    }
  };
  useEffect(() => {
    const on = (e: KeyboardEvent) => keyRef.current(e);
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
  }, []);

  const clickSort = (id: string) => {
    const k = SORTABLE[id];
    if (!k) return;
    if (k === sort) setDesc((d) => !d);
    else {
      setSort(k);
      setDesc(false);
    }
  };

  const c = counts.data;
  const total = c?.total ?? null;
  const terms = useMemo(() => searchTerms(filter.search), [filter.search]);
  return (
    <TermsContext.Provider value={terms}>
      <div className="screen curate">
        <div className="toolbar">
          <div className="tabs">
            <button
              type="button"
              className={view === 'examples' ? 'on' : ''}
              onClick={() => setView('examples')}
            >
              Examples
            </button>
            <button
              type="button"
              className={view === 'negatives' ? 'on' : ''}
              onClick={() => setView('negatives')}
            >
              Hard negatives
            </button>
          </div>
          <input
            ref={searchRef}
            aria-label="search"
            placeholder="search text (/)"
            value={searchText}
            onChange={(e) => setSearchText(e.target.value)}
          />
          <FilterMenus filter={filter} facets={facets.data} all={all.data} setFilter={setFilter} />
          <button
            type="button"
            onClick={() => {
              setFilter({});
              setSearchText('');
            }}
          >
            Clear
          </button>
        </div>
        <div className="counts" data-testid="counts">
          <strong data-testid="count-total">{total === null ? '…' : total.toLocaleString()}</strong> matching
          {STATUSES.map((s) => (
            <span key={s} className={`badge ${s}`} data-testid={`count-${s}`}>
              {s} {(c?.byStatus[s] ?? 0).toLocaleString()}
            </span>
          ))}
          <span className="spacer" />
          <span className="muted">bulk on this filter:</span>
          <button type="button" disabled={!total} onClick={() => setBulk('accept')}>
            Accept all
          </button>
          <button type="button" disabled={!total} onClick={() => setBulk('reject')}>
            Reject all…
          </button>
          <button type="button" disabled={!total} onClick={() => setBulk('reset')}>
            Reset all
          </button>
          <button type="button" onClick={() => setMode((m) => (m === 'help' ? null : 'help'))}>
            Keys ?
          </button>
        </div>
        {bulk && (
          <div className="confirm" role="alertdialog">
            {bulk === 'accept' ? 'Accept' : bulk === 'reject' ? 'Reject' : 'Reset'} all{' '}
            <strong>{total?.toLocaleString()}</strong> examples matching this filter?
            {bulk === 'reject' && (
              <select
                aria-label="bulk reason"
                value={bulkReason}
                onChange={(e) => setBulkReason(e.target.value)}
              >
                {REJECT_REASONS.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            )}
            <button
              type="button"
              className="primary"
              onClick={async () => {
                const action = bulk;
                setBulk(null);
                try {
                  const r = await client.examples.bulkReview.mutate({
                    dataset,
                    filter,
                    action,
                    reason: action === 'reject' ? bulkReason : undefined,
                  });
                  setNotice(`${action}: ${r.changed.toLocaleString()} examples changed (u undoes)`);
                  if (r.undo && r.changed)
                    setUndo((u) => [
                      ...u.slice(-199),
                      {
                        what: 'bulk',
                        action,
                        changed: r.changed,
                        range: r.undo as { after: number; upTo: number },
                      },
                    ]);
                  void load(null);
                } catch (err) {
                  setNotice(errorText(err));
                }
              }}
            >
              Confirm
            </button>
            <button type="button" onClick={() => setBulk(null)}>
              Cancel
            </button>
          </div>
        )}
        <ErrorBox error={error ?? counts.error} onRetry={() => void load(null)} />
        {notice && <div className="notice">{notice}</div>}
        {mode === 'help' && <KeyHelp />}
        {view === 'negatives' ? (
          <HardNegatives dataset={dataset} filter={filter} />
        ) : (
          <>
            <div className="vtable">
              <div className="vrow vhead" style={{ gridTemplateColumns: GRID }}>
                {table.getHeaderGroups()[0].headers.map((h) => (
                  <div key={h.id}>
                    {SORTABLE[h.id] ? (
                      <button type="button" className="sort" onClick={() => clickSort(h.id)}>
                        <table.FlexRender header={h} />
                        {SORTABLE[h.id] === sort ? (desc ? ' ▼' : ' ▲') : ''}
                      </button>
                    ) : (
                      <table.FlexRender header={h} />
                    )}
                  </div>
                ))}
              </div>
              <div className="vbody" ref={scrollRef} data-testid="curate-rows">
                <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
                  {items.map((it) => {
                    const row = tableRows[it.index];
                    return (
                      // biome-ignore lint/a11y/noStaticElementInteractions: keys are global on this screen (j/k/a/r/e/u)
                      // biome-ignore lint/a11y/useKeyWithClickEvents: idem; a click only selects the row
                      <div
                        key={row.id}
                        data-selected={it.index === sel}
                        data-id={row.original.id}
                        className={`vrow${it.index === sel ? ' selected' : ''}`}
                        style={{
                          gridTemplateColumns: GRID,
                          transform: `translateY(${it.start}px)`,
                          height: ROW_H,
                        }}
                        onClick={() => setSel(it.index)}
                      >
                        {row.getAllCells().map((cell) => (
                          // dir="auto": Arabic, Hebrew, Persian… right-aligned and right to left.
                          <div key={cell.id} className="cell" dir="auto">
                            <table.FlexRender cell={cell} />
                          </div>
                        ))}
                      </div>
                    );
                  })}
                </div>
                {!rows.length && !loadingPage && (
                  <div className="empty">
                    {filter && Object.keys(filter).length
                      ? 'No example matches these filters. Clear them to see everything.'
                      : 'No examples yet. Generate some, or import a file.'}
                  </div>
                )}
              </div>
              <div className="vfoot muted">
                {rows.length.toLocaleString()} loaded{next ? ' (scroll for more)' : ''}
                {loadingPage ? ' · loading…' : ''}
              </div>
            </div>
            {current && (
              <Detail
                key={current.id}
                example={current}
                mode={mode}
                tokens={
                  tokens.data && tokens.data.rows[0]?.id === current.id
                    ? { ...tokens.data.rows[0], maxLength: tokens.data.maxLength }
                    : null
                }
                tokenModel={tokenModel}
                onTokenModel={(m) => {
                  setTokenModel(m);
                  localStorage.setItem('embedsmith.tokenModel', m);
                }}
                onCancel={() => setMode(null)}
                onReject={(reason) => {
                  setMode(null);
                  review('reject', reason);
                }}
                onSave={async (changes) => {
                  setMode(null);
                  const before = current;
                  const fields = Object.keys(changes) as EditField[];
                  if (!fields.length) return;
                  await act(
                    async () => {
                      let e = before;
                      for (const f of fields)
                        e = await client.examples.edit.mutate({
                          id: before.id,
                          field: f,
                          value: changes[f] ?? null,
                        });
                      return e;
                    },
                    { before, what: 'edit' },
                    false,
                  );
                }}
              />
            )}
          </>
        )}
      </div>
    </TermsContext.Provider>
  );
}
