import type { Command } from 'commander';
import { UserError } from '../errors';
import { buildRenderer, ensureRenderer, RENDERER_OUT, rendererBuilt } from '../serve/renderer-build';
import { isLoopback, startServer } from '../serve/server';
import { openWorkbench } from '../workbench';

interface ServeOpts {
  host: string;
  port: string;
  home?: string;
  rebuild?: boolean;
  build?: boolean;
}

/** `embedsmith serve`: the app in a browser, for a GPU box reached over SSH. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'serve the app (API + UI) over HTTP for a browser; loopback only unless --host says otherwise',
    )
    .option(
      '--host <host>',
      'address to bind (another host than loopback exposes the workbench)',
      '127.0.0.1',
    )
    .option('--port <port>', 'port (0 picks a free one)', '5179')
    .option('--home <dir>', 'workspace directory (default: $EMBEDSMITH_HOME or the OS app-data dir)')
    .option('--rebuild', 'rebuild the renderer before serving')
    .option('--no-build', 'do not build the renderer when it is missing (serve the API only)')
    .action(async (opts: ServeOpts) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UserError(`--port ${opts.port} is not a port number; use 0–65535`, 2);
      const log = (m: string) => process.stderr.write(`${m}\n`);
      let rendererDir: string | null = null;
      if (opts.rebuild) rendererDir = await buildRenderer(RENDERER_OUT, log);
      else if (opts.build !== false) rendererDir = await ensureRenderer(log);
      else if (rendererBuilt()) rendererDir = RENDERER_OUT;
      else log('the renderer is not built; serving the API only (run `npm run build` for the UI)');
      if (!isLoopback(opts.host))
        log(
          `warning: binding ${opts.host} makes the workbench reachable from other machines; anyone with the token can read and change your data. Prefer the loopback default with \`ssh -L ${port || 5179}:127.0.0.1:${port || 5179} gpu-box\`.`,
        );
      const wb = openWorkbench({ home: opts.home });
      const srv = await startServer({ wb, host: opts.host, port, rendererDir }).catch((e) => {
        wb.close();
        throw e;
      });
      // The URL goes to stdout alone on its line so scripts (and the e2e test) can parse it.
      process.stdout.write(`Embedsmith is serving ${wb.paths.home}\n${srv.url}\n`);
      log('press Ctrl+C to stop');
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          log('stopping …');
          srv
            .close()
            .catch(() => {})
            .finally(() => {
              wb.close();
              resolve();
            });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
