import type { ReactNode } from 'react';
import type { Progress } from '../../../shared/domain';
import { formatDuration } from '../../../shared/format';

export { formatDuration };

/** The bar every long operation shows: fraction, count, rate and ETA. */
export function ProgressBar({ p, label }: { p: Progress; label?: string }) {
  const frac = p.total ? Math.min(1, p.done / p.total) : null;
  const rate =
    p.ratePerS === null
      ? ''
      : `${p.ratePerS >= 100 ? p.ratePerS.toFixed(0) : p.ratePerS.toFixed(1)} ${p.unit}/s`;
  return (
    <div className="progress" role="progressbar" aria-valuenow={p.done} aria-valuemax={p.total ?? undefined}>
      {label && <div className="progress-label">{label}</div>}
      <div className="progress-track">
        <div
          className={frac === null ? 'progress-fill indeterminate' : 'progress-fill'}
          style={{ width: frac === null ? '30%' : `${(frac * 100).toFixed(1)}%` }}
        />
      </div>
      <div className="progress-text">
        <span>
          {p.done.toLocaleString()}
          {p.total !== null ? ` / ${p.total.toLocaleString()}` : ''} {p.unit}
          {frac !== null ? ` (${(frac * 100).toFixed(0)}%)` : ''}
        </span>
        <span>{rate}</span>
        <span>ETA {formatDuration(p.etaS)}</span>
        {p.message && <span className="muted">{p.message}</span>}
      </div>
    </div>
  );
}

/** An error that says what to do next (the server's messages already name the fix). */
export function ErrorBox({ error, onRetry }: { error: string | null | undefined; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      <span>{error}</span>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Card({
  title,
  children,
  actions,
}: {
  title: string;
  children: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <section className="card">
      <header>
        <h2>{title}</h2>
        {actions && <div className="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}
