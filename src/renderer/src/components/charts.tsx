// Small SVG charts: line chart with two y axes and hover values, signed bars, overlaid histograms.
// Plain SVG rather than a chart library: the maintained small candidate (uPlot, ~50 kB) draws on a canvas,
// which the happy-dom component tests can neither render nor inspect, while these charts have at most a
// few thousand points; SVG keeps ticks, hover values and marks as DOM that tests and screen readers see.
import { type ReactNode, useMemo, useState } from 'react';
import './charts.css';

/** About `count` round tick values covering [min, max] (1, 2, 5 × 10^k steps). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Tick label: as few decimals as the step needs; exponent form for tiny or huge values (lr). */
export function tickLabel(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return v.toExponential(1);
  const d = Math.max(0, Math.min(6, -Math.floor(Math.log10(step || 1))));
  return v.toFixed(d);
}

const scale = (d0: number, d1: number, r0: number, r1: number) => (v: number) =>
  d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  axis?: 'left' | 'right';
  className: string;
  /** Drawn faint and left out of the hover readout (e.g. the raw loss behind its EMA). */
  faint?: boolean;
  format?: (y: number) => string;
}

const W = 720;
const H = 240;
const M = { l: 52, r: 60, t: 12, b: 32 };

/** Line chart: x ticks, a left axis and an optional right axis, hover readout of every series at x. */
export function LineChart({
  series,
  xLabel,
  leftLabel,
  rightLabel,
  testId,
  ariaLabel,
}: {
  series: Series[];
  xLabel: string;
  leftLabel: string;
  rightLabel?: string;
  testId?: string;
  ariaLabel: string;
}) {
  const [hoverX, setHoverX] = useState<number | null>(null);
  const geo = useMemo(() => {
    const xs = series.flatMap((s) => s.points.map((p) => p.x));
    const range = (axis: 'left' | 'right') => {
      const ys = series
        .filter((s) => (s.axis ?? 'left') === axis)
        .flatMap((s) => s.points.map((p) => p.y))
        .filter(Number.isFinite);
      return ys.length ? ([Math.min(...ys), Math.max(...ys)] as const) : null;
    };
    const x0 = xs.length ? Math.min(...xs) : 0;
    const x1 = xs.length ? Math.max(...xs) : 1;
    const axes = { left: range('left'), right: range('right') };
    const ticks = {
      x: niceTicks(x0, x1, 6).filter((t) => t >= x0 && t <= x1),
      left: axes.left ? niceTicks(axes.left[0], axes.left[1], 4) : [],
      right: axes.right ? niceTicks(axes.right[0], axes.right[1], 4) : [],
    };
    const sx = scale(x0, x1, M.l, W - M.r);
    const yOf = (t: number[], fallback: readonly [number, number] | null) => {
      const lo = Math.min(t[0] ?? 0, fallback?.[0] ?? 0);
      const hi = Math.max(t[t.length - 1] ?? 1, fallback?.[1] ?? 1);
      return { lo, hi, s: scale(lo, hi, H - M.b, M.t) };
    };
    return {
      x0,
      x1,
      sx,
      ticks,
      left: yOf(ticks.left, axes.left),
      right: yOf(ticks.right, axes.right),
    };
  }, [series]);
  const path = (s: Series) => {
    const sy = (s.axis ?? 'left') === 'right' ? geo.right.s : geo.left.s;
    return s.points
      .filter((p) => Number.isFinite(p.y))
      .map((p, i) => `${i ? 'L' : 'M'}${geo.sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`)
      .join('');
  };
  const nearest = (s: Series, x: number) => {
    let best: { x: number; y: number } | null = null;
    for (const p of s.points) if (!best || Math.abs(p.x - x) < Math.abs(best.x - x)) best = p;
    return best;
  };
  const onMove = (e: React.MouseEvent<SVGSVGElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    // Scale from CSS pixels to viewBox units; where nothing is laid out (tests) they are the same.
    const px = r.width > 0 ? ((e.clientX - r.left) / r.width) * W : e.clientX;
    const x = geo.x0 + ((px - M.l) / (W - M.l - M.r)) * (geo.x1 - geo.x0);
    setHoverX(Math.max(geo.x0, Math.min(geo.x1, x)));
  };
  const shown = series.filter((s) => !s.faint);
  const readout =
    hoverX === null
      ? null
      : shown
          .map((s) => ({ s, p: nearest(s, hoverX) }))
          .filter((r): r is { s: Series; p: { x: number; y: number } } => !!r.p);
  const stepOf = (t: number[]) => (t.length > 1 ? t[1] - t[0] : 1);
  return (
    <figure className="plot" data-testid={testId}>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={ariaLabel}
        onMouseMove={onMove}
        onMouseLeave={() => setHoverX(null)}
      >
        <g className="grid">
          {geo.ticks.left.map((t) => (
            <line key={t} x1={M.l} x2={W - M.r} y1={geo.left.s(t)} y2={geo.left.s(t)} />
          ))}
        </g>
        <g className="axis x" data-testid="x-ticks">
          <line x1={M.l} x2={W - M.r} y1={H - M.b} y2={H - M.b} />
          {geo.ticks.x.map((t) => (
            <text key={t} x={geo.sx(t)} y={H - M.b + 14} textAnchor="middle">
              {tickLabel(t, stepOf(geo.ticks.x))}
            </text>
          ))}
          <text x={(M.l + W - M.r) / 2} y={H - 2} textAnchor="middle" className="axis-title">
            {xLabel}
          </text>
        </g>
        <g className="axis left" data-testid="left-ticks">
          {geo.ticks.left.map((t) => (
            <text key={t} x={M.l - 6} y={geo.left.s(t) + 3} textAnchor="end">
              {tickLabel(t, stepOf(geo.ticks.left))}
            </text>
          ))}
          <text x={12} y={M.t + 4} className="axis-title">
            {leftLabel}
          </text>
        </g>
        {rightLabel && geo.ticks.right.length > 0 && (
          <g className="axis right" data-testid="right-ticks">
            {geo.ticks.right.map((t) => (
              <text key={t} x={W - M.r + 6} y={geo.right.s(t) + 3}>
                {tickLabel(t, stepOf(geo.ticks.right))}
              </text>
            ))}
            <text x={W - 4} y={M.t + 4} textAnchor="end" className="axis-title">
              {rightLabel}
            </text>
          </g>
        )}
        {series.map((s) => (
          <path
            key={s.name}
            d={path(s)}
            className={`line ${s.className}${s.faint ? ' faint' : ''}`}
            data-series={s.name}
          />
        ))}
        {hoverX !== null && (
          <line className="cursor" x1={geo.sx(hoverX)} x2={geo.sx(hoverX)} y1={M.t} y2={H - M.b} />
        )}
      </svg>
      <figcaption className="legend">
        {series.map((s) => (
          <span key={s.name}>
            <i className={`swatch ${s.className}${s.faint ? ' faint' : ''}`} />
            {s.name}
          </span>
        ))}
        {readout && readout.length > 0 && (
          <span className="readout" data-testid="hover-values">
            step {Math.round(readout[0].p.x)}:{' '}
            {readout
              .map(({ s, p }) => `${s.name} ${s.format ? s.format(p.y) : p.y.toPrecision(4)}`)
              .join(' · ')}
          </span>
        )}
      </figcaption>
    </figure>
  );
}

