import type { Progress } from '../../shared/domain';
import { formatDuration } from '../jobs/progress';

/**
 * A progress bar on stderr (so `--json` stdout stays one document): label, bar, count, rate, ETA.
 * Redraws in place on a TTY; on a pipe it prints a line at most every few seconds.
 */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr) {
  let lastLine = 0;
  const tty = Boolean(stream.isTTY);
  return {
    update(p: Progress) {
      const width = 24;
      const frac = p.total ? Math.min(1, p.done / p.total) : 0;
      const filled = Math.round(frac * width);
      const bar = p.total
        ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%`
        : '';
      const rate =
        p.ratePerS !== null
          ? `${p.ratePerS >= 100 ? p.ratePerS.toFixed(0) : p.ratePerS.toFixed(1)} ${p.unit}/s`
          : '';
      const line = `${label} ${bar} ${p.done}${p.total !== null ? `/${p.total}` : ''} ${p.unit} ${rate} ETA ${formatDuration(p.etaS)}${p.message ? ` ${p.message}` : ''}`;
      const now = Date.now();
      const finished = p.total !== null && p.done >= p.total;
      if (tty) stream.write(`\r\x1b[2K${line}`);
      else if (finished || now - lastLine > 2000) {
        stream.write(`${line}\n`);
        lastLine = now;
      }
    },
    done() {
      if (tty) stream.write('\n');
    },
  };
}
