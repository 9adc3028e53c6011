// The evaluation comparison: one row per (model, revision), sticky model column, sideways scroll, averages
// over the tasks a row shares with its base, the reason where a task was not scored; Δ per task as bars;
// and the task × language view of tasks with language subsets (STS17 pairs, XQuAD languages).
import { useMemo, useState } from 'react';
import type { ComparisonColumn, ComparisonRow, ComparisonTable } from '../../../shared/results';
import { SignedBars } from './charts';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : (v * 100).toFixed(2));
const signed = (d: number) => `${d > 0 ? '+' : ''}${(d * 100).toFixed(2)}`;
const ellipsis = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const NO_REVISION = 'no_revision_available';

/** A model name short enough for one line: the folder's last part, and the revision's tail. */
export function shortLabel(r: Pick<ComparisonRow, 'model' | 'revision'>): string {
  const base = ellipsis(r.model.split(/[\\/]/).filter(Boolean).pop() ?? r.model, 24);
  if (!r.revision || r.revision === NO_REVISION) return base;
  const rev = r.revision.length > 18 ? `…${r.revision.slice(-16)}` : r.revision;
  return `${base}@${rev}`;
}

/** Task columns of an average column's scope. */
const scopeOf = (t: ComparisonTable, c: ComparisonColumn) =>
  t.columns.filter((x) => x.kind === 'task' && (c.kind === 'average' || x.taskType === c.taskType));

function Delta({ d }: { d: number | null | undefined }) {
  if (d === null || d === undefined) return null;
  return <span className={d > 0 ? 'delta up' : d < 0 ? 'delta down' : 'delta'}>{signed(d)}</span>;
}

function Cell({ t, r, c }: { t: ComparisonTable; r: ComparisonRow; c: ComparisonColumn }) {
  if (c.kind === 'task') {
    const why = r.notScored?.[c.key];
    if (why && r.values[c.key] === null)
      return (
        <span className="not-scored" title={why} data-testid="not-scored">
          not scored
        </span>
      );
    return (
      <span className="score">
        {pct(r.values[c.key])}
        <Delta d={r.delta?.[c.key]} />
      </span>
    );
  }
  const own = scopeOf(t, c).filter((x) => typeof r.values[x.key] === 'number').length;
  const common = r.common?.[c.key];
  if (common) {
    // Compared with the base: both averages over the shared tasks only, so value − base = Δ.
    return (
      <span
        className="score"
        title={`over the ${common.n} task${common.n === 1 ? '' : 's'} this row shares with its base: ${pct(common.value)} vs base ${pct(common.base)}; this row's own average over its ${own} task${own === 1 ? '' : 's'}: ${pct(r.values[c.key])}`}
      >
        {pct(common.value)}
        <Delta d={r.delta?.[c.key]} />
        <span className="common" data-testid="common">
          avg over {common.n} common task{common.n === 1 ? '' : 's'}
        </span>
      </span>
    );
  }
  return (
    <span className="score">
      {pct(r.values[c.key])}
      <span className="common">
        over {own} task{own === 1 ? '' : 's'}
      </span>
    </span>
  );
}

