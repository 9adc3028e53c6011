import { UserError } from '../../../src/main/errors';
import type { JobContext } from '../../../src/main/jobs/runner';

/** A job for the runner tests: counts to n with events and progress; stops on cancel; can fail. */
export async function handler(
  input: { n: number; delayMs: number; fail?: 'user' | 'crash' },
  ctx: JobContext,
) {
  for (let i = 1; i <= input.n; i++) {
    if (ctx.signal.aborted) return { state: 'cancelled', reached: i - 1 };
    await new Promise((r) => setTimeout(r, input.delayMs));
    ctx.emit({ i, square: i * i });
    ctx.progress({ done: i, total: input.n, unit: 'items', ratePerS: null, etaS: null });
    if (input.fail && i === 2) {
      if (input.fail === 'user') throw new UserError('--thing 3 is bad; change --thing', 2);
      throw new Error('boom');
    }
  }
  ctx.log('finished');
  return { state: 'done', reached: input.n };
}
