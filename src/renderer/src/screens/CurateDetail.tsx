// The Curate screen's parts: filter menus with counts, the key help, and the detail pane (texts with
// search hits marked, right-to-left aware, token counts against the training length).
import { type Dispatch, memo, type SetStateAction, useEffect, useMemo, useRef, useState } from 'react';
import {
  type EditField,
  type ExampleFilterInput,
  type Facets,
  REJECT_REASONS,
} from '../../../shared/contract';
import { type DatasetStats, type Example, KINDS, SPLITS, STATUSES } from '../../../shared/domain';
import { Highlight } from '../components/Highlight';

export type Mode = null | 'reject' | 'edit' | 'help';

export function Select({
  label,
  value,
  options,
  counts,
  onChange,
}: {
  label: string;
  value: string | undefined;
  options: readonly string[];
  /** Rows of the dataset per option, shown beside it. */
  counts?: Record<string, number>;
  onChange: (v: string) => void;
}) {
  return (
    <select aria-label={label} value={value ?? ''} onChange={(e) => onChange(e.target.value)}>
      <option value="">{label}: any</option>
      {options.map((o) => (
        <option key={o} value={o}>
          {o || '(none)'}
          {counts ? ` (${(counts[o] ?? 0).toLocaleString()})` : ''}
        </option>
      ))}
    </select>
  );
}

export const countsOf = (xs: { value: string; count: number }[] | undefined) =>
  Object.fromEntries((xs ?? []).map((x) => [x.value, x.count]));

export function KeyHelp() {
  return (
    <div className="keyhelp" data-testid="keyhelp">
      <b>j/↓</b> next · <b>k/↑</b> previous · <b>a</b> accept · <b>r</b> reject (then 1–
      {REJECT_REASONS.length}) · <b>x</b> reset · <b>e</b> edit (Ctrl+Enter saves) · <b>u</b>/<b>Ctrl+Z</b>{' '}
      undo · <b>/</b> search · <b>Esc</b> close
    </div>
  );
}

/** A text's token count; over the length training cuts at, it says so (the rest is never seen). */
function TokenCount({ n, max }: { n: number | null; max: number | undefined }) {
  if (n === null || max === undefined) return null;
  const over = n > max;
  return (
    <span
      className={over ? 'tok-over' : 'muted'}
      data-testid="token-count"
      title={
        over ? `training cuts this text at ${max} tokens: the last ${n - max} are never seen` : undefined
      }
    >
      {' '}
      · {n.toLocaleString()} tokens{over ? ` ▲ over ${max}` : ''}
    </span>
  );
}