export function ComparisonView({ table }: { table: ComparisonTable }) {
  const keyOf = (r: ComparisonRow) => `${r.model}\u0000${r.revision}`;
  const withDelta = table.rows.find((r) => r.delta);
  const [selKey, setSelKey] = useState<string | null>(null);
  const sel = table.rows.find((r) => keyOf(r) === selKey) ?? withDelta ?? table.rows[0];
  const notes = table.rows.flatMap((r) =>
    Object.entries(r.notScored ?? {})
      .filter(([k]) => r.values[k] === null)
      .map(([task, why]) => ({ row: r, task, why })),
  );
  const bars = useMemo(
    () =>
      sel?.delta
        ? table.columns
            .filter((c) => c.kind === 'task' && typeof sel.delta?.[c.key] === 'number')
            // ×100 like the table, so the axis ticks and the bar labels read in the same unit.
            .map((c) => ({
              label: c.key,
              value: (sel.delta?.[c.key] as number) * 100,
              note: c.taskType ?? undefined,
            }))
        : [],
    [sel, table.columns],
  );
  return (
    <div className="comparison">
      <div className="cmp-wrap" data-testid="comparison-scroll">
        <table className="cmp" data-testid="comparison">
          <thead>
            <tr>
              <th className="sticky">Model</th>
              {table.columns.map((c) => (
                <th key={c.key} title={c.key} className={c.kind !== 'task' ? 'avg' : undefined}>
                  {ellipsis(c.key, 22)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.rows.map((r) => (
              <tr
                key={keyOf(r)}
                className={sel && keyOf(sel) === keyOf(r) ? 'selected' : undefined}
                onClick={() => setSelKey(keyOf(r))}
              >
                <td className="sticky" title={r.label} data-testid="model-cell">
                  {shortLabel(r)} {r.isBase && <span className="badge">base</span>}
                </td>
                {table.columns.map((c) => (
                  <td key={c.key} data-col={c.key}>
                    <Cell t={table} r={r} c={c} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {notes.length > 0 && (
        <ul className="notes" data-testid="not-scored-notes">
          {notes.map((n) => (
            <li key={`${keyOf(n.row)}-${n.task}`}>
              <b>{n.task}</b> not scored for {shortLabel(n.row)}: {n.why}
            </li>
          ))}
        </ul>
      )}
      {sel && (
        <h3 className="sub">
          Δ per task: <span title={sel.label}>{shortLabel(sel)}</span>
          {sel.delta ? ' against its base' : ''} <span className="muted">(click a row to pick another)</span>
        </h3>
      )}
      {bars.length > 0 ? (
        <SignedBars
          testId="delta-chart"
          ariaLabel="change of the main score per task against the base model"
          bars={bars}
          format={(v) => `${v > 0 ? '+' : ''}${v.toFixed(2)}`}
          unit="Δ main score ×100 (green: better than the base)"
        />
      ) : (
        <div className="muted">
          {sel?.isBase
            ? 'The base row has no Δ; pick an adapter row.'
            : 'No task scored by both this row and its base.'}
        </div>
      )}
      {sel && <LanguageView table={table} row={sel} />}
    </div>
  );
}

/** Task × language for tasks whose columns are language subsets (`TASK/subset`). */
function LanguageView({ table, row }: { table: ComparisonTable; row: ComparisonRow }) {
  const byTask = new Map<string, Map<string, string>>();
  for (const c of table.columns) {
    if (c.kind !== 'task') continue;
    const i = c.key.lastIndexOf('/');
    if (i <= 0) continue;
    const task = c.key.slice(0, i);
    const m = byTask.get(task) ?? new Map<string, string>();
    m.set(c.key.slice(i + 1), c.key);
    byTask.set(task, m);
  }
  if (!byTask.size) return null;
  const langs = [...new Set([...byTask.values()].flatMap((m) => [...m.keys()]))].sort();
  return (
    <>
      <h3 className="sub">Per language: {shortLabel(row)}</h3>
      <div className="cmp-wrap">
        <table className="cmp" data-testid="language-view">
          <thead>
            <tr>
              <th className="sticky">Task</th>
              {langs.map((l) => (
                <th key={l}>{l}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {[...byTask].map(([task, m]) => (
              <tr key={task}>
                <td className="sticky" title={task}>
                  {ellipsis(task, 28)}
                </td>
                {langs.map((l) => {
                  const key = m.get(l);
                  return (
                    <td key={l} data-lang={l}>
                      {key ? (
                        <span className="score">
                          {pct(row.values[key])}
                          <Delta d={row.delta?.[key]} />
                        </span>
                      ) : (
                        <span className="muted">·</span>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
