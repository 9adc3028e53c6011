// Summary statistics for mining reports: what sentence-transformers' mine_hard_negatives prints.

export interface Distribution {
  count: number;
  mean: number | null;
  /** Population standard deviation (divides by n). */
  std: number | null;
  min: number | null;
  p25: number | null;
  median: number | null;
  p75: number | null;
  max: number | null;
}

/** Quantile with linear interpolation between order statistics (numpy's default), on sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function distribution(values: ArrayLike<number>): Distribution {
  const n = values.length;
  if (n === 0)
    return { count: 0, mean: null, std: null, min: null, p25: null, median: null, p75: null, max: null };
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (s[i] - mean) ** 2;
  return {
    count: n,
    mean,
    std: Math.sqrt(ss / n),
    min: s[0],
    p25: quantileSorted(s, 0.25),
    median: quantileSorted(s, 0.5),
    p75: quantileSorted(s, 0.75),
    max: s[n - 1],
  };
}

const f = (x: number | null) => (x === null ? '-' : x.toFixed(4));

/** One aligned line per distribution, as the reference utility prints its score table. */
export function formatDistributions(rows: [string, Distribution][]): string {
  const cols = ['count', 'mean', 'std', 'min', '25%', '50%', '75%', 'max'];
  const cells = rows.map(([name, d]) => [
    name,
    String(d.count),
    f(d.mean),
    f(d.std),
    f(d.min),
    f(d.p25),
    f(d.median),
    f(d.p75),
    f(d.max),
  ]);
  const all = [['', ...cols], ...cells];
  const w = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}
