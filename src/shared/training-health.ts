// Loss smoothing and training-health hints, shared by the Train screen's curve and the CLI's train summary.
// No node:* and no DOM here.

/**
 * Debiased exponential moving average (TensorBoard-style: the first point is the raw value, not pulled
 * towards 0). `span` ≈ how many recent steps dominate; default a tenth of the run, at least 5.
 */
export function emaSmooth(values: readonly number[], span = Math.max(5, Math.round(values.length / 10))) {
  const beta = 1 - 2 / (span + 1);
  let s = 0;
  let w = 0;
  const out: number[] = [];
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(Number.NaN);
      continue;
    }
    s = beta * s + (1 - beta) * v;
    w = beta * w + (1 - beta);
    out.push(s / w);
  }
  return out;
}

export interface HealthHint {
  code: 'non-finite' | 'ends-above' | 'near-zero' | 'flat';
  message: string;
}

/** Fewer steps than this say nothing about the trend. */
export const HEALTH_MIN_STEPS = 10;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * What a person should notice about a loss curve: it ends above its start (lr too high, or bad pairs), it
 * reaches ≈ 0 (the negatives are too easy), or it stays flat (lr too low/high or temperature τ off).
 * Compares the mean of the first and last tenth of the steps, so single noisy steps do not trigger it.
 */
export function trainingHealth(losses: readonly number[]): HealthHint[] {
  const hints: HealthHint[] = [];
  const bad = losses.filter((x) => !Number.isFinite(x)).length;
  if (bad)
    hints.push({
      code: 'non-finite',
      message: `${bad} step${bad === 1 ? '' : 's'} had a NaN/inf loss: lower the learning rate or use float32`,
    });
  const xs = losses.filter(Number.isFinite);
  if (xs.length < HEALTH_MIN_STEPS) return hints;
  const k = Math.max(1, Math.floor(xs.length / 10));
  const head = mean(xs.slice(0, k));
  const tail = mean(xs.slice(-k));
  const f = (x: number) => x.toFixed(3);
  if (tail < 0.02)
    hints.push({
      code: 'near-zero',
      message: `loss ≈ 0 (${f(head)} → ${f(tail)}): the negatives are too easy for the model; mine harder negatives or use a larger batch`,
    });
  else if (tail > head * 1.02)
    hints.push({
      code: 'ends-above',
      message: `the loss ended above where it started (${f(head)} → ${f(tail)}): lower the learning rate, or check that positives match their queries`,
    });
  else if (Math.abs(head - tail) < 0.03 * Math.abs(head))
    hints.push({
      code: 'flat',
      message: `the loss is flat (${f(head)} → ${f(tail)}): try another learning rate (too low, or so high it stalls) or temperature τ`,
    });
  return hints;
}
