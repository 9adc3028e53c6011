import { Command, CommanderError } from 'commander';
import { UserError } from '../errors';
import { BUSY_MESSAGE, isSqliteBusy } from '../store/db';
import { registerDatasets } from './datasets';
import { registerGenerate } from './generate';
import { registerEmbed } from './embed';
import { registerEval } from './eval';
import { registerServe } from './serve';
import { registerTrain } from './train';
import { registerExport } from './export';
import { registerMine } from './mine';
import { registerDemo } from './demo';

/** Builds the `embedsmith` program. Each area registers its commands from its own file. */
export function buildProgram(): Command {
  const program = new Command('embedsmith')
    .description('Embedsmith: synthetic data, LoRA training and evaluation of text embedding models')
    .version('0.1.0')
    .showHelpAfterError(false)
    .exitOverride();
  registerDatasets(program);
  registerGenerate(program);
  registerEmbed(program);
  registerServe(program);
  registerEval(program);
  registerTrain(program);
  registerExport(program);
  registerMine(program);
  registerDemo(program);
  return program;
}

/**
 * `embedsmith --home DIR --json demo` (git / docker / kubectl style): the global options every command
 * takes (--home, --json) may come before the subcommand (or between a group and its command); they are
 * moved to the end, where the leaf command's own parser reads them. Nothing after `--` moves.
 */
export function hoistGlobalOptions(argv: string[]): string[] {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const globals: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < end; i++) {
    const a = argv[i];
    if (a === '--json' || a.startsWith('--home=')) globals.push(a);
    else if (a === '--home' && i + 1 < end) globals.push(a, argv[++i]);
    else rest.push(a);
  }
  return [...rest, ...globals, ...argv.slice(end)];
}

/** Runs the CLI and returns the exit code: 0 ok, 1 runtime error, 2 usage error. */
export async function main(argv: string[]): Promise<number> {
  argv = hoistGlobalOptions(argv);
  const program = buildProgram();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    if (e instanceof UserError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    if (isSqliteBusy(e)) {
      process.stderr.write(`error: ${BUSY_MESSAGE}\n`);
      return 1;
    }
    process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
