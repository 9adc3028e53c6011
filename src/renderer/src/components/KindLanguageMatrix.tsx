// Kind × language as a table: every language its own row (none lumped into "other"), the largest first,
// the first rows shown and the rest one click away. Used for a dataset's rows and a generation plan's quotas.
import { useMemo, useState } from 'react';
import { KINDS } from '../../../shared/domain';
import { languageLabel } from '../../../shared/languages';

export function KindLanguageMatrix({
  cells,
  unit,
  testId,
  initialRows = 12,
}: {
  cells: { kind: string; language: string; count: number }[];
  unit: string;
  testId?: string;
  initialRows?: number;
}) {
  const [all, setAll] = useState(false);
  const { langs, kinds, at, totals } = useMemo(() => {
    const at = new Map<string, number>();
    const totals = new Map<string, number>();
    for (const c of cells) {
      const k = `${c.language}\u0000${c.kind}`;
      at.set(k, (at.get(k) ?? 0) + c.count);
      totals.set(c.language, (totals.get(c.language) ?? 0) + c.count);
    }
    const kinds = KINDS.filter((k) => cells.some((c) => c.kind === k && c.count > 0));
    const langs = [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([l]) => l);
    return { langs, kinds, at, totals };
  }, [cells]);
  if (!langs.length) return null;
  const shown = all ? langs : langs.slice(0, initialRows);
  const sum = [...totals.values()].reduce((a, b) => a + b, 0);
  return (
    <div className="matrix-wrap" data-testid={testId}>
      <div className="cmp-wrap">
        <table className="cmp matrix">
          <thead>
            <tr>
              <th className="sticky">Language</th>
              {kinds.map((k) => (
                <th key={k}>{k}</th>
              ))}
              <th>all</th>
              <th>share</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((l) => (
              <tr key={l} data-lang={l}>
                <td className="sticky" title={l || '(none)'}>
                  {l ? `${languageLabel(l)} (${l})` : '(none)'}
                </td>
                {kinds.map((k) => {
                  const n = at.get(`${l}\u0000${k}`) ?? 0;
                  return (
                    <td key={k} className={n ? undefined : 'zero'}>
                      {n.toLocaleString()}
                    </td>
                  );
                })}
                <td>
                  <b>{(totals.get(l) ?? 0).toLocaleString()}</b>
                </td>
                <td>{sum ? `${(((totals.get(l) ?? 0) / sum) * 100).toFixed(1)}%` : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {langs.length > initialRows && (
        <button type="button" className="link" onClick={() => setAll(!all)} aria-expanded={all}>
          {all
            ? 'Show the largest only'
            : `Show all ${langs.length} languages (${langs.length - initialRows} more)`}
        </button>
      )}
      <div className="muted small">
        {langs.length} language{langs.length === 1 ? '' : 's'} · {sum.toLocaleString()} {unit}
      </div>
    </div>
  );
}
