// Finds the built renderer for `serve`, building it with Vite when it is missing. The same bundle runs in
// Electron and in a browser: the transport is chosen at runtime (src/renderer/src/api/transport.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const RENDERER_OUT = path.join(REPO_ROOT, 'out/renderer');

export const rendererBuilt = (dir = RENDERER_OUT) => fs.existsSync(path.join(dir, 'index.html'));

/** Builds src/renderer into `outDir` with Vite (a dev dependency); says what to run when Vite is absent. */
export async function buildRenderer(
  outDir = RENDERER_OUT,
  log: (m: string) => void = () => {},
): Promise<string> {
  let vite: typeof import('vite');
  let react: typeof import('@vitejs/plugin-react').default;
  try {
    vite = await import('vite');
    react = (await import('@vitejs/plugin-react')).default;
  } catch {
    throw new UserError(
      'the renderer is not built and Vite is not installed here; run `npm install && npm run build` first',
    );
  }
  log(`building the renderer into ${outDir} …`);
  await vite.build({
    configFile: false,
    root: path.join(REPO_ROOT, 'src/renderer'),
    base: './',
    logLevel: 'warn',
    plugins: [react()],
    build: {
      outDir,
      emptyOutDir: true,
      chunkSizeWarningLimit: 2000,
      rollupOptions: {
        // zod ships comments Rollup cannot place; harmless, and noise in every build log.
        onwarn(w, warn) {
          if (w.code !== 'INVALID_ANNOTATION') warn(w);
        },
      },
    },
  });
  return outDir;
}

export async function ensureRenderer(log: (m: string) => void): Promise<string> {
  if (!rendererBuilt()) await buildRenderer(RENDERER_OUT, log);
  return RENDERER_OUT;
}
