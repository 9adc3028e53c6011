import type { Command } from 'commander';
import { openWorkbench, type Workbench } from '../workbench';
import { progressBar } from './progress-bar';

/** Options every command accepts. */
export interface GlobalOpts {
  json?: boolean;
  home?: string;
}

/** Adds --json and --home to a command. */
export function withGlobals(cmd: Command): Command {
  return cmd
    .option('--json', 'print exactly one JSON document on stdout (logs and progress go to stderr)')
    .option('--home <dir>', 'workspace directory (default: $EMBEDSMITH_HOME or the OS app-data dir)');
}

/** What a command handler gets: the workbench, output helpers that respect --json, and a bar factory. */
export interface CliContext {
  wb: Workbench;
  json: boolean;
  /** Print the result: the JSON document under --json, else the human text. */
  out(result: unknown, human?: string | (() => string)): void;
  /** A log line on stderr. */
  log(msg: string): void;
  bar: typeof progressBar;
}

/** Opens the workbench for the command's --home, runs the handler, always closes. */
export async function runWithWorkbench(opts: GlobalOpts, fn: (ctx: CliContext) => Promise<void> | void) {
  const wb = openWorkbench({ home: opts.home });
  const json = Boolean(opts.json);
  const ctx: CliContext = {
    wb,
    json,
    out(result, human) {
      if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else {
        const text = typeof human === 'function' ? human() : (human ?? JSON.stringify(result, null, 2));
        process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      }
    },
    log(msg) {
      process.stderr.write(`${msg}\n`);
    },
    bar: progressBar,
  };
  try {
    await fn(ctx);
  } finally {
    wb.close();
  }
}

/** Formats rows as an aligned text table. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r, ri) => {
      const line = r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd();
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}