export function Detail({
  example: e,
  mode,
  tokens,
  tokenModel,
  onTokenModel,
  onCancel,
  onReject,
  onSave,
}: {
  example: Example;
  mode: Mode;
  tokens: { query: number; positive: number; negative: number | null; maxLength: number } | null;
  tokenModel: string;
  onTokenModel: (m: string) => void;
  onCancel: () => void;
  onReject: (reason: string) => void;
  onSave: (changes: Partial<Record<EditField, string | null>>) => void;
}) {
  const [draft, setDraft] = useState({ query: e.query, positive: e.positive, negative: e.negative ?? '' });
  const firstRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (mode === 'edit') firstRef.current?.focus();
  }, [mode]);
  const save = () => {
    const changes: Partial<Record<EditField, string | null>> = {};
    if (draft.query !== e.query) changes.query = draft.query;
    if (draft.positive !== e.positive) changes.positive = draft.positive;
    if (draft.negative !== (e.negative ?? '')) changes.negative = draft.negative || null;
    onSave(changes);
  };
  const attrs = useMemo(
    () =>
      Object.entries({
        ...e.attributes,
        ...e.extras,
        origin: e.origin,
        model: e.generatorModel,
        template: e.templateVersion,
        run: e.runId,
        split: e.split,
        seed: e.seed,
      }).filter(([, v]) => v !== null && v !== undefined && v !== ''),
    [e],
  );
  const texts: [EditField, string, string | null][] = [
    ['query', 'Query', e.query],
    ['positive', 'Positive', e.positive],
    ['negative', 'Hard negative', e.negative],
  ];
  return (
    <div className="detail" data-testid="detail">
      <div className="detail-head">
        <strong>#{e.id}</strong> <span className="badge">{e.kind}</span>{' '}
        <span className={`badge ${e.status}`}>{e.status}</span>
        {e.rejectReason && <span className="muted"> reason: {e.rejectReason}</span>}
        <span className="muted"> {e.language ?? (e.srcLang ? `${e.srcLang} → ${e.tgtLang}` : '')}</span>
        <label className="muted small tok-model">
          {' '}
          tokens with{' '}
          <input
            aria-label="token model"
            placeholder="model folder"
            defaultValue={tokenModel}
            onBlur={(ev) => onTokenModel(ev.target.value.trim())}
            onKeyDown={(ev) => {
              if (ev.key === 'Enter') onTokenModel((ev.target as HTMLInputElement).value.trim());
            }}
          />
        </label>
        {e.instruction && <div className="instruction">Instruction: {e.instruction}</div>}
      </div>
      {mode === 'reject' && (
        <div className="reasons" data-testid="reasons">
          Reject because:{' '}
          {REJECT_REASONS.map((r, i) => (
            <button key={r} type="button" onClick={() => onReject(r)}>
              {i + 1} {r}
            </button>
          ))}
          <button type="button" onClick={onCancel}>
            Esc
          </button>
        </div>
      )}
      <div className="triple">
        {texts.map(([f, title, text], i) => (
          <div key={f} className={`text-col ${f}`}>
            <h3>
              {title}
              <TokenCount
                n={tokens?.[f as 'query' | 'positive' | 'negative'] ?? null}
                max={tokens?.maxLength}
              />
            </h3>
            {mode === 'edit' ? (
              <textarea
                ref={i === 0 ? firstRef : undefined}
                aria-label={`edit ${f}`}
                value={draft[f as 'query' | 'positive' | 'negative']}
                onChange={(ev) => setDraft((d) => ({ ...d, [f]: ev.target.value }))}
                onKeyDown={(ev) => {
                  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
                    ev.preventDefault();
                    save();
                  }
                }}
              />
            ) : (
              <div className="text" dir="auto">
                {text !== null ? (
                  <Highlight text={text} />
                ) : (
                  <span className="muted">(none for this kind)</span>
                )}
              </div>
            )}
          </div>
        ))}
      </div>
      {mode === 'edit' && (
        <div className="row-actions">
          <button type="button" className="primary" onClick={save}>
            Save (Ctrl+Enter)
          </button>
          <button type="button" onClick={onCancel}>
            Cancel (Esc)
          </button>
        </div>
      )}
      {attrs.length > 0 && (
        <div className="attrs">
          {attrs.map(([k, v]) => (
            <span key={k}>
              <b>{k}</b> {typeof v === 'object' ? JSON.stringify(v) : String(v)}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}

/**
 * The toolbar's filter menus, each option with its row count. Memoised: moving the selection through a
 * long list re-renders the screen, and these menus (80 languages, attributes) do not change with it.
 */
export const FilterMenus = memo(function FilterMenus({
  filter,
  facets,
  all,
  setFilter,
}: {
  filter: ExampleFilterInput;
  facets: Facets | undefined;
  all: DatasetStats | undefined;
  setFilter: Dispatch<SetStateAction<ExampleFilterInput>>;
}) {
  const setF = <K extends keyof ExampleFilterInput>(k: K, v: ExampleFilterInput[K] | '') =>
    setFilter((f) => ({ ...f, [k]: v === '' ? undefined : v }));
  return (
    <>
      <Select
        label="kind"
        value={filter.kind as string}
        options={KINDS}
        counts={all?.byKind}
        onChange={(v) => setF('kind', v as never)}
      />
      <Select
        label="language"
        value={filter.language as string}
        options={(facets?.languages ?? []).map((l) => l.value)}
        counts={countsOf(facets?.languages)}
        onChange={(v) => setF('language', v)}
      />
      <Select
        label="status"
        value={filter.status as string}
        options={STATUSES}
        counts={all?.byStatus}
        onChange={(v) => setF('status', v as never)}
      />
      <Select
        label="split"
        value={filter.split as string}
        options={[...SPLITS, 'none']}
        counts={all?.bySplit}
        onChange={(v) => setF('split', v as never)}
      />
      <Select
        label="generator model"
        value={filter.generatorModel}
        options={(facets?.generatorModels ?? []).map((l) => l.value)}
        counts={countsOf(facets?.generatorModels)}
        onChange={(v) => setF('generatorModel', v)}
      />
      <Select
        label="reject reason"
        value={filter.rejectReason}
        // The reviewer's reasons are always offered; reasons from generation or imports come from facets.
        options={[...new Set([...REJECT_REASONS, ...(facets?.rejectReasons ?? []).map((l) => l.value)])]}
        counts={countsOf(facets?.rejectReasons)}
        onChange={(v) => setF('rejectReason', v)}
      />
      {(facets?.attributes ?? []).map((a) => (
        <Select
          key={a.key}
          label={a.key.replace(/_/g, ' ')}
          value={filter.attributes?.[a.key]}
          options={a.values.map((v) => v.value)}
          counts={countsOf(a.values)}
          onChange={(v) =>
            setFilter((f) => {
              const { [a.key]: _drop, ...rest } = f.attributes ?? {};
              const attributes = v ? { ...rest, [a.key]: v } : rest;
              return { ...f, attributes: Object.keys(attributes).length ? attributes : undefined };
            })
          }
        />
      ))}
    </>
  );
});
