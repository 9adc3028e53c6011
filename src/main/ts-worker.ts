import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The module `name` next to the caller (`base` = the caller's import.meta.url): `name.ts` when the caller
 * runs from source (tsx, vitest), `name.js` in a bundled build.
 */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}

/**
 * A worker thread on `entry`. TypeScript entries get tsx's loader first: `execArgv: ['--import', 'tsx']`
 * does not take effect in a Node 20 worker (the entry is resolved before the hook), so a tiny eval'd
 * bootstrap registers tsx's ESM hooks, then imports the entry. Plain JS entries load directly.
 */
export function startWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!entry.href.endsWith('.ts')) return new Worker(entry, options);
  const tsxPkg = createRequire(import.meta.url).resolve('tsx/package.json');
  const api = pathToFileURL(path.join(path.dirname(tsxPkg), 'dist/esm/api/index.mjs')).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

/** startWorker, or null where the entry is not there (a build that did not ship it): callers run inline. */
export function startOptionalWorker(entry: URL, options: WorkerOptions = {}): Worker | null {
  if (!fs.existsSync(fileURLToPath(entry))) return null;
  return startWorker(entry, options);
}