/** Signed horizontal bars (one per label) around a zero line, with ticks: Δ per task. */
export function SignedBars({
  bars,
  format,
  testId,
  ariaLabel,
  unit,
}: {
  bars: { label: string; full?: string; value: number; note?: string }[];
  format: (v: number) => string;
  testId?: string;
  ariaLabel: string;
  unit: string;
}) {
  const ROW = 22;
  const L = 180;
  const R = 70;
  const top = 8;
  const h = top + bars.length * ROW + 26;
  const lo = Math.min(0, ...bars.map((b) => b.value));
  const hi = Math.max(0, ...bars.map((b) => b.value));
  const ticks = niceTicks(lo, hi, 5);
  const d0 = Math.min(lo, ticks[0] ?? lo);
  const d1 = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  const sx = scale(d0, d1, L, W - R);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  return (
    <figure className="plot" data-testid={testId}>
      <svg viewBox={`0 0 ${W} ${h}`} role="img" aria-label={ariaLabel}>
        <g className="grid">
          {ticks.map((t) => (
            <line key={t} x1={sx(t)} x2={sx(t)} y1={top} y2={h - 22} />
          ))}
        </g>
        {bars.map((b, i) => {
          const y = top + i * ROW;
          const x = Math.min(sx(0), sx(b.value));
          return (
            <g key={b.label} data-testid="bar" data-value={b.value}>
              <title>{`${b.full ?? b.label}: ${format(b.value)}${b.note ? ` (${b.note})` : ''}`}</title>
              <text x={L - 8} y={y + ROW / 2 + 4} textAnchor="end" className="bar-label">
                {b.label.length > 26 ? `${b.label.slice(0, 25)}…` : b.label}
              </text>
              <rect
                x={x}
                y={y + 3}
                width={Math.max(1, Math.abs(sx(b.value) - sx(0)))}
                height={ROW - 6}
                className={b.value > 0 ? 'bar up' : b.value < 0 ? 'bar down' : 'bar'}
              />
              <text x={W - R + 6} y={y + ROW / 2 + 4} className="bar-value">
                {format(b.value)}
              </text>
            </g>
          );
        })}
        <line className="zero" x1={sx(0)} x2={sx(0)} y1={top - 4} y2={h - 22} />
        <g className="axis x">
          {ticks.map((t) => (
            <text key={t} x={sx(t)} y={h - 8} textAnchor="middle">
              {tickLabel(t, step)}
            </text>
          ))}
        </g>
      </svg>
      <figcaption className="legend">
        <span>{unit}</span>
      </figcaption>
    </figure>
  );
}

