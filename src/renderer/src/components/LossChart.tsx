// The training curve: EMA-smoothed loss over the raw loss (faint), lr or grad norm on the right axis,
// hover values, and the training-health hints the CLI prints too.
import { useMemo, useState } from 'react';
import { emaSmooth, trainingHealth } from '../../../shared/training-health';
import { LineChart, type Series } from './charts';

export interface CurvePoint {
  step: number;
  loss: number;
  lr?: number;
  gradNorm?: number;
}

export function LossChart({ points }: { points: CurvePoint[] }) {
  const [right, setRight] = useState<'lr' | 'gradNorm'>('lr');
  const { series, hints, hasGrad } = useMemo(() => {
    const ps = [...points].sort((a, b) => a.step - b.step);
    const smooth = emaSmooth(ps.map((p) => p.loss));
    const hasGrad = ps.some((p) => typeof p.gradNorm === 'number');
    const hasLr = ps.some((p) => typeof p.lr === 'number');
    const s: Series[] = [
      {
        name: 'loss (raw)',
        className: 'c-loss',
        faint: true,
        points: ps.map((p) => ({ x: p.step, y: p.loss })),
      },
      {
        name: 'loss (EMA)',
        className: 'c-loss',
        points: ps.map((p, i) => ({ x: p.step, y: smooth[i] })),
        format: (y) => y.toFixed(4),
      },
    ];
    const axis = right === 'gradNorm' && hasGrad ? 'gradNorm' : hasLr ? 'lr' : null;
    if (axis)
      s.push({
        name: axis === 'lr' ? 'lr' : 'grad norm',
        className: axis === 'lr' ? 'c-lr' : 'c-grad',
        axis: 'right',
        points: ps
          .filter((p) => typeof p[axis] === 'number')
          .map((p) => ({ x: p.step, y: p[axis] as number })),
        format: (y) => (axis === 'lr' ? y.toExponential(2) : y.toFixed(3)),
      });
    return { series: s, hints: trainingHealth(ps.map((p) => p.loss)), hasGrad };
  }, [points, right]);
  if (points.length < 2) return <div className="muted small">The loss curve appears after two steps.</div>;
  return (
    <div data-testid="loss-chart">
      <LineChart
        series={series}
        xLabel="step"
        leftLabel="loss"
        rightLabel={series[2]?.name}
        ariaLabel="training loss by step"
        testId="loss-plot"
      />
      {hasGrad && (
        <label className="muted small">
          right axis{' '}
          <select
            aria-label="right axis"
            value={right}
            onChange={(e) => setRight(e.target.value as 'lr' | 'gradNorm')}
          >
            <option value="lr">learning rate</option>
            <option value="gradNorm">grad norm</option>
          </select>
        </label>
      )}
      <div data-testid="health">
        {hints.length ? (
          hints.map((h) => (
            <div key={h.code} className="health" role="status" data-code={h.code}>
              {h.message}
            </div>
          ))
        ) : points.length >= 10 ? (
          <div className="health ok">the loss went down: nothing to flag</div>
        ) : null}
      </div>
    </div>
  );
}
