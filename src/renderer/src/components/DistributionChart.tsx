import { KINDS } from '../../../shared/domain';
import type { DatasetStats } from '../../../shared/domain';

// A fixed palette per language slot, readable in both themes.
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/**
 * Kind × language distribution as stacked horizontal bars (one bar per task kind, segments per language),
 * like the paper's data-statistics figures. The nine largest languages get a colour; the rest share grey in
 * the bars and are each listed, with their counts, under the legend's expandable entry.
 */
export function DistributionChart({ stats }: { stats: DatasetStats }) {
  const langs = Object.entries(stats.byLanguage)
    .sort((a, b) => b[1] - a[1])
    .map(([l]) => l);
  const top = langs.slice(0, PALETTE.length - 1);
  const colour = (l: string) => {
    const i = top.indexOf(l);
    return i >= 0 ? PALETTE[i] : PALETTE[PALETTE.length - 1];
  };
  const byKind = new Map<string, Map<string, number>>();
  for (const c of stats.cells) {
    const lang = top.includes(c.language) ? c.language : 'other';
    const m = byKind.get(c.kind) ?? new Map<string, number>();
    m.set(lang, (m.get(lang) ?? 0) + c.count);
    byKind.set(c.kind, m);
  }
  const max = Math.max(1, ...KINDS.map((k) => stats.byKind[k] ?? 0));
  const rest = langs.slice(top.length);
  return (
    <figure className="chart" aria-label="examples by kind and language">
      {KINDS.map((k) => {
        const m = byKind.get(k) ?? new Map<string, number>();
        const total = stats.byKind[k] ?? 0;
        return (
          <div className="chart-row" key={k}>
            <span className="chart-label">{k}</span>
            <div className="chart-bar">
              {[...m.entries()].map(([lang, n]) => (
                <div
                  key={lang}
                  className="chart-seg"
                  title={`${k} · ${lang || '(none)'}: ${n}`}
                  style={{ width: `${(n / max) * 100}%`, background: colour(lang) }}
                />
              ))}
            </div>
            <span className="chart-count">{total.toLocaleString()}</span>
          </div>
        );
      })}
      <figcaption className="legend">
        {top.map((l) => (
          <span key={l}>
            <i style={{ background: colour(l) }} />
            {l || '(none)'} {(stats.byLanguage[l] ?? 0).toLocaleString()}
          </span>
        ))}
        {rest.length > 0 && (
          // The grey segment is many languages: each is listed here, with its count (none is hidden).
          <details data-testid="other-languages">
            <summary>
              <i style={{ background: PALETTE[PALETTE.length - 1] }} />
              {rest.length} more language{rest.length === 1 ? '' : 's'} (
              {rest.reduce((a, l) => a + (stats.byLanguage[l] ?? 0), 0).toLocaleString()})
            </summary>
            {rest.map((l) => (
              <span key={l} data-lang={l}>
                {l || '(none)'} {(stats.byLanguage[l] ?? 0).toLocaleString()}
              </span>
            ))}
          </details>
        )}
      </figcaption>
    </figure>
  );
}