/** Overlaid histograms of several samples on shared bins, with optional vertical marks (thresholds). */
export function Histogram({
  samples,
  marks = [],
  bins = 30,
  xLabel,
  testId,
  ariaLabel,
  children,
}: {
  samples: { name: string; values: number[]; className: string }[];
  marks?: { x: number; label: string; className?: string }[];
  bins?: number;
  xLabel: string;
  testId?: string;
  ariaLabel: string;
  children?: ReactNode;
}) {
  const Hh = 200;
  const all = samples.flatMap((s) => s.values).filter(Number.isFinite);
  const lo0 = Math.min(...all, ...marks.map((m) => m.x));
  const hi0 = Math.max(...all, ...marks.map((m) => m.x));
  const lo = Number.isFinite(lo0) ? lo0 : 0;
  const hi = Number.isFinite(hi0) && hi0 > lo ? hi0 : lo + 1;
  const width = (hi - lo) / bins;
  const counts = samples.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.values) {
      if (!Number.isFinite(v)) continue;
      c[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]++;
    }
    return c;
  });
  const top = Math.max(1, ...counts.flat());
  const sx = scale(lo, hi, M.l, W - M.r);
  const sy = scale(0, top, Hh - M.b, M.t);
  const xt = niceTicks(lo, hi, 6).filter((t) => t >= lo && t <= hi);
  const yt = niceTicks(0, top, 3).filter((t) => Number.isInteger(t));
  const step = xt.length > 1 ? xt[1] - xt[0] : 1;
  return (
    <figure className="plot" data-testid={testId}>
      <svg viewBox={`0 0 ${W} ${Hh}`} role="img" aria-label={ariaLabel}>
        <g className="grid">
          {yt.map((t) => (
            <line key={t} x1={M.l} x2={W - M.r} y1={sy(t)} y2={sy(t)} />
          ))}
        </g>
        {counts.map((c, si) => (
          <g key={samples[si].name} className={`hist ${samples[si].className}`}>
            {c.map((n, i) =>
              n ? (
                <rect
                  // biome-ignore lint/suspicious/noArrayIndexKey: bins are positional
                  key={i}
                  x={sx(lo + i * width) + 0.5}
                  y={sy(n)}
                  width={Math.max(1, sx(lo + (i + 1) * width) - sx(lo + i * width) - 1)}
                  height={sy(0) - sy(n)}
                >
                  <title>{`${samples[si].name} ${(lo + i * width).toFixed(3)}–${(lo + (i + 1) * width).toFixed(3)}: ${n}`}</title>
                </rect>
              ) : null,
            )}
          </g>
        ))}
        {marks.map((m) => (
          <g key={m.label} className={`mark ${m.className ?? ''}`} data-testid="mark" data-x={m.x}>
            <line x1={sx(m.x)} x2={sx(m.x)} y1={M.t - 4} y2={Hh - M.b} />
            <text x={sx(m.x) + 4} y={M.t + 8}>
              {m.label}
            </text>
          </g>
        ))}
        <g className="axis x">
          <line x1={M.l} x2={W - M.r} y1={Hh - M.b} y2={Hh - M.b} />
          {xt.map((t) => (
            <text key={t} x={sx(t)} y={Hh - M.b + 14} textAnchor="middle">
              {tickLabel(t, step)}
            </text>
          ))}
          <text x={(M.l + W - M.r) / 2} y={Hh - 2} textAnchor="middle" className="axis-title">
            {xLabel}
          </text>
        </g>
        <g className="axis left">
          {yt.map((t) => (
            <text key={t} x={M.l - 6} y={sy(t) + 3} textAnchor="end">
              {t}
            </text>
          ))}
        </g>
      </svg>
      <figcaption className="legend">
        {samples.map((s) => (
          <span key={s.name}>
            <i className={`swatch ${s.className}`} />
            {s.name} ({s.values.length})
          </span>
        ))}
        {children}
      </figcaption>
    </figure>
  );
}
