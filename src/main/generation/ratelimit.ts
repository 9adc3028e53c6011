/**
 * Requests-per-minute and tokens-per-minute limits as token buckets refilled continuously, holding at most
 * one second of budget so a run starts smoothly instead of bursting a whole minute's allowance.
 */
export class RateLimiter {
  private req: number;
  private tok: number;
  private last = performance.now();

  constructor(
    private readonly rpm?: number,
    private readonly tpm?: number,
  ) {
    this.req = rpm ? Math.max(1, rpm / 60) : 0;
    this.tok = tpm ? tpm / 60 : 0;
  }

  private refill() {
    const now = performance.now();
    const dt = (now - this.last) / 60_000;
    this.last = now;
    if (this.rpm) this.req = Math.min(Math.max(1, this.rpm / 60), this.req + dt * this.rpm);
    if (this.tpm) this.tok = Math.min(this.tpm / 60, this.tok + dt * this.tpm);
  }

  /** Milliseconds to wait before a request of `tokens` may start (0: take it now, and it is taken). */
  take(tokens: number): number {
    this.refill();
    let wait = 0;
    if (this.rpm && this.req < 1) wait = Math.max(wait, ((1 - this.req) / this.rpm) * 60_000);
    // A request bigger than the bucket may go once the bucket is full.
    const need = this.tpm ? Math.min(tokens, this.tpm / 60) : 0;
    if (this.tpm && this.tok < need) wait = Math.max(wait, ((need - this.tok) / this.tpm) * 60_000);
    if (wait > 0) return Math.ceil(wait);
    if (this.rpm) this.req -= 1;
    if (this.tpm) this.tok -= tokens;
    return 0;
  }

  /** Corrects the token bucket once the real usage of a request is known. */
  settle(estimated: number, actual: number) {
    if (this.tpm) this.tok -= actual - estimated;
  }
}
