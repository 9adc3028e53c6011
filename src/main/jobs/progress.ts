import type { Progress } from '../../shared/domain';

export type ProgressListener = (p: Progress) => void;

/**
 * Tracks done/total of a long operation and derives rate and ETA from an exponential moving average,
 * so every service reports progress the same way to the CLI bar, the app and job rows.
 */
export class ProgressTracker {
  private done = 0;
  private readonly start = Date.now();
  private lastEmit = 0;
  private rate: number | null = null;
  private lastT = Date.now();
  private lastDone = 0;

  constructor(
    private total: number | null,
    private readonly unit: string,
    private readonly listener?: ProgressListener,
    private readonly minIntervalMs = 100,
  ) {}

  setTotal(total: number | null): void {
    this.total = total;
  }

  tick(n = 1, message?: string): void {
    this.update(this.done + n, message);
  }

  update(done: number, message?: string): void {
    this.done = done;
    const now = Date.now();
    const dt = (now - this.lastT) / 1000;
    if (dt >= 0.25) {
      const inst = (this.done - this.lastDone) / dt;
      this.rate = this.rate === null ? inst : 0.7 * this.rate + 0.3 * inst;
      this.lastT = now;
      this.lastDone = this.done;
    }
    const finished = this.total !== null && this.done >= this.total;
    if (finished || now - this.lastEmit >= this.minIntervalMs) {
      this.lastEmit = now;
      this.listener?.(this.snapshot(message));
    }
  }

  snapshot(message?: string): Progress {
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = this.rate ?? (elapsed > 0 ? this.done / elapsed : null);
    const eta = this.total !== null && rate && rate > 0 ? Math.max(0, (this.total - this.done) / rate) : null;
    return { done: this.done, total: this.total, unit: this.unit, ratePerS: rate, etaS: eta, message };
  }
}

export { formatDuration } from '../../shared/format';
