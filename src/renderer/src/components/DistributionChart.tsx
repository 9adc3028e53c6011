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
 * like the paper's data-statistics figures. The ten largest languages get a colour; the rest are "other".
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
  const legend = langs.length > top.length ? [...top, 'other'] : top;
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
        {legend.map((l) => (
          <span key={l}>
            <i style={{ background: l === 'other' ? PALETTE[PALETTE.length - 1] : colour(l) }} />
            {l || '(none)'} {l === 'other' ? '' : (stats.byLanguage[l] ?? 0).toLocaleString()}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
